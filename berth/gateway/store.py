"""The gateway's storage: every read and write of gateway state, in SQLAlchemy Core.

The hot path (``create_batch``) runs many create requests in ONE write transaction with a
savepoint per item, so a durable commit is shared by a whole batch (group commit). The claim is a
single ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING id``; on PostgreSQL the sub-select
adds ``FOR UPDATE SKIP LOCKED`` so concurrent claimers pass each other, on SQLite ``BEGIN
IMMEDIATE`` serialises writers. Unique indexes (transaction id; one open transaction per locker)
make the database itself refuse any double assignment; a lost race is retried a few times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from berth.clock import Clock, utcnow
from berth.domain.matching import Tier
from berth.gateway import tables as t
from berth.gateway.site import Site
from berth.storage.engine import Database

CLAIM_ATTEMPTS = 5
_SITE_SYNC_LOCK = 0x62657274687379  # any constant shared by all gateway processes


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def to_utc(value: datetime | None) -> datetime | None:
    """Filters may come with any offset; SQLite compares stored UTC text, so convert first."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class CreateCommand:
    transaction_id: str
    tiers: tuple[Tier, ...]
    request_json: str


@dataclass(frozen=True)
class TransactionRecord:
    transaction_id: str
    locker_id: int
    created_at: datetime
    released_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> TransactionRecord:
        return cls(row.transaction_id, row.locker_id, as_utc(row.created_at),
                   as_utc(row.released_at))


@dataclass(frozen=True)
class CreateOutcome:
    """``kind``: created | duplicate | no_locker | conflict."""

    kind: str
    record: TransactionRecord | None = None


@dataclass(frozen=True)
class LogFilter:
    level: str | None = None
    locker_id: int | None = None
    transaction_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


#: A locker whose door state is unknown (its controller missed a poll) is never assigned.
_ASSIGNABLE = f"{t.FREE_LOCKER} AND door_open IS NOT NULL"


def _claim_sql(postgres: bool) -> Any:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return text(
        f"UPDATE lockers SET occupied = true, updated_at = :now "
        f"WHERE id = (SELECT id FROM lockers WHERE locker_type_id = :type_id "
        f"AND (attr_mask & :mask) = :mask AND {_ASSIGNABLE} ORDER BY id LIMIT 1{lock}) "
        f"AND {_ASSIGNABLE} RETURNING id"
    )


_TX_COLUMNS = (t.transactions.c.transaction_id, t.transactions.c.locker_id,
               t.transactions.c.created_at, t.transactions.c.released_at)
_SELECT_TX = text(
    "SELECT transaction_id, locker_id, created_at, released_at FROM transactions "
    "WHERE transaction_id = :tid"
).columns(*_TX_COLUMNS)
_INSERT_TX = insert(t.transactions)
_INSERT_LOG = insert(t.log_entries)


class GatewayStore:
    def __init__(self, db: Database, site: Site, clock: Clock = utcnow) -> None:
        self.db = db
        self.site = site
        self.clock = clock
        self._claim = _claim_sql(not db.sqlite)

    # --- logging ----------------------------------------------------------------------------

    def log_in(self, conn: Connection, level: str, event: str, message: str, *,
               locker_id: int | None = None, transaction_id: str | None = None,
               details: dict | None = None, timestamp: datetime | None = None) -> None:
        """Record a state change inside the caller's transaction, so both commit together."""
        conn.execute(_INSERT_LOG, {
            "timestamp": timestamp or self.clock(), "level": level, "event": event,
            "message": message,
            "locker_id": locker_id, "transaction_id": transaction_id,
            "details": json.dumps(details, default=str) if details else None})

    def log(self, level: str, event: str, message: str, **kw: Any) -> None:
        with self.db.write() as conn:
            self.log_in(conn, level, event, message, **kw)

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
            conds.append(le.c.timestamp >= to_utc(flt.since))
        if flt.until is not None:
            conds.append(le.c.timestamp < to_utc(flt.until))
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(le).where(where)).scalar_one()
            # newest first by when it happened: door entries are written a moment after the
            # fact by the audit subscriber (stamped with the event's time), so ids can lag
            rows = conn.execute(select(le).where(where)
                                .order_by(le.c.timestamp.desc(), le.c.id.desc())
                                .limit(flt.limit).offset(flt.offset)).all()
        return list(rows), total

    # --- site -------------------------------------------------------------------------------

    def sync_site(self) -> None:
        """Upsert the site's static rows; dynamic flags of existing lockers are kept."""
        now = self.clock()
        site = self.site
        with self.db.write() as conn:
            if not self.db.sqlite:  # several processes may start at once; upserts must not race
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SITE_SYNC_LOCK})
            for type_id, lt in site.locker_types:
                _upsert(conn, t.locker_types, {"id": type_id}, {
                    "slug": lt.slug, "name": lt.name, "width_in": lt.width,
                    "height_in": lt.height, "depth_in": lt.depth}, {"created_at": now})
            for bt_id, bt in site.bank_types:
                _upsert(conn, t.bank_types, {"id": bt_id}, {
                    "key": bt.key, "friendly_name": bt.friendly_name,
                    "description": bt.description, "is_debug": bt.is_debug},
                    {"created_at": now})
                for number, slot in bt.associations.items():
                    _upsert(conn, t.bank_type_associations,
                            {"bank_type_id": bt_id, "bank_locker_number": number},
                            {"locker_type_id": site.type_ids[slot.type]}, {})
            for bank_id, bank in site.banks:
                ctl = bank.controller
                _upsert(conn, t.controllers, {"id": ctl.id}, {
                    "protocol": ctl.protocol, "url": ctl.url, "address": ctl.address,
                    "channels": ctl.channels}, {"online": True, "updated_at": now})
                _upsert(conn, t.banks, {"id": bank_id}, {
                    "name": bank.name, "bank_type_id": site.bank_type_ids[bank.bank_type],
                    "controller_id": ctl.id}, {})
            for lk in site.lockers:
                _upsert(conn, t.lockers, {"id": lk.id}, {
                    "bank_id": lk.bank_id, "bank_locker_number": lk.bank_locker_number,
                    "locker_type_id": lk.type_id, "controller_id": lk.controller_id,
                    "channel": lk.channel, "attributes": ",".join(lk.attributes),
                    "attr_mask": lk.attr_mask}, {
                    "occupied": False, "out_of_service": False, "operational": True,
                    "door_open": False, "updated_at": now})
            stale = conn.execute(
                update(t.lockers).where(t.lockers.c.id > len(site.lockers),
                                        t.lockers.c.out_of_service.is_(False))
                .values(out_of_service=True, service_reason_code="NOT_IN_SITE",
                        service_reason="Locker is not part of the current site file",
                        updated_at=now)).rowcount
            self.log_in(conn, "info", "SITE_LOADED",
                        f"Site {site.name!r} loaded: {len(site.lockers)} lockers",
                        details={"lockers": len(site.lockers), "removedLockers": stale})

    # --- transactions -----------------------------------------------------------------------

    def create_batch(self, commands: Sequence[CreateCommand]) -> list[CreateOutcome]:
        """Run many creates in one write transaction: one durable commit for the whole batch."""
        with self.db.write() as conn:
            return [self._create_one(conn, cmd) for cmd in commands]

    def _create_one(self, conn: Connection, cmd: CreateCommand) -> CreateOutcome:
        for _attempt in range(CLAIM_ATTEMPTS):
            savepoint = conn.begin_nested()
            try:
                existing = conn.execute(_SELECT_TX, {"tid": cmd.transaction_id}).first()
                if existing is not None:
                    savepoint.commit()
                    return CreateOutcome("duplicate", TransactionRecord.from_row(existing))
                now = self.clock()
                locker_id = None
                for tier in cmd.tiers:
                    locker_id = conn.execute(self._claim, {
                        "now": now, "type_id": tier.type_id, "mask": tier.mask}).scalar()
                    if locker_id is not None:
                        break
                if locker_id is None:
                    savepoint.commit()
                    return CreateOutcome("no_locker")
                conn.execute(_INSERT_TX, {"transaction_id": cmd.transaction_id,
                                          "locker_id": locker_id, "created_at": now,
                                          "released_at": None, "request": cmd.request_json})
                self.log_in(conn, "info", "TRANSACTION_CREATED",
                            f"Locker {locker_id} assigned to transaction {cmd.transaction_id}",
                            locker_id=locker_id, transaction_id=cmd.transaction_id)
                savepoint.commit()
                return CreateOutcome("created",
                                     TransactionRecord(cmd.transaction_id, locker_id, now, None))
            except (IntegrityError, DBAPIError) as exc:
                # Lost a race: the id was taken meanwhile (-> duplicate), or the locker was
                # (unique open-transaction index, deadlock victim): try the plan again.
                savepoint.rollback()
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    raise
                existing = conn.execute(_SELECT_TX, {"tid": cmd.transaction_id}).first()
                if existing is not None:
                    return CreateOutcome("duplicate", TransactionRecord.from_row(existing))
        return CreateOutcome("conflict")

    def get_transaction(self, transaction_id: str) -> TransactionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
        return TransactionRecord.from_row(row) if row else None

    def list_transactions(self, *, status: str = "active", locker_id: int | None = None,
                          since: datetime | None = None, until: datetime | None = None,
                          limit: int = 100, offset: int = 0
                          ) -> tuple[list[TransactionRecord], int]:
        tx = t.transactions
        conds = []
        if status == "active":
            conds.append(tx.c.released_at.is_(None))
        elif status == "released":
            conds.append(tx.c.released_at.is_not(None))
        if locker_id is not None:
            conds.append(tx.c.locker_id == locker_id)
        if since is not None:
            conds.append(tx.c.created_at >= to_utc(since))
        if until is not None:
            conds.append(tx.c.created_at < to_utc(until))
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(tx).where(where)).scalar_one()
            rows = conn.execute(select(*_TX_COLUMNS).where(where).order_by(tx.c.id)
                                .limit(limit).offset(offset)).all()
        return [TransactionRecord.from_row(r) for r in rows], total

    def hold_locker(self, locker_id: int, transaction_id: str, holder: str) -> bool:
        """Hold one named locker for an outside owner (a cloud parcel) as an open transaction.

        False when the locker is taken or unusable, so local assignment and the outside owner
        never share a locker. Holding again under the same id is a no-op that answers True.
        """
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
            if row is not None:
                return row.released_at is None and row.locker_id == locker_id
            taken = conn.execute(text(
                "UPDATE lockers SET occupied = true, updated_at = :now "
                "WHERE id = :id AND occupied = false RETURNING id"),
                {"now": now, "id": locker_id}).first()
            if taken is None:
                return False
            conn.execute(_INSERT_TX, {"transaction_id": transaction_id, "locker_id": locker_id,
                                      "created_at": now, "released_at": None,
                                      "request": json.dumps({"holder": holder})})
            self.log_in(conn, "info", "LOCKER_HELD",
                        f"Locker {locker_id} held for {holder} as {transaction_id}",
                        locker_id=locker_id, transaction_id=transaction_id)
        return True

    def release_transaction(self, transaction_id: str
                            ) -> tuple[TransactionRecord | None, bool]:
        """Release and free the locker; a released transaction stays (ids are never reused).

        The flag says whether this call released it (False: unknown or released before).
        """
        tx = t.transactions
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
            if row is None or row.released_at is not None:
                return (TransactionRecord.from_row(row) if row else None), False
            conn.execute(update(tx).where(tx.c.transaction_id == transaction_id)
                         .values(released_at=now))
            conn.execute(update(t.lockers).where(t.lockers.c.id == row.locker_id)
                         .values(occupied=False, updated_at=now))
            self.log_in(conn, "info", "TRANSACTION_RELEASED",
                        f"Transaction {transaction_id} released; locker {row.locker_id} is free",
                        locker_id=row.locker_id, transaction_id=transaction_id)
        return TransactionRecord(row.transaction_id, row.locker_id, as_utc(row.created_at),
                                 now), True

    # --- lockers ----------------------------------------------------------------------------

    def _locker_query(self):  # type: ignore[no-untyped-def]
        lk, tx = t.lockers, t.transactions
        return select(lk, tx.c.transaction_id).select_from(
            lk.outerjoin(tx, and_(tx.c.locker_id == lk.c.id, tx.c.released_at.is_(None))))

    def list_lockers(self, *, type_id: int | None = None, bank_id: int | None = None,
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
            free = and_(lk.c.occupied.is_(False), lk.c.out_of_service.is_(False),
                        lk.c.operational.is_(True), lk.c.door_open.is_not(None))
            conds.append(free if available else ~free)
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(lk).where(where)).scalar_one()
            rows = conn.execute(self._locker_query().where(where).order_by(lk.c.id)
                                .limit(limit).offset(offset)).all()
        return list(rows), total

    def get_locker(self, locker_id: int) -> Row | None:
        with self.db.read() as conn:
            return conn.execute(self._locker_query().where(t.lockers.c.id == locker_id)).first()

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
                self.log_in(conn, "warning", "LOCKER_OUT_OF_SERVICE",
                            f"Locker {locker_id} taken out of service: "
                            f"{values['service_reason_code']}", locker_id=locker_id,
                            details={"reasonCode": values["service_reason_code"],
                                     "reason": reason})
            else:
                self.log_in(conn, "info", "LOCKER_IN_SERVICE",
                            f"Locker {locker_id} returned to service", locker_id=locker_id)
            return conn.execute(self._locker_query().where(t.lockers.c.id == locker_id)).first()

    def set_fault(self, locker_id: int, code: str, reason: str) -> None:
        """Mark a locker's hardware faulty (never assigned until it opens successfully)."""
        with self.db.write() as conn:
            conn.execute(update(t.lockers).where(t.lockers.c.id == locker_id).values(
                operational=False, fault_code=code, fault_reason=reason,
                updated_at=self.clock()))
            self.log_in(conn, "error", "LOCKER_FAULT", f"Locker {locker_id}: {reason}",
                        locker_id=locker_id, details={"reasonCode": code})

    def clear_fault(self, locker_id: int, code: str) -> bool:
        """Clear the fault ``code``; True when the locker had it (it is assignable again)."""
        lk = t.lockers
        with self.db.write() as conn:
            done = conn.execute(update(lk).where(lk.c.id == locker_id, lk.c.fault_code == code)
                                .values(operational=True, fault_code=None, fault_reason=None,
                                        updated_at=self.clock())).rowcount
            if done:
                self.log_in(conn, "info", "LOCKER_OPERATIONAL",
                            f"Locker {locker_id} works again (cleared {code})",
                            locker_id=locker_id)
        return bool(done)

    def record_open(self, locker_id: int, *, success: bool, door_open: bool | None, message: str,
                    reason_code: str | None, transaction_id: str | None, source: str) -> None:
        """Log an open attempt's outcome and keep ``doorOpen`` current in one transaction."""
        lk = t.lockers
        with self.db.write() as conn:
            if success:
                conn.execute(update(lk).where(lk.c.id == locker_id)
                             .values(door_open=True, updated_at=self.clock()))
            self.log_in(conn, "info" if success else "error",
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
            open_tx = None
            if locker_id is not None:
                open_tx = conn.execute(select(t.transactions.c.transaction_id).where(
                    t.transactions.c.locker_id == locker_id,
                    t.transactions.c.released_at.is_(None))).scalar()
        return locker_id, open_tx

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

    # --- controllers, devices ---------------------------------------------------------------

    def list_controllers(self) -> list[Row]:
        c, lk = t.controllers, t.lockers
        count = (select(func.count()).where(lk.c.controller_id == c.c.id)
                 .scalar_subquery().label("locker_count"))
        with self.db.read() as conn:
            return list(conn.execute(select(c, count).order_by(c.c.id)).all())

    def locker_counts(self) -> tuple[dict[int, int], dict[int, int]]:
        """Lockers per locker type and per bank type."""
        lk = t.lockers
        with self.db.read() as conn:
            by_type = dict(conn.execute(select(lk.c.locker_type_id, func.count())
                                        .group_by(lk.c.locker_type_id)).all())
        by_bank_type: dict[int, int] = {}
        for bt_id, bt in self.site.bank_types:
            banks = sum(1 for _, bank in self.site.banks if bank.bank_type == bt.key)
            by_bank_type[bt_id] = banks * len(bt.associations)
        return by_type, by_bank_type

    def created_at(self, table: Any, row_id: int) -> datetime:
        with self.db.read() as conn:
            value = conn.execute(select(table.c.created_at).where(table.c.id == row_id)).scalar()
        return as_utc(value) or self.clock()

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
                self.log_in(conn, "info", "DEVICE_REGISTERED",
                            f"First heartbeat from {device_type} {device_id}",
                            details={"deviceId": device_id, "status": status})
            else:
                self.log_in(conn, "debug", "DEVICE_HEARTBEAT",
                            f"Heartbeat from {device_type} {device_id}: {status}",
                            details={"deviceId": device_id, "status": status})
        return not done

    def list_devices(self) -> list[Row]:
        with self.db.read() as conn:
            return list(conn.execute(select(t.heartbeats)
                                     .order_by(t.heartbeats.c.last_seen.desc())).all())


def _upsert(conn: Connection, table: Any, key: dict, values: dict, defaults: dict) -> None:
    where = [table.c[k] == v for k, v in key.items()]
    if not conn.execute(update(table).where(*where).values(**values)).rowcount:
        conn.execute(insert(table).values(**key, **values, **defaults))
