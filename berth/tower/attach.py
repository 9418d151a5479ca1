"""Make a running gateway a cloud tower: tower service, door listener, and cloud sync."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import insert, select

from berth import events as ev
from berth.domain.keypad import KeypadPolicy
from berth.kit.background import background
from berth.kit.threads import run_blocking
from berth.sdk.cloud import TOWER_ACCESS, AsyncCloudClient
from berth.storage import Database, migrate
from berth.tower.identity import TowerIdentity
from berth.tower.ports import HostGateway
from berth.tower.service import MIGRATIONS, VERSION_TABLE, OpenedDoor, TowerService
from berth.tower.sync import CloudSync, SyncConfig
from berth.tower.tables import tower_lockers, tower_state
from berth.tower.transport import BrokerLink, BrokerTransport, FallbackTransport

log = logging.getLogger("berth.tower")

#: The ``tower_state`` row (``tower_id:<id>``) that binds the tower tables to the tower they serve.
TOWER_MARK = "tower_id:"


class TowerMismatch(RuntimeError):
    """The database's tower tables belong to another tower than the keys it is started with."""


def claim_database(db: Database, identity: TowerIdentity) -> None:
    """Bind the tower tables to ``identity``'s tower, or refuse: one database serves one tower.

    Another tower's lockers, generations and signed log must never mix with this one's (and its
    lockers would collide with theirs on the gateway locker ids). A database from before the
    mark is judged by its lockers.
    """
    migrate.upgrade(db, MIGRATIONS, version_table=VERSION_TABLE)
    with db.write() as conn:
        marks = [name[len(TOWER_MARK):] for name in conn.execute(
            select(tower_state.c.name).where(tower_state.c.name.startswith(TOWER_MARK))).scalars()]
        if marks:
            if marks == [identity.tower_id]:
                return
            raise TowerMismatch(_mismatch(db, marks[0], identity.tower_id))
        known = set(conn.execute(select(tower_lockers.c.locker_id)).scalars())
        if known - set(identity.lockers):
            raise TowerMismatch(_mismatch(db, "another tower", identity.tower_id))
        conn.execute(insert(tower_state).values(name=TOWER_MARK + identity.tower_id, value=1))


def _mismatch(db: Database, served: str, wanted: str) -> str:
    where = db.engine.url.render_as_string(hide_password=True)
    old = f"tower {served}" if served != "another tower" else served
    return (f"The database {where} served {old}; these keys are for tower {wanted}. A gateway "
            f"database serves one tower: start tower {wanted} with a fresh database (--db URL or "
            f"another BERTH_DATA_DIR), or this database with {old}'s keys. To let a tower "
            f"provisioned offline sync, keep its keys and run `berth cloud towers link TOWER_ID "
            f"--out DIR --cloud-url URL`.")


class _GatewayHolder:
    """Cloud parcels hold their lockers as gateway transactions, so local assignment skips them."""

    def __init__(self, gateway: HostGateway) -> None:
        self.gateway = gateway

    def hold(self, gateway_locker_id: int, hold_id: str) -> bool:
        return self.gateway.hold_locker(gateway_locker_id, hold_id, "a cloud parcel")

    def release(self, hold_id: str) -> None:
        self.gateway.release(hold_id)


class GatewayTower:
    """The tower part of one gateway; the gateway's lifespan runs ``running()``."""

    def __init__(self, gateway: HostGateway, identity: TowerIdentity,
                 sync: SyncConfig, keypad: KeypadPolicy) -> None:
        self.gateway = gateway

        async def opener(gateway_locker_id: int) -> OpenedDoor:
            return await gateway.open_locker(gateway_locker_id, source="tower")

        self.service = TowerService(gateway.db, identity, opener, gateway.clock,
                                    holder=_GatewayHolder(gateway),
                                    publish=gateway.bus.publish, keypad=keypad)
        self.sync_config = sync
        self.sync: CloudSync | None = None
        self.transport: FallbackTransport | None = None
        self.doors = gateway.bus.subscribe(self.on_door, ev.DoorClosed, ev.DoorForced,
                                           name="tower")

    async def on_door(self, event: ev.DoorClosed | ev.DoorForced) -> None:
        """A closed door may spend a token; a forced one is logged (both signed, for the cloud)."""
        if event.locker_id is None:
            return
        react = (self.service.door_closed if isinstance(event, ev.DoorClosed)
                 else self.service.door_forced)
        await run_blocking(react, event.locker_id)

    @asynccontextmanager
    async def running(self, broker: BrokerLink | None = None,
                      broker_wait: float = 0.0) -> AsyncIterator[None]:
        """Serve the tower; sync with the cloud over ``broker`` (the gateway's fleet link,
        waiting ``broker_wait`` s for a reply) when there is one, else and as the fallback over
        HTTP when the identity has a cloud link."""
        await run_blocking(claim_database, self.gateway.db, self.service.identity)
        await run_blocking(self.service.install)
        link = self.service.identity.cloud
        if link is None and broker is None:
            yield
            return
        async with contextlib.AsyncExitStack() as stack:
            http = None
            if link is not None:
                http = await stack.enter_async_context(AsyncCloudClient(
                    link.url, link.client_id, link.client_secret, scope=TOWER_ACCESS,
                    clock=self.gateway.clock))
            self.transport = FallbackTransport(
                BrokerTransport(broker, broker_wait) if broker is not None else None, http)
            self.sync = CloudSync(self.service, self.transport, self.sync_config,
                                  publish=self.gateway.bus.publish)
            log.info("tower %s syncs with %s%s", self.service.identity.tower_id,
                     "the fleet broker" if broker is not None else link.url if link else "",
                     f", {link.url} as the fallback" if broker is not None and link else "")
            async with background(self.sync.run(), "berth-tower-sync"):
                yield
