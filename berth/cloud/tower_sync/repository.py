"""Tower events received and commands queued for towers: one place for the SQL, no rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, exists, insert, select, update

from berth.cloud.tables import commands, events


def event_seen(conn: Connection, tower_id: str, seq: int) -> bool:
    query = select(exists().where(events.c.tower_id == tower_id, events.c.seq == seq))
    return bool(conn.execute(query).scalar())


def insert_event(conn: Connection, values: Mapping[str, Any]) -> None:
    """Record one tower event (a second of the same ``(tower, seq)`` raises IntegrityError)."""
    conn.execute(insert(events).values(**values))


def insert_command(conn: Connection, tower_id: str, kind: str, locker_id: int | None,
                   token_id: str | None, payload: str, payload_auth: str,
                   now: datetime) -> int:
    """Queue a command for the tower; returns its id."""
    result = conn.execute(insert(commands).values(
        tower_id=tower_id, kind=kind, locker_id=locker_id, token_id=token_id, payload=payload,
        payload_auth=payload_auth, created_at=now))
    return int(result.inserted_primary_key[0])


def pending_commands(conn: Connection, tower_id: str, after: int) -> Sequence[RowMapping]:
    query = (
        select(commands)
        .where(
            commands.c.tower_id == tower_id,
            commands.c.applied_at.is_(None),
            commands.c.id > after,
        )
        .order_by(commands.c.id)
    )
    return conn.execute(query).mappings().all()


def command_exists(conn: Connection, tower_id: str, command_id: int) -> bool:
    query = select(exists().where(commands.c.tower_id == tower_id, commands.c.id == command_id))
    return bool(conn.execute(query).scalar())


def mark_command_applied(
    conn: Connection,
    tower_id: str,
    when: datetime,
    *,
    command_id: int | None = None,
    token_id: str | None = None,
    locker_id: int | None = None,
) -> int:
    """Close the pending commands matching every filter given; returns how many."""
    cond = [commands.c.tower_id == tower_id, commands.c.applied_at.is_(None)]
    for column, value in (
        (commands.c.id, command_id),
        (commands.c.token_id, token_id),
        (commands.c.locker_id, locker_id),
    ):
        if value is not None:
            cond.append(column == value)
    return conn.execute(update(commands).where(and_(*cond)).values(applied_at=when)).rowcount
