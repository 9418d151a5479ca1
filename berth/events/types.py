"""The typed events of one Berth process: frozen, small, and named after what happened.

Subscribers pick events by class, or by a base class (``DoorEvent``, ``ControllerEvent``, ...)
to hear a whole family. ``name`` is the stable upper-case name the audit log and, later, webhooks
use. Ids are the publisher's own: gateway locker ids on the gateway, cloud locker ids where the
tower or the cloud speaks (the fields say which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from berth.kit.clock import utcnow

_event = dataclass(frozen=True, kw_only=True, slots=True)


@_event
class Event:
    """Root of every event; ``occurred_at`` comes from the publisher's (injectable) clock."""

    name: ClassVar[str] = "EVENT"
    occurred_at: datetime = field(default_factory=utcnow)


# --- doors (gateway: a door sensor reading or an unlock outcome) -----------------------------

@_event
class DoorEvent(Event):
    """One door of one lock controller; ``locker_id`` is None for a channel no locker uses."""

    controller_id: str
    channel: int
    locker_id: int | None = None
    transaction_id: str | None = None  # the open transaction holding the locker, if any


@_event
class DoorOpened(DoorEvent):
    name: ClassVar[str] = "DOOR_OPENED"


@_event
class DoorClosed(DoorEvent):
    name: ClassVar[str] = "DOOR_CLOSED"


@_event
class DoorForced(DoorEvent):
    """The door opened with no unlock behind it (crowbar, broken lock)."""

    name: ClassVar[str] = "DOOR_FORCED_OPEN"


@_event
class DoorJammed(DoorEvent):
    """An unlock was ordered but the door never opened; the locker is taken out of assignment."""

    name: ClassVar[str] = "DOOR_JAMMED"
    reason: str = ""


@_event
class DoorStateUnknown(DoorEvent):
    name: ClassVar[str] = "DOOR_STATE_UNKNOWN"


# --- lock controllers ------------------------------------------------------------------------

@_event
class ControllerEvent(Event):
    controller_id: str
    detail: str = ""


@_event
class ControllerOnline(ControllerEvent):
    name: ClassVar[str] = "CONTROLLER_ONLINE"


@_event
class ControllerOffline(ControllerEvent):
    """Several polls failed in a row: every door of the controller is unknown."""

    name: ClassVar[str] = "CONTROLLER_OFFLINE"


@_event
class ControllerDoorsUnknown(ControllerEvent):
    """One poll failed: the controller's doors are unknown until it answers again."""

    name: ClassVar[str] = "DOORS_UNKNOWN"


@_event
class ControllerDoorsKnown(ControllerEvent):
    """The controller answers again; ``doors`` maps each channel to open (True) or not."""

    name: ClassVar[str] = "DOORS_KNOWN"
    doors: tuple[tuple[int, bool | None], ...] = ()


# --- gateway lockers and transactions --------------------------------------------------------

@_event
class LockerFlagsChanged(Event):
    """A gateway locker's service or fault flags changed (assignment depends on them)."""

    name: ClassVar[str] = "LOCKER_FLAGS_CHANGED"
    locker_id: int
    out_of_service: bool
    operational: bool
    reason_code: str | None = None


@_event
class TransactionEvent(Event):
    transaction_id: str
    locker_id: int


@_event
class TransactionCreated(TransactionEvent):
    name: ClassVar[str] = "TRANSACTION_CREATED"


@_event
class TransactionReleased(TransactionEvent):
    name: ClassVar[str] = "TRANSACTION_RELEASED"


# --- the tower (cloud tokens at the locker) --------------------------------------------------

@_event
class TokenEvent(Event):
    token_id: str | None = None
    locker_id: int | None = None  # the cloud's locker id, as the token names it


@_event
class TokenUsed(TokenEvent):
    """The door a token opened has closed again: the token is spent."""

    name: ClassVar[str] = "TOKEN_USED"
    kind: str  # "dropoff" | "pickup"


@_event
class TokenRefused(TokenEvent):
    """A token was refused before any door moved (``code`` says why)."""

    name: ClassVar[str] = "TOKEN_REFUSED"
    code: str


@_event
class TowerSynced(Event):
    """One sync round with the cloud succeeded."""

    name: ClassVar[str] = "TOWER_SYNCED"
    tower_id: str
    pushed: int = 0
    applied: int = 0


# --- the cloud -------------------------------------------------------------------------------

@_event
class CloudLockerStateChanged(Event):
    """A cloud locker moved in its lifecycle (published by the cloud; see its outbox)."""

    name: ClassVar[str] = "CLOUD_LOCKER_STATE_CHANGED"
    tower_id: str
    locker_id: int
    state: str
    previous: str | None = None
