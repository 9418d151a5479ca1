"""Transactions: create (assign a locker), list, get, release, open by transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from berth.gateway.errors import error_body
from berth.gateway.routers.deps import (
    API_KEY,
    Limit,
    LockerIdQuery,
    Offset,
    Service,
    Since,
    Until,
    errors,
    paged,
)
from berth.gateway.schemas import (
    CreateTransactionRequest,
    LockerOperationResponse,
    TransactionResponse,
    iso_ms,
)
from berth.gateway.service import DuplicateTransaction
from berth.gateway.store import TransactionRecord

router = APIRouter(prefix="/transactions", tags=["Transactions"], dependencies=API_KEY)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with milliseconds and Z, as every gateway timestamp (``iso_ms``)."""
    return None if value is None else iso_ms(value)


def transaction_json(record: TransactionRecord) -> dict:
    return {"transactionId": record.transaction_id, "lockerId": record.locker_id,
            "createdAt": iso(record.created_at), "releasedAt": iso(record.released_at),
            "active": record.released_at is None}


def _json(content: dict | list, status: int = 200) -> Response:
    return Response(json.dumps(content), status, media_type="application/json")


@router.post("", status_code=201, response_model=TransactionResponse,
             responses={**errors(503), 409: {"model": TransactionResponse,
                        "description": "transactionId exists: the existing transaction (with "
                        "`error`/`message` added), or NO_AVAILABLE_LOCKERS as an Error"}},
             summary="Create a transaction")
async def create_transaction(body: CreateTransactionRequest, service: Service) -> Response:
    """Assign the smallest free locker that fits; does not open the door.

    Transaction ids are unique forever: a released id cannot be used again (409 with the
    existing, released transaction).
    """
    try:
        record = await service.create_transaction(body)
    except DuplicateTransaction as dup:
        body_409 = error_body("TRANSACTION_EXISTS",
                              f"Transaction {dup.record.transaction_id} already exists",
                              transaction_json(dup.record))
        return _json(transaction_json(dup.record) | body_409, 409)
    return _json(transaction_json(record), 201)


@router.get("", response_model=list[TransactionResponse], responses=errors(),
            summary="List all transactions")
def list_transactions(
    service: Service, response: Response, limit: Limit = 100, offset: Offset = 0,
    status: Annotated[Literal["active", "released", "all"], Query()] = "active",
    locker_id: LockerIdQuery = None,
    since: Since = None, until: Until = None,
) -> list[dict]:
    """Active transactions by default; ``X-Total-Count`` carries the unpaged total."""
    records, total = service.store.list_transactions(status=status, locker_id=locker_id,
                                                     since=since, until=until, limit=limit,
                                                     offset=offset)
    paged(response, total)
    return [transaction_json(r) for r in records]


@router.get("/{transaction_id}", response_model=TransactionResponse, responses=errors(404),
            summary="Get transaction details")
def get_transaction(transaction_id: str, service: Service) -> dict:
    return transaction_json(service.get_transaction(transaction_id))


@router.delete("/{transaction_id}", status_code=204, responses=errors(404),
               summary="Release transaction")
def release_transaction(transaction_id: str, service: Service) -> Response:
    """Free the locker (no door moves). Releasing again is a no-op 204; the id stays taken."""
    service.release_transaction(transaction_id)
    return Response(status_code=204)


@router.post("/{transaction_id}/open", response_model=LockerOperationResponse,
             responses=errors(404, 409), summary="Open locker by transaction ID")
async def open_by_transaction(transaction_id: str, service: Service) -> LockerOperationResponse:
    """Open the transaction's locker without releasing it; does not check service flags."""
    return await service.open_by_transaction(transaction_id)
