"""Client credentials and access tokens: argon2-hashed secrets, HS256 JWTs valid 300 s.

Scopes: ``service_provider`` (partner back ends, ``/api/v1``), ``tower_access`` (phone SDKs,
``/sdk/v1``) and ``operator`` (Berth's own operators, ``/api/v1/admin``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from berth.cloud.errors import Unauthorized

SERVICE_PROVIDER = "service_provider"
TOWER_ACCESS = "tower_access"
OPERATOR = "operator"
PARTNER_SCOPES = (SERVICE_PROVIDER, TOWER_ACCESS)
ALGORITHM = "HS256"

_hasher = PasswordHasher()
# A real hash to verify against when the client id is unknown, so timing does not reveal ids.
_DUMMY_HASH = _hasher.hash("no such client")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client of a partner (or an operator client, partner_id None)."""

    client_id: str
    partner_id: int | None
    scopes: frozenset[str]


def new_client_credentials() -> tuple[str, str]:
    return "berth-" + secrets.token_hex(8), secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_access_token(
    client_id: str, scopes: list[str], key: bytes, now: datetime, ttl: int
) -> str:
    iat = int(now.timestamp())
    claims = {
        "sub": client_id,
        "scope": " ".join(scopes),
        "iat": iat,
        "exp": iat + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_access_token(token: str, key: bytes, now: datetime) -> dict[str, object]:
    """Check signature and expiry against our clock (injectable), not the machine's."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "scope"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("TOKEN_INVALID", "The access token is malformed or forged.") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now.timestamp():
        raise Unauthorized("TOKEN_EXPIRED", "The access token has expired; ask for a new one.")
    return claims
