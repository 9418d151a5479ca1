"""Secrets stay private: out of service logs (the gateway shows its generated API key on one
start only) and in files no one else can read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from berth.gateway.auth import KEY_FILE
from berth.kit.settings import Settings
from berth.stack import Stack
from tests.support.waiting import SERVER_START, wait_healthy

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


# what a started stack keeps in its data dir that would let someone in, or read its data
STACK_SECRETS = ("stack.json", KEY_FILE, "tower/tower.key", "tower/tower.json",
                 "cloud-jwt.secret", "cloud-vault.key", "cloud-keys/k1.pem", "cloud.db",
                 "gateway.db")


def test_every_file_a_started_stack_writes_is_private(
        tmp_path: Path, free_port: Callable[[], int]) -> None:
    """Each secret (and every other file but the services' own logs) is mode 0600."""
    stack = Stack(Settings(data_dir=tmp_path), cloud_port=free_port(), gateway_port=free_port(),
                  quiet=True)
    try:
        stack.start(timeout=SERVER_START)
        written = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.lstat().st_mode)
                   for p in tmp_path.rglob("*") if not p.is_dir()}
    finally:
        stack.stop()
    assert set(STACK_SECRETS) <= set(written)
    assert {name: oct(mode) for name, mode in written.items()
            if mode != 0o600 and not name.endswith(".log")} == {}
