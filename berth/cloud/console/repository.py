"""The fleet console's read queries across every tenant (operators only; no rules here).

Tokens are read without ``payload`` and ``payload_auth``: the console never holds a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, String, and_, case, cast, delete, func, select

from berth.cloud.tables import (
    clients,
    commands,
    events,
    location_towers,
    locker_tokens,
    lockers,
    outbox,
    reservations,
    tower_liveness,
    towers,
    webhook_deliveries,
    webhook_endpoints,
)

# what an operator may see of a token: never its payload, its signature or a keypad code
TOKEN_COLUMNS = (locker_tokens.c.id, locker_tokens.c.locker_id, locker_tokens.c.partner_id,
                 locker_tokens.c.kind, locker_tokens.c.key_id, locker_tokens.c.generation,
                 locker_tokens.c.not_before, locker_tokens.c.expires_at,
                 locker_tokens.c.used_at, locker_tokens.c.expired_at)
CLIENT_COLUMNS = (clients.c.client_id, clients.c.partner_id, clients.c.scopes,
                  clients.c.created_at)
APPLIED = ("applied", "recorded")  # tower event outcomes that are not refusals


def all_clients(conn: Connection) -> Sequence[RowMapping]:
    """Every API client without its secret hash, operators (no partner) included."""
    query = select(*CLIENT_COLUMNS).order_by(clients.c.partner_id, clients.c.created_at,
                                             clients.c.client_id)
    return conn.execute(query).mappings().all()


def delete_client(conn: Connection, client_id: str) -> int:
    """Remove a client: its tokens stop working at their next request (``authorize``)."""
    return conn.execute(delete(clients).where(clients.c.client_id == client_id)).rowcount


def tower_places(conn: Connection) -> dict[str, int]:
    """tower id -> its location id, for the towers that stand somewhere."""
    rows = conn.execute(select(location_towers.c.tower_id, location_towers.c.location_id))
    return {tower_id: location_id for tower_id, location_id in rows}


def all_lockers(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(lockers).order_by(lockers.c.tower_id, lockers.c.id)).mappings().all()


def locker(conn: Connection, locker_id: int) -> RowMapping | None:
    return conn.execute(select(lockers).where(lockers.c.id == locker_id)).mappings().first()


def sync_health(conn: Connection) -> Sequence[RowMapping]:
    """Per tower: when it last synced, since when it is offline, its newest event (seq, its own
    timestamp, when the cloud received it), how many events were refused and commands wait."""
    ev = (select(events.c.tower_id, func.max(events.c.seq).label("last_seq"),
                 func.count().label("events"),
                 func.sum(case((events.c.outcome.notin_(APPLIED), 1), else_=0)
                          ).label("refused"))
          .group_by(events.c.tower_id).subquery())
    waiting = (select(commands.c.tower_id, func.count().label("waiting"))
               .where(commands.c.applied_at.is_(None)).group_by(commands.c.tower_id).subquery())
    last = events.alias("last_event")
    query = (select(towers.c.id, towers.c.name, tower_liveness.c.last_seen_at,
                    tower_liveness.c.offline_since, ev.c.last_seq, ev.c.events, ev.c.refused,
                    last.c.type.label("last_type"), last.c.timestamp.label("last_timestamp"),
                    last.c.received_at.label("last_received_at"), waiting.c.waiting)
             .select_from(towers)
             .outerjoin(tower_liveness, tower_liveness.c.tower_id == towers.c.id)
             .outerjoin(ev, ev.c.tower_id == towers.c.id)
             .outerjoin(last, and_(last.c.tower_id == towers.c.id, last.c.seq == ev.c.last_seq))
             .outerjoin(waiting, waiting.c.tower_id == towers.c.id)
             .order_by(towers.c.id))
    return conn.execute(query).mappings().all()


def all_endpoints(conn: Connection) -> Sequence[RowMapping]:
    query = select(webhook_endpoints.c.id, webhook_endpoints.c.partner_id,
                   webhook_endpoints.c.url, webhook_endpoints.c.enabled,
                   webhook_endpoints.c.disabled_reason, webhook_endpoints.c.failing_since,
                   webhook_endpoints.c.created_at)
    return conn.execute(query.order_by(webhook_endpoints.c.partner_id,
                                       webhook_endpoints.c.created_at)).mappings().all()


# ---- a parcel's life ------------------------------------------------------------------------


def token_locker(conn: Connection, token_id: str) -> RowMapping | None:
    query = select(*TOKEN_COLUMNS).where(locker_tokens.c.id == token_id)
    return conn.execute(query).mappings().first()


def locker_reservations(conn: Connection, locker_id: int, since: datetime | None
                        ) -> Sequence[RowMapping]:
    query = select(reservations).where(reservations.c.locker_id == locker_id)
    if since is not None:
        query = query.where(reservations.c.created_at >= since)
    return conn.execute(query.order_by(reservations.c.created_at)).mappings().all()


def locker_tokens_issued(conn: Connection, locker_id: int, since: datetime | None
                         ) -> Sequence[RowMapping]:
    query = select(*TOKEN_COLUMNS).where(locker_tokens.c.locker_id == locker_id)
    if since is not None:
        query = query.where(locker_tokens.c.not_before >= since)
    return conn.execute(query.order_by(locker_tokens.c.not_before)).mappings().all()


def locker_tower_events(conn: Connection, locker_id: int, token_ids: Sequence[str],
                        since: datetime | None) -> Sequence[RowMapping]:
    """The tower's events naming the locker or one of its tokens (never the signed body)."""
    about = events.c.locker_id == locker_id
    if token_ids:
        about = about | events.c.token_id.in_(token_ids)
    query = select(events.c.tower_id, events.c.seq, events.c.type, events.c.locker_id,
                   events.c.token_id, events.c.timestamp, events.c.outcome,
                   events.c.received_at).where(about)
    if since is not None:
        query = query.where(events.c.received_at >= since)
    return conn.execute(query.order_by(events.c.received_at, events.c.seq)).mappings().all()


def locker_partner_events(conn: Connection, locker_id: int, since: datetime | None
                          ) -> Sequence[RowMapping]:
    """The outbox rows about the locker: its state changes and what partners were told."""
    query = select(outbox.c.id, outbox.c.partner_id, outbox.c.position, outbox.c.type,
                   outbox.c.occurred_at, outbox.c.data, outbox.c.dispatched_at
                   ).where(outbox.c.locker_id == locker_id)
    if since is not None:
        query = query.where(outbox.c.occurred_at >= since)
    return conn.execute(query.order_by(outbox.c.occurred_at, outbox.c.id)).mappings().all()


def locker_deliveries(conn: Connection, locker_id: int, since: datetime | None
                      ) -> Sequence[RowMapping]:
    """Webhook deliveries of the locker's outbox events (``webhook-id`` names the event)."""
    message = (cast("msg_", String) + cast(outbox.c.partner_id, String) + "_"
               + cast(outbox.c.position, String) + "_" + webhook_deliveries.c.endpoint_id)
    query = (select(webhook_deliveries.c.id, webhook_deliveries.c.endpoint_id,
                    webhook_deliveries.c.type, webhook_deliveries.c.status,
                    webhook_deliveries.c.attempts, webhook_deliveries.c.last_status_code,
                    webhook_deliveries.c.created_at, webhook_deliveries.c.delivered_at,
                    webhook_endpoints.c.url, webhook_endpoints.c.partner_id)
             .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
             .join(outbox, and_(outbox.c.partner_id == webhook_endpoints.c.partner_id,
                                webhook_deliveries.c.message_id == message))
             .where(outbox.c.locker_id == locker_id))
    if since is not None:
        query = query.where(outbox.c.occurred_at >= since)
    return conn.execute(query.order_by(webhook_deliveries.c.id)).mappings().all()
