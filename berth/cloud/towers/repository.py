"""Tower rows and their partner assignments: one place for the SQL, no rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from berth.cloud.tables import tower_liveness, tower_partners, towers

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


def lock_tower(conn: Connection, tower_id: str) -> None:
    """Hold the tower's row until commit (PostgreSQL; SQLite's writers are serialised anyway)."""
    conn.execute(select(towers.c.id).where(towers.c.id == tower_id).with_for_update())


def all_towers(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(*TOWER_PUBLIC_COLUMNS).order_by(towers.c.id)).mappings().all()


def insert_tower(conn: Connection, tower_id: str, name: str, public_key: bytes,
                 private_key_sealed: bytes, now: datetime) -> None:
    """Insert a tower (a taken id raises ``IntegrityError``)."""
    conn.execute(insert(towers).values(id=tower_id, name=name, public_key=public_key,
                                       private_key_sealed=private_key_sealed, created_at=now))


def set_assignment(conn: Connection, tower_id: str, partner_id: int, assigned: bool) -> None:
    """Make the (tower, partner) pair exist or not, whatever it was."""
    conn.execute(delete(tower_partners).where(tower_partners.c.tower_id == tower_id,
                                              tower_partners.c.partner_id == partner_id))
    if assigned:
        conn.execute(insert(tower_partners).values(tower_id=tower_id, partner_id=partner_id))


def tower_partner_ids(conn: Connection, tower_id: str) -> list[int]:
    """The partners a tower is assigned to, ascending."""
    query = select(tower_partners.c.partner_id).where(tower_partners.c.tower_id == tower_id)
    return list(conn.execute(query.order_by(tower_partners.c.partner_id)).scalars())


# ---- liveness: when the cloud last saw each tower sync --------------------------------------


def liveness(conn: Connection, tower_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(tower_liveness).where(tower_liveness.c.tower_id == tower_id)
    return conn.execute(query.with_for_update() if for_update else query).mappings().first()


def record_seen(conn: Connection, tower_id: str, now: datetime) -> None:
    """The tower synced at ``now``: it is online (a first sync creates its row)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(tower_liveness)
                 .values(tower_id=tower_id, last_seen_at=now, offline_since=None)
                 .on_conflict_do_update(index_elements=["tower_id"],
                                        set_={"last_seen_at": now, "offline_since": None}))


def silent_tower_ids(conn: Connection, seen_before: datetime, limit: int) -> list[str]:
    """Towers not seen since ``seen_before`` and not yet counted offline."""
    query = (select(tower_liveness.c.tower_id)
             .where(tower_liveness.c.last_seen_at <= seen_before,
                    tower_liveness.c.offline_since.is_(None))
             .order_by(tower_liveness.c.last_seen_at).limit(limit))
    return list(conn.execute(query).scalars())


def mark_offline(conn: Connection, tower_id: str, since: datetime) -> None:
    conn.execute(update(tower_liveness).where(tower_liveness.c.tower_id == tower_id)
                 .values(offline_since=since))
