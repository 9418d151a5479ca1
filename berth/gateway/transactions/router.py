"""Transactions: create (assign a locker), list, get, release, open by transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from berth.contracts.gateway import (
    CreateTransactionRequest,
    LockerOperationResponse,
    TransactionResponse,
    iso_ms,
)
from berth.gateway.errors import error_body
from berth.gateway.transactions.schemas import TransactionRecord
from berth.gateway.transactions.service import DuplicateTransaction, TransactionService
from berth.gateway.web import (
    API_KEY,
    Limit,
    LockerIdQuery,
    Offset,
    Since,
    Until,
    domain,
    errors,
    paged,
)

router = APIRouter(prefix="/transactions", tags=["Transactions"], dependencies=API_KEY)
Transactions = Annotated[TransactionService, Depends(domain("transactions"))]


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
async def create_transaction(body: CreateTransactionRequest, service: Transactions) -> Response:
    """Assign the smallest free locker that fits; does not open the door.

    Transaction ids are unique forever: a released id cannot be used again (409 with the
    existing, released transaction).
    """
    try:
        record = await service.create(body)
    except DuplicateTransaction as dup:  # the seed's body: the transaction plus the error
        existing = transaction_json(dup.record)
        return _json(existing | error_body(dup.code, dup.message, existing), 409)
    return _json(transaction_json(record), 201)


@router.get("", response_model=list[TransactionResponse], responses=errors(),
            summary="List all transactions")
def list_transactions(
    service: Transactions, response: Response, limit: Limit = 100, offset: Offset = 0,
    status: Annotated[Literal["active", "released", "all"], Query()] = "active",
    locker_id: LockerIdQuery = None,
    since: Since = None, until: Until = None,
) -> list[dict]:
    """Active transactions by default; ``X-Total-Count`` carries the unpaged total."""
    records, total = service.list_page(status=status, locker_id=locker_id, since=since,
                                       until=until, limit=limit, offset=offset)
    paged(response, total)
    return [transaction_json(r) for r in records]


@router.get("/{transaction_id}", response_model=TransactionResponse, responses=errors(404),
            summary="Get transaction details")
def get_transaction(transaction_id: str, service: Transactions) -> dict:
    return transaction_json(service.get(transaction_id))


@router.delete("/{transaction_id}", status_code=204, responses=errors(404),
               summary="Release transaction")
def release_transaction(transaction_id: str, service: Transactions) -> Response:
    """Free the locker (no door moves). Releasing again is a no-op 204; the id stays taken."""
    service.release_or_404(transaction_id)
    return Response(status_code=204)


@router.post("/{transaction_id}/open", response_model=LockerOperationResponse,
             responses=errors(404, 409), summary="Open locker by transaction ID")
async def open_by_transaction(transaction_id: str,
                              service: Transactions) -> LockerOperationResponse:
    """Open the transaction's locker without releasing it; does not check service flags."""
    return await service.open(transaction_id)
