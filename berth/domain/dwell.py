"""Dwell time: how long a courier may take to drop off, and a recipient to collect.

A location may set a drop-off window (seconds from a reservation or a drop-off token being made
until it runs out) and a collection window (seconds from a parcel landing until it counts as not
collected). Pure rules, no clock of their own: the caller gives ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from berth.domain.errors import InvalidInput


def bounded_duration(asked: int | None, window: int | None) -> int:
    """The seconds a reservation or drop-off token lasts: what was asked, at most the window;
    the window itself when nothing was asked. Neither: 400 DURATION_REQUIRED."""
    if asked is None:
        if window is None:
            raise InvalidInput("DURATION_REQUIRED", "Give a duration: this location sets no "
                               "drop-off window to default to.")
        return window
    return asked if window is None else min(asked, window)


def collection_deadline(landed_at: datetime, window: int | None) -> datetime | None:
    """When a parcel that landed at ``landed_at`` is due to be collected (None: no deadline)."""
    return None if window is None else landed_at + timedelta(seconds=window)


def overdue(collect_by: datetime | None, now: datetime) -> bool:
    """Whether a parcel with this deadline is past it at ``now``."""
    return collect_by is not None and collect_by <= now
