"""Issued locker tokens: one place for the SQL, no rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from berth.cloud.tables import locker_tokens
from berth.domain.tokens import TokenKind


def insert_token(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(locker_tokens).values(**values))


def token(conn: Connection, token_id: str) -> RowMapping | None:
    return (
        conn.execute(select(locker_tokens).where(locker_tokens.c.id == token_id)).mappings().first()
    )


def mark_token_used(conn: Connection, token_id: str, when: datetime) -> None:
    conn.execute(
        update(locker_tokens)
        .where(locker_tokens.c.id == token_id, locker_tokens.c.used_at.is_(None))
        .values(used_at=when)
    )


def unreported_expired_dropoffs(conn: Connection, locker_id: int, now: datetime
                                ) -> Sequence[RowMapping]:
    """The locker's drop-off tokens that ran out unused and were not reported yet, oldest first."""
    query = (select(locker_tokens)
             .where(locker_tokens.c.locker_id == locker_id,
                    locker_tokens.c.kind == int(TokenKind.DROPOFF),
                    locker_tokens.c.used_at.is_(None), locker_tokens.c.expired_at.is_(None),
                    locker_tokens.c.expires_at <= now)
             .order_by(locker_tokens.c.expires_at, locker_tokens.c.id))
    return conn.execute(query).mappings().all()


def mark_tokens_expired(conn: Connection, token_ids: Sequence[str], when: datetime) -> None:
    if token_ids:
        conn.execute(update(locker_tokens).where(locker_tokens.c.id.in_(token_ids))
                     .values(expired_at=when))
