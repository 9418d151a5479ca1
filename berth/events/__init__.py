"""In-process events: typed event classes and the bus that carries them (docs/architecture.md)."""

from berth.events.bus import EventBus, Subscription
from berth.events.types import (
    CloudLockerStateChanged,
    ControllerDoorsKnown,
    ControllerDoorsUnknown,
    ControllerEvent,
    ControllerOffline,
    ControllerOnline,
    DoorClosed,
    DoorEvent,
    DoorForced,
    DoorJammed,
    DoorOpened,
    DoorStateUnknown,
    Event,
    LockerFlagsChanged,
    TokenEvent,
    TokenRefused,
    TokenUsed,
    TowerSynced,
    TransactionCreated,
    TransactionEvent,
    TransactionReleased,
)

__all__ = [
    "CloudLockerStateChanged", "ControllerDoorsKnown", "ControllerDoorsUnknown",
    "ControllerEvent", "ControllerOffline", "ControllerOnline", "DoorClosed", "DoorEvent",
    "DoorForced", "DoorJammed", "DoorOpened", "DoorStateUnknown", "Event", "EventBus",
    "LockerFlagsChanged", "Subscription", "TokenEvent", "TokenRefused", "TokenUsed",
    "TowerSynced", "TransactionCreated", "TransactionEvent", "TransactionReleased",
]
