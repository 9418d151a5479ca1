"""Locker types of the site (interior dimensions in inches)."""

from __future__ import annotations

from fastapi import APIRouter

from berth.gateway.routers.deps import API_KEY, IdPath, Service, errors
from berth.gateway.schemas import LockerType

router = APIRouter(prefix="/locker-types", tags=["Locker Types"], dependencies=API_KEY)


@router.get("", response_model=list[LockerType], responses=errors(),
            summary="List all locker types")
def list_locker_types(service: Service) -> list[LockerType]:
    return service.locker_types()


@router.get("/{locker_type_id}", response_model=LockerType, responses=errors(404),
            summary="Get locker type details")
def get_locker_type(locker_type_id: IdPath, service: Service) -> LockerType:
    return service.locker_type(locker_type_id)
