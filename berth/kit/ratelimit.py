"""Failure budgets: too many failed attempts per key (client id, address) in a window -> 429.

Built on the ``limits`` package (its fixed-window strategy and its rate strings such as
``"10/minute"``) over an in-memory storage that reads an injectable clock, so tests move time
instead of sleeping. Only failures are counted: callers ask :meth:`FailureLimiter.retry_after`
before the costly check and call :meth:`FailureLimiter.failed` after a refusal, so successful
requests never use up anyone's budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

Seconds = Callable[[], float]
Client = tuple[str, int] | Sequence[object] | None  # ASGI scope["client"], Request.client
MAX_KEY = 200  # characters of a key kept: an attacker's 100 kB client id is not stored whole


class ClockedMemoryStorage(Storage):
    """``limits``' fixed-window counters in memory, with time from ``clock`` (epoch seconds).

    At most ``max_keys`` counters are kept: expired ones are dropped first, then the oldest, so
    a flood of distinct addresses cannot grow memory without bound.
    """

    STORAGE_SCHEME = None

    def __init__(self, clock: Seconds = time.time, max_keys: int = 100_000) -> None:
        super().__init__()
        self.clock = clock
        self.max_keys = max_keys
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return RuntimeError  # nothing in memory fails like a remote store would

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counters.get(key)
        return entry if entry is not None and entry[1] > now else None

    def _make_room(self, now: float) -> None:
        if len(self._counters) < self.max_keys:
            return
        for key in [k for k, (_, exp) in self._counters.items() if exp <= now]:
            del self._counters[key]
        while len(self._counters) >= self.max_keys:
            del self._counters[next(iter(self._counters))]

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._lock:
            now = self.clock()
            entry = self._live(key, now)
            if entry is None:
                self._counters.pop(key, None)
                self._make_room(now)
                entry = (0, now + expiry)
            count = entry[0] + amount
            self._counters[key] = (count, entry[1])
            return count

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._live(key, self.clock())
            return entry[0] if entry else 0

    def get_expiry(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            entry = self._live(key, now)
            return entry[1] if entry else now

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counters)
            self._counters.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)


class FailureLimiter:
    """Named budgets of failures, e.g. ``{"client": "10/minute", "address": "30/minute"}``."""

    def __init__(self, rules: Mapping[str, str], clock: Seconds = time.time,
                 max_keys: int = 100_000) -> None:
        self.rules: dict[str, RateLimitItem] = {name: parse(rule) for name, rule in rules.items()}
        self._storage = ClockedMemoryStorage(clock, max_keys)
        self._limiter = FixedWindowRateLimiter(self._storage)

    def retry_after(self, **keys: str | None) -> int | None:
        """Whole seconds until every named budget that is spent has room again; None if none is.

        A key given as None (e.g. no client id) is not checked.
        """
        waits = []
        for name, key in keys.items():
            if key is None:
                continue
            rule = self.rules[name]
            if not self._limiter.test(rule, name, key[:MAX_KEY]):
                reset = self._limiter.get_window_stats(rule, name, key[:MAX_KEY]).reset_time
                waits.append(max(1, math.ceil(reset - self._storage.clock())))
        return max(waits) if waits else None

    def failed(self, **keys: str | None) -> None:
        """Count one failure against each named key."""
        for name, key in keys.items():
            if key is not None:
                self._limiter.hit(self.rules[name], name, key[:MAX_KEY])


def address(client: Client) -> str:
    """The peer's address (behind a proxy: what the server's proxy-headers setting says)."""
    return str(client[0]) if client else "unknown"
