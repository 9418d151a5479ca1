"""What every router needs: its domain's service, paging parameters and the documented errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader

from berth.contracts.gateway import MAX_ID, MAX_OFFSET, Error

_api_key_doc = APIKeyHeader(name="X-API-Key", auto_error=False,
                            description="The gateway API key (or Authorization: Bearer <key>)")


async def _documented_key(_key: str | None = Security(_api_key_doc)) -> None:
    """Only documents the key in OpenAPI; ``ApiKeyMiddleware`` enforces it before parsing.

    Dependencies are ``async`` on purpose: FastAPI runs sync ones in the thread pool, a thread
    hop per request for nothing."""


API_KEY = [Depends(_documented_key)]


def domain(name: str) -> Callable[[Request], Any]:
    """A dependency answering the running gateway's service of one domain (``transactions``,
    ``lockers``...): routers get their service this way and never import the gateway itself."""

    async def service(request: Request) -> Any:
        return getattr(request.app.state.service, name)

    return service


Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]
# Every id is a 32-bit column: out-of-range ids are a 400 VALIDATION_ERROR, never a driver overflow.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
LockerIdQuery = Annotated[int | None, Query(alias="lockerId", ge=1, le=MAX_ID)]
Since = Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601)")]
Until = Annotated[datetime | None, Query(description="Until this time (exclusive, ISO 8601)")]


ERROR_DESCRIPTIONS = {
    400: "VALIDATION_ERROR (bad or out-of-range input, malformed JSON) or another bad request",
    401: "Missing or invalid credentials",
    403: "Refused (see `error`)",
    404: "Not found (see `error`)",
    409: "Conflicts with the current state (see `error`)",
    429: "Too many failed attempts; retry after `Retry-After` seconds",
    503: "The database is busy or unreachable; retry after `Retry-After` seconds",
}


def errors(*statuses: int, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route gives, all with the ``Error`` body.

    Every route can answer 400 (validation) and 503 (database down); API-key routes also 401
    and 429 (failed keys are rate-limited per address)."""
    common = (400, 401, 429, 503) if auth else (400, 503)
    return {status: {"model": Error, "description": ERROR_DESCRIPTIONS[status]}
            for status in sorted({*common, *statuses})}


def paged(response: Response, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)
