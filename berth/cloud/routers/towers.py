"""A partner's towers and their lockers."""

from __future__ import annotations

from fastapi import APIRouter, Query

from berth.cloud.deps import LockerId, Service, ServiceProvider, TowerId
from berth.cloud.errors import responses
from berth.cloud.schemas import Locker, Tower

router = APIRouter(prefix="/api/v1/towers", tags=["towers"], responses=responses(401, 403))


@router.get("", response_model=list[Tower])
def list_towers(service: Service, partner: ServiceProvider) -> list[Tower]:
    """The towers assigned to you."""
    return service.list_towers(partner)


@router.get("/{tower_id}", response_model=Tower, responses=responses(404))
def get_tower(service: Service, partner: ServiceProvider, tower_id: TowerId) -> Tower:
    return service.get_tower(partner, tower_id)


@router.get("/{tower_id}/lockers", response_model=list[Locker], responses=responses(400, 404))
def list_lockers(
    service: Service,
    partner: ServiceProvider,
    tower_id: TowerId,
    status: str | None = Query(None, description="Only this status, by name or id."),
) -> list[Locker]:
    """ALL lockers of the tower, whatever their status, unless you filter."""
    return service.list_lockers(partner, tower_id, status)


@router.get("/{tower_id}/lockers/{locker_id}", response_model=Locker, responses=responses(404))
def get_locker(
    service: Service, partner: ServiceProvider, tower_id: TowerId, locker_id: LockerId
) -> Locker:
    return service.get_locker(partner, tower_id, locker_id)
