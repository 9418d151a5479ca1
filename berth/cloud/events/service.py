"""The partner's event feed: what the outbox recorded about its lockers, in order."""

from __future__ import annotations

from dataclasses import dataclass

from berth.cloud.context import CloudContext
from berth.cloud.events import outbox
from berth.contracts.cloud import EventPage


@dataclass
class EventsService:
    ctx: CloudContext

    def page(self, partner_id: int, after: int = 0, limit: int = 100) -> EventPage:
        """The partner's own outbox stream after ``after``, positions ascending."""
        with self.ctx.db.read() as conn:
            found = outbox.stream(conn, partner_id, after, limit)
        return EventPage(events=found, next_after=found[-1].position if found else after)
