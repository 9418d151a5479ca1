"""What the tower tells the process: token uses and refusals, sync rounds (after they commit)."""

from __future__ import annotations

import asyncio

from berth import events as ev
from berth.domain.tokens import TokenKind
from tests.tower.conftest import OTHER_TOWER, Rig
from tests.tower.test_service import open_, refused
from tests.tower.test_sync import World, world  # noqa: F401


def test_token_use_and_refusal_are_published(rig: Rig) -> None:
    heard: list[ev.Event] = []
    rig.service.publish = heard.append
    drop = rig.token(101, TokenKind.DROPOFF)
    open_(rig, drop)
    assert heard == []  # open, not used: the door has not closed yet
    rig.service.door_closed(1)
    assert [(type(e), e.token_id, e.locker_id) for e in heard] == [
        (ev.TokenUsed, drop.claims.token_id, 101)]
    assert heard[0].kind == "dropoff"  # type: ignore[attr-defined]
    assert refused(rig, drop) == "TOKEN_ALREADY_USED"
    stranger = refused(rig, rig.token(102, TokenKind.DROPOFF, tower=OTHER_TOWER))
    assert [(type(e), e.code, e.token_id) for e in heard[1:]] == [  # type: ignore[attr-defined]
        (ev.TokenRefused, "TOKEN_ALREADY_USED", drop.claims.token_id),
        (ev.TokenRefused, stranger, None)]  # not this tower's token: nothing in it is trusted


def test_a_sync_round_is_published(world: World) -> None:  # noqa: F811
    heard: list[ev.Event] = []
    sync = world.sync()
    sync.publish = heard.append
    locker = world.cloud_locker(1)
    drop = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    asyncio.run(world.tower.open_with_token(drop.payload, drop.payload_auth))
    report = asyncio.run(sync.sync_once())
    assert heard == [ev.TowerSynced(tower_id=world.tower_id, pushed=report.pushed, applied=0,
                                    occurred_at=world.clock())]
    assert report.pushed > 0
