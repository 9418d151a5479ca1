"""The one way Berth hands blocking work (database, serial line, hashing) to a worker thread.

Keyword arguments pass through (``anyio.to_thread.run_sync`` takes positional ones only), and
the work runs on AnyIO's default thread limiter, the one FastAPI's plain ``def`` routes use, so
one pool bounds all blocking work of a process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

WORKER_THREADS = 40  # AnyIO's default limiter: the most blocking calls running at once
P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in a worker thread and await its result."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class OwnLane:
    """A worker thread lane of its own, for a loop that must not queue behind request work
    (the default limiter is FIFO: under a burst of requests a background poll would wait for
    all of them)."""

    def __init__(self) -> None:
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[[], T]) -> T:
        if self._limiter is None:  # made in the running loop that uses it
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
