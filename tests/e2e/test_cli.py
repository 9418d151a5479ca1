"""`berth up` and `berth demo` as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from berth.stack import STACK_FILE, StackInfo, running
from tests.support.waiting import BOUND, SERVER_START

BERTH = str(Path(sys.executable).parent / "berth")
DEMO_BOUND = SERVER_START + 2 * BOUND  # a stack of its own, then a whole delivery


def test_up_serves_both_apis_then_demo_delivers_through_it(
        tmp_path: Path, free_port: Callable[[], int]) -> None:
    env = dict(os.environ, BERTH_DATA_DIR=str(tmp_path))
    up = subprocess.Popen([BERTH, "up", "--cloud-port", str(free_port()), "--gateway-port",
                           str(free_port())], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + SERVER_START
        while not (tmp_path / STACK_FILE).exists() or \
                not running(info := StackInfo.load(tmp_path / STACK_FILE)):
            assert up.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert httpx.get(info.gateway_url + "/health").json()["controllers"]["online"] == 3
        demo = subprocess.run([BERTH, "demo"], env=env, capture_output=True, text=True,
                              timeout=DEMO_BOUND)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "Using the running stack" in demo.stdout
        assert "reserved -> rented -> occupied -> available" in demo.stdout
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=BOUND)
    assert info.client_id in output and info.gateway_api_key in output
    assert not running(info)  # SIGTERM took both services down


def test_demo_without_a_stack_starts_its_own(tmp_path: Path) -> None:
    env = dict(os.environ, BERTH_DATA_DIR=str(tmp_path))
    demo = subprocess.run([BERTH, "demo"], env=env, capture_output=True, text=True,
                          timeout=DEMO_BOUND)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "No running stack" in demo.stdout and "-> available" in demo.stdout
