"""Drop-off and pick-up tokens, and releaseLocker (which declines the locker with a release
token)."""

from __future__ import annotations

from fastapi import APIRouter, Body

from berth.cloud.deps import LockerId, ServiceProvider, Tokens, TowerId
from berth.cloud.errors import responses
from berth.cloud.tokens.schemas import LockerTokenCreate, PickupTokenCreate, ReleaseLockerCreate
from berth.contracts.cloud import LockerToken, ReleaseLockerResult
from berth.domain.tokens import TokenKind

router = APIRouter(
    prefix="/api/v1/towers/{tower_id}/lockers/{locker_id}",
    tags=["locker tokens"],
    responses=responses(400, 401, 403, 404, 409, 503),
)


@router.post("/dropoff-locker-tokens", response_model=LockerToken, status_code=201,
             name="create_dropoff_token")
def create_dropoff_token(tokens: Tokens, partner: ServiceProvider, tower_id: TowerId,
                         locker_id: LockerId, body: LockerTokenCreate) -> LockerToken:
    """createDropOffToken: Available/Reserved/Rented -> Rented, Occupied -> Occupied."""
    return tokens.issue_token(partner, tower_id, locker_id, TokenKind.DROPOFF, body.duration,
                              body.client_info, body.purpose)


@router.post("/pickup-locker-tokens", response_model=LockerToken, status_code=201,
             name="create_pickup_token")
def create_pickup_token(tokens: Tokens, partner: ServiceProvider, tower_id: TowerId,
                        locker_id: LockerId, body: PickupTokenCreate) -> LockerToken:
    """createPickUpToken: only in Occupied. With ``keypad_code`` the answer also carries a
    numeric code for the tower's keypad (shown once; the tower gets only its salted hash)."""
    return tokens.issue_token(partner, tower_id, locker_id, TokenKind.PICKUP, body.duration,
                              body.client_info, body.purpose, keypad_code=body.keypad_code)


@router.post("/release-locker", response_model=ReleaseLockerResult, status_code=201)
def release_locker(
    tokens: Tokens,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: ReleaseLockerCreate = Body(default_factory=ReleaseLockerCreate),
) -> ReleaseLockerResult:
    """releaseLocker: Rented -> Declined; the release token is also queued for the tower."""
    return tokens.decline_locker(partner, tower_id, locker_id, body.duration)
