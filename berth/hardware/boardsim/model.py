"""The state of simulated boards: locks, doors, item sensors and injected faults. No I/O.

A door that should close by itself asks the board's ``schedule`` (the simulator passes its event
loop's ``call_later``); without one, doors stay open until closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


#: ``schedule(delay, callback)``: run ``callback`` after ``delay`` seconds; ``loop.call_later``.
Schedule = Callable[[float, Callable[[], None]], Timer]
#: One reply: the board that sends it and its bytes as they go on the wire.
Reply = tuple["SimBoard", bytes]
#: A protocol's simulated boards: the boards on one line and one request frame -> the replies.
Respond = Callable[[Mapping[int, "SimBoard"], Any], list[Reply]]


class Fault(StrEnum):
    SILENT = "silent"  # the board does not answer at all
    SLOW = "slow"  # replies after ``value`` seconds
    CORRUPT = "corrupt"  # the next ``value`` replies carry a wrong checksum
    STUCK_BUSY = "stuck-busy"  # after each unlock the board drops the next frame
    JAM = "jam"  # unlock accepted, the door stays shut
    FORCE_OPEN = "force-open"  # the door opens with no unlock behind it


class SimDoor:
    """One lock and its door sensor and item-present (IR) sensor."""

    def __init__(self, board: SimBoard, channel: int) -> None:
        self.board = board
        self.channel = channel
        self.is_open = False
        self.item_present = False
        self.jammed = False
        self._closer: Timer | None = None

    def fire(self) -> None:
        """The solenoid fired: the door springs open unless it is jammed."""
        self.board.unlocks.append(self.channel)
        if self.jammed:
            return
        self.is_open = True
        self.cancel_auto_close()
        if self.board.close_after is not None and self.board.schedule is not None:
            self._closer = self.board.schedule(self.board.close_after, self.close)

    def close(self) -> None:
        self.cancel_auto_close()
        self.is_open = False

    def force_open(self) -> None:
        self.cancel_auto_close()
        self.is_open = True

    def put_item(self) -> None:
        """A drop-off: the IR sensor sees an item."""
        self.item_present = True

    def take_item(self) -> None:
        """A pick-up: the compartment is empty again."""
        self.item_present = False

    def cancel_auto_close(self) -> None:
        """The door stays as it is until someone acts on it."""
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None


class SimBoard:
    """One simulated board at a bus address, with its fault switches and request counters."""

    def __init__(self, address: int, channels: int, close_after: float | None,
                 open_is_high: bool = True, schedule: Schedule | None = None) -> None:
        self.address = address
        self.channels = channels
        self.close_after = close_after
        self.open_is_high = open_is_high
        self.schedule = schedule
        self.doors = {ch: SimDoor(self, ch) for ch in range(1, channels + 1)}
        self.unlocks: list[int] = []
        self.requests = 0  # frames addressed to this board
        self.dropped = 0  # of those, dropped by a stuck-busy board
        self.silent = False
        self.delay = 0.0
        self.corrupt = 0
        self.stuck_busy = False
        self.pulse_millis = 200
        self._drop_next = False

    def door(self, channel: int) -> SimDoor:
        return self.doors[channel]

    def counters(self) -> dict[str, int]:
        """What the board has seen, by the names the driver's counters use."""
        return {"requests": self.requests, "dropped": self.dropped, "unlocks": len(self.unlocks)}

    def hooks(self) -> int:
        """Kerong hook bits: 1 = closed and locked."""
        return sum(1 << (ch - 1) for ch, d in self.doors.items() if not d.is_open)

    def items(self) -> int:
        return sum(1 << (ch - 1) for ch, d in self.doors.items() if d.item_present)

    def feedback(self, channel: int) -> bool:
        """DIP feedback bit of a channel under this board's polarity."""
        return self.doors[channel].is_open == self.open_is_high

    def feedback_bits(self) -> int:
        return sum(1 << (ch - 1) for ch in self.doors if self.feedback(ch))

    def inject(self, fault: Fault | str, channel: int | None = None,
               value: float | None = None) -> None:
        fault = Fault(fault)
        if fault is Fault.SILENT:
            self.silent = True
        elif fault is Fault.SLOW:
            self.delay = 0.5 if value is None else float(value)
        elif fault is Fault.CORRUPT:
            self.corrupt = 1 if value is None else int(value)
        elif fault is Fault.STUCK_BUSY:
            self.stuck_busy = True
        elif channel is None:
            raise ValueError(f"fault {fault} needs a channel")
        elif fault is Fault.JAM:
            self.door(channel).jammed = True
        else:
            self.door(channel).force_open()

    def clear(self) -> None:
        """Remove every fault (doors keep their state)."""
        self.silent = self.stuck_busy = self._drop_next = False
        self.delay, self.corrupt = 0.0, 0
        for door in self.doors.values():
            door.jammed = False

    def hears(self) -> bool:
        """Whether this frame reaches the board's logic (silence and stuck-busy say no)."""
        self.requests += 1
        if self.silent:
            return False
        if self._drop_next:
            self._drop_next = False
            self.dropped += 1
            return False
        return True

    def unlocked(self) -> None:
        if self.stuck_busy:
            self._drop_next = True

    def seal(self, raw: bytes) -> Reply:
        """A reply as it goes on the wire, its checksum spoilt while the fault lasts."""
        if self.corrupt > 0:
            self.corrupt -= 1
            return self, raw[:-1] + bytes([raw[-1] ^ 0xFF])
        return self, raw
