"""What the tower needs of the gateway it runs in, as protocols the gateway satisfies.

The tower sits below the gateway: the gateway's app factory hands its ``GatewayService`` to
``GatewayTower`` and the tower sees only these shapes, so it never imports the gateway back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from berth.clock import Clock
from berth.hardware.watcher import DoorEvent
from berth.storage import Database
from berth.tower.service import OpenedDoor

#: Called with each door event and the gateway locker it belongs to (None: no locker there).
DoorListener = Callable[[DoorEvent, int | None], None]


class LockerStore(Protocol):
    """The gateway storage calls that hold a locker for a cloud parcel and give it back."""

    def hold_locker(self, locker_id: int, transaction_id: str, holder: str) -> bool: ...

    def release_transaction(self, transaction_id: str) -> Any: ...


class HostGateway(Protocol):
    """The running gateway, as the tower uses it (``berth.gateway.service.GatewayService``)."""

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> LockerStore: ...

    @property
    def door_listeners(self) -> list[DoorListener]: ...

    async def open_locker(self, locker_id: int, *, source: str = ...) -> OpenedDoor: ...
