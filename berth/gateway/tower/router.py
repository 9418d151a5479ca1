"""``/tower/*``: the interface a phone reaches (Bluetooth in the original, HTTP here).

These routes carry their own credentials, not the gateway API key: ``/tower/open`` and
``/tower/commands`` are authorised by the cloud's signature on the tokens they carry,
``/tower/keypad`` by a pick-up's keypad code alone (bounded by the keypad's lockout);
``/tower/events`` needs the API key or, as a phone session, any current cloud-signed token for
this tower in ``X-Tower-Token: <payload>.<payload_auth>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from berth.contracts.gateway import MAX_ID, Error
from berth.contracts.tower import (
    CommandOutcome,
    CommandOutcomes,
    RelayedCommands,
    TowerEventsPage,
    TowerKeypadRequest,
    TowerOpenRequest,
    TowerOpenResponse,
)
from berth.domain.errors import NotFound, TooManyAttempts, Unauthenticated
from berth.domain.tokens import TokenRefused
from berth.gateway.auth import presented_key
from berth.gateway.web import errors
from berth.kit.ratelimit import address
from berth.kit.threads import run_blocking
from berth.tower.service import COMMAND_UNSUPPORTED, OpenResult, TowerService

router = APIRouter(prefix="/tower", tags=["Tower"])
REFUSED = {403: {"model": Error, "description": "The token was refused; no door moved."}}
NOT_PROVISIONED = "TOWER_NOT_PROVISIONED: this gateway is not a cloud tower"


def tower_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The tower's refusals; its routes carry their own credentials, not the API key."""
    entries = errors(404, 429, *statuses, auth=False)
    entries[404] = {"model": Error, "description": NOT_PROVISIONED}
    return entries | (REFUSED if 403 in statuses else {})


def get_tower(request: Request) -> TowerService:
    tower: TowerService | None = getattr(request.app.state, "tower", None)
    if tower is None:
        raise NotFound("TOWER_NOT_PROVISIONED",
                       "This gateway is not provisioned as a cloud tower.")
    return tower


Tower = Annotated[TowerService, Depends(get_tower)]


def open_budget(request: Request) -> str:
    """The caller's address, refused with 429 once it had too many tokens refused."""
    peer = address(request.client)
    wait = request.app.state.limiter.retry_after(tower_open=peer)
    if wait is not None:
        raise TooManyAttempts("TOO_MANY_REQUESTS",
                              f"Too many refused tokens from this address; try again in {wait} s",
                              retry_after=wait)
    return peer


@router.post("/open", response_model=TowerOpenResponse, responses=tower_errors(403))
async def open_with_token(body: TowerOpenRequest, tower: Tower,
                          peer: Annotated[str, Depends(open_budget)],
                          request: Request) -> TowerOpenResponse:
    """Verify the token offline, then open the door it names."""
    try:
        result = await tower.open_with_token(body.payload, body.payload_auth)
    except TokenRefused:  # a Forbidden: rendered as 403 with its code
        request.app.state.limiter.failed(tower_open=peer)
        raise
    return _opened(result)


@router.post("/keypad", response_model=TowerOpenResponse, responses=tower_errors(403))
async def open_with_code(body: TowerKeypadRequest, tower: Tower,
                         peer: Annotated[str, Depends(open_budget)],
                         request: Request) -> TowerOpenResponse:
    """A keypad or kiosk at the tower: open the locker of the pending pick-up with this code.

    Checked offline; a wrong code is 403 ``KEYPAD_CODE_INVALID``, and after a few in a row the
    keypad locks for a growing time (429 ``KEYPAD_LOCKED`` with ``Retry-After``).
    """
    try:
        result = await tower.open_with_code(body.code)
    except TokenRefused:
        request.app.state.limiter.failed(tower_open=peer)
        raise
    return _opened(result)


def _opened(result: OpenResult) -> TowerOpenResponse:
    return TowerOpenResponse(success=result.success, lockerId=result.locker_id,
                             gatewayLockerId=result.gateway_locker_id, kind=result.kind,
                             tokenId=result.token_id, doorOpen=result.door_open,
                             message=result.message, reasonCode=result.reason_code)


@router.get("/events", response_model=TowerEventsPage, responses=tower_errors(401, 403))
async def events(
    request: Request,
    tower: Tower,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    x_tower_token: Annotated[str | None, Header()] = None,
) -> TowerEventsPage:
    """The signed, append-only event log after ``after``, for a phone to relay to the cloud."""
    if not request.app.state.auth.valid(presented_key(request.headers)):
        payload, _, signature = (x_tower_token or "").partition(".")
        if not payload or not signature:
            raise Unauthenticated(
                "UNAUTHORIZED",
                "Give the gateway API key or X-Tower-Token: <payload>.<payload_auth>")
        await run_blocking(tower.check_session, payload, signature)  # TokenRefused: 403
    page = await run_blocking(tower.events_after, after, limit)
    return TowerEventsPage(events=page, lastSeq=page[-1]["seq"] if page else after)


@router.post("/commands", response_model=CommandOutcomes, responses=tower_errors())
async def commands(body: RelayedCommands, tower: Tower) -> CommandOutcomes:
    """Apply cloud commands (release tokens, key announcements) relayed by a phone, once each."""
    results = []
    for command in body.commands:
        if not (command.payload and command.payload_auth):
            results.append(CommandOutcome(id=command.id, outcome="refused",
                                          code=COMMAND_UNSUPPORTED))
            continue
        done = await run_blocking(tower.apply_command, command.id, command.payload,
                                  command.payload_auth, command.kind)
        results.append(CommandOutcome(id=command.id, outcome=done.outcome, code=done.code))
    return CommandOutcomes(results=results)
