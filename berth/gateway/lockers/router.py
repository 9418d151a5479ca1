"""Lockers: list, details, configuration, service state, open one, open all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from berth.contracts.gateway import (
    MAX_ID,
    Locker,
    LockerConfig,
    LockerOperationResponse,
    MultiStatusOperationResponse,
    OpenAllLockersResponse,
    UpdateLockerRequest,
)
from berth.gateway.lockers.service import LockerService
from berth.gateway.web import API_KEY, IdPath, Limit, Offset, domain, errors, paged

router = APIRouter(prefix="/lockers", tags=["Lockers"], dependencies=API_KEY)
Service = Annotated[LockerService, Depends(domain("lockers"))]


@router.get("", response_model=list[Locker], responses=errors(), summary="List all lockers")
def list_lockers(
    service: Service, response: Response, limit: Limit = 1000, offset: Offset = 0,
    locker_type: Annotated[str | None, Query(alias="lockerType", max_length=64)] = None,
    bank_id: Annotated[int | None, Query(alias="bankId", ge=1, le=MAX_ID)] = None,
    available: bool | None = None,
    out_of_service: Annotated[bool | None, Query(alias="outOfService")] = None,
) -> list[Locker]:
    lockers, total = service.list_page(locker_type=locker_type, bank_id=bank_id,
                                       available=available, out_of_service=out_of_service,
                                       limit=limit, offset=offset)
    paged(response, total)
    return lockers


@router.post("/open-all", response_model=OpenAllLockersResponse,
             responses={**errors(), 207: {"model": MultiStatusOperationResponse}},
             summary="Open all lockers")
async def open_all(service: Service, response: Response) -> OpenAllLockersResponse:
    """Maintenance: opens every door, staggered; 207 when some opened and some did not."""
    result = await service.open_all()
    if isinstance(result, MultiStatusOperationResponse):
        response.status_code = 207
    return result


@router.get("/{locker_id}", response_model=Locker, responses=errors(404),
            summary="Get locker details")
def get_locker(locker_id: IdPath, service: Service) -> Locker:
    return service.get(locker_id)


@router.get("/{locker_id}/config", response_model=LockerConfig, responses=errors(404),
            summary="Get locker configuration")
def locker_config(locker_id: IdPath, service: Service) -> LockerConfig:
    return service.locker_config(locker_id)


@router.patch("/{locker_id}", response_model=Locker, responses=errors(404),
              summary="Update locker service state")
def update_locker(locker_id: IdPath, body: UpdateLockerRequest, service: Service) -> Locker:
    """Out of service keeps open transactions; ``outOfService: false`` returns it to service."""
    return service.update(locker_id, body)


@router.post("/{locker_id}/open", response_model=LockerOperationResponse,
             responses=errors(404), summary="Open locker by ID")
async def open_locker(locker_id: IdPath, service: Service) -> LockerOperationResponse:
    """Maintenance: ignores transactions and flags. Failures come back as success=false."""
    return await service.open(locker_id)
