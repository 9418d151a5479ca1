from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from berth.domain.tokens import SigningKey, TokenKind, TokenRefused, verify_event
from berth.hardware.driver import CommunicationError, DoorState
from berth.hardware.opening import OpenOutcome, open_door
from berth.hardware.simulated import SimulatedController
from berth.tower.service import ANONYMOUS_CODES, REFUSAL_SUMMARY_INTERVAL, TowerService
from tests.tower.conftest import FAST, OTHER_TOWER, Rig


def open_(rig: Rig, token):  # type: ignore[no-untyped-def]
    return asyncio.run(rig.service.open_with_token(token.payload, token.payload_auth))


def refused(rig: Rig, token) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenRefused) as info:
        open_(rig, token)
    return info.value.code


def test_dropoff_then_pickup_follows_the_doors(rig: Rig) -> None:
    result = open_(rig, rig.token(101, TokenKind.DROPOFF))
    assert result.success and result.door_open and result.kind == "dropoff"
    assert result.gateway_locker_id == 1
    assert rig.controller.doors[1] is DoorState.OPEN
    assert "dropoff_token_used" not in rig.types()  # not until the door closes

    rig.service.door_closed(1)
    assert rig.types()[-1] == "dropoff_token_used"
    assert rig.service.locker_state(101)["occupied"] is True

    pickup = rig.token(101, TokenKind.PICKUP)
    open_(rig, pickup)
    assert rig.service.locker_state(101)["generation"] == 1
    rig.service.door_closed(1)
    assert rig.types()[-1] == "pickup_token_used"
    assert rig.events()[-1]["token_id"] == pickup.claims.token_id
    assert rig.service.locker_state(101)["occupied"] is False


def test_pickup_token_replayed_after_pickup_is_stale(rig: Rig) -> None:
    open_(rig, rig.token(101, TokenKind.DROPOFF))
    rig.service.door_closed(1)
    pickup = rig.token(101, TokenKind.PICKUP)
    open_(rig, pickup)
    rig.service.door_closed(1)
    rig.controller.unlocks.clear()
    assert refused(rig, pickup) == "TOKEN_GENERATION_STALE"
    assert rig.controller.unlocks == []


def test_pickup_for_empty_locker_is_refused_and_logged(rig: Rig) -> None:
    token = rig.token(102, TokenKind.PICKUP)
    assert refused(rig, token) == "LOCKER_EMPTY"
    assert rig.controller.unlocks == []
    assert rig.events()[-1]["type"] == "open_refused"
    assert rig.events()[-1]["code"] == "LOCKER_EMPTY"
    # a signed token's refusal names it, so the cloud tells the partner that issued it
    assert rig.events()[-1]["token_id"] == token.claims.token_id
    assert rig.events()[-1]["locker_id"] == token.claims.locker_id


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda r: r.token(101, TokenKind.DROPOFF, tower=OTHER_TOWER), "AUTH_TOWER_ID"),
        (lambda r: r.token(101, TokenKind.DROPOFF, key=SigningKey.generate("k9")),
         "AUTH_KEY_INVALID"),
        (lambda r: r.token(101, TokenKind.DROPOFF, ttl=-1), "MSG_EXPIRED"),
        (lambda r: r.token(999, TokenKind.DROPOFF), "SYS_LOCKER_NOT_FOUND"),
        (lambda r: r.token(103, TokenKind.DROPOFF, generation=3), "TOKEN_GENERATION_STALE"),
        (lambda r: r.token(101, TokenKind.RELEASE), "TOKEN_KIND_INVALID"),
    ],
)
def test_refusals_never_move_a_door(rig: Rig, make, code: str) -> None:  # type: ignore[no-untyped-def]
    assert refused(rig, make(rig)) == code
    assert rig.controller.unlocks == []
    # a refusal with a valid cloud signature is logged; an unsigned one is only counted
    assert rig.types() == ([] if code in ANONYMOUS_CODES else ["open_refused"])


def test_forged_signature_is_refused(rig: Rig) -> None:
    token = rig.token(101, TokenKind.DROPOFF)
    flipped = bytearray.fromhex(token.payload_auth)
    flipped[0] ^= 1
    with pytest.raises(TokenRefused) as info:
        asyncio.run(rig.service.open_with_token(token.payload, flipped.hex()))
    assert info.value.code == "AUTH_SIGNATURE"
    assert rig.controller.unlocks == []


def test_jammed_door_gives_the_pickup_token_back(rig: Rig) -> None:
    open_(rig, rig.token(101, TokenKind.DROPOFF))
    rig.service.door_closed(1)
    rig.controller.close_door(1)
    rig.controller.jammed.add(1)
    pickup = rig.token(101, TokenKind.PICKUP)
    result = open_(rig, pickup)
    assert not result.success and result.reason_code == "DOOR_DID_NOT_OPEN"
    assert rig.types()[-1] == "open_failed"
    assert rig.service.locker_state(101)["generation"] == 0
    rig.controller.jammed.clear()
    assert open_(rig, pickup).door_open


def test_release_command_applies_once_and_kills_older_tokens(rig: Rig) -> None:
    dropoff = rig.token(102, TokenKind.DROPOFF)
    release = rig.token(102, TokenKind.RELEASE)
    assert rig.service.apply_command(7, release.payload, release.payload_auth).outcome == "applied"
    assert rig.service.apply_command(7, release.payload, release.payload_auth).outcome == \
        "duplicate"
    assert rig.types().count("release_token_set") == 1
    assert refused(rig, dropoff) == "TOKEN_GENERATION_STALE"


def test_command_with_a_non_release_token_is_refused(rig: Rig) -> None:
    token = rig.token(102, TokenKind.DROPOFF)
    result = rig.service.apply_command(8, token.payload, token.payload_auth)
    assert result.outcome == "refused" and result.code == "TOKEN_KIND_INVALID"
    assert rig.service.locker_state(102)["generation"] == 0


def test_event_log_is_signed_gap_free_and_tamper_evident(rig: Rig) -> None:
    open_(rig, rig.token(101, TokenKind.DROPOFF))
    rig.service.door_closed(1)
    rig.service.door_forced(2)
    events = rig.events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    public = rig.service.identity.private_key.public_key()
    for event in events:
        verify_event(event, public)
    with pytest.raises(TokenRefused):
        verify_event(dict(events[0], locker_id=102), public)
    with pytest.raises(TokenRefused):
        verify_event(events[0], Ed25519PrivateKey.generate().public_key())
    assert rig.service.events_after(2, 1)[0]["seq"] == 3


def test_pushed_cursor_only_moves_forward(rig: Rig) -> None:
    rig.service.mark_pushed(5)
    rig.service.mark_pushed(3)
    assert rig.service.pushed_seq() == 5


def test_release_that_a_dropoff_overtook_is_refused(rig: Rig) -> None:
    release = rig.token(101, TokenKind.RELEASE)
    open_(rig, rig.token(101, TokenKind.DROPOFF))  # the courier was faster than the command
    rig.service.door_closed(1)
    result = rig.service.apply_command(9, release.payload, release.payload_auth)
    assert result.outcome == "refused" and result.code == "LOCKER_OCCUPIED"
    assert rig.service.locker_state(101)["occupied"] is True


def test_migrations_match_the_tables(rig: Rig) -> None:
    from berth.tower.tables import metadata
    from tests.support.schema_fixtures import schema_drift

    with rig.service.db.engine.connect() as conn:
        assert schema_drift(conn, metadata, "alembic_version_tower") == []


def test_announced_cloud_key_opens_doors_after_rotation(rig: Rig) -> None:
    from berth.domain.tokens import sign_key_announcement

    new = SigningKey.generate("k2")
    token = rig.token(102, TokenKind.DROPOFF, key=new)
    assert refused(rig, token) == "AUTH_KEY_INVALID"
    payload, auth = sign_key_announcement(rig.service.identity.tower_id,
                                          {"k1": rig.cloud_key.public, "k2": new.public},
                                          1, rig.cloud_key)
    assert rig.service.apply_command(20, payload, auth, "cloud_keys").outcome == "applied"
    assert rig.service.apply_command(20, payload, auth, "cloud_keys").outcome == "duplicate"
    assert open_(rig, token).success
    learned = [e for e in rig.events() if e["type"] == "cloud_keys_learned"]
    assert [e["key_ids"] for e in learned] == [["k2"]]


def test_key_announcement_from_an_untrusted_key_is_refused(rig: Rig) -> None:
    from berth.domain.tokens import sign_key_announcement

    rogue = SigningKey.generate("k7")
    payload, auth = sign_key_announcement(rig.service.identity.tower_id, {"k7": rogue.public},
                                          1, rogue)
    result = rig.service.apply_command(21, payload, auth, "cloud_keys")
    assert result.outcome == "refused" and result.code == "AUTH_KEY_INVALID"
    assert refused(rig, rig.token(102, TokenKind.DROPOFF, key=rogue)) == "AUTH_KEY_INVALID"


def test_unknown_command_kind_is_refused(rig: Rig) -> None:
    token = rig.token(102, TokenKind.RELEASE)
    result = rig.service.apply_command(22, token.payload, token.payload_auth, "reboot")
    assert result.outcome == "refused" and result.code == "COMMAND_UNSUPPORTED"


def test_spent_dropoff_token_never_reopens_the_locker(rig: Rig) -> None:
    drop = rig.token(101, TokenKind.DROPOFF)
    open_(rig, drop)
    rig.service.door_closed(1)  # the parcel is in: the token is spent
    rig.controller.close_door(1)
    for _ in range(5):
        with pytest.raises(TokenRefused) as info:
            open_(rig, drop)
        assert info.value.code == "TOKEN_ALREADY_USED"
        # partners who reuse the drop-off token for the pick-up learn what to use instead
        assert "pick-up token" in str(info.value) and "pickup-locker-tokens" in str(info.value)
    assert rig.controller.unlocks == [1]
    assert rig.events()[-1]["code"] == "TOKEN_ALREADY_USED"


def test_spent_tokens_are_remembered_across_restarts(rig: Rig) -> None:
    drop = rig.token(102, TokenKind.DROPOFF)
    open_(rig, drop)
    rig.service.door_closed(2)
    again = TowerService(rig.service.db, rig.service.identity, rig.service.opener, rig.clock)
    again.install()
    with pytest.raises(TokenRefused) as info:
        asyncio.run(again.open_with_token(drop.payload, drop.payload_auth))
    assert info.value.code == "TOKEN_ALREADY_USED"
    assert rig.controller.unlocks == [2]


def test_dropoff_token_opens_again_until_its_door_has_closed(rig: Rig) -> None:
    drop = rig.token(101, TokenKind.DROPOFF)
    open_(rig, drop)
    assert open_(rig, drop).success  # the courier's door is still open: not spent yet
    rig.service.door_closed(1)
    assert refused(rig, drop) == "TOKEN_ALREADY_USED"


def test_older_unused_dropoff_token_does_not_open_a_locker_holding_a_parcel(rig: Rig) -> None:
    older, used = rig.token(101, TokenKind.DROPOFF), rig.token(101, TokenKind.DROPOFF)
    open_(rig, used)
    rig.service.door_closed(1)
    rig.controller.unlocks.clear()
    with pytest.raises(TokenRefused) as info:
        open_(rig, older)
    assert info.value.code == "DROPOFF_TOKEN_FOR_OCCUPIED_LOCKER"
    assert "pickup-locker-tokens" in str(info.value)
    assert rig.controller.unlocks == []
    # the pick-up token opens it, and afterwards the older drop-off token is stale
    open_(rig, rig.token(101, TokenKind.PICKUP))
    rig.service.door_closed(1)
    assert refused(rig, older) == "TOKEN_GENERATION_STALE"


def test_spent_token_records_are_pruned_once_expired(rig: Rig) -> None:
    from sqlalchemy import func, select

    from berth.tower.tables import tower_spent_tokens

    def spent() -> int:
        with rig.service.db.read() as conn:
            return conn.execute(select(func.count()).select_from(tower_spent_tokens)).scalar_one()

    open_(rig, rig.token(101, TokenKind.DROPOFF, ttl=60))
    rig.service.door_closed(1)
    assert spent() == 1
    rig.clock.advance(120)
    open_(rig, rig.token(102, TokenKind.DROPOFF))
    rig.service.door_closed(2)
    assert spent() == 1  # the first one expired and can never verify again anyway


def test_garbage_open_requests_add_a_bounded_number_of_events(rig: Rig) -> None:
    token = rig.token(101, TokenKind.DROPOFF)
    forged = bytearray.fromhex(token.payload_auth)
    forged[0] ^= 1
    before = len(rig.events())
    for i in range(1000):
        payload, auth = [("00", "00"), (token.payload, forged.hex()),
                         (rig.token(101, TokenKind.DROPOFF,
                                    key=SigningKey.generate("k9")).payload, "00")][i % 3]
        with pytest.raises(TokenRefused):
            asyncio.run(rig.service.open_with_token(payload, auth))
    assert len(rig.events()) - before <= 1
    rig.clock.advance(REFUSAL_SUMMARY_INTERVAL)
    rig.service.flush_refusals()
    summaries = [e for e in rig.events() if e["type"] == "open_refused_summary"]
    assert len(summaries) == 1 and summaries[0]["total"] == 1000
    assert set(summaries[0]["counts"]) == {"MSG_MALFORMED", "AUTH_SIGNATURE", "AUTH_KEY_INVALID"}
    assert rig.controller.unlocks == []


def test_concurrent_uses_of_one_pickup_token_open_one_door(rig: Rig) -> None:
    open_(rig, rig.token(101, TokenKind.DROPOFF))
    rig.service.door_closed(1)
    rig.controller.close_door(1)
    rig.controller.unlocks.clear()
    pickup = rig.token(101, TokenKind.PICKUP)

    async def race() -> list[object]:
        return await asyncio.gather(*(rig.service.open_with_token(pickup.payload,
                                                                  pickup.payload_auth)
                                      for _ in range(16)), return_exceptions=True)

    results = asyncio.run(race())
    opened = [r for r in results if not isinstance(r, BaseException)]
    assert len(opened) == 1, results
    assert {r.code for r in results if isinstance(r, TokenRefused)} == {"TOKEN_GENERATION_STALE"}
    assert rig.controller.unlocks == [1]


class _LostReply(SimulatedController):
    """Fires the lock, loses the reply, and the door is shut again before anyone reads it."""

    async def unlock(self, channel: int) -> None:
        await super().unlock(channel)
        self.close_door(channel)
        raise CommunicationError("reply lost")


def test_unknown_opening_keeps_the_claim_and_does_not_give_the_token_back(rig: Rig) -> None:
    open_(rig, rig.token(101, TokenKind.DROPOFF))
    rig.service.door_closed(1)
    lost = _LostReply("bank-1", 4, close_after=None)

    async def opener(gateway_locker_id: int) -> OpenOutcome:
        return await open_door(lost, gateway_locker_id, FAST)

    rig.service.opener = opener
    pickup = rig.token(101, TokenKind.PICKUP)
    result = open_(rig, pickup)
    assert not result.success and result.door_open is None
    assert result.reason_code == "DOOR_STATE_UNKNOWN"
    assert lost.unlocks == [1]  # fired once, never again
    state = rig.service.locker_state(101)
    assert state["generation"] == 1 and state["pending_token_id"] == pickup.claims.token_id
    assert rig.events()[-1]["type"] == "open_unknown"
    assert refused(rig, pickup) == "TOKEN_GENERATION_STALE"  # not handed back
    assert lost.unlocks == [1]
    rig.service.door_closed(1)  # the person did take the parcel
    assert rig.types()[-1] == "pickup_token_used"
