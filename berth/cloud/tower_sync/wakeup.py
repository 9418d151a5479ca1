"""Command long-polls: towers waiting for a command sleep on an event, not in a polling loop.

One loop per cloud process (:meth:`CommandWakeups.run`) asks the database every ``interval``
seconds which commands are new, with one indexed query whatever the number of waiting towers,
and wakes the requests waiting for those towers. Because it reads the database, a command queued
by any process sharing it wakes a tower held by this one within ``interval`` seconds. Commands
may commit out of id order on PostgreSQL, so each poll looks back ``LOOKBACK`` ids below the
highest seen; a wakeup missed beyond that only delays a command to the tower's next poll, it
never loses one (the command stays pending in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from berth.kit.threads import OwnLane

LOOKBACK = 256
FORGET_IDLE_POLLS = 240  # wakeup polls (about a minute) after which idle marks are dropped
log = logging.getLogger(__name__)

# (floor) -> [(command id, tower id)] of commands with a larger id
NewCommands = Callable[[int], Sequence[tuple[int, str]]]


class CommandWakeups:
    def __init__(self, new_commands: NewCommands, top_id: Callable[[], int],
                 interval: float) -> None:
        self.new_commands = new_commands
        self.top_id = top_id
        self.interval = interval
        self._waiting: dict[str, asyncio.Event] = {}
        # tower -> partner -> the ``after`` of its last empty answer (until a command comes)
        self._idle: dict[str, dict[int, int]] = {}
        self._polls = 0
        self._seen: set[int] = set()
        self._top: int | None = None  # highest command id seen; None until the first poll

    def waiter(self, tower_id: str) -> asyncio.Event:
        """The event set when a new command for ``tower_id`` is seen (get it before reading the
        pending commands, so one committed in between still wakes the caller)."""
        event = self._waiting.get(tower_id)
        if event is None:
            event = self._waiting[tower_id] = asyncio.Event()
        return event

    def known_idle(self, partner_id: int, tower_id: str, after: int) -> bool:
        """Whether this partner's last poll of the tower found nothing after ``after`` or less
        and no command for it was seen since: the next poll may skip reading the database.
        The marks are dropped every minute or so, so a tower taken from the partner answers
        404 again soon."""
        event = self._waiting.get(tower_id)
        last = self._idle.get(tower_id, {}).get(partner_id)
        return event is not None and not event.is_set() and last is not None and last <= after

    def mark_idle(self, partner_id: int, tower_id: str, after: int) -> None:
        """The tower had no command after ``after`` when its ``waiter`` was already waiting."""
        self._idle.setdefault(tower_id, {})[partner_id] = after

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Until ``event`` is set or ``seconds`` pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def wake(self, tower_ids: Sequence[str]) -> None:
        for tower_id in tower_ids:
            self._idle.pop(tower_id, None)
            event = self._waiting.pop(tower_id, None)
            if event is not None:
                event.set()

    def poll_once(self) -> list[str]:
        """Read the new commands (blocking); returns the towers they are for."""
        self._polls += 1
        if self._polls % FORGET_IDLE_POLLS == 0:
            self._idle.clear()
        starting = self._top is None
        if self._top is None:  # start from now: older commands are read by the requests
            self._top = self.top_id()
        found = self.new_commands(max(0, self._top - LOOKBACK))
        fresh = [tower for cid, tower in found if cid not in self._seen]
        self._seen = {cid for cid, _ in found}
        self._top = max([self._top, *(cid for cid, _ in found)])
        return [] if starting else fresh

    async def run(self) -> None:
        lane = OwnLane()  # never behind a burst of requests in the shared thread pool
        while True:
            try:
                self.wake(await lane.run(self.poll_once))
            except Exception:  # the database may be away: waiters time out and poll again
                log.exception("command wakeup poll failed")
            await asyncio.sleep(self.interval)
