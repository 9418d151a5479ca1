"""A partner's own event stream: what the outbox recorded about its lockers, in order."""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import Events, ServiceProvider
from berth.cloud.errors import responses
from berth.cloud.events.schemas import MAX_EVENTS_PAGE, MAX_POSITION
from berth.contracts.cloud import EventPage

router = APIRouter(prefix="/api/v1/events", tags=["events"],
                   responses=responses(401, 403, 503))


@router.get("", response_model=EventPage)
def list_events(
    events: Events,
    partner: ServiceProvider,
    after: int = Query(0, ge=0, le=MAX_POSITION, description="Only events after this position."),
    limit: int = Query(100, ge=1, le=MAX_EVENTS_PAGE, description="At most this many events."),
) -> EventPage:
    """Your events after ``after``, positions ascending and gap-free; another partner's never
    appear. Read on with ``after=next_after``."""
    return events.page(partner, after, limit)
