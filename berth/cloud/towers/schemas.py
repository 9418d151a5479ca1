"""Tower bodies only the server reads or an operator fetches (``Tower`` is in the contracts)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from berth.contracts.cloud import Strict

TOWER_ID_PATTERN = r"^[0-9a-fA-F]{16}$"


class TowerCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    id: str | None = Field(None, pattern=TOWER_ID_PATTERN, description="Random when omitted.")


class TowerProvisioning(BaseModel):
    """What an installer loads into a tower; operators only."""

    tower_id: str
    tower_private_key: str = Field(description="Hex raw Ed25519 private key of the tower.")
    tower_public_key: str
    cloud_public_keys: dict[str, str] = Field(description="Key id -> hex raw Ed25519 public key.")
    generations: dict[int, int] = Field(description="Locker id -> current token generation.")
