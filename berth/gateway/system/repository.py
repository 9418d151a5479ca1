"""The log, lock controllers and device heartbeats: reads and writes, no rules.

``write_log`` is the one way any repository records a log entry inside its own transaction, so a
state change and its entry commit together.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from berth.gateway import tables as t
from berth.gateway.system.schemas import LogFilter
from berth.kit.clock import Clock
from berth.storage.engine import Database

_INSERT_LOG = insert(t.log_entries)


def write_log(conn: Connection, timestamp: datetime, level: str, event: str, message: str, *,
              locker_id: int | None = None, transaction_id: str | None = None,
              details: dict | None = None) -> None:
    """Record a state change inside the caller's transaction, so both commit together."""
    conn.execute(_INSERT_LOG, {
        "timestamp": timestamp, "level": level, "event": event, "message": message,
        "locker_id": locker_id, "transaction_id": transaction_id,
        "details": json.dumps(details, default=str) if details else None})


class SystemRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def log(self, level: str, event: str, message: str, *, timestamp: datetime | None = None,
            **fields: Any) -> None:
        """One log entry in its own transaction (the audit subscriber's entries)."""
        with self.db.write() as conn:
            write_log(conn, timestamp or self.clock(), level, event, message, **fields)

    def list_logs(self, flt: LogFilter) -> tuple[list[Row], int]:
        le = t.log_entries
        conds = []
        if flt.level:
            conds.append(le.c.level == flt.level)
        if flt.locker_id is not None:
            conds.append(le.c.locker_id == flt.locker_id)
        if flt.transaction_id is not None:
            conds.append(le.c.transaction_id == flt.transaction_id)
        if flt.since is not None:
            conds.append(le.c.timestamp >= t.to_utc(flt.since))
        if flt.until is not None:
            conds.append(le.c.timestamp < t.to_utc(flt.until))
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(le).where(where)).scalar_one()
            # newest first by when it happened: door entries are written a moment after the
            # fact by the audit subscriber (stamped with the event's time), so ids can lag
            rows = conn.execute(select(le).where(where)
                                .order_by(le.c.timestamp.desc(), le.c.id.desc())
                                .limit(flt.limit).offset(flt.offset)).all()
        return list(rows), total

    def list_controllers(self) -> list[Row]:
        c, lk = t.controllers, t.lockers
        count = (select(func.count()).where(lk.c.controller_id == c.c.id)
                 .scalar_subquery().label("locker_count"))
        with self.db.read() as conn:
            return list(conn.execute(select(c, count).order_by(c.c.id)).all())

    def record_heartbeat(self, device_id: str, device_type: str, status: str,
                         version: str | None, details: dict | None) -> bool:
        """Upsert a device's last heartbeat; returns True when the device is new."""
        hb, now = t.heartbeats, self.clock()
        payload = json.dumps(details) if details else None
        with self.db.write() as conn:
            done = conn.execute(update(hb).where(hb.c.device_id == device_id).values(
                device_type=device_type, status=status, version=version, details=payload,
                last_seen=now, count=hb.c.count + 1)).rowcount
            if not done:
                conn.execute(insert(hb).values(
                    device_id=device_id, device_type=device_type, status=status,
                    version=version, details=payload, first_seen=now, last_seen=now, count=1))
                write_log(conn, now, "info", "DEVICE_REGISTERED",
                          f"First heartbeat from {device_type} {device_id}",
                          details={"deviceId": device_id, "status": status})
            else:
                write_log(conn, now, "debug", "DEVICE_HEARTBEAT",
                          f"Heartbeat from {device_type} {device_id}: {status}",
                          details={"deviceId": device_id, "status": status})
        return not done

    def list_devices(self) -> list[Row]:
        with self.db.read() as conn:
            return list(conn.execute(select(t.heartbeats)
                                     .order_by(t.heartbeats.c.last_seen.desc())).all())
