"""Location request bodies (operators); the location itself is in ``berth.contracts.cloud``."""

from __future__ import annotations

import zoneinfo

from pydantic import Field, field_validator, model_validator

from berth.contracts.cloud import Address, OpeningHours, Strict
from berth.domain.hours import WEEKDAYS, parse_hhmm

MAX_WINDOW_S = 90 * 86400
DROPOFF_WINDOW = Field(None, gt=0, le=MAX_WINDOW_S, description="Seconds a courier may take to "
                       "drop off after reserving (or getting a drop-off token); null: no window.")
COLLECTION_WINDOW = Field(None, gt=0, le=MAX_WINDOW_S, description="Seconds a recipient may take "
                          "to collect once the parcel landed; null: no deadline.")


class LocationCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: Address = Address()
    opening_hours: OpeningHours | None = Field(
        None, description="Per weekday; omitted or null: open around the clock.")
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"],
                          description="An IANA timezone name; opening hours are local to it.")
    dropoff_window: int | None = DROPOFF_WINDOW
    collection_window: int | None = COLLECTION_WINDOW

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _intervals_in_order(self) -> LocationCreate:
        for day in WEEKDAYS if self.opening_hours else ():
            for interval in getattr(self.opening_hours, day):
                if parse_hhmm(interval.open) >= parse_hhmm(interval.close):
                    raise ValueError(f"{day}: {interval.open} is not before {interval.close}")
        return self


class LocationPatch(Strict):
    """What an operator may change later: the dwell windows (null clears one)."""

    dropoff_window: int | None = DROPOFF_WINDOW
    collection_window: int | None = COLLECTION_WINDOW
