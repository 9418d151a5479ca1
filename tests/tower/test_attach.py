"""One gateway database serves one tower: the tower tables remember which."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from berth.storage import Database
from berth.tower.attach import TowerMismatch, claim_database
from berth.tower.identity import TowerIdentity
from berth.tower.service import TowerService


def identity(tower_id: str, cloud_locker: int) -> TowerIdentity:
    return TowerIdentity(tower_id, Ed25519PrivateKey.generate(), {}, {cloud_locker: (1, 0)})


async def _never(_gateway_locker_id: int):  # type: ignore[no-untyped-def]
    raise AssertionError("no door opens here")


def test_a_claimed_database_refuses_another_tower(db_url: str) -> None:
    db = Database(db_url)
    first, second = identity("aaaa", 1), identity("bbbb", 2)
    claim_database(db, first)
    claim_database(db, first)  # the same tower again: fine
    with pytest.raises(TowerMismatch, match="served tower aaaa; these keys are for tower bbbb"):
        claim_database(db, second)
    db.dispose()


def test_a_database_from_before_the_mark_is_judged_by_its_lockers(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    TowerService(db, identity("aaaa", 1), _never).install()  # as an older gateway left it
    with pytest.raises(TowerMismatch, match="another tower"):
        claim_database(db, identity("bbbb", 2))
    claim_database(db, identity("aaaa", 1))
    db.dispose()
