"""Locker rows: one place for the SQL, no rules.

Reads of a tower's lockers are one indexed query (no per-locker queries), so they cost the same
in a fleet of any size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from berth.cloud.tables import lockers
from berth.domain.lifecycle import LockerState


def tower_lockers(conn: Connection, tower_id: str) -> Sequence[RowMapping]:
    query = select(lockers).where(lockers.c.tower_id == tower_id).order_by(lockers.c.id)
    return conn.execute(query).mappings().all()


def held_lockers(conn: Connection, partner_id: int) -> Sequence[RowMapping]:
    query = select(lockers).where(lockers.c.holder_partner_id == partner_id).order_by(lockers.c.id)
    return conn.execute(query).mappings().all()


def locker(
    conn: Connection, locker_id: int, tower_id: str | None = None, *, for_update: bool = False
) -> RowMapping | None:
    """One locker; ``for_update`` locks its row on PostgreSQL (SQLite holds the write lock)."""
    query = select(lockers).where(lockers.c.id == locker_id)
    if tower_id is not None:
        query = query.where(lockers.c.tower_id == tower_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def insert_lockers(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(insert(lockers), [dict(r) for r in rows])


def update_locker(conn: Connection, locker_id: int, values: Mapping[str, Any]) -> None:
    conn.execute(update(lockers).where(lockers.c.id == locker_id).values(**values))


def due_locker_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Lockers whose reservation or drop-off token has run out (the sweeper's work list)."""
    query = (
        select(lockers.c.id)
        .where(
            lockers.c.deadline <= now,
            lockers.c.state.in_([LockerState.RESERVED, LockerState.RENTED]),
        )
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def overdue_locker_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Occupied lockers past their collection deadline and not reported yet (the sweeper's)."""
    query = (
        select(lockers.c.id)
        .where(lockers.c.collect_by <= now, lockers.c.overdue_at.is_(None),
               lockers.c.state == int(LockerState.OCCUPIED))
        .order_by(lockers.c.collect_by, lockers.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())
