"""Locker tokens and tower events: compact CBOR payloads signed with Ed25519. Pure, no I/O.

A locker token's ``payload`` is the CBOR array
``[version, tower_id(8 bytes), locker_id, kind, token_id(16 bytes), not_before, expires, key_id,
generation]`` (times in whole Unix seconds) and ``payload_auth`` is the Ed25519 signature over those
exact bytes by the cloud key named ``key_id``. Both travel as lower-case hex.

A tower runs :func:`verify` offline with the cloud public keys it holds (by key id) and the
generation it stores per locker. ``generation`` may be an ``int`` (the locker's generation) or a
mapping ``{locker_id: generation}`` (the tower's whole table; a locker missing from it is
refused with ``SYS_LOCKER_NOT_FOUND``). A token is stale when its generation is below the
locker's: using a pick-up or release token bumps the generation, so every older token dies.

Tower events are maps ``{tower_id, seq, type, locker_id, token_id, timestamp, ...}`` signed by the
tower's own Ed25519 key over their canonical CBOR encoding (:func:`sign_event`,
:func:`verify_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from berth.domain.errors import Forbidden

PAYLOAD_VERSION = 1
TOWER_ID_BYTES = 8
TOKEN_ID_BYTES = 16
SIGNATURE_BYTES = 64


class TokenKind(IntEnum):
    DROPOFF = 1
    PICKUP = 2
    RELEASE = 3

    @property
    def label(self) -> str:
        return {1: "dropoff", 2: "pickup", 3: "release"}[self.value]


class TokenRefused(Forbidden):
    """Why a tower must not open: ``code`` is one of the constants below; ``claims`` are the
    token's once its signature checked out and it is this tower's (so a refusal can name the
    token), else None."""

    def __init__(self, code: str, message: str, claims: TokenClaims | None = None) -> None:
        super().__init__(code, message)
        self.claims = claims


MSG_MALFORMED = "MSG_MALFORMED"
AUTH_KEY_INVALID = "AUTH_KEY_INVALID"
AUTH_SIGNATURE = "AUTH_SIGNATURE"
AUTH_TOWER_ID = "AUTH_TOWER_ID"
MSG_EXPIRED = "MSG_EXPIRED"
MSG_NOT_YET_VALID = "MSG_NOT_YET_VALID"
TOKEN_GENERATION_STALE = "TOKEN_GENERATION_STALE"
SYS_LOCKER_NOT_FOUND = "SYS_LOCKER_NOT_FOUND"
EVENT_SIGNATURE = "EVENT_SIGNATURE"
EVENT_MALFORMED = "EVENT_MALFORMED"


@dataclass(frozen=True)
class TokenClaims:
    """What a locker token says; the signed payload is exactly this, CBOR-encoded."""

    tower_id: str  # 16 hex characters
    locker_id: int
    kind: TokenKind
    token_id: str  # 32 hex characters
    not_before: int
    expires: int
    key_id: str
    generation: int
    version: int = PAYLOAD_VERSION

    def encode(self) -> bytes:
        return cbor2.dumps(
            [
                self.version,
                bytes.fromhex(self.tower_id),
                self.locker_id,
                int(self.kind),
                bytes.fromhex(self.token_id),
                self.not_before,
                self.expires,
                self.key_id,
                self.generation,
            ]
        )


VerifiedToken = TokenClaims


@dataclass(frozen=True)
class SigningKey:
    """A cloud signing key and the id a tower knows its public half by."""

    key_id: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, key_id: str) -> SigningKey:
        return cls(key_id, Ed25519PrivateKey.generate())

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


@dataclass(frozen=True)
class SignedToken:
    claims: TokenClaims
    payload: str  # hex
    payload_auth: str  # hex


def sign_token(claims: TokenClaims, key: SigningKey) -> SignedToken:
    """Encode and sign; the claims must name the key that signs them."""
    if claims.key_id != key.key_id:
        raise ValueError("claims.key_id must be the signing key's id")
    raw = claims.encode()
    return SignedToken(claims, raw.hex(), key.private.sign(raw).hex())


def _decode(raw: bytes) -> TokenClaims:
    try:
        items = cbor2.loads(raw)
    except Exception as exc:  # cbor2 raises several types on garbage
        raise TokenRefused(MSG_MALFORMED, "payload is not valid CBOR") from exc
    shapes = (int, bytes, int, int, bytes, int, int, str, int)
    if (
        not isinstance(items, list)
        or len(items) != len(shapes)
        or not all(type(v) is t for v, t in zip(items, shapes, strict=True))
    ):
        raise TokenRefused(MSG_MALFORMED, "payload does not have the token structure")
    version, tower, locker, kind, token, nbf, exp, key_id, gen = items
    if (
        version != PAYLOAD_VERSION
        or len(tower) != TOWER_ID_BYTES
        or len(token) != TOKEN_ID_BYTES
        or kind not in TokenKind._value2member_map_
    ):
        raise TokenRefused(MSG_MALFORMED, "unsupported payload version or field")
    claims = TokenClaims(tower.hex(), locker, TokenKind(kind), token.hex(), nbf, exp, key_id, gen)
    if claims.encode() != raw:  # one encoding only: no padding or alternative forms
        raise TokenRefused(MSG_MALFORMED, "payload is not in canonical form")
    return claims


def _unhex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (ValueError, TypeError) as exc:
        raise TokenRefused(MSG_MALFORMED, f"{what} is not hex") from exc


def verify(
    payload: str,
    payload_auth: str,
    tower_id: str,
    now: int | float,
    keys: Mapping[str, Ed25519PublicKey],
    generation: int | Mapping[int, int],
) -> VerifiedToken:
    """Check a token the way a tower does, offline, in the tower's order; raise TokenRefused.

    Order: structure, key id known, signature, validity window, tower id, generation.
    ``now`` is Unix seconds.
    """
    raw, sig = _unhex(payload, "payload"), _unhex(payload_auth, "payload_auth")
    claims = _decode(raw)
    public = keys.get(claims.key_id)
    if public is None:
        raise TokenRefused(AUTH_KEY_INVALID, f"unknown key id {claims.key_id!r}")
    if len(sig) != SIGNATURE_BYTES:
        raise TokenRefused(AUTH_SIGNATURE, "signature has the wrong length")
    try:
        public.verify(sig, raw)
    except InvalidSignature as exc:
        raise TokenRefused(AUTH_SIGNATURE, "signature does not match the payload") from exc
    if now < claims.not_before:
        raise TokenRefused(MSG_NOT_YET_VALID, "token is not valid yet", claims)
    if now >= claims.expires:
        raise TokenRefused(MSG_EXPIRED, "token has expired", claims)
    if claims.tower_id != tower_id.lower():
        raise TokenRefused(AUTH_TOWER_ID, "token is for another tower")
    if isinstance(generation, Mapping):
        if claims.locker_id not in generation:
            raise TokenRefused(SYS_LOCKER_NOT_FOUND, "this tower has no such locker",
                               claims)
        current = generation[claims.locker_id]
    else:
        current = generation
    if claims.generation < current:
        raise TokenRefused(TOKEN_GENERATION_STALE, "a newer pick-up or release superseded it",
                           claims)
    return claims


# ---- tower events ---------------------------------------------------------------------------

EVENT_FIELDS = ("tower_id", "seq", "type", "timestamp")


def event_bytes(event: Mapping[str, Any]) -> bytes:
    """The canonical bytes a tower signs: every field but ``signature``, canonical CBOR."""
    body = {k: v for k, v in event.items() if k != "signature"}
    return cbor2.dumps(body, canonical=True)


def sign_event(event: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return the event with a hex ``signature`` field added (what a tower emits)."""
    missing = [f for f in EVENT_FIELDS if f not in event]
    if missing:
        raise ValueError(f"event lacks {missing}")
    signed = {k: v for k, v in event.items() if k != "signature"}
    signed["signature"] = key.sign(event_bytes(signed)).hex()
    return signed


def verify_event(event: Mapping[str, Any], public: Ed25519PublicKey) -> dict[str, Any]:
    """Return the event without its signature if the tower signed exactly these fields."""
    sig = event.get("signature")
    if not isinstance(sig, str):
        raise TokenRefused(EVENT_SIGNATURE, "event is not signed")
    if any(f not in event for f in EVENT_FIELDS):
        raise TokenRefused(EVENT_MALFORMED, f"event needs {', '.join(EVENT_FIELDS)}")
    try:
        public.verify(bytes.fromhex(sig), event_bytes(event))
    except (InvalidSignature, ValueError) as exc:
        raise TokenRefused(EVENT_SIGNATURE, "event signature does not match") from exc
    return {k: v for k, v in event.items() if k != "signature"}


# ---- cloud key announcements ----------------------------------------------------------------
#
# After the cloud rotates its signing key, each tower must learn the new public key before tokens
# signed by it can open anything. The cloud queues a ``cloud_keys`` command per tower: the CBOR
# array ``[1, "cloud_keys", tower_id(8 bytes), issued, signer_key_id, {key_id: raw public key}]``
# signed by a key the tower already trusts (the previous one), so trust passes along the chain of
# rotations and a tower several rotations behind catches up by applying them in order.

KEYS_MARKER = "cloud_keys"


def sign_key_announcement(tower_id: str, keys: Mapping[str, Ed25519PublicKey], issued: int,
                          signer: SigningKey) -> tuple[str, str]:
    """Return hex ``(payload, payload_auth)`` announcing ``keys`` to one tower."""
    raw = cbor2.dumps([PAYLOAD_VERSION, KEYS_MARKER, bytes.fromhex(tower_id), issued,
                       signer.key_id, {kid: k.public_bytes_raw() for kid, k in keys.items()}],
                      canonical=True)
    return raw.hex(), signer.private.sign(raw).hex()


def verify_key_announcement(payload: str, payload_auth: str, tower_id: str,
                            known: Mapping[str, Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """The announced keys, if a key the tower already trusts signed them for this tower."""
    raw, sig = _unhex(payload, "payload"), _unhex(payload_auth, "payload_auth")
    try:
        version, marker, tower, _issued, signer, keys = cbor2.loads(raw)
        announced = {str(kid): Ed25519PublicKey.from_public_bytes(pub)
                     for kid, pub in keys.items()}
    except Exception as exc:  # wrong shape, bad CBOR, bad key bytes
        raise TokenRefused(MSG_MALFORMED, "not a key announcement") from exc
    if version != PAYLOAD_VERSION or marker != KEYS_MARKER or not isinstance(tower, bytes):
        raise TokenRefused(MSG_MALFORMED, "not a key announcement")
    check_command_signature(raw, sig, signer, known, tower.hex(), tower_id, "announcement")
    return announced


def check_command_signature(raw: bytes, sig: bytes, key_id: object,
                            known: Mapping[str, Ed25519PublicKey], names_tower: str,
                            tower_id: str, what: str) -> None:
    """A signed cloud command (key announcement, keypad code) is good for this tower."""
    public = known.get(key_id) if isinstance(key_id, str) else None
    if public is None:
        raise TokenRefused(AUTH_KEY_INVALID, f"{what} signed by unknown key {key_id!r}")
    try:
        public.verify(sig, raw)
    except InvalidSignature as exc:
        raise TokenRefused(AUTH_SIGNATURE, f"{what} signature does not match") from exc
    if names_tower != tower_id.lower():
        raise TokenRefused(AUTH_TOWER_ID, f"{what} is for another tower")
