"""A background task that lives exactly as long as a ``with`` block (app lifespans use it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, Any] | None, name: str) -> AsyncIterator[None]:
    """Run ``work`` while the block runs; cancel and await it on the way out (None: nothing)."""
    task = asyncio.create_task(work, name=name) if work is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
