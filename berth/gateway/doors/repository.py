"""Door and hardware state of lockers: sensor readings, open attempts, faults, reachability."""

from __future__ import annotations

from sqlalchemy import select, update

from berth.gateway import tables as t
from berth.gateway.system.repository import write_log
from berth.kit.clock import Clock
from berth.storage.engine import Database


class DoorRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def set_fault(self, locker_id: int, code: str, reason: str) -> None:
        """Mark a locker's hardware faulty (never assigned until it opens successfully)."""
        now = self.clock()
        with self.db.write() as conn:
            conn.execute(update(t.lockers).where(t.lockers.c.id == locker_id).values(
                operational=False, fault_code=code, fault_reason=reason, updated_at=now))
            write_log(conn, now, "error", "LOCKER_FAULT", f"Locker {locker_id}: {reason}",
                      locker_id=locker_id, details={"reasonCode": code})

    def clear_fault(self, locker_id: int, code: str) -> bool:
        """Clear the fault ``code``; True when the locker had it (it is assignable again)."""
        lk, now = t.lockers, self.clock()
        with self.db.write() as conn:
            done = conn.execute(update(lk).where(lk.c.id == locker_id, lk.c.fault_code == code)
                                .values(operational=True, fault_code=None, fault_reason=None,
                                        updated_at=now)).rowcount
            if done:
                write_log(conn, now, "info", "LOCKER_OPERATIONAL",
                          f"Locker {locker_id} works again (cleared {code})", locker_id=locker_id)
        return bool(done)

    def record_open(self, locker_id: int, *, success: bool, door_open: bool | None, message: str,
                    reason_code: str | None, transaction_id: str | None, source: str) -> None:
        """Log an open attempt's outcome and keep ``doorOpen`` current in one transaction."""
        lk, now = t.lockers, self.clock()
        with self.db.write() as conn:
            if success:
                conn.execute(update(lk).where(lk.c.id == locker_id)
                             .values(door_open=True, updated_at=now))
            write_log(conn, now, "info" if success else "error",
                      "LOCKER_OPENED" if success else "LOCKER_OPEN_FAILED",
                      f"Locker {locker_id}: {message}", locker_id=locker_id,
                      transaction_id=transaction_id,
                      details={"source": source, "reasonCode": reason_code,
                               "doorOpen": door_open})

    def set_door(self, controller_id: str, channel: int, door_open: bool | None
                 ) -> tuple[int | None, str | None]:
        """Record a door sensor change of one channel (the audit log hears it on the event bus).

        Returns the locker id, if any, and the open transaction holding that locker, if any.
        """
        lk = t.lockers
        with self.db.write() as conn:
            locker_id = conn.execute(
                update(lk).where(lk.c.controller_id == controller_id, lk.c.channel == channel)
                .values(door_open=door_open, updated_at=self.clock()).returning(lk.c.id)
            ).scalar()
            holder = None
            if locker_id is not None:
                holder = conn.execute(select(t.transactions.c.transaction_id).where(
                    t.transactions.c.locker_id == locker_id,
                    t.transactions.c.released_at.is_(None))).scalar()
        return locker_id, holder

    def set_doors(self, controller_id: str, doors: dict[int, bool | None] | None) -> None:
        """Every door of a controller at once: unknown (``None``) or each channel's reading."""
        lk, now = t.lockers, self.clock()
        with self.db.write() as conn:
            if doors is None:
                conn.execute(update(lk).where(lk.c.controller_id == controller_id)
                             .values(door_open=None, updated_at=now))
            for channel, door_open in (doors or {}).items():
                conn.execute(update(lk).where(lk.c.controller_id == controller_id,
                                              lk.c.channel == channel)
                             .values(door_open=door_open, updated_at=now))

    def set_controller_online(self, controller_id: str, online: bool, message: str) -> None:
        """Controller reachability drives ``operational`` of all its lockers (the audit log
        hears it on the event bus)."""
        lk, now = t.lockers, self.clock()
        with self.db.write() as conn:
            conn.execute(update(t.controllers).where(t.controllers.c.id == controller_id)
                         .values(online=online, updated_at=now))
            if online:
                conn.execute(update(lk).where(lk.c.controller_id == controller_id,
                                              lk.c.fault_code == "CONTROLLER_OFFLINE")
                             .values(operational=True, fault_code=None, fault_reason=None,
                                     updated_at=now))
            else:
                conn.execute(update(lk).where(lk.c.controller_id == controller_id)
                             .values(door_open=None, updated_at=now))
                conn.execute(update(lk).where(lk.c.controller_id == controller_id,
                                              lk.c.fault_code.is_(None))
                             .values(operational=False, fault_code="CONTROLLER_OFFLINE",
                                     fault_reason=message, updated_at=now))
