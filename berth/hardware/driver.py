"""The driver interface every lock controller implements, real board or simulator.

The gateway only ever talks to a ``LockController``: fire one channel's lock, read door sensors.
Errors come in two kinds, because the open rule treats them differently: a
``CommunicationError`` (no or garbled answer) may be retried, a ``HardwareFault`` (the board
answered, the lock misbehaved) must not be.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum


class DoorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class CommunicationError(Exception):
    """The controller did not answer, or its answer could not be read.

    The request itself may have reached the board: an unlock that raised this may have fired.
    """


class NotDelivered(CommunicationError):
    """The request never left for the board (line down, bus not started): nothing happened.

    Only this error lets the open rule fire a lock again; after any other the lock may have fired.
    """


class HardwareFault(Exception):
    """The controller answered but the lock did not do what it was told. Never retried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LockController(ABC):
    """One lock-control board: ``channels`` locks numbered 1..channels."""

    def __init__(self, controller_id: str, channels: int) -> None:
        self.controller_id = controller_id
        self.channels = channels

    @property
    def online(self) -> bool:
        """Whether the board answered its last request."""
        return True

    async def start(self) -> None:
        """Open transports, start background work. Idempotent."""

    async def aclose(self) -> None:
        """Release transports and background work."""

    @abstractmethod
    async def unlock(self, channel: int) -> None:
        """Fire the lock of ``channel`` once. Does not wait for the door to open."""

    @abstractmethod
    async def read_doors(self) -> dict[int, DoorState]:
        """Door state of every channel of this board."""

    async def read_door(self, channel: int) -> DoorState:
        return (await self.read_doors()).get(channel, DoorState.UNKNOWN)

    def counters(self) -> dict[str, int]:
        """What this board's link has counted so far (requests, timeouts, malformed replies,
        discarded bytes, reconnects...), by stable snake_case name; shown by the gateway's
        ``GET /system/counters`` and ``berth hw``. Boards without a link count nothing."""
        return {}
