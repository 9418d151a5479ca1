"""What the calling partner holds."""

from __future__ import annotations

from fastapi import APIRouter

from berth.cloud.deps import Service, ServiceProvider
from berth.cloud.errors import responses
from berth.cloud.schemas import AssignedLocker

router = APIRouter(prefix="/api/v1/users/me", tags=["users"], responses=responses(401, 403))


@router.get("/assigned-lockers", response_model=list[AssignedLocker])
def assigned_lockers(service: Service, partner: ServiceProvider) -> list[AssignedLocker]:
    """Lockers you have reserved, rented, filled or declined, with their state."""
    return service.assigned_lockers(partner)
