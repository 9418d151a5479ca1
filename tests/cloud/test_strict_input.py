"""Cloud request bodies are strict and the 422 list is always valid JSON (NaN, Infinity, ...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.conftest import Cloud, make_cloud

NON_FINITE = ["NaN", "Infinity", "-Infinity"]


def _refuse_constant(name: str) -> object:
    raise AssertionError(f"{name} is not JSON")


def _post_raw(cloud: Cloud, url: str, raw: str, headers: dict[str, str]) -> object:
    return cloud.http.post(url, content=raw,
                           headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_numbers_in_a_body_are_a_422_list(cloud: Cloud, value: str) -> None:
    lid = cloud.locker_ids()[0]
    op = cloud.headers("operator", "operator")
    calls = [
        (f"{cloud.lockers_url()}/{lid}/reservations", f'{{"duration": {value}}}', cloud.headers()),
        (f"{cloud.lockers_url()}/{lid}/dropoff-locker-tokens",
         f'{{"client_info": "", "duration": {value}}}', cloud.headers()),
        (f"/api/v1/admin/towers/{cloud.tower_id}/lockers",
         f'{{"lockers": [{{"name": "n", "dimensions": {{"width": {value}}}}}]}}', op),
        (f"/sdk/v1/towers/{cloud.tower_id}/events",
         f'{{"events": [{{"tower_id": "{cloud.tower_id}", "seq": {value}, "type": "boot", '
         f'"timestamp": 1, "signature": "00"}}]}}', cloud.headers("demo", "tower_access")),
    ]
    for url, raw, headers in calls:
        r = _post_raw(cloud, url, raw, headers)
        assert r.status_code == 422, (url, r.status_code, r.text)
        detail = json.loads(r.text, parse_constant=_refuse_constant)
        assert isinstance(detail["detail"], list) and detail["detail"][0]["loc"], r.text
    assert cloud.state(lid) == "available"


@pytest.mark.parametrize("duration", ["300", True, 300.0, "1", None])
def test_durations_are_strict_integers(cloud: Cloud, duration: object) -> None:
    lid = cloud.locker_ids()[0]
    base = f"{cloud.lockers_url()}/{lid}"
    for url, body in [
        (f"{base}/reservations", {"duration": duration}),
        (f"{base}/dropoff-locker-tokens", {"client_info": "", "duration": duration}),
        (f"{base}/release-locker", {"duration": duration}),
    ]:
        r = cloud.http.post(url, json=body, headers=cloud.headers())
        assert r.status_code == 422, (url, duration, r.status_code, r.text)
        assert r.json()["detail"][0]["loc"][-1] == "duration"
    assert cloud.state(lid) == "available"


def test_operator_flags_and_sizes_are_strict(cloud: Cloud) -> None:
    op = cloud.headers("operator", "operator")
    lid = cloud.locker_ids()[0]
    r = cloud.http.patch(f"/api/v1/admin/towers/{cloud.tower_id}/lockers/{lid}",
                         json={"outOfService": "true"}, headers=op)
    assert r.status_code == 422, r.text
    r = cloud.http.post(f"/api/v1/admin/towers/{cloud.tower_id}/lockers",
                        json={"lockers": [{"name": "n", "dimensions": {"width": "300"}}]},
                        headers=op)
    assert r.status_code == 422, r.text


def test_a_real_integer_duration_still_reserves(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    r = cloud.http.post(f"{cloud.lockers_url()}/{lid}/reservations", json={"duration": 300},
                        headers=cloud.headers())
    assert r.status_code == 201, r.text
    assert cloud.state(lid) == "reserved"


@pytest.fixture
def any_cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(db_url, tmp_path / "data")


def test_nul_characters_are_a_4xx_on_both_engines(any_cloud: Cloud) -> None:
    """PostgreSQL refuses NUL in text: that is bad input (400 INVALID_INPUT), not a 500."""
    c = any_cloud
    lid = c.locker_ids()[0]
    op = c.headers("operator", "operator")
    calls = [
        ("DELETE", f"{c.lockers_url()}/{lid}/reservations/a%00b", None, c.headers()),
        ("POST", f"{c.lockers_url()}/{lid}/dropoff-locker-tokens",
         {"client_info": "a\x00", "duration": 60}, c.headers()),
        ("POST", "/api/v1/admin/partners", {"name": "a\x00"}, op),
        ("POST", "/api/v1/admin/towers", {"name": "a\x00"}, op),
    ]
    for method, url, body, headers in calls:
        r = c.http.request(method, url, json=body, headers=headers)
        assert r.status_code < 500, (method, url, r.status_code, r.text)
        assert "code" in r.json() or r.status_code < 300, r.text
    r = c.http.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": "a\x00", "client_secret": "b"})
    assert r.status_code in (400, 401), r.text
