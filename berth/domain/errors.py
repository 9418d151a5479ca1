"""One error hierarchy for every refusal Berth means to give.

A domain error carries a stable machine-readable ``code``, a human ``message`` and optional
``details``; never an HTTP status. Its class says what kind of refusal it is, and each API maps
the kind to a status and renders it in its own body shape (the gateway's ``Error``, the cloud's
``detail``): see ``berth/gateway/errors.py`` and ``berth/cloud/errors.py``. Services, the tower
and the domain rules raise these; routers rarely need to raise at all.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A deliberate refusal: ``code`` is stable and documented, ``message`` is for people."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The request can never succeed as written (bad value, unknown reference in the body)."""


class Unauthenticated(DomainError):
    """Missing, malformed, forged or expired credentials."""


class Forbidden(DomainError):
    """Valid credentials, but not allowed to do this (scope, or a token the tower refuses)."""


class NotFound(DomainError):
    """No such thing, or not the caller's: tenants never learn what others have."""


class Conflict(DomainError):
    """The current state refuses the action (a taken id, a locker in the wrong state)."""


class RetryLater(DomainError):
    """Worth retrying after ``retry_after`` seconds; the base of the two kinds below."""

    def __init__(self, code: str, message: str, details: Any = None, *,
                 retry_after: int = 1) -> None:
        super().__init__(code, message, details)
        self.retry_after = retry_after


class TooManyAttempts(RetryLater):
    """Too many failed attempts from this caller; rendered as 429 with ``Retry-After``."""


class Unavailable(RetryLater):
    """The service cannot answer now (busy, contended, storage down); 503 with ``Retry-After``."""


KIND_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyAttempts: 429,
    Unavailable: 503,
}


def http_status(error: DomainError) -> int:
    """The HTTP status both APIs give this kind of refusal (the nearest kind in its MRO)."""
    for cls in type(error).__mro__:
        if cls in KIND_STATUS:
            return KIND_STATUS[cls]
    return 400
