"""A throwaway Mosquitto 2 broker: generated config, password file and the fleet ACL.

Real broker, no mocks: ``MosquittoBroker`` writes a config (one listener on a free loopback
port, ``allow_anonymous false``, a password file made with ``mosquitto_passwd``, the ACL of
``berth.fleet.protocol.acl_text``), starts ``mosquitto`` as a subprocess, waits until it accepts
connections, and stops it by PID. ``restart()`` keeps the port and the files (the broker-restart
fault test); messages do not survive it (``persistence false``), as after a broker crash.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from berth.fleet.broker import BrokerFiles, have_mosquitto
from tests.support.waiting import SERVER_START, wait_until

__all__ = ["MosquittoBroker", "have_mosquitto"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MosquittoBroker:
    """One broker process; ``users`` maps user name to password (``add_user`` adds more)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="berth-mqtt-"))
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.files = BrokerFiles(self.root)
        self.files.write(self.port, self.host)
        self.log = self.files.log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def add_user(self, name: str, password: str) -> None:
        """Add a user to the password file; a running broker rereads it (SIGHUP)."""
        running = self.proc is not None and self.proc.poll() is None
        self.files.add_user(name, password, self.proc.pid if running and self.proc else None)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(self.files.command(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self._accepts, f"mosquitto on port {self.port} never accepted",
                   SERVER_START, every=0.02)

    def _accepts(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise AssertionError(f"mosquitto exited: {err} {self.log_text()}")
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the broker by its PID (SIGTERM, then SIGKILL if it lingers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        """A crash: SIGKILL, no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def close(self) -> None:
        self.stop()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)
