"""Locker types (interior sizes) and bank types (which locker type sits at which number)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from berth.contracts.gateway import BankType, BankTypeWithAssociations, LockerType
from berth.gateway.catalog.service import CatalogService
from berth.gateway.web import API_KEY, IdPath, domain, errors

locker_types = APIRouter(prefix="/locker-types", tags=["Locker Types"], dependencies=API_KEY)
bank_types = APIRouter(prefix="/bank-types", tags=["Bank Types"], dependencies=API_KEY)
Catalog = Annotated[CatalogService, Depends(domain("catalog"))]


@locker_types.get("", response_model=list[LockerType], responses=errors(),
                  summary="List all locker types")
def list_locker_types(service: Catalog) -> list[LockerType]:
    return service.locker_types()


@locker_types.get("/{locker_type_id}", response_model=LockerType, responses=errors(404),
                  summary="Get locker type details")
def get_locker_type(locker_type_id: IdPath, service: Catalog) -> LockerType:
    return service.locker_type(locker_type_id)


@bank_types.get("", response_model=list[BankType], responses=errors(),
                summary="List all bank types")
def list_bank_types(service: Catalog) -> list[BankType]:
    return service.bank_types()


@bank_types.get("/{bank_type_id}", response_model=BankTypeWithAssociations,
                responses=errors(404), summary="Get bank type with associations")
def get_bank_type(bank_type_id: IdPath, service: Catalog) -> BankTypeWithAssociations:
    return service.bank_type(bank_type_id)
