"""Keypad codes: digests bound to what they open, signed commands, the brute-force guard."""

from __future__ import annotations

import dataclasses

import cbor2
import pytest

from berth.domain.keypad import (
    COST,
    KeypadBinding,
    KeypadGuard,
    KeypadPolicy,
    hash_code,
    new_code,
    sign_keypad_code,
    verify_keypad_code,
)
from berth.domain.tokens import SigningKey, TokenRefused

CHEAP = (4, 8, 1)  # the tests' scrypt cost; the real one is COST
BINDING = KeypadBinding("00aa11bb22cc33dd", 7, "ab" * 16, 3, 1_000, 2_000)
KEY = SigningKey.generate("k1")


def test_codes_have_the_asked_digits_and_keep_leading_zeros() -> None:
    codes = [new_code(6) for _ in range(2000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert any(c.startswith("0") for c in codes)
    assert len(new_code(8)) == 8
    for digits in (5, 9):
        with pytest.raises(ValueError):
            new_code(digits)


def test_digest_matches_only_its_code() -> None:
    held = hash_code("042917", BINDING, cost=CHEAP)
    assert held.matches("042917")
    assert not held.matches("042918")
    assert not held.matches("42917") and not held.matches("0429170")
    assert not held.matches("04291a")


@pytest.mark.parametrize("field", ["tower_id", "locker_id", "token_id", "generation", "expires"])
def test_digest_is_bound_to_tower_locker_token_generation_and_expiry(field: str) -> None:
    salt = bytes(16)
    held = hash_code("123456", BINDING, salt=salt, cost=CHEAP)
    value = getattr(BINDING, field)
    other = ("ff" * 8 if field == "tower_id" else "cd" * 16 if field == "token_id"
             else value + 1)
    moved = dataclasses.replace(held, binding=dataclasses.replace(BINDING, **{field: other}))
    assert not moved.matches("123456")
    assert hash_code("123456", moved.binding, salt=salt, cost=CHEAP).digest != held.digest


def test_salt_is_fresh_per_code() -> None:
    a, b = (hash_code("123456", BINDING, cost=CHEAP) for _ in range(2))
    assert a.salt != b.salt and a.digest != b.digest
    assert hash_code("123456", BINDING).cost == COST


def test_signed_command_round_trips_and_carries_no_code() -> None:
    held = hash_code("555123", BINDING, cost=CHEAP)
    payload, auth = sign_keypad_code(held, KEY)
    assert b"555123".hex() not in payload
    assert verify_keypad_code(payload, auth, BINDING.tower_id.upper(), {"k1": KEY.public}) == held


def test_forged_foreign_or_malformed_commands_are_refused() -> None:
    held = hash_code("555123", BINDING, cost=CHEAP)
    payload, auth = sign_keypad_code(held, KEY)
    keys = {"k1": KEY.public}

    def code(p: str, a: str, tower: str = BINDING.tower_id) -> str:
        with pytest.raises(TokenRefused) as info:
            verify_keypad_code(p, a, tower, keys)
        return info.value.code

    assert code(payload, auth, "ff" * 8) == "AUTH_TOWER_ID"
    assert code(payload, "00" * 64) == "AUTH_SIGNATURE"
    assert code(*sign_keypad_code(held, SigningKey.generate("k9"))) == "AUTH_KEY_INVALID"
    assert code("zz", auth) == "MSG_MALFORMED"
    assert code(cbor2.dumps([1, "cloud_keys"]).hex(), auth) == "MSG_MALFORMED"
    greedy = dataclasses.replace(held, cost=(30, 8, 1))  # would exhaust the tower's memory
    assert code(*sign_keypad_code(greedy, KEY)) == "MSG_MALFORMED"


POLICY = KeypadPolicy(max_failures=5, lockout_base=60, lockout_max=3600)


def test_guard_locks_after_the_limit_for_a_doubling_capped_time() -> None:
    guard, now = KeypadGuard(), 10_000
    waits = []
    for _ in range(8):
        for _ in range(POLICY.max_failures):
            assert guard.wait(now) == 0
            guard = guard.failed(now, POLICY)
        waits.append(guard.wait(now))
        now += guard.wait(now)
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert KeypadGuard.succeeded() == KeypadGuard()


def test_lockout_seconds_stay_capped_for_any_level() -> None:
    assert POLICY.lockout_seconds(0) == 60
    assert POLICY.lockout_seconds(10_000) == 3600
