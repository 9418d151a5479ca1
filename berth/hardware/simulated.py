"""An in-process simulated lock controller, for unit tests of code above the driver.

It keeps door state only; the byte-level simulator that speaks the boards' wire protocols lives in
its own module and is what the running platform uses.
"""

from __future__ import annotations

import asyncio

from berth.hardware.driver import CommunicationError, DoorState, LockController, NotDelivered


class SimulatedController(LockController):
    def __init__(self, controller_id: str, channels: int, close_after: float | None = 5.0) -> None:
        super().__init__(controller_id, channels)
        self.close_after = close_after
        self.doors: dict[int, DoorState] = dict.fromkeys(range(1, channels + 1), DoorState.CLOSED)
        self.unlocks: list[int] = []
        self.jammed: set[int] = set()
        self.offline = False
        self._timers: dict[int, asyncio.TimerHandle] = {}

    @property
    def online(self) -> bool:
        return not self.offline

    def _check(self, channel: int | None = None) -> None:
        if self.offline:
            raise NotDelivered(f"{self.controller_id}: no response")
        if channel is not None and not 1 <= channel <= self.channels:
            raise CommunicationError(f"{self.controller_id}: no channel {channel}")

    async def unlock(self, channel: int) -> None:
        self._check(channel)
        self.unlocks.append(channel)
        if channel in self.jammed:
            return
        self.doors[channel] = DoorState.OPEN
        if self.close_after is not None:
            if old := self._timers.pop(channel, None):
                old.cancel()
            loop = asyncio.get_running_loop()
            self._timers[channel] = loop.call_later(self.close_after, self.close_door, channel)

    def close_door(self, channel: int) -> None:
        self.doors[channel] = DoorState.CLOSED

    def force_open(self, channel: int) -> None:
        self.doors[channel] = DoorState.OPEN

    async def read_doors(self) -> dict[int, DoorState]:
        self._check()
        return dict(self.doors)

    async def aclose(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
