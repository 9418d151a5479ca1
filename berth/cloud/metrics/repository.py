"""What the cloud's scrape reads: outbox backlog, tower sync, webhook deliveries. SQL only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, func, select

from berth.cloud.tables import commands, events, outbox, towers, webhook_deliveries


def outbox_backlog(conn: Connection) -> tuple[int, datetime | None]:
    """Undispatched outbox rows and when the oldest of them happened."""
    row = conn.execute(select(func.count(), func.min(outbox.c.occurred_at))
                       .where(outbox.c.dispatched_at.is_(None))).one()
    return int(row[0]), row[1]


def tower_sync(conn: Connection) -> Sequence[Row[tuple[str, datetime | None, int]]]:
    """Each tower: when its last event arrived, and commands it has not applied yet."""
    last = (select(events.c.tower_id, func.max(events.c.received_at).label("last"))
            .group_by(events.c.tower_id).subquery())
    pending = (select(commands.c.tower_id, func.count().label("pending"))
               .where(commands.c.applied_at.is_(None)).group_by(commands.c.tower_id).subquery())
    query = (select(towers.c.id, last.c.last, func.coalesce(pending.c.pending, 0))
             .outerjoin(last, last.c.tower_id == towers.c.id)
             .outerjoin(pending, pending.c.tower_id == towers.c.id)
             .order_by(towers.c.id))
    return conn.execute(query).all()


def deliveries_by_status(conn: Connection) -> Sequence[Row[tuple[str, int]]]:
    return conn.execute(select(webhook_deliveries.c.status, func.count())
                        .group_by(webhook_deliveries.c.status)).all()
