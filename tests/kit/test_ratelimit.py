"""The failure budgets behind every 429: windows on an injected clock, bounded memory."""

from __future__ import annotations

import pytest

from berth.kit.ratelimit import FailureLimiter, address


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_budget_spent_then_free_when_the_window_ends() -> None:
    clock = Clock()
    limiter = FailureLimiter({"client": "3/minute", "address": "2/10 seconds"}, clock=clock)
    for _ in range(2):
        assert limiter.retry_after(client="a", address="1.2.3.4") is None
        limiter.failed(client="a", address="1.2.3.4")
    assert limiter.retry_after(address="1.2.3.4") == 10
    assert limiter.retry_after(client="a") is None  # 2 of 3
    assert limiter.retry_after(client="a", address="1.2.3.4") == 10
    limiter.failed(client="a", address=None)  # None: that key is not counted
    assert limiter.retry_after(client="a", address="1.2.3.4") == 60  # the longest wait
    assert limiter.retry_after(client="b", address="5.6.7.8") is None
    clock.now += 10
    assert limiter.retry_after(address="1.2.3.4") is None
    assert limiter.retry_after(client="a") == 50
    clock.now += 50
    assert limiter.retry_after(client="a") is None


def test_memory_stays_bounded_under_a_flood_of_keys() -> None:
    clock = Clock()
    limiter = FailureLimiter({"address": "1/minute"}, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.failed(address=f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._storage._counters) <= 100
    assert limiter.retry_after(address="10.0.3.231") == 60  # the newest are kept
    huge = "x" * 100_000
    limiter.failed(address=huge)
    assert all(len(k) < 300 for k in limiter._storage._counters)
    assert limiter.retry_after(address=huge) == 60


def test_bad_budget_strings_are_refused() -> None:
    with pytest.raises(ValueError):
        FailureLimiter({"client": "often"})


def test_address_of_a_peer() -> None:
    assert address(("192.0.2.1", 5000)) == "192.0.2.1"
    assert address(None) == "unknown"
