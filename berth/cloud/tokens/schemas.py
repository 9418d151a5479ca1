"""Token request bodies (the signed tokens themselves are in ``berth.contracts.cloud``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from berth.cloud.reservations.schemas import OptionalDuration
from berth.contracts.cloud import Strict

MAX_TOKEN_S = 7 * 24 * 3600


class LockerTokenCreate(Strict):
    client_info: str = Field("", max_length=1000, description="Send an empty string.")
    duration: OptionalDuration = Field(
        None, gt=0, le=MAX_TOKEN_S,
        description="Seconds the token stays valid. A drop-off token lasts at most the "
        "location's drop-off window, which is also its default; a pick-up token needs one "
        "(DURATION_REQUIRED: 400).")
    purpose: Literal["collect", "return"] = Field(
        "collect", description="Pick-up tokens only: `return` is a courier's token to take "
        "back a parcel not collected by its deadline (PARCEL_NOT_OVERDUE: 409 before that).")


class PickupTokenCreate(LockerTokenCreate):
    keypad_code: bool = Field(
        False, description="Also issue a numeric keypad code for a recipient without the app; "
        "the answer carries it once and the tower gets only its salted hash.")


class ReleaseLockerCreate(Strict):
    duration: int = Field(
        MAX_TOKEN_S, gt=0, le=MAX_TOKEN_S, description="Seconds the release token stays valid."
    )
