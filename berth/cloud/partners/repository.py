"""Partner rows: look-ups and inserts, no rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select

from berth.cloud.tables import partners, tower_partners


def partner(conn: Connection, partner_id: int) -> RowMapping | None:
    return conn.execute(select(partners).where(partners.c.id == partner_id)).mappings().first()


def partner_by_name(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(select(partners).where(partners.c.name == name)).mappings().first()


def all_partners(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(partners).order_by(partners.c.id)).mappings().all()


def insert_partner(conn: Connection, name: str, now: datetime) -> int:
    """Insert a partner; returns its id (a taken name raises ``IntegrityError``)."""
    result = conn.execute(insert(partners).values(name=name, created_at=now))
    return int(result.inserted_primary_key[0])


def names_of_tower(conn: Connection, tower_id: str) -> list[str]:
    """The names of the partners a tower is assigned to, sorted."""
    query = (select(partners.c.name)
             .join(tower_partners, tower_partners.c.partner_id == partners.c.id)
             .where(tower_partners.c.tower_id == tower_id).order_by(partners.c.name))
    return list(conn.execute(query).scalars())
