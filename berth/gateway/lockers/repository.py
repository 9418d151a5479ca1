"""Lockers in storage: list and read them with the transaction holding each, set service state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, and_, func, select, update

from berth.gateway import tables as t
from berth.gateway.system.repository import write_log
from berth.kit.clock import Clock
from berth.storage.engine import Database


def _with_holder() -> Select:
    """Each locker with ``transaction_id``: the open transaction holding it, if any."""
    lk, tx = t.lockers, t.transactions
    return select(lk, tx.c.transaction_id).select_from(
        lk.outerjoin(tx, and_(tx.c.locker_id == lk.c.id, tx.c.released_at.is_(None))))


class LockerRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def list_page(self, *, type_id: int | None = None, bank_id: int | None = None,
                  available: bool | None = None, out_of_service: bool | None = None,
                  limit: int = 1000, offset: int = 0) -> tuple[list[Row], int]:
        lk = t.lockers
        conds = []
        if type_id is not None:
            conds.append(lk.c.locker_type_id == type_id)
        if bank_id is not None:
            conds.append(lk.c.bank_id == bank_id)
        if out_of_service is not None:
            conds.append(lk.c.out_of_service.is_(out_of_service))
        if available is not None:
            free = and_(lk.c.held.is_(False), lk.c.out_of_service.is_(False),
                        lk.c.operational.is_(True), lk.c.door_open.is_not(None))
            conds.append(free if available else ~free)
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(lk).where(where)).scalar_one()
            rows = conn.execute(_with_holder().where(where).order_by(lk.c.id)
                                .limit(limit).offset(offset)).all()
        return list(rows), total

    def get(self, locker_id: int) -> Row | None:
        with self.db.read() as conn:
            return conn.execute(_with_holder().where(t.lockers.c.id == locker_id)).first()

    def set_service(self, locker_id: int, out_of_service: bool, reason_code: str | None,
                    reason: str | None) -> Row | None:
        now = self.clock()
        with self.db.write() as conn:
            values: dict[str, Any] = {"out_of_service": out_of_service, "updated_at": now,
                                      "service_reason_code": None, "service_reason": None}
            if out_of_service:
                values |= {"service_reason_code": reason_code or "OUT_OF_SERVICE",
                           "service_reason": reason}
            done = conn.execute(update(t.lockers).where(t.lockers.c.id == locker_id)
                                .values(**values)).rowcount
            if not done:
                return None
            if out_of_service:
                write_log(conn, now, "warning", "LOCKER_OUT_OF_SERVICE",
                          f"Locker {locker_id} taken out of service: "
                          f"{values['service_reason_code']}", locker_id=locker_id,
                          details={"reasonCode": values["service_reason_code"],
                                   "reason": reason})
            else:
                write_log(conn, now, "info", "LOCKER_IN_SERVICE",
                          f"Locker {locker_id} returned to service", locker_id=locker_id)
            return conn.execute(_with_holder().where(t.lockers.c.id == locker_id)).first()
