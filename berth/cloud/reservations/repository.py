"""Reservation rows: one place for the SQL, no rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from berth.cloud.tables import reservations


def insert_reservation(conn: Connection, reservation_id: str, locker_id: int, partner_id: int,
                       now: datetime, expires: datetime) -> None:
    """An active reservation (a second active one on the locker raises ``IntegrityError``)."""
    conn.execute(insert(reservations).values(
        id=reservation_id, locker_id=locker_id, partner_id=partner_id, status="active",
        created_at=now, expires_at=expires))


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
