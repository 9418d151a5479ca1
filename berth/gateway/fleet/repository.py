"""The fleet link's request ledger: which request ids arrived, and what was answered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from berth.gateway import tables as t
from berth.kit.clock import Clock
from berth.storage.engine import Database

_FR = t.fleet_requests


@dataclass(frozen=True)
class Claim:
    """``first``: this delivery executes the request; otherwise ``answer`` is the stored
    answer (None while the first delivery is still executing)."""

    first: bool
    answer: bytes | None = None


class FleetRequestRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def claim(self, request_id: str, operation: str) -> Claim:
        """Record a request as running unless it is known; one transaction either way."""
        try:
            with self.db.write() as conn:
                row = conn.execute(select(_FR.c.response).where(
                    _FR.c.request_id == request_id)).first()
                if row is not None:
                    return Claim(False, row.response.encode() if row.response else None)
                conn.execute(insert(_FR).values(
                    request_id=request_id, operation=operation, state="running",
                    received_at=self.clock()))
                return Claim(True)
        except IntegrityError:  # another connection inserted it first (PostgreSQL)
            return Claim(False, self.answer(request_id))

    def answer(self, request_id: str) -> bytes | None:
        with self.db.read() as conn:
            value = conn.execute(select(_FR.c.response).where(
                _FR.c.request_id == request_id)).scalar()
        return value.encode() if value else None

    def finish(self, request_id: str, state: str, response: bytes) -> None:
        with self.db.write() as conn:
            conn.execute(update(_FR).where(_FR.c.request_id == request_id).values(
                state=state, response=response.decode(), answered_at=self.clock()))

    def unfinished(self) -> list[str]:
        with self.db.read() as conn:
            return list(conn.execute(select(_FR.c.request_id).where(
                _FR.c.state == "running")).scalars())
