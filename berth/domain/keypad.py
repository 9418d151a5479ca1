"""Keypad codes: a pick-up for a recipient without the app, checked offline. Pure, no I/O.

The cloud draws a numeric code, hands it to the partner once (to send by SMS or e-mail) and never
keeps it: the tower gets, as a signed command, only a salted scrypt digest bound to the tower,
the locker, the pick-up token (id and generation) and the expiry (:class:`KeypadCode`). The
command's ``payload`` is the CBOR array
``[1, "keypad_code", tower_id(8 bytes), locker_id, token_id(16 bytes), generation, not_before,
expires, digits, salt(16 bytes), digest(32 bytes), [log2 n, r, p], key_id]`` and its
``payload_auth`` the cloud key's Ed25519 signature over those bytes, hex like a token's.

Why scrypt at about 16 MiB: a 6-8 digit code has only 10^6-10^8 values, so no KDF makes a
stolen digest safe for long; what it buys is cost per guess (tens of milliseconds and 16 MiB
each, no precomputed tables thanks to the per-code salt, no reuse across codes or towers thanks
to the binding) against someone who copied a tower's database or the cloud's command queue.
The real protection is at the keypad: a few wrong codes lock it for a growing time
(:class:`KeypadPolicy`), so guessing online takes years, and every code dies with its token's
expiry and generation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from berth.domain.tokens import (
    MSG_MALFORMED,
    PAYLOAD_VERSION,
    SigningKey,
    TokenRefused,
    _unhex,
    check_command_signature,
)

KEYPAD_MARKER = "keypad_code"
MIN_DIGITS, MAX_DIGITS = 6, 8
SALT_BYTES = 16
DIGEST_BYTES = 32
#: scrypt cost (log2 n, r, p): 16 MiB and tens of milliseconds per guess on a gateway's CPU.
COST = (14, 8, 1)
MAX_LOG2_N = 16  # 64 MiB at r=8: a command asking for more is refused, whoever signed it


def new_code(digits: int) -> str:
    """A uniformly random numeric code of ``digits`` digits (leading zeros kept)."""
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ValueError(f"a keypad code has {MIN_DIGITS}..{MAX_DIGITS} digits")
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


@dataclass(frozen=True)
class KeypadBinding:
    """What a code opens: one pick-up of one locker of one tower, until ``expires``."""

    tower_id: str  # 16 hex characters
    locker_id: int
    token_id: str  # the pick-up token the code stands for (32 hex characters)
    generation: int
    not_before: int
    expires: int

    def context(self) -> bytes:
        """The bytes every digest of this binding is salted with, besides the random salt."""
        return cbor2.dumps([bytes.fromhex(self.tower_id), self.locker_id,
                            bytes.fromhex(self.token_id), self.generation, self.expires])


@dataclass(frozen=True)
class KeypadCode:
    """A code as the tower holds it: the binding, the salt and the digest, never the code."""

    binding: KeypadBinding
    digits: int
    salt: bytes
    digest: bytes
    cost: tuple[int, int, int] = COST

    def matches(self, code: str) -> bool:
        """Whether ``code`` is this code (constant time over the digest)."""
        if len(code) != self.digits or not code.isdigit():
            return False
        return hmac.compare_digest(_derive(code, self.salt, self.binding, self.cost),
                                   self.digest)


def _derive(code: str, salt: bytes, binding: KeypadBinding, cost: tuple[int, int, int]) -> bytes:
    log2_n, r, p = cost
    return hashlib.scrypt(code.encode(), salt=salt + binding.context(), n=2 ** log2_n, r=r, p=p,
                          maxmem=256 * r * 2 ** log2_n, dklen=DIGEST_BYTES)


def hash_code(code: str, binding: KeypadBinding, *, salt: bytes | None = None,
              cost: tuple[int, int, int] = COST) -> KeypadCode:
    """The digest the tower gets for ``code`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    return KeypadCode(binding, len(code), salt, _derive(code, salt, binding, cost), cost)


def sign_keypad_code(held: KeypadCode, key: SigningKey) -> tuple[str, str]:
    """Hex ``(payload, payload_auth)`` of the command that gives a tower this code's digest."""
    b = held.binding
    raw = cbor2.dumps([PAYLOAD_VERSION, KEYPAD_MARKER, bytes.fromhex(b.tower_id), b.locker_id,
                       bytes.fromhex(b.token_id), b.generation, b.not_before, b.expires,
                       held.digits, held.salt, held.digest, list(held.cost), key.key_id])
    return raw.hex(), key.private.sign(raw).hex()


def verify_keypad_code(payload: str, payload_auth: str, tower_id: str,
                       keys: Mapping[str, Ed25519PublicKey]) -> KeypadCode:
    """The code digest a cloud key signed for this tower; raise TokenRefused otherwise."""
    raw, sig = _unhex(payload, "payload"), _unhex(payload_auth, "payload_auth")
    try:
        items = cbor2.loads(raw)
        (version, marker, tower, locker, token, gen, nbf, exp, digits, salt, digest, cost,
         key_id) = items
        held = KeypadCode(KeypadBinding(tower.hex(), locker, token.hex(), gen, nbf, exp),
                          digits, salt, digest, (cost[0], cost[1], cost[2]))
    except Exception as exc:  # wrong shape, bad CBOR
        raise TokenRefused(MSG_MALFORMED, "not a keypad code command") from exc
    shapes_ok = (version == PAYLOAD_VERSION and marker == KEYPAD_MARKER
                 and all(type(v) is int for v in (locker, gen, nbf, exp, digits, *cost))
                 and isinstance(key_id, str) and len(salt) == SALT_BYTES
                 and len(digest) == DIGEST_BYTES and MIN_DIGITS <= digits <= MAX_DIGITS
                 and 1 <= cost[0] <= MAX_LOG2_N and 1 <= cost[1] <= 16 and cost[2] == 1)
    if not shapes_ok:
        raise TokenRefused(MSG_MALFORMED, "not a keypad code command")
    check_command_signature(raw, sig, key_id, keys, held.binding.tower_id, tower_id,
                            "keypad code")
    return held


# ---- brute force: the keypad locks after a few wrong codes ---------------------------------

@dataclass(frozen=True)
class KeypadPolicy:
    """How many wrong codes a keypad takes, then how long it locks (doubling, capped)."""

    max_failures: int
    lockout_base: int  # seconds of the first lockout
    lockout_max: int  # longest lockout

    def lockout_seconds(self, level: int) -> int:
        """The ``level``-th lockout in a row (0: the first) lasts base * 2**level, capped."""
        return min(self.lockout_max, self.lockout_base << min(level, 40))


@dataclass(frozen=True)
class KeypadGuard:
    """The keypad's brute-force state: wrong codes since the last lockout, lockouts in a row,
    and until when it is locked (Unix seconds; 0 when it is not)."""

    failures: int = 0
    level: int = 0
    locked_until: int = 0

    def wait(self, now: int) -> int:
        """Seconds until the keypad takes a code again (0: now)."""
        return max(0, self.locked_until - now)

    def failed(self, now: int, policy: KeypadPolicy) -> KeypadGuard:
        """One more wrong code; the ``max_failures``-th locks the keypad for the next lockout."""
        failures = self.failures + 1
        if failures < policy.max_failures:
            return KeypadGuard(failures, self.level, self.locked_until)
        return KeypadGuard(0, self.level + 1, now + policy.lockout_seconds(self.level))

    @staticmethod
    def succeeded() -> KeypadGuard:
        """A right code: the count and the growing lockout start over."""
        return KeypadGuard()
