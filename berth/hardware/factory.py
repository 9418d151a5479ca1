"""Build a LockController from a site file's controller description."""

from __future__ import annotations

from dataclasses import dataclass

from berth.hardware.driver import LockController
from berth.hardware.simulated import SimulatedController


@dataclass(frozen=True)
class ControllerSpec:
    """How to reach one board: its protocol, transport URL, bus address and channel count."""

    controller_id: str
    protocol: str = "simulated"  # "simulated" | "kerong" | "dip"
    url: str | None = None  # serial:///dev/ttyUSB0?baud=19200 | tcp://host:port
    address: int = 0
    channels: int = 16
    open_is_high: bool = True  # DIP boards: which feedback value means "door open"
    close_after: float | None = 5.0  # simulated doors only


def build_controller(spec: ControllerSpec) -> LockController:
    if spec.protocol == "simulated":
        return SimulatedController(spec.controller_id, spec.channels, spec.close_after)
    raise ValueError(f"unknown lock-controller protocol {spec.protocol!r}")
