"""``/tower/*`` on a provisioned gateway: the phone's interface, with its own credentials."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth.domain.tokens import SigningKey, TokenClaims, TokenKind, sign_token, verify_event
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY
from tests.support.waiting import BOUND, wait_until
from tests.tower.conftest import TOWER, keypad_command

CLOUD_KEY = SigningKey.generate("k1")


def token(locker_id: int, kind: TokenKind, tower: str = TOWER):  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = TokenClaims(tower, locker_id, kind, secrets.token_hex(16), now - 5, now + 600,
                         "k1", 0)
    return sign_token(claims, CLOUD_KEY)


@pytest.fixture
def identity() -> TowerIdentity:
    return TowerIdentity(TOWER, Ed25519PrivateKey.generate(), {"k1": CLOUD_KEY.public},
                         lockers={901: (7, 0), 902: (8, 0)})


@pytest.fixture
def gateway(gateway_factory: Callable[..., TestClient], sqlite_url: str,
            identity: TowerIdentity) -> TestClient:
    return gateway_factory(sqlite_url, tower=identity)


def wait_for(client: TestClient, event_type: str, timeout: float = BOUND) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = client.get("/tower/events", headers={"X-API-Key": API_KEY}).json()["events"]
        if any(e["type"] == event_type for e in events):
            return events
        assert time.monotonic() < deadline, f"no {event_type} in {events}"
        time.sleep(0.05)


def test_token_opens_its_door_and_the_closing_is_reported(gateway: TestClient,
                                                          identity: TowerIdentity) -> None:
    drop = token(901, TokenKind.DROPOFF)
    answer = gateway.post("/tower/open", json={"payload": drop.payload,
                                               "payload_auth": drop.payload_auth})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["success"] and body["gatewayLockerId"] == 7 and body["lockerId"] == 901
    events = wait_for(gateway, "dropoff_token_used")  # simulated doors close after 0.3 s
    used = [e for e in events if e["type"] == "dropoff_token_used"]
    assert [e["token_id"] for e in used] == [drop.claims.token_id]
    public = identity.private_key.public_key()
    assert all(verify_event(e, public) for e in events)
    # the gateway's own log saw the opening through its driver
    logs = gateway.get("/system/logs", params={"lockerId": 7},
                       headers={"X-API-Key": API_KEY}).json()
    assert logs


def test_spent_dropoff_token_is_403_and_moves_no_door(gateway: TestClient) -> None:
    drop = token(902, TokenKind.DROPOFF)
    body = {"payload": drop.payload, "payload_auth": drop.payload_auth}
    assert gateway.post("/tower/open", json=body).json()["success"] is True
    wait_for(gateway, "dropoff_token_used")  # the simulated door closed: the token is spent
    opened = gateway.app.state.service.controllers
    unlocks = sum(len(getattr(c, "unlocks", [])) for c in opened.values())
    for _ in range(3):
        again = gateway.post("/tower/open", json=body)
        assert again.status_code == 403 and again.json()["error"] == "TOKEN_ALREADY_USED"
        assert "pickup-locker-tokens" in again.json()["message"]
    assert sum(len(getattr(c, "unlocks", [])) for c in opened.values()) == unlocks


def test_refused_token_is_403_with_the_verifier_code(gateway: TestClient) -> None:
    foreign = token(901, TokenKind.DROPOFF, tower="1111222233334444")
    answer = gateway.post("/tower/open", json={"payload": foreign.payload,
                                               "payload_auth": foreign.payload_auth})
    assert answer.status_code == 403 and answer.json()["error"] == "AUTH_TOWER_ID"
    bad = gateway.post("/tower/open", json={"payload": "zz", "payload_auth": "00"})
    assert bad.status_code == 400 and bad.json()["error"] == "VALIDATION_ERROR"


def test_events_need_the_api_key_or_a_current_tower_token(gateway: TestClient) -> None:
    assert gateway.get("/tower/events").status_code == 401
    assert gateway.get("/tower/events", headers={"X-Tower-Token": "ab.cd"}).status_code == 403
    session = token(902, TokenKind.PICKUP)
    answer = gateway.get("/tower/events",
                         headers={"X-Tower-Token": f"{session.payload}.{session.payload_auth}"})
    assert answer.status_code == 200
    other = token(902, TokenKind.PICKUP, tower="1111222233334444")
    assert gateway.get("/tower/events", headers={
        "X-Tower-Token": f"{other.payload}.{other.payload_auth}"}).status_code == 403


def test_relayed_release_command_applies_once(gateway: TestClient) -> None:
    release = token(902, TokenKind.RELEASE)
    command = {"id": 3, "kind": "release_token", "payload": release.payload,
               "payload_auth": release.payload_auth}
    first = gateway.post("/tower/commands", json={"commands": [command]}).json()
    again = gateway.post("/tower/commands", json={"commands": [command]}).json()
    assert first["results"][0]["outcome"] == "applied"
    assert again["results"][0]["outcome"] == "duplicate"


def test_unprovisioned_gateway_says_so(gateway_factory: Callable[..., TestClient],
                                      sqlite_url: str) -> None:
    plain = gateway_factory(sqlite_url)
    answer = plain.post("/tower/open", json={"payload": "00", "payload_auth": "00"})
    assert answer.status_code == 404 and answer.json()["error"] == "TOWER_NOT_PROVISIONED"


@pytest.fixture
def whole_site(gateway_factory: Callable[..., TestClient], sqlite_url: str) -> TestClient:
    """A gateway whose 36 lockers are all cloud lockers (cloud id = 900 + gateway id)."""
    identity = TowerIdentity(TOWER, Ed25519PrivateKey.generate(), {"k1": CLOUD_KEY.public},
                             lockers={900 + g: (g, 0) for g in range(1, 37)})
    client = gateway_factory(sqlite_url, tower=identity)
    client.headers.update({"X-API-Key": API_KEY})
    return client


def test_local_transaction_locker_refuses_a_cloud_dropoff(whole_site: TestClient) -> None:
    local = whole_site.post("/transactions", json={"transactionId": "local-1"}).json()
    drop = token(900 + local["lockerId"], TokenKind.DROPOFF)
    answer = whole_site.post("/tower/open", json={"payload": drop.payload,
                                                  "payload_auth": drop.payload_auth})
    assert answer.status_code == 403 and answer.json()["error"] == "SYS_LOCKERS_BUSY"
    events = wait_for(whole_site, "open_refused")
    assert not any(e["type"] == "locker_opened" for e in events)


def test_cloud_parcel_keeps_local_assignment_off_its_locker(whole_site: TestClient) -> None:
    gid = 3
    drop = token(900 + gid, TokenKind.DROPOFF)
    opened = whole_site.post("/tower/open", json={"payload": drop.payload,
                                                  "payload_auth": drop.payload_auth}).json()
    assert opened["success"]
    assert whole_site.get(f"/lockers/{gid}").json()["transactionId"] == \
        f"tower-{drop.claims.token_id}"
    wait_for(whole_site, "dropoff_token_used")
    got = set()
    for i in range(36):
        answer = whole_site.post("/transactions", json={"transactionId": f"l-{i}"})
        if answer.status_code != 201:
            break
        got.add(answer.json()["lockerId"])
    assert gid not in got and len(got) == 35
    for i in range(35):
        whole_site.delete(f"/transactions/l-{i}")

    pickup = token(900 + gid, TokenKind.PICKUP)
    assert whole_site.post("/tower/open", json={"payload": pickup.payload,
                                                "payload_auth": pickup.payload_auth}).json()[
        "success"]
    wait_for(whole_site, "pickup_token_used")
    wait_until(lambda: whole_site.get(f"/lockers/{gid}").json()["available"],
               "the hold was never released")


def test_keypad_code_opens_its_locker_and_wrong_codes_lock_the_keypad(
        gateway: TestClient) -> None:
    drop = token(901, TokenKind.DROPOFF)
    gateway.post("/tower/open", json={"payload": drop.payload, "payload_auth": drop.payload_auth})
    wait_for(gateway, "dropoff_token_used")
    code = keypad_command(CLOUD_KEY, 901, int(time.time()))
    relayed = gateway.post("/tower/commands", json={"commands": [
        {"id": 5, "kind": "keypad_code", "payload": code.payload,
         "payload_auth": code.payload_auth}]}).json()
    assert relayed["results"][0]["outcome"] == "applied"
    wrong = f"{(int(code.code) + 1) % 10**6:06d}"
    answer = gateway.post("/tower/keypad", json={"code": wrong})
    assert answer.status_code == 403 and answer.json()["error"] == "KEYPAD_CODE_INVALID"
    assert gateway.post("/tower/keypad", json={"code": "12ab56"}).status_code == 400

    opened = gateway.post("/tower/keypad", json={"code": code.code})
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["success"] and body["gatewayLockerId"] == 7 and body["kind"] == "pickup"
    assert body["tokenId"] == code.token_id
    events = wait_for(gateway, "pickup_token_used")
    assert [e["token_id"] for e in events if e["type"] == "pickup_token_used"] == [code.token_id]

    for _ in range(5):
        assert gateway.post("/tower/keypad", json={"code": wrong}).status_code == 403
    locked = gateway.post("/tower/keypad", json={"code": code.code})
    assert locked.status_code == 429 and locked.json()["error"] == "KEYPAD_LOCKED"
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert code.code not in str(gateway.get("/tower/events",
                                            headers={"X-API-Key": API_KEY}).json())
