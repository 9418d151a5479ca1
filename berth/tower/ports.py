"""What the tower needs of the gateway it runs in, as protocols the gateway satisfies.

The tower sits below the gateway: the gateway's app factory hands its ``GatewayService`` to
``GatewayTower`` and the tower sees only these shapes, so it never imports the gateway back.
"""

from __future__ import annotations

from typing import Any, Protocol

from berth.events import EventBus
from berth.kit.clock import Clock
from berth.storage import Database
from berth.tower.service import OpenedDoor


class HostGateway(Protocol):
    """The running gateway, as the tower uses it (``berth.gateway.service.GatewayService``)."""

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    def hold_locker(self, locker_id: int, transaction_id: str, holder: str) -> bool:
        """Hold a free locker for a cloud parcel as transaction ``transaction_id``; False if
        the locker is held already (a local transaction got there first)."""
        ...

    @property
    def bus(self) -> EventBus:
        """Door events arrive here; the tower publishes its own (token used, refused, synced)."""
        ...

    def release(self, transaction_id: str) -> Any:
        """Give a held locker back to local assignment (and publish that it was released)."""
        ...

    async def open_locker(self, locker_id: int, *, source: str = ...) -> OpenedDoor: ...
