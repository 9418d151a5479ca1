"""Guessing has a budget per address: wrong API keys, failed admin logins and refused tower tokens
each lead to 429 + Retry-After; other addresses and successful requests are not affected."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth.domain.tokens import SignedToken, SigningKey, TokenClaims, TokenKind, sign_token
from berth.kit.clock import FakeClock, utcnow
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY
from tests.tower.conftest import TOWER

Start = Callable[..., TestClient]
CLOUD_KEY = SigningKey.generate("k1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utcnow())


def from_address(client: TestClient, host: str) -> TestClient:
    """Another HTTP client on the same running gateway, seen as coming from ``host``."""
    return TestClient(client.app, client=(host, 40000))


def test_wrong_api_keys_per_address_give_429(gateway_factory: Start, sqlite_url: str,
                                             clock: FakeClock) -> None:
    gw = gateway_factory(sqlite_url, clock=clock, key_failures_per_address="3/minute")
    assert [gw.get("/lockers").status_code for _ in range(5)] == [401] * 5  # no key: no guess
    wrong = {"X-API-Key": "guess"}
    assert [gw.get("/lockers", headers=wrong).status_code for _ in range(3)] == [401] * 3
    blocked = gw.get("/lockers", headers=wrong)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert blocked.json()["error"] == "TOO_MANY_REQUESTS"
    assert gw.get("/lockers", headers={"X-API-Key": API_KEY}).status_code == 429
    assert gw.get("/health").status_code == 200  # public paths are not limited
    neighbour = from_address(gw, "192.0.2.10")
    assert neighbour.get("/lockers", headers={"X-API-Key": API_KEY}).status_code == 200
    clock.advance(61)
    assert gw.get("/lockers", headers={"X-API-Key": API_KEY}).status_code == 200


def test_right_keys_do_not_use_up_the_budget(gateway_factory: Start, sqlite_url: str,
                                             clock: FakeClock) -> None:
    gw = gateway_factory(sqlite_url, clock=clock, key_failures_per_address="2/minute")
    right, wrong = {"X-API-Key": API_KEY}, {"X-API-Key": "guess"}
    assert [gw.get("/lockers", headers=right).status_code for _ in range(5)] == [200] * 5
    assert [gw.get("/lockers", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]


def test_failed_admin_logins_per_address_give_429(gateway_factory: Start, sqlite_url: str,
                                                  clock: FakeClock) -> None:
    gw = gateway_factory(sqlite_url, clock=clock, admin_login_failures_per_address="2/minute")
    assert gw.post("/admin/login", data={"api_key": API_KEY},
                   follow_redirects=False).status_code == 303  # a success costs nothing
    bad = [gw.post("/admin/login", data={"api_key": "nope"}).status_code for _ in range(2)]
    assert bad == [401, 401]
    blocked = gw.post("/admin/login", data={"api_key": API_KEY}, follow_redirects=False)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert "Too many failed logins" in blocked.text
    neighbour = from_address(gw, "192.0.2.10")
    assert neighbour.post("/admin/login", data={"api_key": API_KEY},
                          follow_redirects=False).status_code == 303
    clock.advance(60)
    assert gw.post("/admin/login", data={"api_key": API_KEY},
                   follow_redirects=False).status_code == 303


def token(locker_id: int, clock: FakeClock, tower: str = TOWER) -> SignedToken:
    """Valid on the tower's own (fake) clock, however long the gateway took to start."""
    now = int(clock().timestamp())
    claims = TokenClaims(tower, locker_id, TokenKind.DROPOFF, secrets.token_hex(16), now - 5,
                         now + 600, "k1", 0)
    return sign_token(claims, CLOUD_KEY)


def body(t: SignedToken) -> dict[str, str]:
    return {"payload": t.payload, "payload_auth": t.payload_auth}


def test_refused_tower_tokens_per_address_give_429(gateway_factory: Start, sqlite_url: str,
                                                   clock: FakeClock) -> None:
    identity = TowerIdentity(TOWER, Ed25519PrivateKey.generate(), {"k1": CLOUD_KEY.public},
                             lockers={901: (7, 0), 902: (8, 0)})
    gw = gateway_factory(sqlite_url, clock=clock, tower=identity,
                         tower_open_refusals_per_address="3/minute")
    phone, attacker = gw, from_address(gw, "198.51.100.7")
    assert phone.post("/tower/open", json=body(token(901, clock))).status_code == 200
    garbage = [attacker.post("/tower/open", json=body(token(901, clock, "1111222233334444")))
               for _ in range(3)]
    assert [g.status_code for g in garbage] == [403] * 3
    blocked = attacker.post("/tower/open", json=body(token(902, clock)))
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert blocked.json()["error"] == "TOO_MANY_REQUESTS"
    # someone else's garbage does not block a valid token from another address
    answer = phone.post("/tower/open", json=body(token(902, clock)))
    assert answer.status_code == 200 and answer.json()["success"]
    clock.advance(61)
    assert attacker.post("/tower/open", json=body(token(902, clock))).status_code != 429


def test_budgets_come_from_settings(tmp_path: Path) -> None:
    from berth.gateway.config import GatewayConfig
    from berth.kit.settings import Settings

    config = GatewayConfig.from_settings(Settings(
        data_dir=tmp_path, gateway={"key_failures_per_address": "5/hour",
                                    "admin_login_failures_per_address": "2/minute"},
        tower={"open_refusals_per_address": "7/10 seconds"}))
    assert (config.key_failures_per_address, config.admin_login_failures_per_address,
            config.tower_open_refusals_per_address) == ("5/hour", "2/minute", "7/10 seconds")
