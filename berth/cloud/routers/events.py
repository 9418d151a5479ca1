"""A partner's own event stream: what the outbox recorded about its lockers, in order."""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import Service, ServiceProvider
from berth.cloud.errors import responses
from berth.cloud.schemas import MAX_EVENTS_PAGE, EventPage

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=responses(401, 403))

MAX_POSITION = 2**62  # positions are 64-bit; larger input is a 422, not a database error


@router.get("", response_model=EventPage)
def list_events(
    service: Service,
    partner: ServiceProvider,
    after: int = Query(0, ge=0, le=MAX_POSITION, description="Only events after this position."),
    limit: int = Query(100, ge=1, le=MAX_EVENTS_PAGE, description="At most this many events."),
) -> EventPage:
    """Your events after ``after``, positions ascending and gap-free; another partner's never
    appear. Read on with ``after=next_after``."""
    return service.events(partner, after, limit)
