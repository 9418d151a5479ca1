"""Drop-off and pick-up tokens, and releaseLocker (which issues a release token)."""

from __future__ import annotations

from fastapi import APIRouter, Body

from berth.cloud.deps import LockerId, Service, ServiceProvider, TowerId
from berth.cloud.schemas import (
    LockerToken,
    LockerTokenCreate,
    ReleaseLockerCreate,
    ReleaseLockerResult,
)
from berth.domain.tokens import TokenKind

router = APIRouter(prefix="/api/v1/towers/{tower_id}/lockers/{locker_id}", tags=["locker tokens"])


@router.post("/dropoff-locker-tokens", response_model=LockerToken, status_code=201)
def create_dropoff_token(
    service: Service,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: LockerTokenCreate,
) -> LockerToken:
    """createDropOffToken: Available/Reserved/Rented -> Rented, Occupied -> Occupied."""
    return service.issue_token(
        partner, tower_id, locker_id, TokenKind.DROPOFF, body.duration, body.client_info
    )


@router.post("/pickup-locker-tokens", response_model=LockerToken, status_code=201)
def create_pickup_token(
    service: Service,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: LockerTokenCreate,
) -> LockerToken:
    """createPickUpToken: only in Occupied."""
    return service.issue_token(
        partner, tower_id, locker_id, TokenKind.PICKUP, body.duration, body.client_info
    )


@router.post("/release-locker", response_model=ReleaseLockerResult, status_code=201)
def release_locker(
    service: Service,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: ReleaseLockerCreate = Body(default_factory=ReleaseLockerCreate),
) -> ReleaseLockerResult:
    """releaseLocker: Rented -> Declined; the release token is also queued for the tower."""
    return service.release_locker(partner, tower_id, locker_id, body.duration)
