"""Bounds of the partner event feed (its bodies are in ``berth.contracts.cloud``)."""

from __future__ import annotations

MAX_EVENTS_PAGE = 500
MAX_POSITION = 2**62  # positions are 64-bit; larger input is a 422, not a database error
