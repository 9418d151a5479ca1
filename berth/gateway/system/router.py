"""System: health probes, information, device heartbeats, the log, the counters.

``/health`` (no credentials) keeps the seed's contract and checks the database for real (503 when
it does not answer); ``/health/live`` (:mod:`berth.kit.health`) only says the process answers. The
cloud answers the same pair.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from berth.contracts.gateway import (
    DeviceHeartbeatRequest,
    Health,
    LogEntry,
    OperationResponse,
    System,
)
from berth.gateway.system.schemas import Counters, LogFilter
from berth.gateway.system.service import SystemService
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
from berth.kit.health import health_router

router = APIRouter(prefix="/system", tags=["System"], dependencies=API_KEY)
probes = health_router("Health & Status")
Service = Annotated[SystemService, Depends(domain("system"))]


@probes.get("/health", response_model=Health, responses={503: {"model": Health}},
            summary="Health check")
def health(service: Service, response: Response) -> Health:
    result = service.health()
    if result.database != "ok":
        response.status_code = 503
    return result


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


@router.get("/counters", response_model=Counters, responses=errors(),
            summary="Internal counters (Berth extension)")
def counters(service: Service) -> Counters:
    """Since start: per event-bus subscriber events delivered, dropped (queue full) and failed;
    the bus's unrouted and dropped totals; group-commit batches and items; each lock
    controller's link counters."""
    return service.counters()
