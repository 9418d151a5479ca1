"""Typed errors raised by the SDK, carrying the server's stable error code."""

from __future__ import annotations

import math
from typing import Any

import httpx


class BerthApiError(Exception):
    """A non-2xx answer. ``code`` is the server's machine-readable code (or ``HTTP_<status>``)."""

    def __init__(self, status: int, code: str, message: str, body: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.retry_after = retry_after  # seconds, from ``Retry-After`` (429 and 503), if sent


class AuthenticationError(BerthApiError):
    """401: missing, expired, forged or unknown credentials."""


class PermissionDenied(BerthApiError):
    """403: valid credentials without the scope this call needs."""


class NotFound(BerthApiError):
    """404: no such resource, or not one of yours."""


class Conflict(BerthApiError):
    """409: the resource's state refuses the action (or the transaction id is taken)."""


class ValidationFailed(BerthApiError):
    """400/422: the request was malformed."""


class TooManyRequests(BerthApiError):
    """429: too many failed attempts (e.g. TOO_MANY_ATTEMPTS on the cloud's token endpoint);
    try again after ``retry_after`` seconds."""


class ServiceUnavailable(BerthApiError):
    """503: try again later, after ``retry_after`` seconds when the server says (e.g.
    DATABASE_UNAVAILABLE, BUSY, or LOCKER_ASSIGNMENT_CONFLICT after the SDK's own retries)."""


_BY_STATUS: dict[int, type[BerthApiError]] = {
    400: ValidationFailed,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def error_code(body: Any, status: int) -> tuple[str, str]:
    """Read (code, message) from either API's error body.

    Gateway: ``{"error": CODE, "message": ...}``. Cloud (the original's shape):
    ``{"detail": "text", "code": CODE}``, or FastAPI's validation list in ``detail``; the older
    cloud shape ``{"detail": {"code": CODE, "message": ...}}`` is still read.
    """
    fallback = f"HTTP_{status}"
    if not isinstance(body, dict):
        return fallback, str(body or "")
    if isinstance(body.get("error"), str):
        return body["error"], str(body.get("message", ""))
    detail = body.get("detail")
    if isinstance(body.get("code"), str):
        return body["code"], detail if isinstance(detail, str) else ""
    if isinstance(detail, dict):
        return str(detail.get("code", fallback)), str(detail.get("message", ""))
    if isinstance(detail, list):
        return "VALIDATION_ERROR", "; ".join(str(d.get("msg", d)) for d in detail)
    if detail is not None:
        return fallback, str(detail)
    return fallback, ""


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds form; an HTTP date or junk gives None)."""
    try:
        value = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def raise_for_response(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    code, message = error_code(body, response.status_code)
    cls = _BY_STATUS.get(response.status_code, BerthApiError)
    raise cls(response.status_code, code, message, body, retry_after(response))
