"""A database outage is a 503 ``DATABASE_UNAVAILABLE`` with ``Retry-After``, never a 500.

The PostgreSQL server is really stopped under a running cloud app (its own throwaway cluster,
not the session's shared one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.conftest import Cloud, make_cloud
from tests.conftest import PostgresCluster


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    try:
        pg = PostgresCluster()
    except FileNotFoundError as exc:  # pragma: no cover - the machine has the server
        pytest.skip(str(exc))
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg_cloud(cluster: PostgresCluster, tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(cluster.create_database(), tmp_path / "data")


def test_stopped_postgres_is_503_with_retry_after(pg_cloud: Cloud,
                                                  cluster: PostgresCluster) -> None:
    c = pg_cloud
    h, op = c.headers(), c.headers("operator", "operator")  # tokens while the database is up
    lid = c.locker_ids()[0]
    cluster.stop()  # the server goes away under the running app
    calls = [
        ("GET", c.lockers_url(), None, h),
        ("POST", f"{c.lockers_url()}/{lid}/reservations", {"duration": 300}, h),
        ("POST", "/api/v1/admin/towers", {"name": "down"}, op),
        ("GET", "/api/v1/events", None, h),
    ]
    for method, path, body, headers in calls:
        r = c.http.request(method, path, json=body, headers=headers)
        assert r.status_code == 503, (method, path, r.status_code, r.text)
        assert r.json()["code"] == "DATABASE_UNAVAILABLE"
        assert r.headers["Retry-After"] == "1"
    creds = c.creds("demo")
    r = c.http.post("/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert r.status_code == 503 and r.json()["code"] == "DATABASE_UNAVAILABLE"
    assert c.http.get("/health").status_code == 503  # readiness says so too


def test_every_database_route_documents_503(cloud: Cloud) -> None:
    doc = cloud.http.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if path != "/health/live":
                assert "503" in operation["responses"], (method, path)
