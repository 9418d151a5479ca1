"""What every router needs: the service, paging parameters and the documented error responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, Security
from fastapi.security import APIKeyHeader

from berth.gateway.schemas import Error
from berth.gateway.service import GatewayService

_api_key_doc = APIKeyHeader(name="X-API-Key", auto_error=False,
                            description="The gateway API key (or Authorization: Bearer <key>)")


async def _documented_key(_key: str | None = Security(_api_key_doc)) -> None:
    """Only documents the key in OpenAPI; ``ApiKeyMiddleware`` enforces it before parsing.

    Dependencies are ``async`` on purpose: FastAPI runs sync ones in the thread pool, a thread
    hop per request for nothing."""


API_KEY = [Depends(_documented_key)]


async def get_service(request: Request) -> GatewayService:
    return request.app.state.service


Service = Annotated[GatewayService, Depends(get_service)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, description="Items to skip")]
Since = Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601)")]
Until = Annotated[datetime | None, Query(description="Until this time (exclusive, ISO 8601)")]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all with the ``Error`` body."""
    return {status: {"model": Error} for status in (400, 401, *statuses)}


def paged(response: Response, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)
