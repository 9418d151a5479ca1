"""The outbox dispatcher: hands committed events to consumers and marks them dispatched.

Claims are leases (``claimed_by``, ``lease_until``) taken in a short write transaction, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several cloud processes never claim the same rows
(SQLite serialises claimers with ``BEGIN IMMEDIATE``). A process that dies holding a claim loses
it when the lease runs out, and another takes the events over. Delivery is at least once: a
crash after a consumer took an event but before it was marked hands it over again, so
consumers deduplicate by ``(partner_id, position)``; without a crash each event goes out once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy import select, update

from berth.cloud.events.outbox import to_event
from berth.cloud.tables import outbox
from berth.contracts.cloud import PartnerEvent
from berth.kit.clock import Clock, utcnow
from berth.storage import Database

log = logging.getLogger("berth.cloud.dispatch")


@runtime_checkable
class Consumer(Protocol):
    """Takes one event; raising leaves it undispatched, to be handed over again later."""

    def handle(self, event: PartnerEvent) -> None: ...


class JsonLinesConsumer:
    """Appends each event as one JSON line to a file (fsynced): a log, and the test consumer."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def handle(self, event: PartnerEvent) -> None:
        line = event.model_dump_json() + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x]


def _process_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Dispatcher:
    db: Database
    consumers: Sequence[Consumer]
    clock: Clock = utcnow
    lease: float = 30.0  # seconds a claim holds before another process may take it over
    batch: int = 100
    name: str = field(default_factory=_process_name)

    def run_once(self) -> int:
        """Claim a batch, hand each event to every consumer in order, mark it; returns how many
        were dispatched. The first consumer failure stops the batch and frees the rest."""
        claimed = self._claim()
        done = 0
        for event_id, event in claimed:
            try:
                for consumer in self.consumers:
                    consumer.handle(event)
            except Exception:
                log.exception("outbox consumer failed on %s/%s; retrying later",
                              event.partner_id, event.position)
                self._release([i for i, _ in claimed[done:]])
                break
            self._mark(event_id)
            done += 1
        return done

    def _claim(self) -> list[tuple[int, PartnerEvent]]:
        now = self.clock()
        free = (outbox.c.lease_until.is_(None)) | (outbox.c.lease_until < now)
        query = (select(outbox).where(outbox.c.dispatched_at.is_(None), free)
                 .order_by(outbox.c.id).limit(self.batch))
        with self.db.write() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).mappings().all()
            if not rows:
                return []
            ids = [r["id"] for r in rows]
            conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
                claimed_by=self.name, lease_until=now + timedelta(seconds=self.lease)))
        return [(r["id"], to_event(r)) for r in rows]

    def _mark(self, event_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(update(outbox)
                         .where(outbox.c.id == event_id, outbox.c.claimed_by == self.name)
                         .values(dispatched_at=self.clock(), lease_until=None))

    def _release(self, ids: list[int]) -> None:
        with self.db.write() as conn:
            conn.execute(update(outbox)
                         .where(outbox.c.id.in_(ids), outbox.c.claimed_by == self.name,
                                outbox.c.dispatched_at.is_(None))
                         .values(claimed_by=None, lease_until=None))
