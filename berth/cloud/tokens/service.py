"""Signed locker tokens: drop-off and pick-up tokens, and declining a rented locker.

``decline_locker`` is the API's ``releaseLocker()``: Rented -> Declined, with a release token
that is also queued as a tower command. "Release" stays the wire name (the endpoint, the token
kind); in code the arrow is a decline, so it is never confused with the gateway releasing a
transaction's locker.

A pick-up token asked for with ``keypad_code`` also gets a numeric code: drawn here, returned
once in the answer, and queued for the tower only as a signed, salted digest bound to the token
(``berth.domain.keypad``): the code itself is in no table, event or log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from berth.cloud.context import CloudContext
from berth.cloud.lockers import lifecycle
from berth.cloud.tokens import repository as repo
from berth.cloud.tower_sync import repository as tower_sync_repo
from berth.contracts.cloud import LockerToken, ReleaseLockerResult
from berth.domain.dwell import bounded_duration, overdue
from berth.domain.errors import Conflict, InvalidInput
from berth.domain.keypad import KeypadBinding, hash_code, new_code, sign_keypad_code
from berth.domain.lifecycle import Action, LockerState
from berth.domain.tokens import TokenClaims, TokenKind, sign_token

CLOCK_SKEW = timedelta(seconds=60)  # tokens are valid from a minute before issue (tower clocks)

TOKEN_ACTIONS = {
    TokenKind.DROPOFF: Action.CREATE_DROPOFF_TOKEN,
    TokenKind.PICKUP: Action.CREATE_PICKUP_TOKEN,
    TokenKind.RELEASE: Action.RELEASE_LOCKER,  # the seed's releaseLocker(): Rented -> Declined
}


def check_return(row: RowMapping, kind: TokenKind, now: datetime) -> None:
    """A return token is a pick-up token for a parcel past its collection deadline (the
    holder's own check follows in the state machine)."""
    if kind is not TokenKind.PICKUP:
        raise InvalidInput("PURPOSE_INVALID", "Only a pick-up token can be for a return.")
    if not (row["state"] == LockerState.OCCUPIED and overdue(row["collect_by"], now)):
        raise Conflict("PARCEL_NOT_OVERDUE", "The parcel is not past its collection deadline: "
                       "a return token is for a parcel its recipient did not collect in time.")


@dataclass
class TokensService:
    ctx: CloudContext

    def issue_token(self, partner_id: int, tower_id: str, locker_id: int, kind: TokenKind,
                    duration: int | None, client_info: str = "", purpose: str = "collect", *,
                    keypad_code: bool = False) -> LockerToken:
        """Drop-off or pick-up token; the arrow it takes is the guide's. A drop-off token lasts
        at most the location's drop-off window; a ``return`` pick-up token is a courier's, for
        a parcel past its collection deadline."""
        with self.ctx.write() as conn:
            tok = self._issue(conn, partner_id, tower_id, locker_id, kind, duration,
                              client_info, purpose, keypad=keypad_code)
        return self._with_keypad_code(tok) if keypad_code else tok

    def _with_keypad_code(self, tok: LockerToken) -> LockerToken:
        """Draw the code, queue its signed digest for the tower, hand the code out once.

        The slow digest is computed between two transactions, so no writer waits on it; if
        queuing fails the token still works in the app and the caller asks again.
        """
        code = new_code(self.ctx.keypad_code_digits)
        binding = KeypadBinding(tok.tower_id, tok.locker_id, tok.token_id, tok.generation,
                                int(tok.not_before.timestamp()), int(tok.expires_at.timestamp()))
        payload, auth = sign_keypad_code(hash_code(code, binding), self.ctx.keyring.current)
        with self.ctx.write() as conn:
            tower_sync_repo.insert_command(conn, tok.tower_id, "keypad_code", tok.locker_id,
                                           tok.token_id, payload, auth, self.ctx.clock())
        return tok.model_copy(update={"keypad_code": code})

    def decline_locker(self, partner_id: int, tower_id: str, locker_id: int,
                       duration: int) -> ReleaseLockerResult:
        """releaseLocker: Rented -> Declined; the release token is queued for the tower too."""
        with self.ctx.write() as conn:
            tok = self._issue(conn, partner_id, tower_id, locker_id, TokenKind.RELEASE, duration)
            cid = tower_sync_repo.insert_command(
                conn, tok.tower_id, "release_token", locker_id, tok.token_id, tok.payload,
                tok.payload_auth, self.ctx.clock())
        return ReleaseLockerResult(**tok.model_dump(), command_id=cid)

    def _issue(self, conn: Connection, partner_id: int, tower_id: str, locker_id: int,
               kind: TokenKind, duration: int | None, client_info: str = "",
               purpose: str = "collect", *, keypad: bool = False) -> LockerToken:
        now = self.ctx.clock()
        row = lifecycle.lock_locker(conn, partner_id, tower_id, locker_id, now)
        if kind is TokenKind.DROPOFF:
            duration = lifecycle.dropoff_duration(conn, tower_id, duration)
        expires = now + timedelta(seconds=bounded_duration(duration, None))
        if purpose == "return":
            check_return(row, kind, now)
        state = LockerState(row["state"])
        deadline: Any = lifecycle.KEEP
        if kind is TokenKind.DROPOFF and state is not LockerState.OCCUPIED:
            # Rented lasts until the latest unused drop-off token runs out.
            current = row["deadline"] if state is LockerState.RENTED else None
            deadline = max(expires, current) if current else expires
        elif kind is TokenKind.RELEASE:
            deadline = None  # Declined waits for the tower, not the clock
        lifecycle.apply(conn, row, TOKEN_ACTIONS[kind], now, partner_id, deadline=deadline)
        return self._sign_and_store(conn, row, partner_id, kind, now, expires, client_info,
                                    purpose, keypad)

    def _sign_and_store(self, conn: Connection, row: RowMapping, partner_id: int,
                        kind: TokenKind, now: datetime, expires: datetime,
                        client_info: str, purpose: str, keypad: bool) -> LockerToken:
        key = self.ctx.keyring.current
        nbf = now - CLOCK_SKEW
        claims = TokenClaims(
            tower_id=row["tower_id"],
            locker_id=row["id"],
            kind=kind,
            token_id=uuid.uuid4().hex,
            not_before=int(nbf.timestamp()),
            expires=int(expires.timestamp()),
            key_id=key.key_id,
            generation=row["generation"],
        )
        signed = sign_token(claims, key)
        repo.insert_token(conn, dict(
            id=claims.token_id, locker_id=row["id"], partner_id=partner_id, kind=int(kind),
            client_info=client_info, generation=claims.generation, key_id=key.key_id,
            not_before=nbf, expires_at=expires, payload=signed.payload,
            payload_auth=signed.payload_auth))
        lifecycle.emit(conn, [partner_id], "token.issued", row, now, {  # never the payload_auth
            "token_id": claims.token_id, "kind": kind.label, "key_id": key.key_id,
            "generation": claims.generation, "not_before": nbf.isoformat(),
            "expires_at": expires.isoformat(), "keypad": keypad,
            **({"purpose": purpose} if kind is TokenKind.PICKUP else {})})
        return LockerToken(
            payload=signed.payload,
            payload_auth=signed.payload_auth,
            token_id=claims.token_id,
            kind=kind.label,  # type: ignore[arg-type]
            locker_id=row["id"],
            tower_id=row["tower_id"],
            not_before=nbf,
            expires_at=expires,
            key_id=key.key_id,
            generation=claims.generation,
        )
