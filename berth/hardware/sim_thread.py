"""A simulator on its own event loop in a daemon thread, for code that is not async itself.

``SimulatorThread`` runs any ``start(**options)`` async context manager (the simulator's
``SimulatedBus.start``) until ``stop``; ``call`` runs a function on that loop and returns its
result, which is how tests and the person-at-the-locker controls reach the boards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("berth.hardware.simulator")
#: Something run beside a simulator thread's boards (``SimulatorThread(serve=...)``).
Service = Callable[[Any], AbstractAsyncContextManager[Any]]


class SimulatorThread:
    """Runs ``start(**options)`` in a daemon thread; use ``call`` to reach what it yields.

    With ``serve`` it also runs that service beside the boards for as long as they run: the
    ``sim://`` buses pass the person-at-the-locker unix socket (``berth.hardware.sim_control``),
    handed in so the simulator does not import what is built on top of it.
    """

    def __init__(self, start: Callable[..., AbstractAsyncContextManager[Any]],
                 serve: Service | None = None, **options: Any) -> None:
        self.start = start
        self.options = options
        self.serve = serve
        self.sim: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="berth-board-sim", daemon=True)

    @property
    def url(self) -> str:
        assert self.sim is not None
        return str(self.sim.url)

    def begin(self) -> SimulatorThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        if self.sim is None:
            raise RuntimeError("simulator did not start within 10 s")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.start(**self.options) as sim, contextlib.AsyncExitStack() as stack:
            if self.serve is not None:
                try:
                    await stack.enter_async_context(self.serve(sim))
                except (OSError, ValueError) as exc:  # the boards work without it
                    log.warning("no person-at-the-locker controls: %s", exc)
            self.sim = sim
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the simulator's loop (thread-safe) and return its result."""
        assert self._loop is not None
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(10)

    def inject(self, fault: str, board: int, channel: int | None = None,
               value: float | None = None) -> None:
        self.call(self.sim.inject, fault, board, channel, value)

    def controller_specs(self, prefix: str = "sim") -> list[Any]:
        return list(self.sim.controller_specs(prefix))

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> SimulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
