"""Bodies of the controllers' admin API."""

from __future__ import annotations

from pydantic import Field

from berth.contracts.gateway import RequestModel


class ReplaceController(RequestModel):
    """Where the new board is: its bus address and, if it hangs on another bus, that bus."""

    address: int = Field(ge=0, le=255)
    url: str | None = Field(None, min_length=1, max_length=256,
                            description="The new board's bus; the old one's when omitted.")
