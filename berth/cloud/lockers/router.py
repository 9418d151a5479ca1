"""A partner's view of lockers: a tower's lockers, and the lockers the partner holds."""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import LockerId, Lockers, ServiceProvider, TowerId
from berth.cloud.errors import responses
from berth.contracts.cloud import AssignedLocker, Locker

router = APIRouter(responses=responses(401, 403, 503))


@router.get("/api/v1/towers/{tower_id}/lockers", response_model=list[Locker], tags=["towers"],
            responses=responses(400, 404))
def list_lockers(
    lockers: Lockers,
    partner: ServiceProvider,
    tower_id: TowerId,
    status: str | None = Query(None, description="Only this status, by name or id."),
) -> list[Locker]:
    """ALL lockers of the tower, whatever their status, unless you filter."""
    return lockers.list_lockers(partner, tower_id, status)


@router.get("/api/v1/towers/{tower_id}/lockers/{locker_id}", response_model=Locker,
            tags=["towers"], responses=responses(404))
def get_locker(
    lockers: Lockers, partner: ServiceProvider, tower_id: TowerId, locker_id: LockerId
) -> Locker:
    return lockers.get_locker(partner, tower_id, locker_id)


@router.get("/api/v1/users/me/assigned-lockers", response_model=list[AssignedLocker],
            tags=["users"])
def assigned_lockers(lockers: Lockers, partner: ServiceProvider) -> list[AssignedLocker]:
    """Lockers you have reserved, rented, filled or declined, with their state."""
    return lockers.assigned_lockers(partner)
