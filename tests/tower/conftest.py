"""A provisioned tower over real SQLite or PostgreSQL and an in-process simulated controller."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from berth.domain.keypad import KeypadBinding, hash_code, new_code, sign_keypad_code
from berth.domain.tokens import SignedToken, SigningKey, TokenClaims, TokenKind, sign_token
from berth.hardware.opening import OpenOutcome, OpenPolicy, open_door
from berth.hardware.simulated import SimulatedController
from berth.kit.clock import FakeClock
from berth.storage import Database
from berth.tower.identity import TowerIdentity
from berth.tower.service import TowerService

TOWER = "00aa11bb22cc33dd"
OTHER_TOWER = "ffee000000000001"
FAST = OpenPolicy(attempt_timeout=0.5, attempts=2, retry_gap=0.01, confirm_timeout=0.1,
                  confirm_poll=0.01)


@dataclass(frozen=True)
class KeypadCommand:
    """A pick-up's keypad code and the signed command that gives its digest to the tower."""

    code: str
    token_id: str
    payload: str
    payload_auth: str


def keypad_command(key: SigningKey, locker_id: int, now: int, *, generation: int = 0,
                   tower: str = TOWER, ttl: int = 600, code: str | None = None,
                   token_id: str | None = None) -> KeypadCommand:
    """What the cloud queues for a pick-up token issued with ``keypad_code``."""
    code = code or new_code(6)
    token_id = token_id or secrets.token_hex(16)
    held = hash_code(code, KeypadBinding(tower, locker_id, token_id, generation, now - 5,
                                         now + ttl))
    return KeypadCommand(code, token_id, *sign_keypad_code(held, key))


@dataclass
class Rig:
    service: TowerService
    controller: SimulatedController
    cloud_key: SigningKey
    clock: FakeClock

    def token(self, locker_id: int, kind: TokenKind, *, generation: int = 0,
              tower: str = TOWER, ttl: int = 600, key: SigningKey | None = None) -> SignedToken:
        now = int(self.clock().timestamp())
        key = key or self.cloud_key
        claims = TokenClaims(tower, locker_id, kind, secrets.token_hex(16), now - 5, now + ttl,
                             key.key_id, generation)
        return sign_token(claims, key)

    def keypad(self, locker_id: int, **kwargs) -> KeypadCommand:  # type: ignore[no-untyped-def]
        return keypad_command(self.cloud_key, locker_id, int(self.clock().timestamp()),
                              **kwargs)

    def events(self) -> list[dict]:
        return self.service.events_after(0, 1000)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]


@pytest.fixture
def rig(db_url: str, clock: FakeClock) -> Rig:
    cloud_key = SigningKey.generate("k1")
    identity = TowerIdentity(
        tower_id=TOWER,
        private_key=Ed25519PrivateKey.generate(),
        cloud_keys={"k1": cloud_key.public},
        lockers={101: (1, 0), 102: (2, 0), 103: (3, 4)},
    )
    controller = SimulatedController("bank-1", 4, close_after=None)

    async def opener(gateway_locker_id: int) -> OpenOutcome:
        return await open_door(controller, gateway_locker_id, FAST)

    service = TowerService(Database(db_url), identity, opener, clock)
    service.install()
    return Rig(service, controller, cloud_key, clock)

# the gateway's app fixture, for the tower's HTTP interface on a provisioned gateway
from tests.gateway.conftest import gateway_factory  # noqa: E402, F401
