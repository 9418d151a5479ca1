"""Bodies of the fleet API's own (the forwarded calls answer in the Gateway API's shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from berth.contracts.gateway import CamelModel


class FleetLocation(CamelModel):
    """A location of the organisation, the site bound to it and its presence."""

    location_id: int
    site_id: str
    online: bool
    presence_at: str | None


class FleetRequest(CamelModel):
    """A forwarded call: ``pending`` until the site answers; ``done`` carries the Gateway
    API's status and body; ``failed`` says why (the site was interrupted, refused it, or never
    answered within the request's lifetime)."""

    id: str
    state: Literal["pending", "done", "failed"]
    operation: str
    location_id: int
    created_at: str
    outcome: Literal["done", "interrupted", "refused"] | None = None
    status: int | None = None
    body: Any = None
    detail: str | None = None


class Accepted(BaseModel):
    id: str = Field(description="Poll GET /fleet/v1/requests/{id} (also in `Location`)")
    state: Literal["pending"] = "pending"
