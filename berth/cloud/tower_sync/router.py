"""Tower sync as the phone SDK relays it: signed tower events up, queued commands down.

A command is acknowledged by the tower's own signed event: ``command_applied`` with its
``command_id`` (or, for a release token, the ``release_token_set`` event of that token).
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import TowerAccess, TowerId, TowerSync
from berth.cloud.errors import responses
from berth.cloud.tower_sync.schemas import EventBatch
from berth.contracts.cloud import MAX_ID, CommandList, EventBatchResult

router = APIRouter(
    prefix="/sdk/v1/towers/{tower_id}", tags=["tower sync"],
    responses=responses(401, 403, 404, 503),
)


@router.post("/events", response_model=EventBatchResult, responses=responses(400))
def post_events(
    sync: TowerSync, partner: TowerAccess, tower_id: TowerId, body: EventBatch
) -> EventBatchResult:
    """Apply the tower's signed events once each (per ``seq``); replays come back ``duplicate``."""
    events = [e.model_dump(exclude_unset=True) for e in body.events]
    return EventBatchResult(results=sync.ingest_events(partner, tower_id, events))


@router.get("/commands", response_model=CommandList)
def get_commands(
    sync: TowerSync,
    partner: TowerAccess,
    tower_id: TowerId,
    after: int = Query(0, ge=0, le=MAX_ID, description="Only commands with a larger id."),
) -> CommandList:
    """Commands not yet acknowledged by the tower, oldest first."""
    return sync.pending_commands(partner, tower_id, after)
