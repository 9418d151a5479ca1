"""One error shape for every failure: the seed's ``Error`` body with a stable code.

Services raise the kinds of ``berth.domain.errors``; this module renders any ``DomainError`` with
the status of its kind (``http_status``) and, for the retry kinds, ``Retry-After`` from
``retry_after``. Handlers also cover Starlette's HTTP errors (404 unknown route, 405), request
validation (422 becomes 400 ``VALIDATION_ERROR``, malformed JSON included; so does a value the
database refuses, such as a NUL character on PostgreSQL) and, as a last resort,
a database that is down or locked too long (503 ``DATABASE_UNAVAILABLE``), unexpected
exceptions (500 ``INTERNAL_ERROR``, which should never happen).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from berth.contracts.gateway import iso_ms
from berth.domain.errors import (
    DomainError,
    RetryLater,
    TooManyAttempts,
    Unavailable,
    http_status,
)

log = logging.getLogger("berth.gateway")

_STATUS_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message,
            "timestamp": iso_ms(datetime.now(UTC)),
            "details": details}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(error_body(code, message, details), default=str)
    return Response(content, status, headers, media_type="application/json")


def render(err: DomainError, headers: dict[str, str] | None = None) -> Response:
    """A domain error as an ``Error`` body: its kind gives the status, ``retry_after`` the
    ``Retry-After`` header."""
    if isinstance(err, RetryLater):
        headers = {**(headers or {}), "Retry-After": str(err.retry_after)}
    return error_response(http_status(err), err.code, err.message, err.details, headers)


def too_many(retry_after: int, message: str) -> Response:
    """429 after too many failed attempts; ``Retry-After`` says when to try again."""
    return render(TooManyAttempts("TOO_MANY_REQUESTS",
                                  f"{message}; try again in {retry_after} s",
                                  retry_after=retry_after))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        details.append({"field": ".".join(loc[1:] if loc[:1] == ["body"] else loc),
                        "message": err.get("msg", ""), "type": err.get("type", "")})
    return details


def _validation_message(details: list[dict[str, Any]]) -> str:
    if any(d["type"] == "json_invalid" for d in details):
        return "Request body is not valid JSON"
    first = details[0] if details else {"field": "", "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}{first['message']}{more}"


def _document_400_not_422(app: FastAPI) -> None:
    """The handler below answers validation errors with 400: drop FastAPI's implied 422."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict):
                        operation.get("responses", {}).pop("422", None)
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_400_not_422(app)

    @app.exception_handler(DomainError)
    async def _refused(_request: Request, exc: DomainError) -> Response:
        return render(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        return error_response(exc.status_code, code, message, None,
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        return error_response(400, "VALIDATION_ERROR", _validation_message(details), details)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        """The database refused a value the schema let through (PostgreSQL: a NUL character)."""
        log.info("unstorable input on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(400, "VALIDATION_ERROR",
                              "A value in the request cannot be stored (e.g. a NUL character)",
                              None)

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return render(Unavailable("DATABASE_UNAVAILABLE",
                                  "The database is busy or unreachable; retry shortly"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "INTERNAL_ERROR", "Unexpected server error", None)
