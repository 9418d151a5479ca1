"""A board as a site file describes it: plain data, below everything that builds or simulates one.

The factory builds controllers from it and the simulator hands out specs of its boards; keeping it
here lets both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllerSpec:
    """How to reach one board: its protocol, transport URL, bus address and channel count.

    ``url`` options set the bus timing: ``?baud=19200&timeout=1.5&gap=0.005&silence=0.025``.
    Boards whose URLs name the same line share one bus.
    """

    controller_id: str
    protocol: str = "simulated"  # "simulated" or a registered one (berth.hardware.registry)
    url: str | None = None  # serial:///dev/ttyUSB0?baud=19200 | tcp://host:port | sim://NAME
    address: int = 0
    channels: int = 16
    open_is_high: bool = True  # DIP boards: which feedback value means "door open"
    close_after: float | None = 5.0  # simulated doors only
