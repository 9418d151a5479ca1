"""The tower's rules: verify offline, open the right door, log signed events, apply commands.

Every refusal happens before any door moves, and is itself logged (refusals of requests that
carry no valid cloud signature only as a counted summary, so anonymous callers cannot grow the
signed log). The tower reports a token as *used* only once the door it opened has closed again
(the physical truth): drop-off -> the locker is occupied, pick-up -> it is empty; from then on the
token is spent here, offline. Using a pick-up or release token bumps the locker's generation at
once, so older tokens die without the tower going online.

A keypad code (``open_with_code``) is a pick-up token's stand-in for a recipient without the app:
the tower holds only the cloud-signed salted digest (``berth.domain.keypad``), finds the pending
code that matches and opens through the same claim a pick-up token takes. Wrong codes lock the
keypad for a growing time; that state lives in ``tower_state``, so a restart is no way around it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, insert, select, update

from berth import events as ev
from berth.domain.errors import TooManyAttempts
from berth.domain.keypad import (
    KeypadBinding,
    KeypadCode,
    KeypadGuard,
    KeypadPolicy,
    verify_keypad_code,
)
from berth.domain.tokens import (
    AUTH_KEY_INVALID,
    AUTH_SIGNATURE,
    MSG_EXPIRED,
    MSG_MALFORMED,
    SYS_LOCKER_NOT_FOUND,
    TOKEN_GENERATION_STALE,
    TokenClaims,
    TokenKind,
    TokenRefused,
    sign_event,
    verify,
    verify_key_announcement,
)
from berth.kit.clock import Clock, utcnow
from berth.kit.settings import Settings
from berth.kit.threads import run_blocking
from berth.storage import Database, migrate
from berth.tower.identity import TowerIdentity
from berth.tower.tables import (
    tower_cloud_keys,
    tower_commands,
    tower_events,
    tower_keypad_codes,
    tower_lockers,
    tower_spent_tokens,
    tower_state,
)

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_tower"

class OpenedDoor(Protocol):
    """What an opening reports (the open rule's ``OpenOutcome``, the gateway's response)."""

    success: bool
    door_open: bool | None  # None: an unlock may have fired but nobody saw the door
    message: str
    reason_code: str | None


#: Opens one gateway locker through the lock-controller driver (the gateway's open rule).
Opener = Callable[[int], Awaitable[OpenedDoor]]


class Holder(Protocol):
    """Keeps the gateway's local assignment off lockers that hold a cloud parcel."""

    def hold(self, gateway_locker_id: int, hold_id: str) -> bool:
        """Hold the locker under ``hold_id``; False when a local transaction has it."""

    def release(self, hold_id: str) -> None:
        """The cloud parcel is gone: the locker is the gateway's again."""

LOCKER_EMPTY = "LOCKER_EMPTY"
LOCKER_OCCUPIED = "LOCKER_OCCUPIED"
LOCKER_BUSY = "SYS_LOCKERS_BUSY"
COMMAND_UNSUPPORTED = "COMMAND_UNSUPPORTED"
RELEASE_COMMAND = "release_token"
KEYS_COMMAND = "cloud_keys"
KEYPAD_COMMAND = "keypad_code"
KEYPAD_CODE_INVALID = "KEYPAD_CODE_INVALID"
KEYPAD_LOCKED = "KEYPAD_LOCKED"
KEYPAD_BUSY = "KEYPAD_BUSY"
#: The ``tower_state`` rows of the keypad's brute-force state (``KeypadGuard``'s fields).
GUARD_ROWS = {"failures": "keypad_failures", "level": "keypad_level",
              "locked_until": "keypad_locked_until"}
TOKEN_KIND_INVALID = "TOKEN_KIND_INVALID"
TOKEN_ALREADY_USED = "TOKEN_ALREADY_USED"
DROPOFF_TOKEN_FOR_OCCUPIED_LOCKER = "DROPOFF_TOKEN_FOR_OCCUPIED_LOCKER"
HOLDS_PARCEL = ("the locker holds a parcel: open it with a pick-up token "
                "(POST /api/v1/towers/{tower_id}/lockers/{locker_id}/pickup-locker-tokens)")
#: Refusals that prove nothing about the caller (no valid cloud signature): counted, not logged.
#: Wrong keypad codes are counted the same way: the lockout bounds them, ``keypad_locked`` logs it.
ANONYMOUS_CODES = frozenset({MSG_MALFORMED, AUTH_KEY_INVALID, AUTH_SIGNATURE,
                             KEYPAD_CODE_INVALID})
#: At most one ``open_refused_summary`` event per this many seconds.
REFUSAL_SUMMARY_INTERVAL = 60
#: How long a spent token whose expiry is not known is kept (longer than any cloud token lives).
SPENT_FALLBACK_SECONDS = 8 * 24 * 3600


def keypad_policy(settings: Settings) -> KeypadPolicy:
    """The keypad's brute-force bound as ``settings.tower`` gives it."""
    tower = settings.tower
    return KeypadPolicy(tower.keypad_max_failures, tower.keypad_lockout,
                        tower.keypad_lockout_max)


class KeypadLocked(TooManyAttempts):
    """Too many wrong codes: the keypad takes none until ``retry_after`` seconds have passed."""

    def __init__(self, wait: int) -> None:
        super().__init__(KEYPAD_LOCKED, f"Too many wrong codes: the keypad is locked; try again "
                         f"in {wait} s", retry_after=wait)


class KeypadBusy(TooManyAttempts):
    """A code is being checked: one at a time, so a flood of guesses holds no worker threads."""

    def __init__(self) -> None:
        super().__init__(KEYPAD_BUSY, "Another code is being checked; try again in a second",
                         retry_after=1)


@dataclass(frozen=True)
class OpenResult:
    success: bool
    locker_id: int  # the cloud's locker id, as the token names it
    gateway_locker_id: int
    kind: str
    token_id: str
    door_open: bool | None
    message: str
    reason_code: str | None = None


@dataclass(frozen=True)
class CommandResult:
    command_id: int
    outcome: str  # "applied" | "duplicate" | "refused"
    code: str | None = None


class TowerService:
    def __init__(self, db: Database, identity: TowerIdentity, opener: Opener,
                 clock: Clock = utcnow, holder: Holder | None = None,
                 publish: Callable[[ev.Event], None] | None = None,
                 keypad: KeypadPolicy | None = None) -> None:
        self.db = db
        self.keypad = keypad or keypad_policy(Settings())
        self._keypad_lock = threading.Lock()  # one code checked at a time: no parallel guesses
        # tells the process what was committed (an event bus's publish: safe from any thread)
        self.publish = publish or (lambda _event: None)
        self.identity = identity
        self.opener = opener
        self.clock = clock
        self.holder = holder
        self._anonymous: Counter[str] = Counter()
        self._anonymous_since: int | None = None
        self._anonymous_lock = threading.Lock()

    # ---- set-up ---------------------------------------------------------------------------

    def install(self) -> None:
        """Migrate the tower tables and register provisioned lockers (keeps known generations)."""
        migrate.upgrade(self.db, MIGRATIONS, version_table=VERSION_TABLE)
        with self.db.write() as conn:
            known = {r.locker_id for r in conn.execute(select(tower_lockers.c.locker_id))}
            for cid, (gid, gen) in self.identity.lockers.items():
                if cid not in known:
                    conn.execute(insert(tower_lockers).values(
                        locker_id=cid, gateway_locker_id=gid, generation=gen, occupied=False))
            for name in ("next_seq", "pushed_seq"):
                if conn.execute(select(tower_state.c.value).where(
                        tower_state.c.name == name)).first() is None:
                    conn.execute(insert(tower_state).values(
                        name=name, value=1 if name == "next_seq" else 0))

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def cloud_keys(self, conn: Connection) -> dict[str, Ed25519PublicKey]:
        """The cloud keys this tower trusts: provisioned ones plus those announced since."""
        keys = dict(self.identity.cloud_keys)
        for row in conn.execute(select(tower_cloud_keys.c.key_id, tower_cloud_keys.c.public_key)):
            keys.setdefault(row.key_id, Ed25519PublicKey.from_public_bytes(row.public_key))
        return keys

    # ---- opening with a token -------------------------------------------------------------

    async def open_with_token(self, payload: str, payload_auth: str) -> OpenResult:
        """Verify, then open; raise TokenRefused (logged) when the door must stay shut.

        A door that fails to open is not a refusal: the result says so and the token stays good.
        """
        claims, gateway_id, hold = await run_blocking(self._admit, payload, payload_auth)
        if hold is not None:
            await run_blocking(self._hold, claims, gateway_id, hold)
        outcome = await self.opener(gateway_id)
        await run_blocking(self._opened, claims, gateway_id, outcome, hold)
        return OpenResult(outcome.success, claims.locker_id, gateway_id, claims.kind.label,
                          claims.token_id, outcome.door_open, outcome.message,
                          outcome.reason_code)

    def check_session(self, payload: str, payload_auth: str) -> TokenClaims:
        """A phone proves it may read this tower's log with any current token for this tower."""
        with self.db.read() as conn:
            keys = self.cloud_keys(conn)
        return verify(payload, payload_auth, self.identity.tower_id, self._now(), keys, 0)

    def _admit(self, payload: str, payload_auth: str) -> tuple[TokenClaims, int, str | None]:
        """Verify and claim the token's use; also say which new gateway hold it needs, if any."""
        refusal: TokenRefused
        claims: TokenClaims | None = None  # known once the signature checks out
        with self.db.write() as conn:
            generations = {r.locker_id: r.generation for r in conn.execute(
                select(tower_lockers.c.locker_id, tower_lockers.c.generation))}
            try:
                claims = verify(payload, payload_auth, self.identity.tower_id, self._now(),
                                self.cloud_keys(conn), generations)
                # Lock the locker's row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
                # writers) and judge the token against what the lock holder sees: two uses of one
                # pick-up token cannot both read the old generation.
                row = conn.execute(select(tower_lockers)
                                   .where(tower_lockers.c.locker_id == claims.locker_id)
                                   .with_for_update()).one()
                self._check_use(conn, claims, row)
            except TokenRefused as refused:
                claims = claims or refused.claims  # signed: the refusal names the token
                if refused.code in ANONYMOUS_CODES:
                    self._count_anonymous(conn, refused.code)
                else:  # logged and committed: the refusal itself is part of the tower's record
                    self._append(conn, "open_refused", claims.locker_id if claims else None,
                                 token_id=claims.token_id if claims else None,
                                 code=refused.code, reason=str(refused))
                refusal = refused
            else:
                self._claim(conn, claims)
                new_hold = (f"tower-{claims.token_id}" if self.holder is not None
                            and claims.kind is TokenKind.DROPOFF and row.hold_id is None
                            else None)
                return claims, row.gateway_locker_id, new_hold
        self._refused(refusal, claims)
        raise refusal

    @staticmethod
    def _claim(conn: Connection, claims: TokenClaims) -> None:
        """Claim the use before any door moves: a pick-up token replayed while this one is
        opening the door is already stale."""
        values: dict[str, Any] = {"pending_kind": int(claims.kind),
                                  "pending_token_id": claims.token_id,
                                  "pending_expires": claims.expires}
        if claims.kind is TokenKind.PICKUP:
            values["generation"] = tower_lockers.c.generation + 1
        conn.execute(update(tower_lockers).where(tower_lockers.c.locker_id == claims.locker_id)
                     .values(**values))

    def _refused(self, refusal: TokenRefused, claims: TokenClaims | None = None) -> None:
        self.publish(ev.TokenRefused(code=refusal.code,
                                     token_id=claims.token_id if claims else None,
                                     locker_id=claims.locker_id if claims else None,
                                     occurred_at=self.clock()))

    def _check_use(self, conn: Connection, claims: TokenClaims, row: Any) -> None:
        """Refuse a good signature that must not open: spent, stale, wrong kind for the locker."""
        if claims.generation < row.generation:
            raise TokenRefused(TOKEN_GENERATION_STALE, "a newer pick-up or release superseded it")
        if claims.kind is TokenKind.RELEASE:
            raise TokenRefused(TOKEN_KIND_INVALID,
                               "a release token opens nothing; relay it as a command")
        holds_parcel = HOLDS_PARCEL.format(tower_id=self.identity.tower_id,
                                           locker_id=claims.locker_id)
        dropoff_on_parcel = claims.kind is TokenKind.DROPOFF and row.occupied
        if conn.execute(select(tower_spent_tokens.c.token_id).where(
                tower_spent_tokens.c.token_id == claims.token_id)).first():
            raise TokenRefused(TOKEN_ALREADY_USED, "this token was used: its door opened and "
                               "closed again" + (f"; {holds_parcel}" if dropoff_on_parcel else ""))
        if dropoff_on_parcel:
            raise TokenRefused(DROPOFF_TOKEN_FOR_OCCUPIED_LOCKER, holds_parcel)
        if claims.kind is TokenKind.PICKUP and not row.occupied:
            raise TokenRefused(LOCKER_EMPTY, "nothing to pick up: the locker is empty")

    # ---- refusals nobody signed: a bounded summary, not one event each --------------------

    def _count_anonymous(self, conn: Connection, code: str) -> None:
        with self._anonymous_lock:
            self._anonymous[code] += 1
            if self._anonymous_since is None:
                self._anonymous_since = self._now()
        self._flush_anonymous(conn)

    def _flush_anonymous(self, conn: Connection, *, force: bool = False) -> None:
        """Log the counted refusals as one event once the interval has passed (or ``force``)."""
        with self._anonymous_lock:
            since = self._anonymous_since
            if since is None or not (force or self._now() - since >= REFUSAL_SUMMARY_INTERVAL):
                return
            counts = dict(sorted(self._anonymous.items()))
            self._anonymous.clear()
            self._anonymous_since = None
        self._append(conn, "open_refused_summary", None, counts=counts, since=since,
                     total=sum(counts.values()))

    def flush_refusals(self, *, force: bool = False) -> None:
        """Write a due refusal summary (the sync loop calls this so counts reach the cloud)."""
        with self._anonymous_lock:
            if self._anonymous_since is None:
                return
        with self.db.write() as conn:
            self._flush_anonymous(conn, force=force)

    def _hold(self, claims: TokenClaims, gateway_id: int, hold: str) -> None:
        """Take the locker from local assignment before a parcel goes in, or refuse."""
        assert self.holder is not None
        if self.holder.hold(gateway_id, hold):
            return
        with self.db.write() as conn:
            self._give_back(conn, claims)
            self._append(conn, "open_refused", claims.locker_id, token_id=claims.token_id,
                         code=LOCKER_BUSY, reason="a local transaction holds this locker")
        refusal = TokenRefused(LOCKER_BUSY, "a local transaction holds this locker")
        self._refused(refusal, claims)
        raise refusal

    @staticmethod
    def _give_back(conn: Connection, claims: TokenClaims) -> None:
        """Undo ``_admit``'s claim: the door did not open for this token."""
        values: dict[str, Any] = {"pending_kind": None, "pending_token_id": None,
                                  "pending_expires": None}
        if claims.kind is TokenKind.PICKUP:
            values["generation"] = tower_lockers.c.generation - 1
        conn.execute(update(tower_lockers).where(
            tower_lockers.c.locker_id == claims.locker_id,
            tower_lockers.c.pending_token_id == claims.token_id).values(**values))

    def _opened(self, claims: TokenClaims, gateway_id: int, outcome: OpenedDoor,
                hold: str | None, via: str | None = None) -> None:
        shut = not outcome.success and outcome.door_open is False
        with self.db.write() as conn:
            if shut:
                # The door stayed shut: give the token back so the user can try again.
                self._give_back(conn, claims)
                self._append(conn, "open_failed", claims.locker_id, token_id=claims.token_id,
                             code=outcome.reason_code, reason=outcome.message, via=via)
            else:
                if hold is not None:
                    conn.execute(update(tower_lockers)
                                 .where(tower_lockers.c.locker_id == claims.locker_id)
                                 .values(hold_id=hold))
                if outcome.success:
                    self._append(conn, "locker_opened", claims.locker_id,
                                 token_id=claims.token_id, token_kind=claims.kind.label,
                                 gateway_locker_id=gateway_id, via=via)
                else:
                    # The unlock may have fired and the door may be open: the claim and the
                    # hold stay, the token is not given back (the door closing spends it).
                    self._append(conn, "open_unknown", claims.locker_id,
                                 token_id=claims.token_id, token_kind=claims.kind.label,
                                 gateway_locker_id=gateway_id, code=outcome.reason_code,
                                 reason=outcome.message, via=via)
        if shut and hold is not None:
            self._release_hold(hold)

    def _release_hold(self, hold: str | None) -> None:
        if hold is not None and self.holder is not None:
            self.holder.release(hold)

    # ---- opening with a keypad code -------------------------------------------------------

    async def open_with_code(self, code: str) -> OpenResult:
        """Find the pending code ``code`` is, then open its locker as its pick-up token would.

        Raise KeypadLocked while the keypad is locked, TokenRefused (``KEYPAD_CODE_INVALID``)
        for a code no pending pick-up has: no door moves in either case.
        """
        claims, gateway_id = await run_blocking(self._admit_code, code)
        outcome = await self.opener(gateway_id)
        await run_blocking(self._opened, claims, gateway_id, outcome, None, "keypad")
        return OpenResult(outcome.success, claims.locker_id, gateway_id, claims.kind.label,
                          claims.token_id, outcome.door_open, outcome.message,
                          outcome.reason_code)

    def _admit_code(self, code: str) -> tuple[TokenClaims, int]:
        if not self._keypad_lock.acquire(blocking=False):
            raise KeypadBusy
        try:
            return self._admit_code_alone(code)
        finally:
            self._keypad_lock.release()

    def _admit_code_alone(self, code: str) -> tuple[TokenClaims, int]:
        """Judge one code (under the keypad lock): locked, wrong, refused or claimed."""
        now = self._now()
        with self.db.read() as conn:
            wait = self._guard(conn).wait(now)
            if wait:
                raise KeypadLocked(wait)
            held = self._live_codes(conn, now, len(code))
        # The slow digests run outside any transaction; the lock keeps guesses in a row.
        match = next((c for c in held if c.matches(code)), None)
        with self.db.write() as conn:
            if match is None:
                self._wrong_code(conn, now)
                refusal = TokenRefused(KEYPAD_CODE_INVALID, "no pending pick-up has this code")
            else:
                self._store_guard(conn, KeypadGuard.succeeded())
                claims = self._code_claims(match)
                row = conn.execute(select(tower_lockers)
                                   .where(tower_lockers.c.locker_id == claims.locker_id)
                                   .with_for_update()).one()
                try:
                    self._check_use(conn, claims, row)
                except TokenRefused as refused:
                    self._append(conn, "open_refused", claims.locker_id,
                                 token_id=claims.token_id, code=refused.code,
                                 reason=str(refused), via="keypad")
                    refusal = refused
                else:
                    self._claim(conn, claims)
                    return claims, row.gateway_locker_id
        self._refused(refusal, None if match is None else self._code_claims(match))
        raise refusal

    def _code_claims(self, held: KeypadCode) -> TokenClaims:
        """The pick-up token a code stands for, as the claim and the events need it."""
        b = held.binding
        return TokenClaims(b.tower_id, b.locker_id, TokenKind.PICKUP, b.token_id, b.not_before,
                           b.expires, "keypad", b.generation)

    def _live_codes(self, conn: Connection, now: int, digits: int) -> list[KeypadCode]:
        """Codes of ``digits`` digits that may open now: in their window, not superseded."""
        rows = conn.execute(
            select(tower_keypad_codes).join(
                tower_lockers, tower_lockers.c.locker_id == tower_keypad_codes.c.locker_id)
            .where(tower_keypad_codes.c.digits == digits,
                   tower_keypad_codes.c.not_before <= now, tower_keypad_codes.c.expires > now,
                   tower_keypad_codes.c.generation >= tower_lockers.c.generation)
            .order_by(tower_keypad_codes.c.expires))
        return [KeypadCode(KeypadBinding(self.identity.tower_id, r.locker_id, r.token_id,
                                         r.generation, r.not_before, r.expires),
                           r.digits, r.salt, r.digest,
                           tuple(int(v) for v in r.cost.split(",")))  # type: ignore[arg-type]
                for r in rows]

    def _wrong_code(self, conn: Connection, now: int) -> None:
        """Count a wrong code; the one that reaches the limit locks the keypad (signed event)."""
        guard = self._guard(conn).failed(now, self.keypad)
        self._store_guard(conn, guard)
        self._count_anonymous(conn, KEYPAD_CODE_INVALID)
        if guard.locked_until > now:
            self._append(conn, "keypad_locked", None, locked_until=guard.locked_until,
                         lockout_seconds=guard.locked_until - now, lockouts=guard.level,
                         failures=self.keypad.max_failures)
        conn.execute(delete(tower_keypad_codes).where(tower_keypad_codes.c.expires <= now))

    @staticmethod
    def _guard(conn: Connection) -> KeypadGuard:
        values = {r.name: r.value for r in conn.execute(
            select(tower_state.c.name, tower_state.c.value)
            .where(tower_state.c.name.in_(GUARD_ROWS.values())))}
        return KeypadGuard(**{f: values.get(row, 0) for f, row in GUARD_ROWS.items()})

    @staticmethod
    def _store_guard(conn: Connection, guard: KeypadGuard) -> None:
        for field, name in GUARD_ROWS.items():
            value = getattr(guard, field)
            if conn.execute(update(tower_state).where(tower_state.c.name == name)
                            .values(value=value)).rowcount == 0 and value:
                conn.execute(insert(tower_state).values(name=name, value=value))

    def keypad_wait(self) -> int:
        """Seconds until the keypad takes a code again (0: it does now)."""
        with self.db.read() as conn:
            return self._guard(conn).wait(self._now())

    def _learn_code(self, conn: Connection, command_id: int, payload: str,
                    payload_auth: str) -> CommandResult:
        """Keep a cloud-signed code digest until it is used, expires or is superseded."""
        try:
            held = verify_keypad_code(payload, payload_auth, self.identity.tower_id,
                                      self.cloud_keys(conn))
            b = held.binding
            row = conn.execute(select(tower_lockers)
                               .where(tower_lockers.c.locker_id == b.locker_id)).first()
            if row is None:
                raise TokenRefused(SYS_LOCKER_NOT_FOUND, "this tower has no such locker")
        except TokenRefused as refused:
            self._append(conn, "command_refused", None, command_id=command_id,
                         code=refused.code, reason=str(refused))
            return CommandResult(command_id, "refused", refused.code)
        spent = conn.execute(select(tower_spent_tokens.c.token_id).where(
            tower_spent_tokens.c.token_id == b.token_id)).first()
        dead = (MSG_EXPIRED if b.expires <= self._now()
                else TOKEN_GENERATION_STALE if b.generation < row.generation or spent
                else None)
        if dead is None:
            conn.execute(delete(tower_keypad_codes).where(
                tower_keypad_codes.c.token_id == b.token_id))
            conn.execute(insert(tower_keypad_codes).values(
                token_id=b.token_id, locker_id=b.locker_id, generation=b.generation,
                not_before=b.not_before, expires=b.expires, digits=held.digits, salt=held.salt,
                digest=held.digest, cost=",".join(str(v) for v in held.cost)))
            self._append(conn, "keypad_code_set", b.locker_id, token_id=b.token_id,
                         expires=b.expires)
        else:  # acknowledged all the same: the cloud stops sending a code that opens nothing
            self._append(conn, "keypad_code_dropped", b.locker_id, token_id=b.token_id, code=dead)
        conn.execute(insert(tower_commands).values(command_id=command_id,
                                                   applied_at=self._now()))
        self._append(conn, "command_applied", b.locker_id, command_id=command_id)
        return CommandResult(command_id, "applied")

    # ---- what the door sensors report -----------------------------------------------------

    def door_closed(self, gateway_locker_id: int) -> None:
        """A door closed: a token use it was waiting for is now a fact the cloud must learn."""
        with self.db.write() as conn:
            row = self._by_gateway_id(conn, gateway_locker_id)
            if row is None:
                return
            self._append(conn, "door_closed", row.locker_id)
            if row.pending_kind is None:
                return
            kind = TokenKind(row.pending_kind)
            self._spend(conn, row, kind)
            emptied = kind is TokenKind.PICKUP
            values: dict[str, Any] = {"pending_kind": None, "pending_token_id": None,
                                      "pending_expires": None, "occupied": not emptied}
            if emptied:
                values["hold_id"] = None
            conn.execute(update(tower_lockers).where(tower_lockers.c.locker_id == row.locker_id)
                         .values(**values))
            self._append(conn, f"{kind.label}_token_used", row.locker_id,
                         token_id=row.pending_token_id)
        self.publish(ev.TokenUsed(token_id=row.pending_token_id, locker_id=row.locker_id,
                                  kind=kind.label, occurred_at=self.clock()))
        if emptied:
            self._release_hold(row.hold_id)

    def _spend(self, conn: Connection, row: Any, kind: TokenKind) -> None:
        """The token's door opened and closed: it never opens again (kept until it expires)."""
        now = self._now()
        conn.execute(delete(tower_spent_tokens).where(tower_spent_tokens.c.expires < now))
        if conn.execute(select(tower_spent_tokens.c.token_id).where(
                tower_spent_tokens.c.token_id == row.pending_token_id)).first() is None:
            conn.execute(insert(tower_spent_tokens).values(
                token_id=row.pending_token_id, locker_id=row.locker_id, kind=int(kind),
                spent_at=now, expires=row.pending_expires if row.pending_expires is not None
                else now + SPENT_FALLBACK_SECONDS))
        conn.execute(delete(tower_keypad_codes).where(
            tower_keypad_codes.c.token_id == row.pending_token_id))

    def door_forced(self, gateway_locker_id: int) -> None:
        """A door opened with no unlock behind it (crowbar, broken lock)."""
        with self.db.write() as conn:
            row = self._by_gateway_id(conn, gateway_locker_id)
            if row is not None:
                self._append(conn, "door_forced", row.locker_id)

    @staticmethod
    def _by_gateway_id(conn: Connection, gateway_locker_id: int) -> Any:
        return conn.execute(select(tower_lockers).where(
            tower_lockers.c.gateway_locker_id == gateway_locker_id)).first()

    # ---- cloud commands -------------------------------------------------------------------

    def apply_command(self, command_id: int, payload: str, payload_auth: str,
                      kind: str = RELEASE_COMMAND) -> CommandResult:
        """Apply a relayed cloud command once: a release token, or new cloud keys."""
        with self.db.write() as conn:
            if conn.execute(select(tower_commands.c.command_id).where(
                    tower_commands.c.command_id == command_id)).first():
                return CommandResult(command_id, "duplicate")
            if kind == KEYS_COMMAND:
                return self._learn_keys(conn, command_id, payload, payload_auth)
            if kind == KEYPAD_COMMAND:
                return self._learn_code(conn, command_id, payload, payload_auth)
            if kind != RELEASE_COMMAND:
                self._append(conn, "command_refused", None, command_id=command_id,
                             code=COMMAND_UNSUPPORTED, reason=f"unknown command kind {kind!r}")
                return CommandResult(command_id, "refused", COMMAND_UNSUPPORTED)
            rows = {r.locker_id: r for r in conn.execute(select(tower_lockers))}
            try:
                claims = verify(payload, payload_auth, self.identity.tower_id, self._now(),
                                self.cloud_keys(conn),
                                {cid: r.generation for cid, r in rows.items()})
                if claims.kind is not TokenKind.RELEASE:
                    raise TokenRefused(TOKEN_KIND_INVALID, "only release tokens are commands")
                row = rows[claims.locker_id]
                if row.occupied or row.pending_kind == TokenKind.DROPOFF:
                    # a drop-off overtook the release: freeing the locker would lose a parcel
                    raise TokenRefused(LOCKER_OCCUPIED, "a drop-off happened after the release")
            except TokenRefused as refused:
                self._append(conn, "command_refused", None, command_id=command_id,
                             code=refused.code, reason=str(refused))
                return CommandResult(command_id, "refused", refused.code)
            conn.execute(update(tower_lockers)
                         .where(tower_lockers.c.locker_id == claims.locker_id)
                         .values(generation=tower_lockers.c.generation + 1, occupied=False,
                                 pending_kind=None, pending_token_id=None,
                                 pending_expires=None, hold_id=None))
            conn.execute(insert(tower_commands).values(command_id=command_id,
                                                       applied_at=self._now()))
            self._append(conn, "release_token_set", claims.locker_id, token_id=claims.token_id)
            self._append(conn, "command_applied", claims.locker_id, command_id=command_id)
            released = row.hold_id
        self._release_hold(released)
        return CommandResult(command_id, "applied")

    def _learn_keys(self, conn: Connection, command_id: int, payload: str,
                    payload_auth: str) -> CommandResult:
        known = self.cloud_keys(conn)
        try:
            announced = verify_key_announcement(payload, payload_auth, self.identity.tower_id,
                                                known)
        except TokenRefused as refused:
            self._append(conn, "command_refused", None, command_id=command_id,
                         code=refused.code, reason=str(refused))
            return CommandResult(command_id, "refused", refused.code)
        learned = sorted(set(announced) - set(known))
        for kid in learned:
            conn.execute(insert(tower_cloud_keys).values(
                key_id=kid, public_key=announced[kid].public_bytes_raw(), learned_at=self._now()))
        conn.execute(insert(tower_commands).values(command_id=command_id,
                                                   applied_at=self._now()))
        self._append(conn, "cloud_keys_learned", None, key_ids=learned)
        self._append(conn, "command_applied", None, command_id=command_id)
        return CommandResult(command_id, "applied")

    # ---- the event log --------------------------------------------------------------------

    def _append(self, conn: Connection, event_type: str, locker_id: int | None,
                **fields: Any) -> None:
        seq = conn.execute(select(tower_state.c.value).where(tower_state.c.name == "next_seq")
                           .with_for_update()).scalar_one()
        conn.execute(update(tower_state).where(tower_state.c.name == "next_seq")
                     .values(value=seq + 1))
        now = self._now()
        event = {"tower_id": self.identity.tower_id, "seq": seq, "type": event_type,
                 "timestamp": now, "locker_id": locker_id,
                 **{k: v for k, v in fields.items() if v is not None}}
        signed = sign_event(event, self.identity.private_key)
        conn.execute(insert(tower_events).values(seq=seq, type=event_type, locker_id=locker_id,
                                                 timestamp=now, body=json.dumps(signed)))

    def events_after(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(tower_events.c.body).where(tower_events.c.seq > after)
                                .order_by(tower_events.c.seq).limit(limit))
            return [json.loads(r.body) for r in rows]

    def pushed_seq(self) -> int:
        with self.db.read() as conn:
            return conn.execute(select(tower_state.c.value)
                                .where(tower_state.c.name == "pushed_seq")).scalar_one()

    def mark_pushed(self, seq: int) -> None:
        with self.db.write() as conn:
            conn.execute(update(tower_state).where(tower_state.c.name == "pushed_seq",
                                                   tower_state.c.value < seq).values(value=seq))

    def locker_state(self, locker_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(select(tower_lockers)
                               .where(tower_lockers.c.locker_id == locker_id)).first()
            return dict(row._mapping) if row else {}
