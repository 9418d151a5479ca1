"""A provisioned tower and the real cloud app: delivery state follows the doors, offline too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from berth.cloud.app import build_service, create_app
from berth.cloud.provision import provision_tower
from berth.cloud.seed import seed_demo
from berth.domain.tokens import TokenRefused
from berth.hardware.opening import OpenOutcome, open_door
from berth.hardware.simulated import SimulatedController
from berth.kit.clock import FakeClock
from berth.sdk.cloud import TOWER_ACCESS, AsyncCloudClient, CloudClient
from berth.storage import Database
from berth.tower.identity import GatewayLocker
from berth.tower.service import TowerService
from berth.tower.sync import CloudSync, SyncConfig
from tests.support.configs import cloud_config, isolated_settings
from tests.support.waiting import BOUND
from tests.tower.conftest import FAST


class World:
    def __init__(self, tmp_path: Path, clock: FakeClock, free_port: Any) -> None:
        config = cloud_config(db_url=f"sqlite:///{tmp_path / 'cloud.db'}", data_dir=tmp_path,
                             clock=clock, sweep_interval=0)
        service = build_service(config)
        self.service = service
        self.creds = seed_demo(service)["partners"]["demo"]
        self.app = create_app(config, service)
        gateway_lockers = [GatewayLocker(i, "medium", ("low",) if i < 3 else ()) for i in (1, 2, 3)]
        self.identity = provision_tower(service, "demo", "site tower", gateway_lockers,
                                        cloud_url="http://cloud")
        self.tower_id = self.identity.tower_id
        self.controller = SimulatedController("bank-1", 3, close_after=None)

        async def opener(gateway_locker_id: int) -> OpenOutcome:
            return await open_door(self.controller, gateway_locker_id, FAST)

        self.tower = TowerService(Database(f"sqlite:///{tmp_path / 'gw.db'}"), self.identity,
                                  opener, clock)
        self.tower.install()
        self.partner = CloudClient("http://cloud", self.creds["client_id"],
                                   self.creds["client_secret"], clock=clock,
                                   http=TestClient(self.app, base_url="http://cloud"))
        self.clock = clock
        self.dead_port = free_port()

    def sync(self, online: bool = True, wait: float = 0) -> CloudSync:
        transport = httpx.ASGITransport(app=self.app) if online else None
        base = "http://cloud" if online else f"http://127.0.0.1:{self.dead_port}"
        http = httpx.AsyncClient(transport=transport, base_url=base)
        link = self.identity.cloud
        assert link is not None
        cloud = AsyncCloudClient(base, link.client_id, link.client_secret, scope=TOWER_ACCESS,
                                 clock=self.clock, http=http)
        return CloudSync(self.tower, cloud,
                         SyncConfig.from_settings(isolated_settings(), wait=wait))

    def cloud_locker(self, gateway_id: int) -> int:
        return next(c for c, (g, _) in self.identity.lockers.items() if g == gateway_id)

    def status(self, locker_id: int) -> str:
        return self.partner.get_locker(self.tower_id, locker_id).status.name


@pytest.fixture
def world(tmp_path: Path, clock: FakeClock, free_port: Any) -> World:
    return World(tmp_path, clock, free_port)


def test_delivery_state_follows_the_tower(world: World) -> None:
    locker = world.cloud_locker(2)
    world.partner.reserve(world.tower_id, locker, 300)
    drop = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    opened = asyncio.run(world.tower.open_with_token(drop.payload, drop.payload_auth))
    assert opened.gateway_locker_id == 2
    asyncio.run(world.sync().sync_once())
    assert world.status(locker) == "rented"  # door still open: not used yet
    world.controller.close_door(2)
    world.tower.door_closed(2)
    asyncio.run(world.sync().sync_once())
    assert world.status(locker) == "occupied"

    pick = world.partner.create_pickup_token(world.tower_id, locker, 3000)
    asyncio.run(world.tower.open_with_token(pick.payload, pick.payload_auth))
    world.tower.door_closed(2)
    asyncio.run(world.sync().sync_once())
    assert world.status(locker) == "available"


def test_offline_dropoff_arrives_once_when_the_cloud_is_back(world: World) -> None:
    locker = world.cloud_locker(1)
    drop = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    asyncio.run(world.tower.open_with_token(drop.payload, drop.payload_auth))
    world.tower.door_closed(1)
    with pytest.raises(httpx.ConnectError):
        asyncio.run(world.sync(online=False).sync_once())
    assert world.tower.pushed_seq() == 0
    assert world.status(locker) == "rented"

    report = asyncio.run(world.sync().sync_once())
    assert report.pushed == len(world.tower.events_after(0, 1000))
    assert world.status(locker) == "occupied"
    # a push whose answer was lost is repeated: the cloud acknowledges, applies nothing twice
    again = asyncio.run(
        world.sync().cloud.push_events(world.tower_id, world.tower.events_after(0, 1000)))
    assert {r.outcome for r in again.results} == {"duplicate"}
    assert world.status(locker) == "occupied"


def test_release_command_reaches_the_tower_and_frees_the_locker(world: World) -> None:
    locker = world.cloud_locker(3)
    drop = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    world.partner.release_locker(world.tower_id, locker)
    assert world.status(locker) == "declined"
    report = asyncio.run(world.sync().sync_once())
    assert report.applied == 1
    assert world.status(locker) == "available"
    assert asyncio.run(world.sync().sync_once()).applied == 0  # applied once
    with pytest.raises(Exception) as refused:
        asyncio.run(world.tower.open_with_token(drop.payload, drop.payload_auth))
    assert getattr(refused.value, "code", None) == "TOKEN_GENERATION_STALE"
    assert world.controller.unlocks == []


def test_tower_acknowledgement_of_a_release_reads_as_applied(world: World) -> None:
    """The tower logs release_token_set, then command_applied; both must count as applied."""
    from sqlalchemy import select

    from berth.cloud.tables import commands, events

    locker = world.cloud_locker(3)
    world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    world.partner.release_locker(world.tower_id, locker)
    assert asyncio.run(world.sync().sync_once()).applied == 1
    with world.service.db.read() as conn:
        outcomes = dict(conn.execute(select(events.c.type, events.c.outcome)).all())
        pending = conn.execute(select(commands.c.id).where(commands.c.applied_at.is_(None)))
        assert pending.all() == []
    assert outcomes["release_token_set"] == "applied"
    assert outcomes["command_applied"] == "applied"


def test_event_batch_not_signed_by_the_tower_changes_nothing(world: World) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from berth.domain.tokens import sign_event
    from berth.sdk import BerthApiError

    locker = world.cloud_locker(1)
    drop = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    forged = sign_event({"tower_id": world.tower_id, "seq": 1, "type": "dropoff_token_used",
                         "timestamp": int(world.clock().timestamp()), "locker_id": locker,
                         "token_id": drop.token_id}, Ed25519PrivateKey.generate())
    with pytest.raises(BerthApiError) as refused:
        asyncio.run(world.sync().cloud.push_events(world.tower_id, [forged]))
    assert refused.value.code == "EVENT_SIGNATURE"
    assert world.status(locker) == "rented"


def test_key_rotation_reaches_the_tower_through_sync(world: World, tmp_path: Path,
                                                     clock: FakeClock) -> None:
    from berth.cloud.keys import KeyRing

    KeyRing.rotate(tmp_path / "cloud-keys")
    config = cloud_config(db_url=f"sqlite:///{tmp_path / 'cloud.db'}", data_dir=tmp_path,
                         clock=clock, sweep_interval=0)
    rotated = build_service(config)  # a restarted cloud signs with the new key
    assert rotated.tower_sync.announce_keys() >= 1
    world.app = create_app(config, rotated)
    world.partner = CloudClient("http://cloud", world.creds["client_id"],
                                world.creds["client_secret"], clock=clock,
                                http=TestClient(world.app, base_url="http://cloud"))
    locker = world.cloud_locker(2)
    token = world.partner.create_dropoff_token(world.tower_id, locker, 3000)
    assert token.key_id == "k2"
    with pytest.raises(Exception) as before:
        asyncio.run(world.tower.open_with_token(token.payload, token.payload_auth))
    assert getattr(before.value, "code", None) == "AUTH_KEY_INVALID"
    assert asyncio.run(world.sync().sync_once()).applied == 1
    assert asyncio.run(world.tower.open_with_token(token.payload, token.payload_auth)).success
    assert asyncio.run(world.sync().sync_once()).applied == 0  # acknowledged, not re-sent


def test_a_real_towers_refusal_jam_and_forced_door_reach_the_partner_by_name(
        world: World) -> None:
    """The tower's own signed events, synced: token.refused with the verifier's code and the
    token id, locker.door_jammed for an unlock the door never followed, locker.door_forced."""
    empty, jammed = world.cloud_locker(1), world.cloud_locker(3)
    drop = world.partner.create_dropoff_token(world.tower_id, empty, 3000)
    asyncio.run(world.tower.open_with_token(drop.payload, drop.payload_auth))
    world.controller.close_door(1)
    world.tower.door_closed(1)
    asyncio.run(world.sync().sync_once())  # the parcel is in
    pick = world.partner.create_pickup_token(world.tower_id, empty, 3000)
    asyncio.run(world.tower.open_with_token(pick.payload, pick.payload_auth))
    world.tower.door_closed(1)  # collected: the same token again finds its generation stale
    with pytest.raises(TokenRefused):
        asyncio.run(world.tower.open_with_token(pick.payload, pick.payload_auth))
    world.controller.jammed.add(3)
    stuck = world.partner.create_dropoff_token(world.tower_id, jammed, 3000)
    assert not asyncio.run(world.tower.open_with_token(stuck.payload, stuck.payload_auth)).success
    world.tower.door_forced(2)
    asyncio.run(world.sync().sync_once())

    kinds = {"token.refused", "locker.door_jammed", "locker.door_forced"}
    named = [e for e in world.partner.events(limit=500).events if e.type in kinds]
    assert [(e.type, e.locker_id) for e in named] == [
        ("token.refused", empty), ("locker.door_jammed", jammed),
        ("locker.door_forced", world.cloud_locker(2))]
    refused, jam = named[0].data, named[1].data
    assert (refused["code"], refused["token_id"]) == ("TOKEN_GENERATION_STALE", pick.token_id)
    assert (jam["code"], jam["token_id"]) == ("DOOR_DID_NOT_OPEN", stuck.token_id)


def test_a_long_poll_brings_a_command_as_soon_as_it_is_queued(world: World) -> None:
    """The cloud holds the tower's command poll; a queued command ends it at once (woken by the
    cloud's wakeup loop), and the tower applies and acknowledges it."""

    async def scenario() -> tuple[bool, list[str]]:
        wakeups = world.app.state.command_wakeups  # no lifespan under ASGITransport: run it here
        loop = asyncio.create_task(wakeups.run())
        sync = world.sync(wait=60)  # the most the cloud allows
        polling = asyncio.create_task(sync.long_poll_once())
        while world.tower_id not in wakeups._waiting and not polling.done():
            await asyncio.sleep(0.01)  # until the cloud holds the poll
        await asyncio.to_thread(world.service.tower_sync.announce_keys)
        held = await asyncio.wait_for(polling, BOUND)
        pending = await sync.cloud.get_commands(world.tower_id)
        loop.cancel()
        return held, [c.kind for c in pending.commands]

    held, still_pending = asyncio.run(scenario())
    assert held is True and still_pending == []
    learned = [e["type"] for e in world.tower.events_after(0, 1000)]
    assert "command_applied" in learned
