"""System: information, device heartbeats, the log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

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
from berth.gateway.schemas import DeviceHeartbeatRequest, LogEntry, OperationResponse, System
from berth.gateway.store import LogFilter

router = APIRouter(prefix="/system", tags=["System"], dependencies=API_KEY)


@router.get("", response_model=System, responses=errors(), summary="Get system information")
def system(service: Service) -> System:
    return service.system()


@router.post("/heartbeat", response_model=OperationResponse, responses=errors(),
             summary="Receive heartbeat from external device")
def heartbeat(body: DeviceHeartbeatRequest, service: Service) -> OperationResponse:
    return service.heartbeat(body)


@router.get("/logs", response_model=list[LogEntry], responses=errors(), summary="System logs")
def logs(
    service: Service, response: Response, limit: Limit = 100, offset: Offset = 0,
    level: Literal["debug", "info", "warning", "error"] | None = None,
    locker_id: LockerIdQuery = None,
    transaction_id: Annotated[str | None, Query(alias="transactionId", max_length=128)] = None,
    since: Since = None, until: Until = None,
) -> list[LogEntry]:
    """Newest first; ``X-Total-Count`` carries the unpaged total."""
    entries, total = service.logs(LogFilter(level, locker_id, transaction_id, since, until,
                                            limit, offset))
    paged(response, total)
    return entries
