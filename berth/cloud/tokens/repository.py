"""Issued locker tokens: one place for the SQL, no rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from berth.cloud.tables import locker_tokens


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
