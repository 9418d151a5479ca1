"""Errors the cloud returns on purpose: ``{"detail": {"code": "STABLE_CODE", "message": "..."}}``.

Codes are stable and documented (docs/cloud.md); messages are for humans and may change.
Request-validation errors keep FastAPI's list form with status 422.
"""

from __future__ import annotations


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
