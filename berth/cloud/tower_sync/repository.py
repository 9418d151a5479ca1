"""Tower events received and commands queued for towers: one place for the SQL, no rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, exists, func, insert, select, update

from berth.cloud.tables import commands, events


def seen_seqs(conn: Connection, tower_id: str, seqs: Sequence[int]) -> set[int]:
    """Which of ``seqs`` the tower's events already hold."""
    query = select(events.c.seq).where(events.c.tower_id == tower_id, events.c.seq.in_(seqs))
    return set(conn.execute(query).scalars())


def insert_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record tower events in one statement (a second of the same ``(tower, seq)`` raises
    IntegrityError)."""
    if rows:
        conn.execute(insert(events), [dict(r) for r in rows])


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


def commands_after_id(conn: Connection, floor: int) -> list[tuple[int, str]]:
    """``(id, tower id)`` of every command with an id above ``floor`` (the primary key)."""
    query = select(commands.c.id, commands.c.tower_id).where(commands.c.id > floor)
    return [(int(cid), str(tower)) for cid, tower in conn.execute(query)]


def top_command_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(commands.c.id), 0))).scalar_one())
