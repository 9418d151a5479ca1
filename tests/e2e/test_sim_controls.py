"""`berth hw sim`: the person at a simulated locker acts on a running gateway's sim:// bus."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from berth.hardware.sim_control import socket_path
from tests.support.waiting import SERVER_START, wait_until

BERTH = str(Path(sys.executable).parent / "berth")
KEY = "sim-control-test-key"


@pytest.fixture
def gateway(tmp_path_factory: pytest.TempPathFactory,
            free_port: Callable[[], int]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A `berth gateway serve` process on the demo site (sim://demo, doors close after 3 s)."""
    data = tmp_path_factory.mktemp("g")  # short: a unix socket path has ~100 bytes
    env = os.environ | {"BERTH_DATA_DIR": str(data), "BERTH_GATEWAY_API_KEY": KEY}
    port = free_port()
    log = data / "gateway.log"
    with log.open("w") as out:
        proc = subprocess.Popen([BERTH, "gateway", "serve", "--port", str(port), "--no-mdns"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY},
                          timeout=30) as http:
            def healthy() -> bool:
                assert proc.poll() is None, log.read_text()
                try:
                    return http.get("/health").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(healthy, f"gateway not ready; its log: {log}", SERVER_START)
            yield http, env
    finally:
        proc.terminate()
        proc.wait(30)


def _sim(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([BERTH, "hw", "sim", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_cli_closes_a_door_that_stays_open(
        gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, env = gateway
    control = socket_path(Path(env["BERTH_DATA_DIR"]), "demo")
    assert control.stat().st_mode & 0o777 == 0o600  # only the gateway's user may act
    config = http.get("/lockers/5/config").json()
    board, lock = str(config["controllerAddress"]), str(config["channel"])

    assert "stay open" in _sim(env, "autoclose", "off", "--board", board)
    opened = http.post("/lockers/5/open").json()
    assert opened["success"] and opened["doorOpen"], opened
    assert "open" in _sim(env, "status", "--board", board, "--lock", lock)
    wait_until(lambda: http.get("/lockers/5").json()["doorOpen"] is True, "never seen open")

    _sim(env, "close", "--board", board, "--lock", lock)
    wait_until(lambda: http.get("/lockers/5").json()["doorOpen"] is False,
              "the gateway never saw the door closed")


def test_a_jammed_door_stays_shut_and_items_show(
        gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, env = gateway
    config = http.get("/lockers/6/config").json()
    where = ["--board", str(config["controllerAddress"]), "--lock", str(config["channel"])]
    assert "jammed" in _sim(env, "jam", *where)
    opened = http.post("/lockers/6/open").json()
    assert not opened["doorOpen"], opened
    _sim(env, "unjam", *where)
    assert "item" in _sim(env, "put", *where)
    assert "item" not in _sim(env, "take", *where)


def test_bad_requests_are_clear_errors(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    _, env = gateway
    done = subprocess.run([BERTH, "hw", "sim", "close", "--board", "99", "--lock", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no board 99" in done.stdout + done.stderr
    done = subprocess.run([BERTH, "hw", "sim", "close", "--bus", "nowhere", "--board", "0",
                           "--lock", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "No simulator controls" in done.stdout + done.stderr
