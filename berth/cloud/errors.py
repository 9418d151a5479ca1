"""How the cloud renders refusals: ``{"detail": "text", "code": "STABLE_CODE"}``.

Services raise the kinds of ``berth.domain.errors``; any ``DomainError`` is rendered here with
``http_status(err)``, ``Retry-After`` from ``retry_after`` (429, 503) and ``WWW-Authenticate``
on 401. A database that is down or locked too long is 503 ``DATABASE_UNAVAILABLE`` with
``Retry-After``, never a 500. Codes are stable and documented (docs/cloud.md); messages are for
humans and may change. Request-validation errors keep FastAPI's list form with status 422; the
handler here makes that list always serialisable (NaN, Infinity or bytes in the input are echoed
as strings, not a 500).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from berth.domain.errors import DomainError, RetryLater, Unauthenticated, http_status

log = logging.getLogger("berth.cloud")
DATABASE_RETRY_AFTER = 1  # seconds; a restarted or unlocked database answers again quickly


class ErrorBody(BaseModel):
    """Every deliberate refusal: ``{"detail": "text", "code": "STABLE_CODE"}``, as the original
    keeps ``detail`` a string; the code beside it is what programs compare."""

    detail: str = Field(examples=["Locker not found."])
    code: str = Field(examples=["LOCKER_NOT_FOUND"])


def body(code: str, message: str) -> dict[str, str]:
    """The cloud's error body (request validation alone keeps FastAPI's 422 list)."""
    return {"detail": message, "code": code}


class BasicChallenge(Unauthenticated):
    """A 401 of the token endpoint whose credentials came, or should come, in HTTP Basic: the
    challenge asks for Basic instead of Bearer."""


_DESCRIPTIONS = {
    400: "Bad request (its `code`), e.g. BODY_UNREADABLE, INVALID_INPUT",
    401: "Missing, malformed, forged or expired credentials",
    403: "The access token lacks the scope this endpoint needs",
    404: "Not found, or not yours",
    409: "Conflicts with the locker's or resource's current state",
    429: "Too many attempts; retry after `Retry-After` seconds",
    503: "Unavailable: DATABASE_UNAVAILABLE (the database is down or locked) or BUSY (too many "
         "secret checks at once); retry after `Retry-After` seconds",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the deliberate refusals a route gives, all with ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
            for status in statuses}


def error_response(err: DomainError) -> JSONResponse:
    """One domain error in the cloud's body shape, with the headers its kind calls for."""
    status = http_status(err)
    headers: dict[str, str] = {}
    if isinstance(err, RetryLater):
        headers["Retry-After"] = str(err.retry_after)
    if isinstance(err, BasicChallenge):
        headers["WWW-Authenticate"] = 'Basic realm="berth"'
    elif status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body(err.code, err.message),
                        status_code=status, headers=headers or None)


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


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors in our shape; FastAPI's 422 shape, but never a 500 while echoing the
    offending input back; the framework's own refusals (unreadable body, unknown route, wrong
    method) in our shape; a database outage as 503."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        """A value the schema let through but the database refuses (PostgreSQL: NUL)."""
        message = "A value in the request cannot be stored (e.g. a NUL character)."
        return JSONResponse(body("INVALID_INPUT", message),
                            status_code=400)

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        """The database refused the connection, went away or stayed locked too long."""
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        message = "The database is unreachable or busy; retry shortly."
        return JSONResponse(body("DATABASE_UNAVAILABLE", message),
                            status_code=503,
                            headers={"Retry-After": str(DATABASE_RETRY_AFTER)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(body(code, message),
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(exc.errors())}, status_code=422)
