"""Token request bodies (the signed tokens themselves are in ``berth.contracts.cloud``)."""

from __future__ import annotations

from pydantic import Field

from berth.contracts.cloud import Strict

MAX_TOKEN_S = 7 * 24 * 3600


class LockerTokenCreate(Strict):
    client_info: str = Field("", max_length=1000, description="Send an empty string.")
    duration: int = Field(gt=0, le=MAX_TOKEN_S, description="Seconds the token stays valid.")


class PickupTokenCreate(LockerTokenCreate):
    keypad_code: bool = Field(
        False, description="Also issue a numeric keypad code for a recipient without the app; "
        "the answer carries it once and the tower gets only its salted hash.")


class ReleaseLockerCreate(Strict):
    duration: int = Field(
        MAX_TOKEN_S, gt=0, le=MAX_TOKEN_S, description="Seconds the release token stays valid."
    )
