"""Build a LockController from a site file's controller description."""

from __future__ import annotations

from berth.hardware.driver import LockController
from berth.hardware.simulated import SimulatedController
from berth.hardware.spec import ControllerSpec

__all__ = ["ControllerSpec", "build_controller"]


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
