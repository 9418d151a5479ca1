"""Operator endpoints (scope ``operator``): partners, towers, lockers, assignment, service state.

The operator's console over the partner, tower and locker services; no service of its own.
"""

from __future__ import annotations

from fastapi import APIRouter

from berth.cloud.deps import LockerId, Lockers, Operator, PartnerId, Partners, TowerId, Towers
from berth.cloud.errors import responses
from berth.cloud.lockers.schemas import LockersCreate, OutOfServiceUpdate
from berth.cloud.partners.schemas import ClientCredentials, Partner, PartnerCreate
from berth.cloud.towers.schemas import TowerCreate, TowerProvisioning
from berth.contracts.cloud import Locker, Tower

router = APIRouter(prefix="/api/v1/admin", tags=["operator"],
                   responses=responses(401, 403, 503))
BODY = responses(400)  # an unreadable body, or a value the database refuses


@router.post("/partners", response_model=ClientCredentials, status_code=201,
             responses=BODY | responses(409))
def create_partner(partners: Partners, _: Operator, body: PartnerCreate) -> ClientCredentials:
    """A partner and its first client; the secret is shown only in this response."""
    return partners.create_partner(body.name)


@router.get("/partners", response_model=list[Partner])
def list_partners(partners: Partners, _: Operator) -> list[Partner]:
    return partners.list_partners()


@router.post("/towers", response_model=Tower, status_code=201, responses=BODY | responses(409))
def create_tower(towers: Towers, _: Operator, body: TowerCreate) -> Tower:
    """A tower with its own Ed25519 key pair (the private half stays sealed in the cloud)."""
    return towers.create_tower(body.name, body.id)


@router.get("/towers", response_model=list[Tower])
def list_towers(towers: Towers, _: Operator) -> list[Tower]:
    return towers.all_towers()


@router.post("/towers/{tower_id}/lockers", response_model=list[Locker], status_code=201,
             responses=BODY | responses(404))
def add_lockers(
    lockers: Lockers, _: Operator, tower_id: TowerId, body: LockersCreate
) -> list[Locker]:
    """Add lockers; answers with all the tower's lockers."""
    return lockers.add_lockers(tower_id, body.lockers)


@router.put("/towers/{tower_id}/partners/{partner_id}", status_code=204, responses=responses(404))
def assign_tower(towers: Towers, _: Operator, tower_id: TowerId, partner_id: PartnerId) -> None:
    towers.assign_tower(tower_id, partner_id)


@router.delete("/towers/{tower_id}/partners/{partner_id}", status_code=204,
               responses=responses(404))
def unassign_tower(towers: Towers, _: Operator, tower_id: TowerId, partner_id: PartnerId) -> None:
    towers.assign_tower(tower_id, partner_id, assigned=False)


@router.patch("/towers/{tower_id}/lockers/{locker_id}", response_model=Locker,
              responses=BODY | responses(404, 409))
def set_out_of_service(
    lockers: Lockers, _: Operator, tower_id: TowerId, locker_id: LockerId, body: OutOfServiceUpdate
) -> Locker:
    """Out of service only from Available (nobody holds it); back to Available."""
    return lockers.set_out_of_service(tower_id, locker_id, body.outOfService)


@router.get("/towers/{tower_id}/provisioning", response_model=TowerProvisioning,
            responses=responses(404))
def provisioning(towers: Towers, _: Operator, tower_id: TowerId) -> TowerProvisioning:
    """The tower's private key and the cloud's public keys, for installing the tower."""
    return towers.provisioning(tower_id)
