"""Both services answer liveness (``/health/live``) and readiness (``/health``) without
credentials; readiness is 503 when the real database is gone, liveness stays 200."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from berth.gateway.app import create_app as create_gateway
from tests.cloud.conftest import make_cloud
from tests.conftest import PostgresCluster
from tests.gateway.conftest import make_config


@contextlib.contextmanager
def services(cloud_db: str, gateway_db: str, data: Path) -> Iterator[dict[str, TestClient]]:
    """A cloud and a gateway, each on its own database, as HTTP clients with no credentials."""
    with contextlib.contextmanager(make_cloud)(cloud_db, data) as cloud, \
            TestClient(create_gateway(make_config(gateway_db))) as gateway:
        yield {"cloud": cloud.http, "gateway": gateway}


def probe(http: TestClient) -> tuple[int, int]:
    """(readiness status, liveness status)."""
    live = http.get("/health/live")
    assert live.json() == {"status": "ok"}
    return http.get("/health").status_code, live.status_code


def test_probes_need_no_credentials_and_say_nothing_else(tmp_path: Path) -> None:
    with services(f"sqlite:///{tmp_path / 'c.db'}", f"sqlite:///{tmp_path / 'g.db'}",
                  tmp_path / "data") as http:
        assert http["cloud"].get("/health").json() == {"status": "ok", "database": "ok"}
        for client in http.values():
            assert client.get("/health/live").json() == {"status": "ok"}
            assert probe(client) == (200, 200)


def test_sqlite_database_gone_means_not_ready_but_alive(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    with services(f"sqlite:///{db_dir / 'cloud.db'}", f"sqlite:///{db_dir / 'gateway.db'}",
                  tmp_path / "data") as http:
        assert {name: probe(c) for name, c in http.items()} == \
            {"cloud": (200, 200), "gateway": (200, 200)}
        db_dir.rename(tmp_path / "moved")  # the files (and their directory) are gone
        try:
            assert {name: probe(c) for name, c in http.items()} == \
                {"cloud": (503, 200), "gateway": (503, 200)}
            body = http["cloud"].get("/health").json()
            assert body == {"status": "degraded", "database": "unavailable"}
        finally:
            (tmp_path / "moved").rename(db_dir)
        assert {name: probe(c) for name, c in http.items()} == \
            {"cloud": (200, 200), "gateway": (200, 200)}


def test_postgres_stopped_means_not_ready_but_alive(tmp_path: Path) -> None:
    try:
        cluster = PostgresCluster()  # our own: stopping it must not disturb other tests
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        if os.environ.get("BERTH_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not available here ({exc})")
    try:
        with services(cluster.create_database(), cluster.create_database(),
                      tmp_path / "data") as http:
            assert {name: probe(c) for name, c in http.items()} == \
                {"cloud": (200, 200), "gateway": (200, 200)}
            cluster.stop()
            assert {name: probe(c) for name, c in http.items()} == \
                {"cloud": (503, 200), "gateway": (503, 200)}
    finally:
        cluster.stop()
