"""Doors: open one by the open rule, and record what the door watcher sees.

Lockers (maintenance, admin, open-all), transactions and the tower open doors through
``open_locker``; the door watcher's events land in ``record_door_event``. Both keep the flags
assignment reads current before anything is published on the bus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from berth import events as ev
from berth.contracts.gateway import LockerOperationResponse
from berth.domain.errors import NotFound
from berth.gateway.audit import controller_message
from berth.gateway.config import GatewayConfig
from berth.gateway.doors.repository import DoorRepository
from berth.gateway.lockers.repository import LockerRepository
from berth.hardware.driver import DoorState, LockController
from berth.hardware.opening import open_door
from berth.hardware.watcher import DoorEvent, DoorEventKind
from berth.kit.threads import run_blocking

log = logging.getLogger("berth.gateway")

#: Watcher kind -> (bus event, what ``doorOpen`` becomes).
_DOOR_EVENTS: dict[DoorEventKind, tuple[type[ev.DoorEvent], bool | None]] = {
    DoorEventKind.DOOR_OPENED: (ev.DoorOpened, True),
    DoorEventKind.DOOR_CLOSED: (ev.DoorClosed, False),
    DoorEventKind.DOOR_FORCED_OPEN: (ev.DoorForced, True),
    DoorEventKind.DOOR_STATE_UNKNOWN: (ev.DoorStateUnknown, None),
}


def locker_not_found(locker_id: int) -> NotFound:
    return NotFound("LOCKER_NOT_FOUND", f"No locker {locker_id}", {"lockerId": locker_id})


@dataclass
class DoorService:
    """``note_unlock`` tells the door watcher an unlock is ours (not a forced door);
    ``note_opened`` that the open rule read the door open (so a quick close is not missed)."""

    config: GatewayConfig
    doors: DoorRepository
    lockers: LockerRepository
    controllers: dict[str, LockController]
    bus: ev.EventBus
    note_unlock: Callable[[str, int], None]
    note_opened: Callable[[str, int], None]
    # told each opening's reason code (None: opened) and seconds; the app's metrics listen
    on_opened: Callable[[str | None, float], None] = lambda _code, _seconds: None

    async def open_locker(self, locker_id: int, *, transaction_id: str | None = None,
                          source: str = "maintenance") -> LockerOperationResponse:
        """Open one door by the open rule; failures are reported, never raised."""
        lk = self.config.site.lockers_by_id.get(locker_id)
        if lk is None:
            raise locker_not_found(locker_id)
        controller = self.controllers.get(lk.controller_id)
        self.note_unlock(lk.controller_id, lk.channel)
        started = time.perf_counter()
        try:
            if controller is None:
                raise LookupError(f"no lock controller {lk.controller_id!r} is running")
            outcome = await open_door(controller, lk.channel, self.config.policy)
            success, door_open = outcome.success, outcome.door_open
            message, code = outcome.message, outcome.reason_code
            if door_open:
                self.note_opened(lk.controller_id, lk.channel)
        except Exception as exc:  # a driver bug must not become a 500
            log.exception("opening locker %s failed", locker_id)
            success, door_open, message, code = False, False, f"Driver error: {exc}", "DRIVER_ERROR"
        self.on_opened(code if not success else None, time.perf_counter() - started)
        await run_blocking(self.doors.record_open, locker_id, success=success,
                           door_open=door_open, message=message, reason_code=code,
                           transaction_id=transaction_id, source=source)
        if success:
            if await run_blocking(self.doors.clear_fault, locker_id, "DOOR_DID_NOT_OPEN"):
                await self._publish_flags(locker_id)
        elif code == "DOOR_DID_NOT_OPEN":
            await run_blocking(self.doors.set_fault, locker_id, code, message)
            self.bus.publish(ev.DoorJammed(controller_id=lk.controller_id, channel=lk.channel,
                                           locker_id=locker_id, transaction_id=transaction_id,
                                           reason=message, occurred_at=self.config.clock()))
            await self._publish_flags(locker_id)
        return LockerOperationResponse(success=success, locker_id=locker_id,
                                       door_open=door_open, message=message, reason_code=code)

    async def _publish_flags(self, locker_id: int) -> None:
        row = await run_blocking(self.lockers.get, locker_id)
        if row is not None:
            self.flags_changed(row)

    def flags_changed(self, row: Any) -> None:
        """Say on the bus that a locker's service or fault flags moved."""
        code = (row.service_reason_code if row.out_of_service
                else row.fault_code if not row.operational else None)
        self.bus.publish(ev.LockerFlagsChanged(
            locker_id=row.id, out_of_service=row.out_of_service, operational=row.operational,
            reason_code=code, occurred_at=self.config.clock()))

    async def on_door_event(self, event: DoorEvent) -> None:
        """The door watcher's callback: the database work runs in a worker thread."""
        await run_blocking(self.record_door_event, event)

    def record_door_event(self, event: DoorEvent) -> None:
        """Record what a watcher event says about doors and controllers, then publish it.

        The flags are written first (assignment reads them); the audit log, the tower and any
        other listener hear the typed event on the bus.
        """
        kind, cid, now = event.kind, event.controller_id, self.config.clock()
        if kind in (DoorEventKind.DOORS_UNKNOWN, DoorEventKind.DOORS_KNOWN):
            doors = None
            if kind is DoorEventKind.DOORS_KNOWN:
                doors = {ch: None if state is DoorState.UNKNOWN else state is DoorState.OPEN
                         for ch, state in event.doors}
            self.doors.set_doors(cid, doors)
            self.bus.publish(
                ev.ControllerDoorsUnknown(controller_id=cid, detail=event.detail, occurred_at=now)
                if doors is None else
                ev.ControllerDoorsKnown(controller_id=cid, detail=event.detail,
                                        doors=tuple(doors.items()), occurred_at=now))
            return
        if kind in (DoorEventKind.CONTROLLER_OFFLINE, DoorEventKind.CONTROLLER_ONLINE):
            online = kind is DoorEventKind.CONTROLLER_ONLINE
            reach = (ev.ControllerOnline if online else ev.ControllerOffline)(
                controller_id=cid, detail=event.detail, occurred_at=now)
            self.doors.set_controller_online(cid, online, controller_message(reach))
            self.bus.publish(reach)
            return
        assert event.channel is not None
        door_type, door_open = _DOOR_EVENTS[kind]
        locker_id, holder = self.doors.set_door(cid, event.channel, door_open)
        self.bus.publish(door_type(controller_id=cid, channel=event.channel, locker_id=locker_id,
                                   transaction_id=holder, occurred_at=now))
