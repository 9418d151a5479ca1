"""Make a running gateway a cloud tower: tower service, door listener, and cloud sync."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool

from berth.background import background
from berth.gateway.service import GatewayService
from berth.gateway.store import GatewayStore
from berth.hardware.watcher import DoorEvent, DoorEventKind
from berth.sdk.cloud import TOWER_ACCESS, AsyncCloudClient
from berth.tower.identity import TowerIdentity
from berth.tower.service import OpenedDoor, TowerService
from berth.tower.sync import CloudSync

log = logging.getLogger("berth.tower")


class _GatewayHolder:
    """Cloud parcels hold their lockers as gateway transactions, so local assignment skips them."""

    def __init__(self, store: GatewayStore) -> None:
        self.store = store

    def hold(self, gateway_locker_id: int, hold_id: str) -> bool:
        return self.store.hold_locker(gateway_locker_id, hold_id, "a cloud parcel")

    def release(self, hold_id: str) -> None:
        self.store.release_transaction(hold_id)


class GatewayTower:
    """The tower part of one gateway; the gateway's lifespan runs ``running()``."""

    def __init__(self, gateway: GatewayService, identity: TowerIdentity,
                 sync_interval: float = 2.0) -> None:
        self.gateway = gateway

        async def opener(gateway_locker_id: int) -> OpenedDoor:
            return await gateway.open_locker(gateway_locker_id, source="tower")

        self.service = TowerService(gateway.db, identity, opener, gateway.clock,
                                    holder=_GatewayHolder(gateway.store))
        self.sync_interval = sync_interval
        self.sync: CloudSync | None = None
        gateway.door_listeners.append(self.on_door)

    def on_door(self, event: DoorEvent, locker_id: int | None) -> None:
        if locker_id is None:
            return
        if event.kind is DoorEventKind.DOOR_CLOSED:
            self.service.door_closed(locker_id)
        elif event.kind is DoorEventKind.DOOR_FORCED_OPEN:
            self.service.door_forced(locker_id)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await run_in_threadpool(self.service.install)
        link = self.service.identity.cloud
        if link is None:
            yield
            return
        async with AsyncCloudClient(link.url, link.client_id, link.client_secret,
                                    scope=TOWER_ACCESS, clock=self.gateway.clock) as client:
            self.sync = CloudSync(self.service, client, interval=self.sync_interval)
            log.info("tower %s syncs with %s", self.service.identity.tower_id, link.url)
            async with background(self.sync.run(), "berth-tower-sync"):
                yield
