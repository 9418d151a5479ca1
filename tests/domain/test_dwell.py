"""Dwell time rules: durations bounded by the drop-off window, the collection deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from berth.domain.dwell import bounded_duration, collection_deadline, overdue
from berth.domain.errors import InvalidInput

T = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("asked", "window", "lasts"), [
    (300, None, 300),  # no window: as asked
    (300, 900, 300),  # inside the window
    (3600, 900, 900),  # bounded by it
    (None, 900, 900),  # nothing asked: the window
])
def test_duration_is_bounded_by_the_dropoff_window(asked: int | None, window: int | None,
                                                   lasts: int) -> None:
    assert bounded_duration(asked, window) == lasts


def test_no_duration_and_no_window_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        bounded_duration(None, None)
    assert err.value.code == "DURATION_REQUIRED"


def test_collection_deadline_and_overdue() -> None:
    assert collection_deadline(T, None) is None
    due = collection_deadline(T, 3600)
    assert due == T + timedelta(hours=1)
    assert not overdue(due, T + timedelta(minutes=59))
    assert overdue(due, due)
    assert not overdue(None, T + timedelta(days=365))
