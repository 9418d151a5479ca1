"""SQL of the webhook endpoints and their deliveries (no rules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from berth.cloud.tables import webhook_deliveries as deliveries
from berth.cloud.tables import webhook_endpoints as endpoints


def insert_endpoint(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(endpoints).values(**values))


def endpoint(conn: Connection, partner_id: int | None, endpoint_id: str) -> RowMapping | None:
    """One endpoint; with ``partner_id``, only if it is that partner's."""
    query = select(endpoints).where(endpoints.c.id == endpoint_id)
    if partner_id is not None:
        query = query.where(endpoints.c.partner_id == partner_id)
    return conn.execute(query).mappings().first()


def partner_endpoints(conn: Connection, partner_id: int,
                      enabled_only: bool = False) -> list[RowMapping]:
    query = select(endpoints).where(endpoints.c.partner_id == partner_id)
    if enabled_only:
        query = query.where(endpoints.c.enabled.is_(True))
    return list(conn.execute(query.order_by(endpoints.c.created_at, endpoints.c.id)).mappings())


def update_endpoint(conn: Connection, endpoint_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(**values))


def delete_endpoint(conn: Connection, endpoint_id: str) -> None:
    conn.execute(delete(deliveries).where(deliveries.c.endpoint_id == endpoint_id))
    conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))


def add_delivery(conn: Connection, values: dict[str, Any]) -> None:
    """One delivery; a second one for the same (endpoint, message) is ignored: the dispatcher
    may hand an event over twice after a crash."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(deliveries).values(**values)
                 .on_conflict_do_nothing(index_elements=["endpoint_id", "message_id"]))


def due_heads(conn: Connection, now: datetime, limit: int) -> list[RowMapping]:
    """Each enabled endpoint's oldest pending delivery, if it is due and not leased: an
    endpoint's next event waits for the one before it."""
    heads = (select(func.min(deliveries.c.id).label("id"))
             .where(deliveries.c.status == "pending").group_by(deliveries.c.endpoint_id)
             .subquery())
    free = deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until < now)
    query = (select(deliveries).join(heads, heads.c.id == deliveries.c.id)
             .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
             .where(endpoints.c.enabled.is_(True), deliveries.c.next_attempt_at <= now, free)
             .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit))
    return list(conn.execute(query).mappings())


def lease(conn: Connection, delivery_id: int, now: datetime, until: datetime) -> bool:
    """Take a delivery for sending; False when another worker holds it."""
    free = deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until < now)
    done = conn.execute(update(deliveries)
                        .where(deliveries.c.id == delivery_id,
                               deliveries.c.status == "pending", free)
                        .values(lease_until=until))
    return done.rowcount == 1


def delivery(conn: Connection, endpoint_id: str, delivery_id: int) -> RowMapping | None:
    query = select(deliveries).where(deliveries.c.id == delivery_id,
                                     deliveries.c.endpoint_id == endpoint_id)
    return conn.execute(query).mappings().first()


def endpoint_deliveries(conn: Connection, endpoint_id: str, limit: int) -> list[RowMapping]:
    """The newest first."""
    query = (select(deliveries).where(deliveries.c.endpoint_id == endpoint_id)
             .order_by(deliveries.c.id.desc()).limit(limit))
    return list(conn.execute(query).mappings())


def update_delivery(conn: Connection, delivery_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def retry_now(conn: Connection, endpoint_id: str, now: datetime) -> None:
    """Make the endpoint's pending deliveries due now (it was just enabled again)."""
    conn.execute(update(deliveries)
                 .where(deliveries.c.endpoint_id == endpoint_id,
                        deliveries.c.status == "pending")
                 .values(next_attempt_at=now))
