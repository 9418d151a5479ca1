"""Client rows: look-ups and inserts, no rules (the service decides what a login means)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from berth.cloud.tables import clients


def client(conn: Connection, client_id: str) -> RowMapping | None:
    return conn.execute(select(clients).where(clients.c.client_id == client_id)).mappings().first()


def insert_client(conn: Connection, client_id: str, partner_id: int | None, secret_hash: str,
                  scopes: Sequence[str], now: datetime) -> None:
    conn.execute(insert(clients).values(client_id=client_id, partner_id=partner_id,
                                        secret_hash=secret_hash, scopes=" ".join(scopes),
                                        created_at=now))


def replace_secret_hash(conn: Connection, client_id: str, old: str, new: str) -> None:
    """Store a rehashed secret, unless the secret changed meanwhile."""
    conn.execute(update(clients).where(clients.c.client_id == client_id,
                                       clients.c.secret_hash == old).values(secret_hash=new))
