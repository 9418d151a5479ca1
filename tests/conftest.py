"""Shared fixtures: a throwaway PostgreSQL cluster (real server, no mocks) and fake clocks."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.kit.clock import FakeClock
from tests.support.broker import MosquittoBroker, have_mosquitto


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """initdb + pg_ctl on a temporary directory and port; as the postgres user when we are root."""

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not (initdb and pg_ctl):
            raise FileNotFoundError("PostgreSQL binaries initdb/pg_ctl not found")
        self.pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="berth-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "berth", "-E", "UTF8"])
        opts = (
            f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=64MB"
        )
        self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                   "-w", "start"])

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(self.prefix + cmd, check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://berth@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=berth dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        if os.environ.get("BERTH_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not available here ({exc}); set up initdb/pg_ctl to run these")
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database on the throwaway cluster."""
    return postgres_cluster.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'berth.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test on both engines through the same code."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'berth.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def free_port() -> Callable[[], int]:
    return _free_port


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A throwaway Mosquitto 2 broker with the fleet ACL (tests/support/broker.py), started."""
    if not have_mosquitto():
        if os.environ.get("BERTH_REQUIRE_MOSQUITTO"):
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        pytest.skip("mosquitto not installed here; apt-get install mosquitto to run these")
    broker = MosquittoBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()
