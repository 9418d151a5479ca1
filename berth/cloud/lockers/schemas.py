"""Locker request bodies (operators); the locker itself is in ``berth.contracts.cloud``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from berth.contracts.cloud import Dimensions, Strict


class LockerCreate(Strict):
    name: str = Field(min_length=1, max_length=50)
    type: Literal["small", "medium", "large", "xlarge"] = "medium"
    isLowLocker: bool = False
    accessMode: str = Field("public", max_length=20)
    dimensions: Dimensions = Dimensions()
    maxWeight: int | None = Field(None, ge=1, le=1_000_000,
                                  description="Load limit in grams, where known (fit check).")


class LockersCreate(Strict):
    lockers: list[LockerCreate] = Field(min_length=1, max_length=1000)


class OutOfServiceUpdate(Strict):
    outOfService: bool
