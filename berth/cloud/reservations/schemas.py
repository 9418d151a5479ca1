"""Reservation request body (the reservation itself is in ``berth.contracts.cloud``)."""

from __future__ import annotations

from pydantic import Field

from berth.contracts.cloud import Strict

MAX_RESERVATION_S = 24 * 3600


class ReservationCreate(Strict):
    duration: int = Field(gt=0, le=MAX_RESERVATION_S, description="Seconds, e.g. 300.")
