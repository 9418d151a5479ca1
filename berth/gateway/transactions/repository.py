"""Transactions in storage: create in batches, read, list, hold for an outside owner, release.

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
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from berth.gateway import tables as t
from berth.gateway.system.repository import write_log
from berth.gateway.transactions.schemas import CreateCommand, CreateOutcome, TransactionRecord
from berth.kit.clock import Clock
from berth.storage.engine import Database

CLAIM_ATTEMPTS = 5

#: A locker whose door state is unknown (its controller missed a poll) is never assigned.
_ASSIGNABLE = f"{t.FREE_LOCKER} AND door_open IS NOT NULL"


def _claim_sql(postgres: bool) -> Any:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return text(
        f"UPDATE lockers SET held = true, updated_at = :now "
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
_HOLD = text("UPDATE lockers SET held = true, updated_at = :now "
             "WHERE id = :id AND held = false RETURNING id")


def _record(row: Row) -> TransactionRecord:
    return TransactionRecord(row.transaction_id, row.locker_id, t.as_utc(row.created_at),
                             t.as_utc(row.released_at))


class TransactionRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._claim = _claim_sql(not db.sqlite)

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
                    return CreateOutcome("duplicate", _record(existing))
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
                write_log(conn, now, "info", "TRANSACTION_CREATED",
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
                    return CreateOutcome("duplicate", _record(existing))
        return CreateOutcome("conflict")

    def get(self, transaction_id: str) -> TransactionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
        return _record(row) if row else None

    def list_page(self, *, status: str = "active", locker_id: int | None = None,
             since: datetime | None = None, until: datetime | None = None,
             limit: int = 100, offset: int = 0) -> tuple[list[TransactionRecord], int]:
        tx = t.transactions
        conds = []
        if status == "active":
            conds.append(tx.c.released_at.is_(None))
        elif status == "released":
            conds.append(tx.c.released_at.is_not(None))
        if locker_id is not None:
            conds.append(tx.c.locker_id == locker_id)
        if since is not None:
            conds.append(tx.c.created_at >= t.to_utc(since))
        if until is not None:
            conds.append(tx.c.created_at < t.to_utc(until))
        where = and_(True, *conds)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(tx).where(where)).scalar_one()
            rows = conn.execute(select(*_TX_COLUMNS).where(where).order_by(tx.c.id)
                                .limit(limit).offset(offset)).all()
        return [_record(r) for r in rows], total

    def hold(self, locker_id: int, transaction_id: str, holder: str) -> bool:
        """Hold one named locker as an open transaction; False when it is held already.

        Holding again under the same id answers whether that id holds this locker.
        """
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
            if row is not None:
                return row.released_at is None and row.locker_id == locker_id
            if conn.execute(_HOLD, {"now": now, "id": locker_id}).first() is None:
                return False
            conn.execute(_INSERT_TX, {"transaction_id": transaction_id, "locker_id": locker_id,
                                      "created_at": now, "released_at": None,
                                      "request": json.dumps({"holder": holder})})
            write_log(conn, now, "info", "LOCKER_HELD",
                      f"Locker {locker_id} held for {holder} as {transaction_id}",
                      locker_id=locker_id, transaction_id=transaction_id)
        return True

    def release(self, transaction_id: str) -> tuple[TransactionRecord | None, bool]:
        """Release and free the locker; a released transaction stays (ids are never reused).

        The flag says whether this call released it (False: unknown or released before).
        """
        tx = t.transactions
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(_SELECT_TX, {"tid": transaction_id}).first()
            if row is None or row.released_at is not None:
                return (_record(row) if row else None), False
            conn.execute(update(tx).where(tx.c.transaction_id == transaction_id)
                         .values(released_at=now))
            conn.execute(update(t.lockers).where(t.lockers.c.id == row.locker_id)
                         .values(held=False, updated_at=now))
            write_log(conn, now, "info", "TRANSACTION_RELEASED",
                      f"Transaction {transaction_id} released; locker {row.locker_id} is free",
                      locker_id=row.locker_id, transaction_id=transaction_id)
        return TransactionRecord(row.transaction_id, row.locker_id, t.as_utc(row.created_at),
                                 now), True
