"""``/fleet/v1``: an organisation's locations, their gateways' operations, its requests.

HTTP only: the key, the rate limit, waits and idempotency are the service's rules; the shapes of
forwarded calls are the Gateway API's own (docs/fleet.md).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from berth.cloud.errors import ErrorBody, responses
from berth.cloud.fleet.schemas import Accepted, FleetLocation, FleetRequest
from berth.cloud.fleet.service import Answered, Caller, FleetService, RateLimited
from berth.contracts.gateway import MAX_ID, CreateTransactionRequest, UpdateLockerRequest
from berth.domain.errors import TooManyAttempts, Unauthenticated
from berth.kit.ratelimit import FailureLimiter, address

router = APIRouter(prefix="/fleet/v1", tags=["Fleet"])


def _service(request: Request) -> FleetService:
    service: FleetService = request.app.state.services.fleet
    return service


Service = Annotated[FleetService, Depends(_service)]


def caller(request: Request, service: Service,
           x_api_key: Annotated[str | None, Header(description="The organisation's API key "
                                                   "(or Authorization: Bearer <key>)")] = None,
           ) -> Caller:
    """The key's organisation, counted against its per-minute limit (the counts live in the
    database, so several fleet API processes share them)."""
    key = x_api_key
    auth = request.headers.get("authorization", "")
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    limiter: FailureLimiter = request.app.state.login_limiter
    peer = address(request.client)
    wait = limiter.retry_after(fleet_key=peer)
    if wait is not None:
        raise TooManyAttempts("TOO_MANY_ATTEMPTS", f"Too many wrong API keys; try again in "
                              f"{wait} s.", retry_after=wait)
    try:
        who = service.authenticate(key)
    except Unauthenticated:
        if key is not None:
            limiter.failed(fleet_key=peer)
        raise
    try:
        state = service.count(who)
    except RateLimited as exc:
        request.state.fleet_rate = exc.state.headers()  # on the 429 too (RateLimitHeaders)
        raise
    request.state.fleet_rate = state.headers()
    return who


class RateLimitHeaders:
    """Adds the caller's ``X-RateLimit-*`` headers to every fleet answer, refusals included
    (an error handler's response never sees a dependency's ``Response``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/fleet/"):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            rate = scope.get("state", {}).get("fleet_rate")
            if message["type"] == "http.response.start" and rate:
                headers = MutableHeaders(scope=message)
                for name, value in rate.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


Who = Annotated[Caller, Depends(caller)]
LocationId = Annotated[int, Path(ge=1, le=MAX_ID)]
LockerId = Annotated[int, Path(ge=1, le=MAX_ID)]
TypeId = Annotated[int, Path(ge=1, le=MAX_ID)]
TransactionId = Annotated[str, Path(min_length=1, max_length=128)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Required on every mutating call: a retry with the same key returns the first "
    "response; the same key with a different call is 409 IDEMPOTENCY_KEY_REUSED.")]
Prefer = Annotated[str | None, Header(
    max_length=200, description="`wait=N` (seconds, at most 30) or `respond-async`")]

_FORWARDED = {
    **responses(401, 404, 409, 429, 503),
    202: {"model": Accepted, "description": "Not answered in time: poll `Location`"},
    400: {"model": ErrorBody, "description": "IDEMPOTENCY_KEY_REQUIRED, or the gateway's own "
          "400 (its body)"},
    502: {"model": ErrorBody, "description": "SITE_INTERRUPTED (the gateway stopped while "
          "executing; not executed again) or SITE_REFUSED"},
    503: {"model": ErrorBody, "description": "SITE_OFFLINE (nothing was sent) or "
          "FLEET_UNAVAILABLE (no broker); retry after `Retry-After`"},
}


def _render(result: Any) -> Response:
    if not isinstance(result, Answered):
        return Response(json.dumps({"id": result.request_id, "state": "pending"}), 202,
                        media_type="application/json",
                        headers={"Location": f"/fleet/v1/requests/{result.request_id}"})
    answer = result.response
    headers = {"X-Fleet-Request-Id": result.request_id}
    if answer.outcome != "done" or answer.status is None:
        code = "SITE_INTERRUPTED" if answer.outcome == "interrupted" else "SITE_REFUSED"
        return Response(json.dumps({"detail": answer.detail or code, "code": code}), 502,
                        media_type="application/json", headers=headers)
    if "x-total-count" in answer.headers:
        headers["X-Total-Count"] = answer.headers["x-total-count"]
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return Response(json.dumps(answer.body), answer.status, media_type="application/json",
                    headers=headers)


async def _forward(service: FleetService, who: Caller, location_id: int, op: str,
                   prefer: str | None, key: str | None = None, **call: Any) -> Response:
    return _render(await service.call(who, location_id, op, prefer=prefer,
                                      idempotency_key=key, **call))


def _query(**values: Any) -> dict[str, str]:
    return {k: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in values.items() if v is not None}


@router.get("/locations", response_model=list[FleetLocation],
            responses=responses(401, 429, 503), summary="The organisation's locations")
def list_locations(who: Who, service: Service) -> list[FleetLocation]:
    return [FleetLocation(location_id=s.location_id, site_id=s.site_id, online=s.online,
                          presence_at=s.presence_at) for s in service.sites_of(who)]


@router.get("/requests/{request_id}", response_model=FleetRequest, response_model_by_alias=True,
            responses=responses(401, 404, 429, 503), summary="A forwarded call's state")
def get_request(request_id: Annotated[str, Path(max_length=64)], who: Who,
                service: Service) -> FleetRequest:
    return FleetRequest.model_validate(service.request_view(who, request_id))


_LOC = "/locations/{location_id}"


@router.post(_LOC + "/transactions", status_code=201, responses=_FORWARDED,
             summary="Create a transaction at a location")
async def create_transaction(location_id: LocationId, body: CreateTransactionRequest,
                             who: Who, service: Service, idempotency_key: IdempotencyKey = None,
                             prefer: Prefer = None) -> Response:
    raw = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return await _forward(service, who, location_id, "transactions.create", prefer,
                          idempotency_key, body=raw)


@router.get(_LOC + "/transactions", responses=_FORWARDED, summary="List transactions")
async def list_transactions(
        location_id: LocationId, who: Who, service: Service,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        status: Literal["active", "released", "all"] = "active",
        prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "transactions.list", prefer,
                          query=_query(limit=limit, offset=offset, status=status))


@router.get(_LOC + "/transactions/{transaction_id}", responses=_FORWARDED,
            summary="Get a transaction")
async def get_transaction(location_id: LocationId, transaction_id: TransactionId, who: Who,
                          service: Service, prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "transactions.get", prefer,
                          params={"transaction_id": transaction_id})


@router.delete(_LOC + "/transactions/{transaction_id}", status_code=204, responses=_FORWARDED,
               summary="Release a transaction")
async def release_transaction(location_id: LocationId, transaction_id: TransactionId,
                              who: Who, service: Service,
                              idempotency_key: IdempotencyKey = None,
                              prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "transactions.release", prefer,
                          idempotency_key, params={"transaction_id": transaction_id})


@router.post(_LOC + "/transactions/{transaction_id}/open", responses=_FORWARDED,
             summary="Open a transaction's locker")
async def open_transaction(location_id: LocationId, transaction_id: TransactionId, who: Who,
                           service: Service, idempotency_key: IdempotencyKey = None,
                           prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "transactions.open", prefer,
                          idempotency_key, params={"transaction_id": transaction_id})


@router.get(_LOC + "/lockers", responses=_FORWARDED, summary="List lockers")
async def list_lockers(
        location_id: LocationId, who: Who, service: Service,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        available: bool | None = None, prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "lockers.list", prefer,
                          query=_query(limit=limit, offset=offset, available=available))


@router.post(_LOC + "/lockers/open-all", responses=_FORWARDED, summary="Open all lockers")
async def open_all(location_id: LocationId, who: Who, service: Service,
                   idempotency_key: IdempotencyKey = None, prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "lockers.open_all", prefer,
                          idempotency_key)


@router.get(_LOC + "/lockers/{locker_id}", responses=_FORWARDED, summary="Get a locker")
async def get_locker(location_id: LocationId, locker_id: LockerId, who: Who, service: Service,
                     prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "lockers.get", prefer,
                          params={"locker_id": str(locker_id)})


@router.patch(_LOC + "/lockers/{locker_id}", responses=_FORWARDED,
              summary="Update a locker's service state")
async def patch_locker(location_id: LocationId, locker_id: LockerId,
                       body: Annotated[UpdateLockerRequest, Body()], who: Who,
                       service: Service, idempotency_key: IdempotencyKey = None,
                       prefer: Prefer = None) -> Response:
    raw = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return await _forward(service, who, location_id, "lockers.patch", prefer, idempotency_key,
                          params={"locker_id": str(locker_id)}, body=raw)


@router.post(_LOC + "/lockers/{locker_id}/open", responses=_FORWARDED, summary="Open a locker")
async def open_locker(location_id: LocationId, locker_id: LockerId, who: Who,
                      service: Service, idempotency_key: IdempotencyKey = None,
                      prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "lockers.open", prefer, idempotency_key,
                          params={"locker_id": str(locker_id)})


@router.get(_LOC + "/locker-types", responses=_FORWARDED, summary="List locker types")
async def locker_types(location_id: LocationId, who: Who, service: Service,
                       prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "locker_types.list", prefer)


@router.get(_LOC + "/locker-types/{type_id}", responses=_FORWARDED, summary="Get a locker type")
async def locker_type(location_id: LocationId, type_id: TypeId, who: Who, service: Service,
                      prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "locker_types.get", prefer,
                          params={"locker_type_id": str(type_id)})


@router.get(_LOC + "/bank-types", responses=_FORWARDED, summary="List bank types")
async def bank_types(location_id: LocationId, who: Who, service: Service,
                     prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "bank_types.list", prefer)


@router.get(_LOC + "/bank-types/{type_id}", responses=_FORWARDED, summary="Get a bank type")
async def bank_type(location_id: LocationId, type_id: TypeId, who: Who, service: Service,
                    prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "bank_types.get", prefer,
                          params={"bank_type_id": str(type_id)})


@router.get(_LOC + "/system", responses=_FORWARDED, summary="The site's system information")
async def system(location_id: LocationId, who: Who, service: Service,
                 prefer: Prefer = None) -> Response:
    return await _forward(service, who, location_id, "system.get", prefer)
