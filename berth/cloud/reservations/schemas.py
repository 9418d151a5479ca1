"""Reservation request body (the reservation itself is in ``berth.contracts.cloud``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from berth.contracts.cloud import Strict

MAX_RESERVATION_S = 24 * 3600


def _given_not_null(value: Any) -> Any:
    """Leave the duration out for the location's drop-off window; ``null`` is no duration."""
    if value is None:
        raise ValueError("give a whole number of seconds, or leave duration out")
    return value


#: An optional duration: omitted means the location's drop-off window (docs/cloud.md).
OptionalDuration = Annotated[int | None, BeforeValidator(_given_not_null)]


class ReservationCreate(Strict):
    duration: OptionalDuration = Field(
        None, gt=0, le=MAX_RESERVATION_S,
        description="Seconds, e.g. 300; at most the location's drop-off window, which is also "
        "the default (DURATION_REQUIRED: 400 when the location has none).")
