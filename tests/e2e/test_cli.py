"""`berth up` and `berth demo` as a user runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from berth.stack import STACK_FILE, StackInfo, running
from tests.support.waiting import BOUND, SERVER_START, wait_until

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
        keypad = subprocess.run([BERTH, "demo", "--keypad"], env=env, capture_output=True,
                                text=True, timeout=DEMO_BOUND)
        assert keypad.returncode == 0, keypad.stdout + keypad.stderr
        assert "keypad code" in keypad.stdout and "recipient types the code" in keypad.stdout
        assert "-> available (picked up with a keypad code)" in keypad.stdout
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


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _up(tmp_path: Path, free_port: Callable[[], int]) -> subprocess.Popen[str]:
    """`berth up` in a session of its own, as in a terminal of its own."""
    env = dict(os.environ, BERTH_DATA_DIR=str(tmp_path))
    return subprocess.Popen([BERTH, "up", "--cloud-port", str(free_port()), "--gateway-port",
                             str(free_port())], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_up(up: subprocess.Popen[str], tmp_path: Path) -> None:
    stack = tmp_path / STACK_FILE
    wait_until(lambda: up.poll() is not None
              or (stack.exists() and running(StackInfo.load(stack))), "berth up never came up")
    assert up.poll() is None


def test_up_refuses_a_taken_port_before_printing_anything(
        tmp_path: Path, free_port: Callable[[], int]) -> None:
    env = dict(os.environ, BERTH_DATA_DIR=str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = subprocess.run([BERTH, "up", "--cloud-port", str(free_port()), "--gateway-port",
                             str(port)], env=env, capture_output=True, text=True, timeout=60)
    output = (up.stdout + up.stderr).replace("\n", " ")
    assert up.returncode != 0
    assert f"Port {port}" in output and "--gateway-port" in output and "GATEWAY_PORT" in output
    assert "Berth is up" not in output and "client_secret" not in output
    assert not (tmp_path / STACK_FILE).exists()


def test_ctrl_c_stops_up_and_its_services_with_exit_0(
        tmp_path: Path, free_port: Callable[[], int]) -> None:
    up = _up(tmp_path, free_port)
    try:
        _wait_up(up, tmp_path)
        services = _children(up.pid)
        assert len(services) == 2
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        output, _ = up.communicate(timeout=60)
    finally:
        up.kill()
    assert up.returncode == 0, output
    wait_until(lambda: not any(map(_alive, services)), "a service outlived berth up")


def test_services_die_with_a_killed_up(tmp_path: Path, free_port: Callable[[], int]) -> None:
    """Even SIGKILL, which no handler sees: the kernel tells the services (PR_SET_PDEATHSIG)."""
    up = _up(tmp_path, free_port)
    try:
        _wait_up(up, tmp_path)
        services = _children(up.pid)
        assert len(services) == 2
    finally:
        up.kill()
        up.communicate(timeout=60)
    wait_until(lambda: not any(map(_alive, services)), "a service outlived a killed berth up")


def test_sigterm_stops_demo_its_services_and_its_temp_dir(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, BERTH_DATA_DIR=str(tmp_path / "data"), TMPDIR=str(scratch))
    demo = subprocess.Popen([BERTH, "demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: len(_children(demo.pid)) == 2 or demo.poll() is not None,
                  "berth demo never started its services")
        services = _children(demo.pid)
        assert len(services) == 2 and list(scratch.glob("berth-demo-*"))
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
    finally:
        demo.kill()
    assert "Stopped by SIGTERM" in output, output
    wait_until(lambda: not any(map(_alive, services)), "a service outlived berth demo")
    assert not list(scratch.glob("berth-demo-*"))


def test_make_run_takes_the_ports() -> None:
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(["make", "-n", "-C", str(root), "run", "CLOUD_PORT=8101",
                          "GATEWAY_PORT=8181"], capture_output=True, text=True, timeout=60)
    assert "berth up --cloud-port 8101 --gateway-port 8181" in dry.stdout, dry.stdout + dry.stderr
