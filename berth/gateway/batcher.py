"""Group commit: concurrent requests share one database transaction and one durable commit.

A durable commit (fsync) per request caps throughput far below what the HTTP layer can do.
Requests that arrive while a batch is being written wait for the next batch; each batch runs in a
single worker thread (one writer, no lock contention inside the process) and each request gets its
own result through a future.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was stopped before the request ran."""


class GroupCommitter(Generic[T, R]):
    """Collect items from coroutines, run them through ``run_batch`` in batches, in order."""

    def __init__(self, run_batch: Callable[[Sequence[T]], list[R]], max_batch: int = 128) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0
        self.items = 0

    async def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            # Not berth.kit.threads.run_blocking: batches must run one at a time, in order, on
            # one dedicated thread (a single writer), never interleaved with, nor waiting for a
            # slot among, the shared pool's request work.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="berth-group-commit")
            self._task = asyncio.create_task(self._loop(), name="berth-group-commit")

    async def submit(self, item: T) -> R:
        if self._task is None or self._wake is None:
            raise BatcherClosed("group committer is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wake.set()
        return await future

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                items = [item for item, _ in batch]
                try:
                    results = await loop.run_in_executor(self._executor, self._run_batch, items)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                self.items += len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _, future in self._pending:
            if not future.done():
                future.set_exception(BatcherClosed("gateway is shutting down"))
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
