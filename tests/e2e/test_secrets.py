"""Secrets stay out of service logs: the gateway shows its generated API key on one start only."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from berth.gateway.auth import KEY_FILE
from tests.support.waiting import wait_healthy

BERTH = str(Path(sys.executable).parent / "berth")


def _start_and_stop(data_dir: Path, port: int) -> str:
    """Run `berth gateway serve` until healthy, stop it; return what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "BERTH_GATEWAY_API_KEY"}
    env["BERTH_DATA_DIR"] = str(data_dir)
    log = data_dir / f"gateway-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([BERTH, "gateway", "serve", "--port", str(port), "--no-mdns"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log.read_text)
    finally:
        proc.terminate()
        proc.wait(30)
    return log.read_text()


def test_the_api_key_is_printed_once_then_only_where_it_is_kept(
        tmp_path: Path, free_port: Callable[[], int]) -> None:
    first = _start_and_stop(tmp_path, free_port())
    key = (tmp_path / KEY_FILE).read_text().strip()
    assert key in first
    again = _start_and_stop(tmp_path, free_port())
    assert key not in again
    assert f"kept in {tmp_path / KEY_FILE}" in again
