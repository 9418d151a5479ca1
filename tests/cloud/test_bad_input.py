"""Bad input gets a clear 4xx on both engines: never a 500, never a half-written record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.cloud.tables import metadata
from tests.cloud.conftest import Cloud, make_cloud
from tests.support.schema_fixtures import schema_drift

BIG = 2**40


@pytest.fixture
def any_cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(db_url, tmp_path / "data")


def test_out_of_range_and_oversized_input(any_cloud: Cloud) -> None:
    c = any_cloud
    h, sdk = c.headers(), c.headers("demo", "tower_access")
    op = c.headers("operator", "operator")
    lid = c.locker_ids()[0]
    calls = [
        ("GET", f"{c.lockers_url()}/{BIG}", None, h),
        ("POST", f"{c.lockers_url()}/{BIG}/reservations", {"duration": 300}, h),
        ("DELETE", f"{c.lockers_url()}/{lid}/reservations/{'x' * 500}", None, h),
        (
            "POST",
            f"{c.lockers_url()}/{lid}/dropoff-locker-tokens",
            {"client_info": "x" * 5000, "duration": 60},
            h,
        ),
        ("GET", f"/sdk/v1/towers/{c.tower_id}/commands?after={BIG}", None, sdk),
        (
            "POST",
            f"/sdk/v1/towers/{c.tower_id}/events",
            {"events": [{**c.event("boot"), "locker_id": BIG}]},
            sdk,
        ),
        (
            "POST",
            f"/sdk/v1/towers/{c.tower_id}/events",
            {"events": [{**c.event("x"), "token_id": "t" * 100}]},
            sdk,
        ),
        ("POST", f"/sdk/v1/towers/{c.tower_id}/events", {"events": []}, sdk),
        ("POST", f"/sdk/v1/towers/{c.tower_id}/events", "not json", sdk),
        ("PUT", f"/api/v1/admin/towers/{c.tower_id}/partners/{BIG}", None, op),
        ("PUT", f"/api/v1/admin/towers/{c.tower_id}/partners/999", None, op),
        ("POST", "/api/v1/admin/towers", {"name": "x", "id": c.tower_id}, op),
        ("POST", "/api/v1/admin/towers", {"name": "x" * 500}, op),
        ("POST", "/api/v1/admin/partners", {"name": "demo"}, op),
        (
            "POST",
            f"/api/v1/admin/towers/{c.tower_id}/lockers",
            {"lockers": [{"name": "1", "type": "huge"}]},
            op,
        ),
        ("POST", "/oauth/token", None, {}),
    ]
    for method, url, body, headers in calls:
        r = c.http.request(method, url, json=body, headers=headers)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
        assert "detail" in r.json()
    assert c.state(lid) == "available"


def test_sequence_numbers_beyond_32_bits(any_cloud: Cloud) -> None:
    ev = any_cloud.event("boot")
    from berth.domain.tokens import sign_event

    big = sign_event(
        {**{k: v for k, v in ev.items() if k != "signature"}, "seq": 2**40}, any_cloud.tower_key()
    )
    assert any_cloud.post_events(big).json()["results"][0]["outcome"] == "recorded"
    assert any_cloud.post_events(big).json()["results"][0]["outcome"] == "duplicate"


def test_migrations_match_the_tables(any_cloud: Cloud) -> None:
    with any_cloud.service.db.engine.connect() as conn:
        assert schema_drift(conn, metadata) == []
