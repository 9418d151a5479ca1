"""Locker tokens as a tower verifies them offline, and tower event signatures."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain import tokens as t
from berth.domain.tokens import SigningKey, TokenClaims, TokenKind, TokenRefused, sign_token, verify

TOWER = "0011223344556677"
KEY = SigningKey.generate("k1")
KEYS = {"k1": KEY.public}
NOW = 1_800_000_000


def claims(**over: object) -> TokenClaims:
    base = TokenClaims(
        tower_id=TOWER,
        locker_id=959,
        kind=TokenKind.DROPOFF,
        token_id="ab" * 16,
        not_before=NOW - 10,
        expires=NOW + 3000,
        key_id="k1",
        generation=3,
    )
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


SIGNED = sign_token(claims(), KEY)


def refusal(payload: str, auth: str, **kw: object) -> str:
    args: dict[str, object] = {"tower_id": TOWER, "now": NOW, "keys": KEYS, "generation": 3}
    args.update(kw)
    with pytest.raises(TokenRefused) as info:
        verify(payload, auth, **args)  # type: ignore[arg-type]
    return info.value.code


def test_valid_token_round_trips() -> None:
    got = verify(SIGNED.payload, SIGNED.payload_auth, TOWER, NOW, KEYS, 3)
    assert got == claims()
    assert len(bytes.fromhex(SIGNED.payload)) < 64  # compact enough for BLE
    assert len(bytes.fromhex(SIGNED.payload_auth)) == 64


def test_per_locker_generation_table() -> None:
    assert verify(SIGNED.payload, SIGNED.payload_auth, TOWER, NOW, KEYS, {959: 3}).locker_id == 959
    assert verify(SIGNED.payload, SIGNED.payload_auth, TOWER, NOW, KEYS, {959: 2}).generation == 3
    assert refusal(SIGNED.payload, SIGNED.payload_auth, generation={1: 0}) == t.SYS_LOCKER_NOT_FOUND


def test_unknown_key_id() -> None:
    other = SigningKey.generate("k2")
    s = sign_token(claims(key_id="k2"), other)
    assert refusal(s.payload, s.payload_auth) == t.AUTH_KEY_INVALID


def test_rotation_keeps_both_keys_valid() -> None:
    new = SigningKey.generate("k2")
    s = sign_token(claims(key_id="k2"), new)
    keys = {**KEYS, "k2": new.public}
    assert verify(s.payload, s.payload_auth, TOWER, NOW, keys, 3).key_id == "k2"
    assert verify(SIGNED.payload, SIGNED.payload_auth, TOWER, NOW, keys, 3).key_id == "k1"


def test_signature_by_wrong_key_under_known_id() -> None:
    impostor = SigningKey("k1", Ed25519PrivateKey.generate())
    s = sign_token(claims(), impostor)
    assert refusal(s.payload, s.payload_auth) == t.AUTH_SIGNATURE


def test_other_tower() -> None:
    assert refusal(SIGNED.payload, SIGNED.payload_auth, tower_id="ffffffffffffffff") == (
        t.AUTH_TOWER_ID
    )


def test_expired_and_not_yet_valid() -> None:
    assert refusal(SIGNED.payload, SIGNED.payload_auth, now=NOW + 3000) == t.MSG_EXPIRED
    assert refusal(SIGNED.payload, SIGNED.payload_auth, now=NOW - 11) == t.MSG_NOT_YET_VALID


def test_stale_generation() -> None:
    assert refusal(SIGNED.payload, SIGNED.payload_auth, generation=4) == t.TOKEN_GENERATION_STALE


@pytest.mark.parametrize(("kw", "named"), [
    ({"now": NOW + 3000}, True), ({"now": NOW - 11}, True), ({"generation": 4}, True),
    ({"generation": {1: 0}}, True),  # the cloud signed it: the refusal may name the token
    ({"tower_id": "ffffffffffffffff"}, False),  # another tower's: nothing in it is trusted
    ({"keys": {}}, False),  # the signature was never checked
])
def test_a_refusal_carries_the_claims_only_once_they_are_trusted(kw: dict[str, object],
                                                                 named: bool) -> None:
    args: dict[str, object] = {"tower_id": TOWER, "now": NOW, "keys": KEYS, "generation": 3}
    with pytest.raises(TokenRefused) as info:
        verify(SIGNED.payload, SIGNED.payload_auth, **(args | kw))  # type: ignore[arg-type]
    assert info.value.claims == (claims() if named else None)


@pytest.mark.parametrize("payload", ["zz", "", "a0", "8101", "80"])
def test_malformed_payloads(payload: str) -> None:
    assert refusal(payload, SIGNED.payload_auth) == t.MSG_MALFORMED


def test_kind_and_claims_key_must_match() -> None:
    with pytest.raises(ValueError):
        sign_token(claims(key_id="other"), KEY)
    assert TokenKind.PICKUP.label == "pickup"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_mutation_is_refused(data: st.DataObject) -> None:
    """Flip, replace, drop or add one byte of the payload or the signature: never accepted."""
    target = data.draw(st.sampled_from(["payload", "payload_auth"]))
    raw = bytearray(bytes.fromhex(getattr(SIGNED, target)))
    how = data.draw(st.sampled_from(["flip", "replace", "drop", "add"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "replace":
        raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    elif how == "drop":
        del raw[i]
    else:
        raw.insert(i, data.draw(st.integers(0, 255)))
    mutated = {"payload": SIGNED.payload, "payload_auth": SIGNED.payload_auth, target: raw.hex()}
    with pytest.raises(TokenRefused):
        verify(mutated["payload"], mutated["payload_auth"], TOWER, NOW, KEYS, 3)


# ---- tower events ---------------------------------------------------------------------------

TOWER_KEY = Ed25519PrivateKey.generate()
EVENT = {
    "tower_id": TOWER,
    "seq": 1,
    "type": "dropoff_token_used",
    "locker_id": 959,
    "token_id": "ab" * 16,
    "timestamp": NOW,
}


def test_event_signature_round_trip_and_key_order_does_not_matter() -> None:
    signed = t.sign_event(EVENT, TOWER_KEY)
    shuffled = dict(reversed(list(signed.items())))
    assert t.verify_event(shuffled, TOWER_KEY.public_key()) == EVENT


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"locker_id": 1},
        {"type": "pickup_token_used"},
        {"extra": 1},
        {"signature": "00"},
    ],
)
def test_changed_event_is_refused(change: dict[str, object]) -> None:
    signed = {**t.sign_event(EVENT, TOWER_KEY), **change}
    with pytest.raises(TokenRefused) as info:
        t.verify_event(signed, TOWER_KEY.public_key())
    assert info.value.code == t.EVENT_SIGNATURE


def test_unsigned_or_other_towers_event_is_refused() -> None:
    with pytest.raises(TokenRefused):
        t.verify_event(EVENT, TOWER_KEY.public_key())
    forged = t.sign_event(EVENT, Ed25519PrivateKey.generate())
    with pytest.raises(TokenRefused):
        t.verify_event(forged, TOWER_KEY.public_key())
    with pytest.raises(ValueError):
        t.sign_event({"seq": 1}, TOWER_KEY)


# ---- cloud key announcements -----------------------------------------------------------------

_TOWER = "0011223344556677"


def test_key_announcement_signed_by_a_trusted_key_is_accepted() -> None:
    old, new = SigningKey.generate("k1"), SigningKey.generate("k2")
    payload, auth = t.sign_key_announcement(_TOWER, {"k1": old.public, "k2": new.public}, 1, old)
    keys = t.verify_key_announcement(payload, auth, _TOWER, {"k1": old.public})
    assert set(keys) == {"k1", "k2"}
    assert keys["k2"].public_bytes_raw() == new.public.public_bytes_raw()


@pytest.mark.parametrize("case", ["unknown signer", "flipped", "other tower", "garbage"])
def test_key_announcement_refusals(case: str) -> None:
    old, rogue = SigningKey.generate("k1"), SigningKey.generate("k9")
    signer = rogue if case == "unknown signer" else old
    payload, auth = t.sign_key_announcement(_TOWER, {"k9": rogue.public}, 1, signer)
    tower = "ffffffffffffffff" if case == "other tower" else _TOWER
    if case == "flipped":
        raw = bytearray.fromhex(payload)
        raw[-1] ^= 1
        payload = raw.hex()
    if case == "garbage":
        payload = "00ff"
    with pytest.raises(TokenRefused) as refused:
        t.verify_key_announcement(payload, auth, tower, {"k1": old.public})
    assert refused.value.code == {"unknown signer": "AUTH_KEY_INVALID", "flipped": "AUTH_SIGNATURE",
                                  "other tower": "AUTH_TOWER_ID", "garbage": "MSG_MALFORMED"}[case]
