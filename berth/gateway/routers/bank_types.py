"""Bank types: which locker type sits at which bank locker number."""

from __future__ import annotations

from fastapi import APIRouter

from berth.gateway.routers.deps import API_KEY, IdPath, Service, errors
from berth.gateway.schemas import BankType, BankTypeWithAssociations

router = APIRouter(prefix="/bank-types", tags=["Bank Types"], dependencies=API_KEY)


@router.get("", response_model=list[BankType], responses=errors(),
            summary="List all bank types")
def list_bank_types(service: Service) -> list[BankType]:
    return service.bank_types()


@router.get("/{bank_type_id}", response_model=BankTypeWithAssociations, responses=errors(404),
            summary="Get bank type with associations")
def get_bank_type(bank_type_id: IdPath, service: Service) -> BankTypeWithAssociations:
    return service.bank_type(bank_type_id)
