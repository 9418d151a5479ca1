"""The gateway's audit log of doors and controllers: one subscriber of the event bus.

The gateway records a door's state (the flags assignment reads) before it publishes the event;
this subscriber then writes the matching entry of ``GET /system/logs``, in a worker thread, at the
event's own time. Other log entries (transactions, openings, service flags) are written with
their change, in the same database transaction.
"""

from __future__ import annotations

from typing import Any

from berth import events as ev
from berth.gateway.system.repository import SystemRepository
from berth.kit.threads import run_blocking

#: What the audit log hears.
AUDITED = (ev.DoorOpened, ev.DoorClosed, ev.DoorForced, ev.DoorStateUnknown, ev.ControllerEvent)

_DOOR_TEXT: dict[type[ev.DoorEvent], tuple[str, str]] = {
    ev.DoorOpened: ("info", "Door of {name} opened"),
    ev.DoorClosed: ("info", "Door of {name} closed"),
    ev.DoorForced: ("error", "Door of {name} opened without an unlock"),
    ev.DoorStateUnknown: ("warning", "Door of {name}: state unknown"),
}


def controller_message(event: ev.ControllerOnline | ev.ControllerOffline) -> str:
    """The text of a reachability change (also the lockers' fault reason when offline)."""
    state = ("online" if isinstance(event, ev.ControllerOnline)
             else "offline, door states unknown")
    return f"Controller {event.controller_id} {state}: {event.detail}".rstrip(": ")


class AuditLog:
    """Subscribes itself to ``bus``; each event becomes one log entry."""

    def __init__(self, log: SystemRepository, bus: ev.EventBus) -> None:
        self.log = log
        bus.subscribe(self.record, *AUDITED, name="audit-log")

    async def record(self, event: ev.Event) -> None:
        await run_blocking(self.write, event)

    def write(self, event: ev.Event) -> None:
        level, message, extra = self.entry(event)
        self.log.log(level, event.name, message, timestamp=event.occurred_at, **extra)

    @staticmethod
    def entry(event: ev.Event) -> tuple[str, str, dict[str, Any]]:
        """(level, message, log fields) of one audited event."""
        if isinstance(event, ev.DoorEvent):
            level, text = _DOOR_TEXT[type(event)]
            name = (f"locker {event.locker_id}" if event.locker_id
                    else f"{event.controller_id} channel {event.channel}")
            return level, text.format(name=name), {
                "locker_id": event.locker_id, "transaction_id": event.transaction_id,
                "details": {"controllerId": event.controller_id, "channel": event.channel}}
        assert isinstance(event, ev.ControllerEvent)
        details = {"details": {"controllerId": event.controller_id}}
        if isinstance(event, ev.ControllerOnline | ev.ControllerOffline):
            online = isinstance(event, ev.ControllerOnline)
            return "info" if online else "error", controller_message(event), details
        unknown = isinstance(event, ev.ControllerDoorsUnknown)
        return ("warning" if unknown else "info",
                f"Controller {event.controller_id}: {event.detail}", details)
