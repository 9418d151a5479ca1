"""Keypad codes at the tower: checked offline against cloud-signed digests, bounded by lockouts."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from berth.domain.errors import TooManyAttempts
from berth.domain.tokens import SigningKey, TokenKind, TokenRefused, verify_event
from berth.tower.service import KEYPAD_COMMAND, TowerService
from tests.tower.conftest import OTHER_TOWER, KeypadCommand, Rig, keypad_command

_ids = itertools.count(1000)


def give(rig: Rig, command: KeypadCommand) -> str:
    """Apply the keypad command as the sync would; returns its outcome."""
    return rig.service.apply_command(next(_ids), command.payload, command.payload_auth,
                                     KEYPAD_COMMAND).outcome


def occupy(rig: Rig, locker_id: int = 101) -> None:
    generation = rig.service.locker_state(locker_id)["generation"]
    asyncio.run(rig.service.open_with_token(*_signed(
        rig.token(locker_id, TokenKind.DROPOFF, generation=generation))))
    rig.service.door_closed(rig.service.locker_state(locker_id)["gateway_locker_id"])
    rig.controller.unlocks.clear()


def _signed(token) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return token.payload, token.payload_auth


def type_code(rig: Rig, code: str):  # type: ignore[no-untyped-def]
    return asyncio.run(rig.service.open_with_code(code))


def refused(rig: Rig, code: str) -> str:
    with pytest.raises(TokenRefused) as info:
        type_code(rig, code)
    return info.value.code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_right_code_opens_its_door_once_and_reports_the_pickup(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101)
    assert give(rig, command) == "applied"
    result = type_code(rig, command.code)
    assert result.success and result.kind == "pickup" and result.gateway_locker_id == 1
    assert result.token_id == command.token_id
    assert rig.controller.unlocks == [1]
    assert rig.service.locker_state(101)["generation"] == 1  # claimed before the door fired
    rig.service.door_closed(1)
    used = rig.events()[-1]
    assert used["type"] == "pickup_token_used" and used["token_id"] == command.token_id
    assert rig.service.locker_state(101)["occupied"] is False
    # single use
    rig.controller.unlocks.clear()
    assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"
    assert rig.controller.unlocks == []


def test_wrong_code_moves_no_door_and_no_code_is_ever_logged(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101)
    give(rig, command)
    assert refused(rig, wrong(command.code)) == "KEYPAD_CODE_INVALID"
    assert rig.controller.unlocks == []
    type_code(rig, command.code)
    rig.service.flush_refusals(force=True)
    log = rig.events()
    assert "keypad_code_set" in rig.types()
    opened = [e for e in log if e["type"] == "locker_opened"][-1]
    assert opened["via"] == "keypad"
    summary = next(e for e in log if e["type"] == "open_refused_summary")
    assert summary["counts"] == {"KEYPAD_CODE_INVALID": 1}
    text = json.dumps(log)
    assert command.code not in text and wrong(command.code) not in text


def test_code_expires(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101, ttl=60)
    give(rig, command)
    rig.clock.advance(61)
    assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"
    assert rig.controller.unlocks == []


def test_code_dies_with_its_locker_generation(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101)
    give(rig, command)
    # the recipient used the app's pick-up token instead: every older code of the locker dies
    asyncio.run(rig.service.open_with_token(*_signed(rig.token(101, TokenKind.PICKUP))))
    rig.service.door_closed(1)
    occupy(rig)  # a new parcel in the same locker
    rig.controller.unlocks.clear()
    assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"
    assert rig.controller.unlocks == []


def test_a_door_that_stayed_shut_gives_the_code_back(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101)
    give(rig, command)
    rig.controller.close_door(1)
    rig.controller.jammed.add(1)
    result = type_code(rig, command.code)
    assert not result.success and result.reason_code == "DOOR_DID_NOT_OPEN"
    assert rig.types()[-1] == "open_failed" and rig.events()[-1]["via"] == "keypad"
    rig.controller.jammed.clear()
    assert type_code(rig, command.code).door_open


def test_release_kills_the_code(rig: Rig) -> None:
    command = rig.keypad(102)
    give(rig, command)
    release = rig.token(102, TokenKind.RELEASE)
    assert rig.service.apply_command(next(_ids), release.payload, release.payload_auth
                                     ).outcome == "applied"
    occupy(rig, 102)
    assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"


def test_code_of_an_older_generation_is_dropped_on_arrival(rig: Rig) -> None:
    occupy(rig, 103)  # locker 103 is at generation 4
    command = rig.keypad(103, generation=3)
    assert give(rig, command) == "applied"  # acknowledged, so the cloud stops sending it
    assert rig.events()[-2]["type"] == "keypad_code_dropped"
    assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"


def test_right_code_for_an_empty_locker_is_refused_with_the_reason(rig: Rig) -> None:
    command = rig.keypad(102)
    give(rig, command)
    assert refused(rig, command.code) == "LOCKER_EMPTY"
    assert rig.controller.unlocks == []


def test_forged_or_foreign_keypad_commands_are_refused(rig: Rig) -> None:
    occupy(rig)
    foreign = rig.keypad(101, tower=OTHER_TOWER)
    stranger = keypad_command(SigningKey.generate("k1"), 101, int(rig.clock().timestamp()))
    for command, code in ((foreign, "AUTH_TOWER_ID"), (stranger, "AUTH_SIGNATURE")):
        result = rig.service.apply_command(next(_ids), command.payload, command.payload_auth,
                                           KEYPAD_COMMAND)
        assert (result.outcome, result.code) == ("refused", code)
        assert refused(rig, command.code) == "KEYPAD_CODE_INVALID"
    assert rig.controller.unlocks == []


def test_wrong_codes_lock_the_keypad_for_a_growing_time(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101, ttl=7200)
    give(rig, command)
    bad = wrong(command.code)
    for _ in range(4):
        assert refused(rig, bad) == "KEYPAD_CODE_INVALID"
    assert refused(rig, bad) == "KEYPAD_CODE_INVALID"  # the fifth locks it
    with pytest.raises(TooManyAttempts) as locked:
        type_code(rig, command.code)  # even the right code waits
    assert locked.value.code == "KEYPAD_LOCKED" and locked.value.retry_after == 60
    assert rig.controller.unlocks == []
    event = [e for e in rig.events() if e["type"] == "keypad_locked"][-1]
    assert event["lockout_seconds"] == 60 and event["lockouts"] == 1
    assert verify_event(event, rig.service.identity.private_key.public_key())

    rig.clock.advance(60)
    for _ in range(5):
        refused(rig, bad)
    assert rig.service.keypad_wait() == 120  # doubled
    rig.clock.advance(120)
    for _ in range(5):
        refused(rig, bad)
    assert rig.service.keypad_wait() == 240
    rig.clock.advance(240)
    assert type_code(rig, command.code).success  # a right code starts the count over
    assert rig.service.keypad_wait() == 0


def test_lockout_is_capped(rig: Rig) -> None:
    for level in range(8):
        for _ in range(5):
            refused(rig, "000000")
        wait = rig.service.keypad_wait()
        assert wait == min(3600, 60 * 2**level)
        rig.clock.advance(wait)


def test_lockout_survives_a_restart(rig: Rig) -> None:
    for _ in range(5):
        refused(rig, "123456")
    again = TowerService(rig.service.db, rig.service.identity, rig.service.opener, rig.clock)
    with pytest.raises(TooManyAttempts):
        asyncio.run(again.open_with_code("123456"))
    assert again.keypad_wait() == 60


def test_a_code_typed_while_another_is_checked_is_busy_not_queued(rig: Rig) -> None:
    occupy(rig)
    command = rig.keypad(101)
    give(rig, command)
    assert rig.service._keypad_lock.acquire()  # a check in progress
    try:
        with pytest.raises(TooManyAttempts) as busy:
            type_code(rig, command.code)
        assert busy.value.code == "KEYPAD_BUSY" and busy.value.retry_after == 1
    finally:
        rig.service._keypad_lock.release()
    assert rig.service.keypad_wait() == 0  # not counted as a wrong code
    assert type_code(rig, command.code).success
