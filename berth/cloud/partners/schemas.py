"""Partner and client bodies (operators only)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from berth.contracts.cloud import Strict


class PartnerCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class ClientCredentials(BaseModel):
    partner_id: int | None
    name: str
    client_id: str
    client_secret: str = Field(description="Shown once; only its argon2 hash is stored.")
    scopes: list[str]


class Partner(BaseModel):
    id: int
    name: str
