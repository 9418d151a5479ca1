"""Client credentials and access tokens: argon2-hashed secrets, HS256 JWTs valid 300 s.

Secrets are hashed with argon2id at OWASP's recommended cost (m=19 MiB, t=2, p=1) instead of
argon2-cffi's default (64 MiB, t=3, p=4), and at most ``slots`` checks run at once, so a flood of
bad logins costs a bounded amount of memory and CPU. Hashes made with other parameters still
verify and are replaced on the next successful login.

A secret verified recently skips argon2 on the client's next token request
(:class:`VerifiedSecrets`): what is kept is HMAC-SHA256 under a random key of this process over
the stored hash and the secret, never the secret, so a stolen database holds only argon2
hashes and a memory dump only a keyed hash of a 256-bit random secret, which cannot be turned
back into it. A wrong secret never matches and pays the full argon2 check.

Scopes: ``service_provider`` (partner back ends, ``/api/v1``), ``tower_access`` (phone SDKs,
``/sdk/v1``) and ``operator`` (Berth's own operators, ``/api/v1/admin``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from berth.domain.errors import Unauthenticated, Unavailable

SERVICE_PROVIDER = "service_provider"
TOWER_ACCESS = "tower_access"
OPERATOR = "operator"
PARTNER_SCOPES = (SERVICE_PROVIDER, TOWER_ACCESS)
ALGORITHM = "HS256"

# OWASP Password Storage Cheat Sheet, argon2id: 19 MiB, 2 passes, 1 lane (tens of ms a check).
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client of a partner (or an operator client, partner_id None)."""

    client_id: str
    partner_id: int | None
    scopes: frozenset[str]


def new_client_credentials() -> tuple[str, str]:
    return "berth-" + secrets.token_hex(8), secrets.token_urlsafe(32)


def cpu_count() -> int:
    """Cores this process may run on (the default number of concurrent hashes)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def busy() -> Unavailable:
    """The refusal when every hashing slot and queue place is taken."""
    return Unavailable("BUSY", "Too many credential checks at once; try again shortly.",
                       retry_after=1)


class SecretHasher:
    """argon2id for client secrets, with a cap on the hashes computed at once.

    At most ``slots`` hashes run at the same time (memory: ``slots`` x 19 MiB); up to ``queue``
    more callers wait at most ``wait`` seconds for a slot; anyone beyond gets ``BUSY``
    (:class:`Unavailable`, 503) at once instead of holding a worker thread.
    """

    def __init__(self, slots: int | None = None, queue: int = 8, wait: float = 10.0) -> None:
        self.slots = slots or cpu_count()
        self.wait = wait
        self.argon2 = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                                     parallelism=ARGON2_PARALLELISM)
        self._running = threading.BoundedSemaphore(self.slots)
        self._admitted = threading.BoundedSemaphore(self.slots + queue)
        # Verified against when the client id is unknown: unknown and wrong cost the same.
        self._dummy = self.argon2.hash(secrets.token_urlsafe(32))

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._admitted.acquire(blocking=False):
            raise busy()
        try:
            if not self._running.acquire(timeout=self.wait):
                raise busy()
            try:
                yield
            finally:
                self._running.release()
        finally:
            self._admitted.release()

    def hash(self, secret: str) -> str:
        with self.slot():
            return self.argon2.hash(secret)

    def verify(self, secret: str, stored_hash: str | None) -> bool:
        """Whether ``secret`` matches; an unknown client (no hash) costs the same work."""
        with self.slot():
            try:
                ok = self.argon2.verify(stored_hash or self._dummy, secret)
            except (VerificationError, InvalidHashError):
                return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for hashes made with other parameters (e.g. the old 64 MiB default)."""
        return self.argon2.check_needs_rehash(stored_hash)


class VerifiedSecrets:
    """Client secrets verified in the last ``ttl`` seconds, per client id, as keyed hashes.

    An entry is HMAC-SHA256(process key, stored hash, secret): it matches only the same secret
    against the same stored hash, so a rotated secret (a new hash, in any process sharing the
    database) or a removed client never matches an old entry. At most ``size`` clients are kept
    (the least recently verified go first); ``ttl`` 0 keeps nothing.
    """

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._key = secrets.token_bytes(32)  # never stored: a restart forgets every entry
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, secret: str, stored_hash: str) -> bytes:
        message = stored_hash.encode() + b"\0" + secret.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, client_id: str, secret: str, stored_hash: str, now: float) -> bool:
        """Whether this secret was verified against this hash less than ``ttl`` seconds ago."""
        with self._lock:
            entry = self._entries.get(client_id)
        if entry is None or entry[1] <= now:
            return False
        return hmac.compare_digest(entry[0], self._mac(secret, stored_hash))

    def remember(self, client_id: str, secret: str, stored_hash: str, now: float) -> None:
        if self.ttl <= 0:
            return
        entry = (self._mac(secret, stored_hash), now + self.ttl)
        with self._lock:
            self._entries[client_id] = entry
            self._entries.move_to_end(client_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


@dataclass(frozen=True)
class KnownClient:
    """What a request's authorization needs of a client row."""

    partner_id: int | None
    scopes: frozenset[str]
    until: float  # read again after this (clock seconds)


class ClientCache:
    """Client rows read in the last ``ttl`` seconds, so an authenticated request needs no
    database read of its own: a removed client or a narrowed scope takes effect within ``ttl``
    seconds (access tokens live 300 s anyway)."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._rows: dict[str, KnownClient] = {}

    def get(self, client_id: str, now: float) -> KnownClient | None:
        known = self._rows.get(client_id)
        return known if known is not None and known.until > now else None

    def put(self, client_id: str, partner_id: int | None, scopes: frozenset[str],
            now: float) -> KnownClient:
        if len(self._rows) >= self.size:
            self._rows.clear()  # rare (more clients than ``size`` within ``ttl``): start over
        known = self._rows[client_id] = KnownClient(partner_id, scopes, now + self.ttl)
        return known


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
        raise Unauthenticated("TOKEN_INVALID",
                              "The access token is malformed or forged.") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now.timestamp():
        raise Unauthenticated("TOKEN_EXPIRED",
                              "The access token has expired; ask for a new one.")
    return claims
