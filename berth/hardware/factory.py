"""Build a LockController from a site file's controller description."""

from __future__ import annotations

from berth.hardware import embedded_sim, registry
from berth.hardware.bus import BusRegistry, buses
from berth.hardware.driver import LockController
from berth.hardware.simulated import SimulatedController
from berth.hardware.spec import ControllerSpec

__all__ = ["ControllerSpec", "build_controller"]


def build_controller(spec: ControllerSpec, buses: BusRegistry = buses) -> LockController:
    """The registered protocol's controller; a ``sim://`` URL starts its simulator first."""
    if spec.protocol == registry.SIMULATED:
        return SimulatedController(spec.controller_id, spec.channels, spec.close_after)
    protocol = registry.get(spec.protocol)
    if not spec.url:
        raise ValueError(f"controller {spec.controller_id}: {spec.protocol} needs a bus url")
    url = embedded_sim.resolve(spec.url, protocol.name, spec.channels, spec.close_after)
    return protocol.controller(spec, url, buses)
