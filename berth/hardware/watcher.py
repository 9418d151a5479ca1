"""Door watching: poll every controller's door sensors and publish only what changed.

Field lessons (lock-boards notes): poll about every 0.5 s, publish changes only, report a door that
opens with no unlock behind it (forced open), and after 3 failed polls in a row report the
controller offline until it answers again. Already the first failed poll makes every door of the
controller unknown (``DOORS_UNKNOWN``), so nothing is assigned on a reading that may be stale; the
next good poll says what each door is (``DOORS_KNOWN``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from berth.hardware.driver import CommunicationError, DoorState, LockController

log = logging.getLogger("berth.hardware.watcher")


class DoorEventKind(StrEnum):
    DOOR_OPENED = "DOOR_OPENED"
    DOOR_CLOSED = "DOOR_CLOSED"
    DOOR_FORCED_OPEN = "DOOR_FORCED_OPEN"
    DOOR_STATE_UNKNOWN = "DOOR_STATE_UNKNOWN"
    CONTROLLER_OFFLINE = "CONTROLLER_OFFLINE"
    CONTROLLER_ONLINE = "CONTROLLER_ONLINE"
    DOORS_UNKNOWN = "DOORS_UNKNOWN"  # a poll failed: the controller's doors are unknown
    DOORS_KNOWN = "DOORS_KNOWN"  # it answers again; ``doors`` holds every door's state


@dataclass(frozen=True)
class DoorEvent:
    kind: DoorEventKind
    controller_id: str
    channel: int | None = None  # None for controller-wide events
    detail: str = ""
    doors: tuple[tuple[int, DoorState], ...] = ()  # DOORS_KNOWN: (channel, state) of each door


OnEvent = Callable[[DoorEvent], Awaitable[None] | None]


class DoorWatcher:
    """Polls ``read_doors()`` of each controller every ``interval`` seconds."""

    def __init__(self, controllers: Iterable[LockController], on_event: OnEvent, *,
                 interval: float = 0.5, failures_before_unknown: int = 3,
                 unlock_window: float = 70.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.controllers = list(controllers)
        self.on_event = on_event
        self.interval = interval
        self.failures_before_unknown = failures_before_unknown
        self.unlock_window = unlock_window  # the open rule's worst case is about 62 s
        self._now = monotonic
        self._states: dict[str, dict[int, DoorState]] = {}
        self._failures: dict[str, int] = {}
        self._offline: set[str] = set()
        self._blind: set[str] = set()  # controllers whose last poll failed
        self._unlocks: dict[tuple[str, int], float] = {}
        self._seen_open: dict[tuple[str, int], float] = {}  # the open rule read it open, when
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def note_unlock(self, controller_id: str, channel: int) -> None:
        """Tell the watcher an unlock was ordered, so the next opening is not 'forced'."""
        self._unlocks[(controller_id, channel)] = self._now()

    def note_opened(self, controller_id: str, channel: int) -> None:
        """Tell the watcher the open rule read this door open. A door shut again before the
        next poll would otherwise never be seen open, so its closing (which spends a token and
        reports a parcel in) would be lost; the next poll that finds it closed reports both."""
        self._seen_open[(controller_id, channel)] = self._now()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="berth-door-watcher")

    async def aclose(self) -> None:
        """Stop polling. The flag ends the loop even if a callback swallowed the cancellation
        (a shielded thread hand-off may do that)."""
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, max(self.interval * 4, 5.0))
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            await self.poll_once()
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> None:
        """One round over all controllers (public so tests can step it by hand)."""
        for controller in self.controllers:
            try:
                await self._poll(controller)
            except Exception:  # a callback failure must not stop the watching
                log.exception("door watcher: polling %s failed", controller.controller_id)

    async def _poll(self, controller: LockController) -> None:
        cid = controller.controller_id
        started = self._now()
        try:
            doors = await asyncio.wait_for(controller.read_doors(), max(self.interval * 4, 1.0))
        except (CommunicationError, TimeoutError, OSError) as exc:
            self._failures[cid] = failures = self._failures.get(cid, 0) + 1
            if cid not in self._blind:
                self._blind.add(cid)
                await self._emit(DoorEvent(DoorEventKind.DOORS_UNKNOWN, cid, None,
                                           f"a door poll failed: {exc}"))
            if failures >= self.failures_before_unknown and cid not in self._offline:
                self._offline.add(cid)
                # every door becomes unknown; the first good poll reports each door again
                self._states[cid] = dict.fromkeys(range(1, controller.channels + 1),
                                                  DoorState.UNKNOWN)
                await self._emit(DoorEvent(DoorEventKind.CONTROLLER_OFFLINE, cid, None,
                                           f"{failures} polls failed in a row: {exc}"))
            return
        self._failures[cid] = 0
        if cid in self._offline:
            self._offline.discard(cid)
            await self._emit(DoorEvent(DoorEventKind.CONTROLLER_ONLINE, cid, None,
                                       "controller answers again"))
        before = self._states.setdefault(cid, {})
        for channel, state in sorted(doors.items()):
            previous = before.get(channel)
            if self._opened_before(cid, channel, started) and state is DoorState.CLOSED \
                    and previous is not DoorState.OPEN:
                # opened by us and shut again between two polls: report the opening it missed
                self._unlocks.pop((cid, channel), None)
                before[channel] = previous = DoorState.OPEN
                await self._emit(DoorEvent(DoorEventKind.DOOR_OPENED, cid, channel))
            if state == previous:
                continue
            before[channel] = state
            kind = self._kind(cid, channel, previous, state)
            if kind is not None:
                await self._emit(DoorEvent(kind, cid, channel))
        if cid in self._blind:
            self._blind.discard(cid)
            await self._emit(DoorEvent(DoorEventKind.DOORS_KNOWN, cid, None,
                                       "the controller answers again",
                                       tuple(sorted(doors.items()))))

    def _opened_before(self, cid: str, channel: int, started: float) -> bool:
        """Whether the open rule saw this door open before this poll's reading began (a
        reading already under way may predate the opening, and must not close it); a poll
        after the note uses it up, whatever it reads."""
        noted = self._seen_open.get((cid, channel))
        if noted is None or noted > started:
            return False
        del self._seen_open[(cid, channel)]
        return True

    def _kind(self, cid: str, channel: int, previous: DoorState | None,
              state: DoorState) -> DoorEventKind | None:
        if state is DoorState.UNKNOWN:
            return DoorEventKind.DOOR_STATE_UNKNOWN
        if state is DoorState.CLOSED:
            # the first sight of a closed door is no change worth publishing
            return DoorEventKind.DOOR_CLOSED if previous is not None else None
        noted = self._unlocks.pop((cid, channel), None)
        if noted is not None and self._now() - noted <= self.unlock_window:
            return DoorEventKind.DOOR_OPENED
        if previous in (None, DoorState.UNKNOWN):  # first sight: cannot know how it opened
            return DoorEventKind.DOOR_OPENED
        return DoorEventKind.DOOR_FORCED_OPEN

    async def _emit(self, event: DoorEvent) -> None:
        result = self.on_event(event)
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            await result
