"""Request bodies of the webhook endpoints (the server alone validates them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from berth.contracts.cloud import Strict

MAX_URL = 2000
MAX_TYPES = 50
EventType = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]{1,40}$")]
MAX_DELIVERIES_PAGE = 200


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=MAX_URL, description="An http(s) URL.")
    event_types: list[EventType] = Field(
        default_factory=list, max_length=MAX_TYPES,
        description="Deliver only these types (LOCKER_OPERATION, reservation.expired, ...); "
                    "empty: every type.")
    enabled: bool = True


class WebhookUpdate(Strict):
    url: str | None = Field(None, min_length=1, max_length=MAX_URL)
    event_types: list[EventType] | None = Field(None, max_length=MAX_TYPES)
    enabled: bool | None = None
