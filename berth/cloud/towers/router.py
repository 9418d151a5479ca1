"""A partner's towers."""

from __future__ import annotations

from fastapi import APIRouter

from berth.cloud.deps import ServiceProvider, TowerId, Towers
from berth.cloud.errors import responses
from berth.contracts.cloud import Tower

router = APIRouter(prefix="/api/v1/towers", tags=["towers"], responses=responses(401, 403, 503))


@router.get("", response_model=list[Tower])
def list_towers(towers: Towers, partner: ServiceProvider) -> list[Tower]:
    """The towers assigned to you."""
    return towers.list_towers(partner)


@router.get("/{tower_id}", response_model=Tower, responses=responses(404))
def get_tower(towers: Towers, partner: ServiceProvider, tower_id: TowerId) -> Tower:
    return towers.get_tower(partner, tower_id)
