"""Tower sync as the phone SDK relays it: signed tower events up, queued commands down.

A command is acknowledged by the tower's own signed event: ``command_applied`` with its
``command_id`` (or, for a release token, the ``release_token_set`` event of that token).
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import TowerAccess, TowerId, TowerSync, Wakeups
from berth.cloud.errors import responses
from berth.cloud.tower_sync.schemas import EventBatch
from berth.contracts.cloud import MAX_ID, CommandList, EventBatchResult
from berth.kit.threads import run_blocking

MAX_WAIT = 60  # seconds; keep below the client's HTTP timeout

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
async def get_commands(
    sync: TowerSync,
    wakeups: Wakeups,
    partner: TowerAccess,
    tower_id: TowerId,
    after: int = Query(0, ge=0, le=MAX_ID, description="Only commands with a larger id."),
    wait: float = Query(0, ge=0, le=MAX_WAIT, description="Long-poll: with no command pending, "
                        "hold the request until one is queued or this many seconds pass."),
) -> CommandList:
    """Commands not yet acknowledged by the tower, oldest first (after ``wait`` s at most)."""
    if wait == 0:
        return await run_blocking(sync.pending_commands, partner, tower_id, after)
    # the waiter before the read: a command queued in between still wakes this request
    woken = wakeups.waiter(tower_id)
    if not wakeups.known_idle(partner, tower_id, after):  # a tower's next long-poll skips it
        found = await run_blocking(sync.pending_commands, partner, tower_id, after)
        if found.commands:
            return found
    await wakeups.wait(woken, wait)
    if not woken.is_set():  # nothing queued meanwhile: no second read (a missed wakeup waits
        wakeups.mark_idle(partner, tower_id, after)  # for the tower's next poll)
        return CommandList(commands=[], waited=True)
    found = await run_blocking(sync.pending_commands, partner, tower_id, after)
    return found.model_copy(update={"waited": True})
