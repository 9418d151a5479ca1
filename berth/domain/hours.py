"""Opening hours per weekday: whether a location is open at a local wall-clock time.

Hours are given per weekday as intervals ``(open, close)`` in minutes since local midnight,
``close`` up to 1440 (24:00). A weekday without intervals is closed all day; no hours at all
means open around the clock. The caller converts "now" into the location's own timezone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Interval = tuple[int, int]


def parse_hhmm(value: str) -> int:
    """``"08:30"`` -> 510; ``"24:00"`` -> 1440 (only as a closing time, checked by the caller)."""
    hours, sep, minutes = value.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit()
            and minutes.isdigit()):
        raise ValueError(f"{value!r} is not HH:MM")
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise ValueError(f"{value!r} is not a time of day")
    return h * 60 + m


def is_open(hours: Mapping[str, Sequence[Interval]] | None, weekday: int, minute: int) -> bool:
    """Open at ``minute`` past local midnight on ``weekday`` (0 = Monday)? Intervals are
    half-open: open at the opening minute, closed at the closing one."""
    if hours is None:
        return True
    return any(start <= minute < end for start, end in hours.get(WEEKDAYS[weekday], ()))
