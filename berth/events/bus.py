"""One in-process publish/subscribe bus: the publisher never waits for a subscriber.

Each subscription has its own bounded queue and its own task, so a slow subscriber only delays
itself. **Overflow policy: drop the oldest.** When a subscription's queue is full, its oldest
queued event is dropped to make room for the new one and counted (``Subscription.dropped``, the
bus-wide ``EventBus.dropped``): the freshest state wins, and the count says what was lost. A
subscriber that raises is logged and counted (``failures``) and keeps receiving.

``publish`` is safe from any thread (the gateway's store runs in worker threads): off the loop
it hands the event over with ``loop.call_soon_threadsafe``. Handlers run on the event loop; a
handler with blocking work awaits it in a thread (``berth.kit.threads.run_blocking``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from berth.events.types import Event

log = logging.getLogger("berth.events")

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]

#: Events a subscription may have queued before the oldest are dropped.
DEFAULT_QUEUE = 1000
#: How long ``stop`` lets subscribers work through what is queued before cancelling them.
DEFAULT_DRAIN = 5.0


class Subscription:
    """One subscriber: its handler, the event classes it hears, its queue and counters."""

    def __init__(self, handler: Handler, types: tuple[type[Event], ...], maxsize: int,
                 name: str) -> None:
        self.handler = handler
        self.types = types
        self.name = name
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.delivered = 0
        self.dropped = 0
        self.failures = 0
        self.task: asyncio.Task[None] | None = None
        self.closing = False  # set by stop: the task ends even if a handler ate its cancel

    def wants(self, event: Event) -> bool:
        return isinstance(event, self.types)

    def offer(self, event: Event) -> None:
        """Queue without waiting; a full queue loses its oldest event (counted)."""
        if self.queue.full():
            self.queue.get_nowait()
            self.queue.task_done()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event subscriber %s is behind: %d events dropped so far",
                            self.name, self.dropped)
        self.queue.put_nowait(event)

    async def run(self) -> None:
        while not self.closing:
            event = await self.queue.get()
            try:
                result = self.handler(event)
                if result is not None:
                    await result
                self.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("event subscriber %s failed on %s", self.name, event)
            finally:
                self.queue.task_done()


class EventBus:
    """Subscribe before or after ``start``; publish from the loop or any thread."""

    def __init__(self, *, maxsize: int = DEFAULT_QUEUE, drain: float = DEFAULT_DRAIN) -> None:
        self.maxsize = maxsize
        self.drain = drain
        self.subscriptions: list[Subscription] = []
        self.published = 0
        self.unrouted = 0  # published while the bus was not running: nobody could hear them
        self._dropped_gone = 0  # counters of cancelled subscriptions, kept for the totals
        self._failures_gone = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # for the copy-on-write list of subscriptions

    # --- counters (metrics will read these) ------------------------------------------------

    @property
    def dropped(self) -> int:
        """Events lost to full queues, over every subscription (also those since cancelled)."""
        return self._dropped_gone + sum(s.dropped for s in self.subscriptions)

    @property
    def failures(self) -> int:
        return self._failures_gone + sum(s.failures for s in self.subscriptions)

    # --- subscribing -----------------------------------------------------------------------

    def subscribe(self, handler: Callable[[E], Awaitable[None] | None],
                  *types: type[E], name: str | None = None,
                  maxsize: int | None = None) -> Subscription:
        """Hear every event that is an instance of one of ``types`` (none given: every event).

        Safe from any thread: the subscriber hears every event routed after this call (its task
        starts at once on the loop, on the loop's next turn from another thread).
        """
        sub = Subscription(handler, types or (Event,), maxsize or self.maxsize,
                           name or getattr(handler, "__qualname__", repr(handler)))
        with self._lock:  # a new list: routing never sees it half-changed
            self.subscriptions = [*self.subscriptions, sub]
        loop = self._loop
        if loop is not None:
            if _on(loop):
                self._start(sub)
            else:
                loop.call_soon_threadsafe(self._start, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop hearing events (what is queued is discarded; the counters stay in the totals)."""
        with self._lock:
            if sub in self.subscriptions:
                self.subscriptions = [s for s in self.subscriptions if s is not sub]
                self._dropped_gone += sub.dropped
                self._failures_gone += sub.failures
        task, loop = sub.task, self._loop
        if task is not None:
            if loop is None or _on(loop):
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)

    # --- publishing ------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every interested subscriber; returns at once, from any thread."""
        loop = self._loop
        if loop is None:
            self.unrouted += 1
            return
        if _on(loop):
            self._route(event)
            return
        try:
            loop.call_soon_threadsafe(self._route, event)
        except RuntimeError:  # the loop closed meanwhile
            self.unrouted += 1

    def _route(self, event: Event) -> None:
        if self._loop is None:  # stopped between the hand-over and now
            self.unrouted += 1
            return
        self.published += 1
        for sub in self.subscriptions:
            if sub.wants(event):
                sub.offer(event)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running loop and start one task per subscription."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        for sub in self.subscriptions:
            self._start(sub)

    def _start(self, sub: Subscription) -> None:
        if self._loop is None or sub.task is not None or sub not in self.subscriptions:
            return  # stopped, started or cancelled before this hand-over ran
        sub.task = asyncio.create_task(sub.run(), name=f"berth-events-{sub.name}")

    async def stop(self, drain: float | None = None) -> None:
        """Stop taking events, let subscribers finish what is queued (up to ``drain``
        seconds), then cancel them; never hangs on a stuck subscriber."""
        if self._loop is None:
            return
        await asyncio.sleep(0)  # let hand-overs from threads already scheduled arrive
        self._loop = None
        subs = [s for s in self.subscriptions if s.task is not None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.queue.join() for s in subs)),
                                   self.drain if drain is None else drain)
        for sub in subs:
            assert sub.task is not None
            sub.closing = True
            sub.task.cancel()
        tasks = {s.task for s in subs if s.task is not None}
        if tasks:  # asyncio.wait never cancels: a handler that ignores cancellation is left
            _, stuck = await asyncio.wait(tasks, timeout=self.drain if drain is None else drain)
            for task in stuck:
                log.warning("event subscriber task %s ignored cancellation", task.get_name())
        for sub in subs:
            sub.task = None
            sub.closing = False
            sub.queue = asyncio.Queue(sub.queue.maxsize)  # a later start may run on another loop


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs on ``loop`` (False in worker threads, where no loop runs)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
