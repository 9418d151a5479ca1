"""What a phone relays up from a tower (the answers are in ``berth.contracts.cloud``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from berth.contracts.cloud import MAX_ID, Strict


class TowerEvent(BaseModel):
    """One event from the tower's log, exactly as the tower signed it (extra fields allowed)."""

    model_config = ConfigDict(extra="allow", strict=True)

    tower_id: str = Field(max_length=16)
    seq: int = Field(ge=0, le=2**63 - 1)
    type: str = Field(max_length=40)
    timestamp: int = Field(ge=0, le=2**63 - 1)
    locker_id: int | None = Field(None, ge=1, le=MAX_ID)
    token_id: str | None = Field(None, max_length=32)
    command_id: int | None = Field(None, ge=1, le=MAX_ID)
    signature: str = Field(max_length=128)


class EventBatch(Strict):
    events: list[TowerEvent] = Field(min_length=1, max_length=500)
