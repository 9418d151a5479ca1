"""Errors the cloud returns on purpose: ``{"detail": {"code": "STABLE_CODE", "message": "..."}}``.

Codes are stable and documented (docs/cloud.md); messages are for humans and may change.
Request-validation errors keep FastAPI's list form with status 422.
"""

from __future__ import annotations


class CloudError(Exception):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
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
