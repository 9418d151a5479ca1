"""Errors the cloud returns on purpose: ``{"detail": {"code": "STABLE_CODE", "message": "..."}}``.

Codes are stable and documented (docs/cloud.md); messages are for humans and may change.
Request-validation errors keep FastAPI's list form with status 422; the handler here makes that
list always serialisable (NaN, Infinity or bytes in the input are echoed as strings, not a 500).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from berth.cloud.schemas import ErrorBody


class CloudError(Exception):
    status = 400

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.code, self.message, self.headers = code, message, headers
        super().__init__(message)


class BadRequest(CloudError):
    status = 400


class Unauthorized(CloudError):
    status = 401


class Forbidden(CloudError):
    status = 403


class NotFound(CloudError):
    """Also what a partner gets for anything that exists but is not theirs (no leaks)."""

    status = 404


class Conflict(CloudError):
    status = 409


_DESCRIPTIONS = {
    400: "Bad request (code in `detail.code`), e.g. BODY_UNREADABLE, INVALID_INPUT",
    401: "Missing, malformed, forged or expired credentials",
    403: "The access token lacks the scope this endpoint needs",
    404: "Not found, or not yours",
    409: "Conflicts with the locker's or resource's current state",
    429: "Too many attempts; retry after `Retry-After` seconds",
    503: "Busy (e.g. BUSY: too many secret checks at once); retry after `Retry-After` seconds",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the deliberate refusals a route gives, all with ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
            for status in statuses}


def json_safe(value: Any) -> Any:
    """A copy of ``value`` that strict JSON can carry: non-finite floats and odd types as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_HTTP_CODES = {400: "BODY_UNREADABLE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def install_validation_handler(app: FastAPI) -> None:
    """FastAPI's 422 shape, but never a 500 while echoing the offending input back; the
    framework's own refusals (unreadable body, unknown route, wrong method) in our shape."""

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        """A value the schema let through but the database refuses (PostgreSQL: NUL)."""
        message = "A value in the request cannot be stored (e.g. a NUL character)."
        return JSONResponse({"detail": {"code": "INVALID_INPUT", "message": message}},
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse({"detail": {"code": code, "message": message}},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(exc.errors())}, status_code=422)


class TooManyRequests(CloudError):
    """Too many failed attempts; ``Retry-After`` says when to try again."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("TOO_MANY_ATTEMPTS",
                         f"Too many failed attempts; try again in {retry_after} s.",
                         {"Retry-After": str(retry_after)})


class Busy(CloudError):
    """The server is at its cap of concurrent secret checks; try again shortly."""

    status = 503

    def __init__(self) -> None:
        super().__init__("BUSY", "Too many credential checks at once; try again shortly.",
                         {"Retry-After": "1"})
