"""Typed Python clients (httpx, sync and async) for Berth's Cloud and Gateway APIs."""

from berth.sdk._core import RetryPolicy
from berth.sdk.errors import (
    AuthenticationError,
    BerthApiError,
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)

__all__ = [
    "AuthenticationError",
    "BerthApiError",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "RetryPolicy",
    "ServiceUnavailable",
    "TooManyRequests",
    "ValidationFailed",
]
