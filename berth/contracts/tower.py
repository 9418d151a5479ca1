"""The tower interface's bodies: what a phone relays, unchanged, between cloud and tower."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX = r"^[0-9a-fA-F]+$"
MAX_ID = 2**31 - 1  # command ids are the cloud's 32-bit ids


class TowerOpenRequest(BaseModel):
    """The drop-off or pick-up token exactly as the cloud issued it."""

    payload: str = Field(min_length=2, max_length=2048, pattern=HEX)
    payload_auth: str = Field(min_length=2, max_length=256, pattern=HEX)


class TowerKeypadRequest(BaseModel):
    """The code a recipient types at the tower's keypad or kiosk."""

    code: str = Field(min_length=6, max_length=8, pattern=r"^[0-9]+$",
                      description="The 6-8 digit keypad code of a pick-up token.")


class TowerOpenResponse(BaseModel):
    success: bool
    lockerId: int = Field(description="The cloud locker id the token named.")
    gatewayLockerId: int = Field(description="The gateway locker whose door was fired.")
    kind: str
    tokenId: str
    doorOpen: bool | None = Field(description="null when an unlock may have fired but no door "
                                  "reading confirmed it (reasonCode DOOR_STATE_UNKNOWN).")
    message: str
    reasonCode: str | None = None


class TowerEventsPage(BaseModel):
    events: list[dict[str, Any]] = Field(description="Signed events, oldest first.")
    lastSeq: int = Field(description="Pass as ?after= to continue: the page's last seq, "
                         "or `after` itself when there is nothing newer.")


class RelayedCommand(BaseModel):
    """A cloud command as ``GET /sdk/v1/towers/{id}/commands`` returns it."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=1, le=MAX_ID, strict=True)
    kind: str
    payload: str | None = Field(None, max_length=2048, pattern=HEX)
    payload_auth: str | None = Field(None, max_length=256, pattern=HEX)


class RelayedCommands(BaseModel):
    commands: list[RelayedCommand] = Field(min_length=1, max_length=100)


class CommandOutcome(BaseModel):
    id: int
    outcome: str = Field(description="applied, duplicate or refused")
    code: str | None = None


class CommandOutcomes(BaseModel):
    results: list[CommandOutcome]
