"""Opening hours: open inside an interval of the weekday, closed elsewhere; none: always."""

from __future__ import annotations

import pytest

from berth.domain.hours import is_open, parse_hhmm

HOURS = {"monday": [(8 * 60, 12 * 60), (13 * 60, 1440)], "saturday": [(10 * 60, 14 * 60)]}


@pytest.mark.parametrize(("weekday", "minute", "open_"), [
    (0, 8 * 60, True), (0, 8 * 60 - 1, False), (0, 12 * 60 - 1, True), (0, 12 * 60, False),
    (0, 13 * 60, True), (0, 1439, True), (1, 9 * 60, False), (5, 11 * 60, True),
    (5, 14 * 60, False), (6, 11 * 60, False),
])
def test_intervals_are_half_open(weekday: int, minute: int, open_: bool) -> None:
    assert is_open(HOURS, weekday, minute) is open_


def test_no_hours_means_always_open() -> None:
    assert all(is_open(None, day, m) for day in range(7) for m in (0, 720, 1439))


def test_empty_hours_mean_always_closed() -> None:
    assert not any(is_open({}, day, m) for day in range(7) for m in (0, 720, 1439))


@pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("08:30", 510), ("24:00", 1440)])
def test_parse(text: str, minutes: int) -> None:
    assert parse_hhmm(text) == minutes


@pytest.mark.parametrize("text", ["8:30", "24:01", "25:00", "12:60", "1230", "ab:cd", ""])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)
