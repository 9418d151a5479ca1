"""Integers beyond the storage range and one timestamp format: a 400 Error body, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth.domain.tokens import SigningKey
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import AUTH

HUGE = 99999999999999999999  # beyond 64 bits: SQLite's driver overflows, PostgreSQL's columns too
JUST_OVER = 2**31  # one past the 32-bit id columns
TOWER = "00aa11bb22cc33dd"
MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def huge_calls(n: int) -> list[tuple[str, str, object]]:
    """Every gateway route that takes an integer, with ``n`` where the integer goes."""
    return [
        ("GET", f"/lockers/{n}", None),
        ("GET", f"/lockers/{n}/config", None),
        ("PATCH", f"/lockers/{n}", {"outOfService": True}),
        ("POST", f"/lockers/{n}/open", None),
        ("GET", f"/lockers?offset={n}", None),
        ("GET", "/lockers?offset=1e20", None),
        ("GET", f"/lockers?bankId={n}", None),
        ("GET", f"/lockers?limit={n}", None),
        ("GET", f"/transactions?offset={n}", None),
        ("GET", f"/transactions?lockerId={n}", None),
        ("GET", f"/system/logs?offset={n}", None),
        ("GET", f"/system/logs?lockerId={n}", None),
        ("GET", f"/locker-types/{n}", None),
        ("GET", f"/bank-types/{n}", None),
        ("GET", f"/tower/events?after={n}", None),
        ("POST", "/tower/commands", {"commands": [{"id": n, "kind": "release_token"}]}),
        ("POST", f"/admin/lockers/{n}/open", None),
    ]


@pytest.fixture
def provisioned(gateway_factory: Callable[..., TestClient], db_url: str) -> TestClient:
    """A gateway provisioned as a tower (so /tower/* reaches validation), once per engine."""
    identity = TowerIdentity(TOWER, Ed25519PrivateKey.generate(),
                             {"k1": SigningKey.generate("k1").public}, lockers={901: (7, 0)})
    client = gateway_factory(db_url, tower=identity)
    client.headers.update(AUTH)
    return client


@pytest.mark.parametrize("n", [HUGE, JUST_OVER, -HUGE])
def test_out_of_range_integers_are_a_400_validation_error(provisioned: TestClient,
                                                          n: int) -> None:
    for method, url, body in huge_calls(n):
        r = provisioned.request(method, url, json=body)
        assert r.status_code == 400, (method, url, r.status_code, r.text)
        error = r.json()
        assert error["error"] == "VALIDATION_ERROR", (method, url, error)
        assert error["details"] and error["message"], (method, url, error)
        assert MS_Z.match(error["timestamp"]), error


def test_tower_commands_without_credentials_refuse_a_huge_id(provisioned: TestClient) -> None:
    """The one route that needs no credentials: the issue's ``"id": 99999999999999999999``."""
    r = provisioned.post("/tower/commands", headers={"X-API-Key": ""},
                         json={"commands": [{"id": HUGE, "kind": "release_token",
                                             "payload": "ab", "payload_auth": "cd"}]})
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", r.text


@pytest.mark.parametrize("bad_id", ["5", True, 5.0])
def test_tower_command_ids_are_strict_integers(provisioned: TestClient, bad_id: object) -> None:
    r = provisioned.post("/tower/commands",
                         json={"commands": [{"id": bad_id, "kind": "release_token"}]})
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", r.text


def test_largest_ids_are_valid_and_simply_not_found(provisioned: TestClient) -> None:
    top = 2**31 - 1
    assert provisioned.get(f"/lockers/{top}").status_code == 404
    assert provisioned.get(f"/lockers?offset={top}").json() == []
    assert provisioned.get(f"/tower/events?after={top}").json()["events"] == []


def test_transaction_timestamps_have_one_format_in_post_and_get(client: TestClient) -> None:
    created = client.post("/transactions", json={"transactionId": "fmt-1"})
    assert created.status_code == 201, created.text
    stamp = created.json()["createdAt"]
    assert MS_Z.match(stamp), stamp
    assert client.get("/transactions/fmt-1").json()["createdAt"] == stamp
    assert [t["createdAt"] for t in client.get("/transactions").json()] == [stamp]
    assert client.delete("/transactions/fmt-1").status_code == 204
    released = client.get("/transactions/fmt-1").json()["releasedAt"]
    listed = client.get("/transactions?status=released").json()[0]
    assert MS_Z.match(released) and listed["releasedAt"] == released
    assert listed["createdAt"] == stamp


def test_every_gateway_timestamp_has_milliseconds_and_z(client: TestClient) -> None:
    client.post("/system/heartbeat", json={"deviceId": "kiosk-1", "deviceType": "kiosk"})
    stamps = [
        client.get("/lockers/1").json()["updatedAt"],
        client.get("/locker-types").json()[0]["createdAt"],
        client.get("/bank-types").json()[0]["createdAt"],
        client.get("/system/logs").json()[0]["timestamp"],
        client.get("/lockers/999999").json()["timestamp"],
    ]
    system = client.get("/system").json()
    stamps += [system["startedAt"], system["controllers"][0]["updatedAt"],
               system["devices"][0]["firstSeen"], system["devices"][0]["lastSeen"]]
    for stamp in stamps:
        assert MS_Z.match(stamp), stamp


def test_nul_characters_are_a_400_on_both_engines(provisioned: TestClient) -> None:
    """PostgreSQL refuses NUL in text: that is bad input (400), not a server error."""
    calls = [
        ("GET", "/transactions/a%00b", None),
        ("GET", "/system/logs?transactionId=a%00b", None),
        ("POST", "/system/heartbeat", {"deviceId": "d\x00", "deviceType": "kiosk"}),
        ("PATCH", "/lockers/1", {"outOfService": True, "reason": "a\x00"}),
    ]
    for method, url, body in calls:
        r = provisioned.request(method, url, json=body)
        assert r.status_code in (200, 400, 404), (method, url, r.status_code, r.text)
        if r.status_code == 400:
            assert r.json()["error"] == "VALIDATION_ERROR", r.text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_heartbeat_details_are_refused(client: TestClient,
                                                             value: str) -> None:
    raw = f'{{"deviceId": "d1", "deviceType": "kiosk", "details": {{"t": {value}}}}}'
    r = client.post("/system/heartbeat", content=raw,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", r.text
    assert r.json()["details"][0]["field"] == "details"
    assert client.get("/system").json()["devices"] == []
