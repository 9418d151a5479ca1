"""Build a LockController from a site file's controller description."""

from __future__ import annotations

from dataclasses import dataclass

from berth.hardware.driver import LockController
from berth.hardware.simulated import SimulatedController


@dataclass(frozen=True)
class ControllerSpec:
    """How to reach one board: its protocol, transport URL, bus address and channel count.

    ``url`` options set the bus timing: ``?baud=19200&timeout=1.5&gap=0.005&silence=0.025``.
    Boards whose URLs name the same line share one bus.
    """

    controller_id: str
    protocol: str = "simulated"  # "simulated" | "kerong" | "dip"
    url: str | None = None  # serial:///dev/ttyUSB0?baud=19200 | tcp://host:port | sim://NAME
    address: int = 0
    channels: int = 16
    open_is_high: bool = True  # DIP boards: which feedback value means "door open"
    close_after: float | None = 5.0  # simulated doors only


def build_controller(spec: ControllerSpec) -> LockController:
    if spec.protocol == "simulated":
        return SimulatedController(spec.controller_id, spec.channels, spec.close_after)
    if spec.protocol in ("kerong", "dip"):
        if not spec.url:
            raise ValueError(f"controller {spec.controller_id}: {spec.protocol} needs a bus url")
        from berth.hardware import embedded_sim
        from berth.hardware.boards import DipController, KerongController

        url = embedded_sim.resolve(spec.url, spec.protocol, spec.channels, spec.close_after)
        if spec.protocol == "kerong":
            return KerongController(spec.controller_id, url, spec.address, spec.channels)
        return DipController(spec.controller_id, url, spec.address, spec.channels,
                             spec.open_is_high)
    raise ValueError(f"unknown lock-controller protocol {spec.protocol!r}")
