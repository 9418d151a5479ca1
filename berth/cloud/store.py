"""Queries the service runs inside its transactions: one place for the SQL, no business rules.

Every function takes an open ``Connection``; the service decides the transaction. Reads of a
tower's lockers are one indexed query (no per-locker queries), so they cost the same in a fleet
of any size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, exists, insert, select, update

from berth.cloud.tables import (
    clients,
    commands,
    events,
    locker_tokens,
    lockers,
    partners,
    reservations,
    tower_partners,
    towers,
)
from berth.domain.lifecycle import LockerState

TOWER_PUBLIC_COLUMNS = (towers.c.id, towers.c.name, towers.c.created_at)


def tower_assigned(conn: Connection, partner_id: int, tower_id: str) -> bool:
    query = select(
        exists().where(
            tower_partners.c.tower_id == tower_id, tower_partners.c.partner_id == partner_id
        )
    )
    return bool(conn.execute(query).scalar())


def partner_towers(conn: Connection, partner_id: int) -> Sequence[RowMapping]:
    query = (
        select(*TOWER_PUBLIC_COLUMNS)
        .join(tower_partners, tower_partners.c.tower_id == towers.c.id)
        .where(tower_partners.c.partner_id == partner_id)
        .order_by(towers.c.id)
    )
    return conn.execute(query).mappings().all()


def tower(conn: Connection, tower_id: str) -> RowMapping | None:
    return conn.execute(select(towers).where(towers.c.id == tower_id)).mappings().first()


def all_towers(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(*TOWER_PUBLIC_COLUMNS).order_by(towers.c.id)).mappings().all()


def tower_lockers(
    conn: Connection, tower_id: str, states: Iterable[int] | None = None
) -> Sequence[RowMapping]:
    query = select(lockers).where(lockers.c.tower_id == tower_id).order_by(lockers.c.id)
    if states is not None:
        query = query.where(lockers.c.state.in_(list(states)))
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


def active_reservation(conn: Connection, locker_id: int) -> RowMapping | None:
    query = select(reservations).where(
        reservations.c.locker_id == locker_id, reservations.c.status == "active"
    )
    return conn.execute(query).mappings().first()


def reservation(conn: Connection, reservation_id: str) -> RowMapping | None:
    query = select(reservations).where(reservations.c.id == reservation_id)
    return conn.execute(query).mappings().first()


def set_reservation_status(conn: Connection, reservation_id: str, status: str) -> None:
    conn.execute(
        update(reservations).where(reservations.c.id == reservation_id).values(status=status)
    )


def insert_row(conn: Connection, table: Any, values: Mapping[str, Any]) -> Any:
    """Insert one row and return its primary key (the generated one for autoincrement ids)."""
    result = conn.execute(insert(table).values(**values))
    return result.inserted_primary_key[0] if result.inserted_primary_key else None


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


def event_seen(conn: Connection, tower_id: str, seq: int) -> bool:
    query = select(exists().where(events.c.tower_id == tower_id, events.c.seq == seq))
    return bool(conn.execute(query).scalar())


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


def client(conn: Connection, client_id: str) -> RowMapping | None:
    return conn.execute(select(clients).where(clients.c.client_id == client_id)).mappings().first()


def replace_secret_hash(conn: Connection, client_id: str, old: str, new: str) -> None:
    """Store a rehashed secret, unless the secret changed meanwhile."""
    conn.execute(update(clients).where(clients.c.client_id == client_id,
                                       clients.c.secret_hash == old).values(secret_hash=new))


def partner_by_name(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(select(partners).where(partners.c.name == name)).mappings().first()


def partner(conn: Connection, partner_id: int) -> RowMapping | None:
    return conn.execute(select(partners).where(partners.c.id == partner_id)).mappings().first()


def all_partners(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(partners).order_by(partners.c.id)).mappings().all()
