"""Replacing a failed lock controller: a new board takes over the lockers of a dead one.

The lockers keep their ids and channels; what changes is where their controller is reached
(bus address, and the bus URL if the new board hangs elsewhere). The new board is started
first, then swapped in for the door watcher and for openings, then the old one is closed, so
no opening ever finds no controller. The replacement holds until the gateway restarts: the site
file stays the source of truth, so change the controller's ``address`` (``url``) there too.
"""

from __future__ import annotations

import dataclasses

from berth.contracts.gateway import LockController as ControllerView
from berth.domain.errors import Conflict, NotFound
from berth.gateway.controllers.repository import ControllerRepository
from berth.gateway.service import GatewayService
from berth.hardware.factory import build_controller
from berth.hardware.spec import ControllerSpec
from berth.kit.threads import run_blocking


class ControllerService:
    def __init__(self, gateway: GatewayService) -> None:
        self.gateway = gateway
        self.repository = ControllerRepository(gateway.db, gateway.clock)
        self.specs: dict[str, ControllerSpec] = {
            s.controller_id: s for s in gateway.site.controllers}

    def list(self) -> list[ControllerView]:
        """Every controller, online as the door watcher last found it (its polls decide)."""
        return self.gateway.system.list_controllers()

    def counters(self, controller_id: str) -> dict[str, int]:
        controller = self.gateway.controllers.get(controller_id)
        return controller.counters() if controller else {}

    async def replace(self, controller_id: str, address: int,
                      url: str | None = None) -> ControllerView:
        """Move ``controller_id``'s lockers to the board at ``address`` (on ``url``)."""
        old = self.gateway.controllers.get(controller_id)
        spec = self.specs.get(controller_id)
        if old is None or spec is None:
            raise NotFound("CONTROLLER_NOT_FOUND", f"No lock controller {controller_id!r}")
        new_spec = dataclasses.replace(spec, address=address, url=url or spec.url)
        taken = [s.controller_id for s in self.specs.values()
                 if s.controller_id != controller_id and s.url == new_spec.url
                 and s.address == new_spec.address and s.protocol == new_spec.protocol]
        if taken:
            raise Conflict("ADDRESS_IN_USE", f"Address {address} on {new_spec.url} is "
                           f"controller {taken[0]}'s", {"controllerId": taken[0]})
        board = build_controller(new_spec)
        await board.start()
        self.gateway.controllers[controller_id] = board  # openings use it from now on
        watcher = self.gateway.watcher
        watcher.controllers = [board if c is old else c for c in watcher.controllers]
        await old.aclose()
        self.specs[controller_id] = new_spec
        await run_blocking(self.repository.set_reach, controller_id, new_spec.url, address)
        await run_blocking(
            self.gateway.log.log, "warning", "CONTROLLER_REPLACED",
            f"Lock controller {controller_id} replaced: address {spec.address} -> {address}"
            + (f", {spec.url} -> {new_spec.url}" if new_spec.url != spec.url else ""))
        return next(v for v in self.list() if v.controller_id == controller_id)
