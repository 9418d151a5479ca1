"""The transactional outbox: events written in the same transaction as the change they report.

A change calls :func:`emit` on its connection; nothing is written until :func:`transaction`
commits the change, when :func:`flush` gives each event the next position of its partner and
inserts it. Positions come from one counter row per partner, bumped with ``UPDATE ... RETURNING``
(the row lock holds until commit on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises
writers), so a partner's positions are gap-free and increase in commit order. Counters are
locked in partner order, so two transactions never wait on each other's counters in a circle.
A change that rolls back writes no event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from berth.cloud.tables import outbox, outbox_positions
from berth.contracts.cloud import PartnerEvent
from berth.storage import Database

_PENDING = "berth_outbox_pending"


@dataclass(frozen=True)
class Pending:
    """An event of the open transaction, not yet positioned."""

    partner_id: int
    type: str
    tower_id: str
    locker_id: int | None
    occurred_at: datetime
    data: dict[str, Any]


@contextmanager
def transaction(db: Database) -> Iterator[Connection]:
    """A write transaction whose emitted events are committed with it (or not at all)."""
    with db.write() as conn:
        pending: list[Pending] = []
        conn.info[_PENDING] = pending  # info outlives the checkout: always removed below
        try:
            yield conn
            flush(conn, pending)
        finally:
            conn.info.pop(_PENDING, None)


def emit(
    conn: Connection,
    partner_ids: Sequence[int],
    type_: str,
    tower_id: str,
    locker_id: int | None,
    occurred_at: datetime,
    data: dict[str, Any],
) -> None:
    """Queue one event per partner for this transaction; refuses outside :func:`transaction`,
    so a change can never be written without its event."""
    pending = conn.info.get(_PENDING)
    if pending is None:
        raise RuntimeError("outbox.emit outside outbox.transaction: the event would be lost")
    for pid in partner_ids:
        pending.append(Pending(pid, type_, tower_id, locker_id, occurred_at, data))


def flush(conn: Connection, pending: list[Pending]) -> None:
    by_partner: dict[int, list[Pending]] = {}
    for event in pending:
        by_partner.setdefault(event.partner_id, []).append(event)
    for partner_id in sorted(by_partner):
        events = by_partner[partner_id]
        last = _advance(conn, partner_id, len(events))
        first = last - len(events) + 1
        conn.execute(insert(outbox), [
            dict(partner_id=partner_id, position=first + i, type=e.type, tower_id=e.tower_id,
                 locker_id=e.locker_id, occurred_at=e.occurred_at,
                 data=json.dumps(e.data, sort_keys=True, default=str))
            for i, e in enumerate(events)
        ])
    pending.clear()


def _advance(conn: Connection, partner_id: int, count: int) -> int:
    """Reserve ``count`` positions for the partner; returns the last one (row locked)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(outbox_positions)
                 .values(partner_id=partner_id, last_position=0)
                 .on_conflict_do_nothing(index_elements=["partner_id"]))
    bump = (update(outbox_positions)
            .where(outbox_positions.c.partner_id == partner_id)
            .values(last_position=outbox_positions.c.last_position + count)
            .returning(outbox_positions.c.last_position))
    return int(conn.execute(bump).scalar_one())


def stream(conn: Connection, partner_id: int, after: int, limit: int) -> list[PartnerEvent]:
    """A partner's events after a position, ascending (one indexed range read)."""
    query = (select(outbox).where(outbox.c.partner_id == partner_id, outbox.c.position > after)
             .order_by(outbox.c.position).limit(limit))
    return [to_event(row) for row in conn.execute(query).mappings()]


def to_event(row: Any) -> PartnerEvent:
    return PartnerEvent(type=row["type"], partner_id=row["partner_id"], position=row["position"],
                        tower_id=row["tower_id"], locker_id=row["locker_id"],
                        occurred_at=row["occurred_at"], data=json.loads(row["data"]))
