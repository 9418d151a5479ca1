"""A tower's cloud link over the fleet broker (real Mosquitto, the cloud served over real HTTP):
signed events up and commands down over MQTT with no HTTP sync, duplicates applied once, and
HTTP as the fallback while the broker is down, then MQTT again; nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from berth.cloud.app import build_service, create_app
from berth.cloud.provision import provision_tower
from berth.cloud.seed import seed_demo
from berth.cloud.services import CloudServices
from berth.cloud.tables import commands, events
from berth.domain.errors import Conflict, InvalidInput
from berth.fleet import protocol as p
from berth.fleet.client import Credentials, LinkConfig
from berth.sdk.cloud import CloudClient
from berth.storage import Database
from berth.tower.identity import GatewayLocker, TowerIdentity
from berth.tower.service import TowerService
from berth.tower.sync import SyncConfig
from tests.cloud.fleet.conftest import link_config, location
from tests.support.broker import MosquittoBroker
from tests.support.configs import isolated_settings
from tests.support.fleet import MqttProbe
from tests.support.serving import serving
from tests.support.waiting import wait_until

SITE = "depot-1"
FAST_SYNC = SyncConfig.from_settings(isolated_settings(), interval=0.1, max_backoff=0.5)


class CountingTowerSync:
    """The cloud app, counting the HTTP tower sync calls it serves (``/sdk/v1/towers/...``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/sdk/v1/towers/"):
            self.calls.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Cloud:
    broker: MosquittoBroker
    service: CloudServices
    app: CountingTowerSync
    url: str
    partner: CloudClient

    def tower(self) -> TowerIdentity:
        """A tower of partner demo on the demo site's lockers 7 and 8, bound to SITE."""
        identity = provision_tower(self.service, "demo", "fleet tower",
                                   [GatewayLocker(7, "medium"), GatewayLocker(8, "medium")],
                                   cloud_url=self.url)
        assert self.service.fleet.bind_tower(SITE, identity.tower_id) == "demo"
        return identity

    def site_credentials(self) -> Credentials:
        self.broker.add_user(SITE, "site-pw")
        return Credentials(SITE, "site-pw")

    def events(self, tower_id: str) -> list[tuple[int, str]]:
        with self.service.db.read() as conn:
            return [(r.seq, r.type) for r in conn.execute(
                select(events.c.seq, events.c.type).where(events.c.tower_id == tower_id)
                .order_by(events.c.seq))]

    def unapplied(self, tower_id: str) -> int:
        with self.service.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(commands).where(
                commands.c.tower_id == tower_id, commands.c.applied_at.is_(None))).scalar_one())

    def status(self, identity: TowerIdentity, locker: int) -> str:
        return self.partner.get_locker(identity.tower_id, locker).status.name

    def queue_release(self, identity: TowerIdentity, locker: int) -> None:
        """A drop-off token, then a release: the cloud queues a release_token command."""
        self.partner.create_dropoff_token(identity.tower_id, locker, 3000)
        self.partner.release_locker(identity.tower_id, locker)
        assert self.status(identity, locker) == "declined"


@pytest.fixture
def cloud(mosquitto: MosquittoBroker, tmp_path: Path, db_url: str) -> Iterator[Cloud]:
    from tests.support.configs import cloud_config

    config = cloud_config(db_url=db_url, data_dir=tmp_path / "cloud", sweep_interval=0,
                          fleet_link=link_config(mosquitto))
    service = build_service(config)
    creds = seed_demo(service)["partners"]["demo"]
    service.fleet.create_organisation("acme")
    service.fleet.bind_site("acme", location(service, "Depot one"), SITE)
    app = CountingTowerSync(create_app(config, service))
    with serving(app) as url:
        wait_until(lambda: service.fleet.link is not None and service.fleet.link.connected
                   .is_set(), "the cloud never reached the broker")
        with CloudClient(url, creds["client_id"], creds["client_secret"]) as partner:
            yield Cloud(mosquitto, service, app, url, partner)


@pytest.fixture
def gateway_db(tmp_path: Path) -> str:
    """The gateway's own database (never the cloud's, whatever engine that one is on)."""
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def start_tower(cloud: Cloud, factory: Callable[..., TestClient], db_url: str,
                identity: TowerIdentity) -> TestClient:
    """The gateway serving the tower, with its fleet link; a forced door gives it an event."""
    link = LinkConfig(cloud.broker.url, cloud.site_credentials(), keepalive=3,
                      reconnect_max=0.3, request_ttl=60, tower_reply_wait=1.0)
    gateway = factory(db_url, tower=identity, fleet=link, fleet_site_id=SITE,
                      tower_sync=FAST_SYNC)
    gateway.app.state.tower.door_forced(7)  # type: ignore[attr-defined]
    return gateway


def all_pushed(gateway: TestClient, cloud: Cloud, identity: TowerIdentity) -> bool:
    tower: TowerService = gateway.app.state.tower  # type: ignore[attr-defined]
    logged = [(e["seq"], e["type"]) for e in tower.events_after(0, 1000)]
    return bool(logged) and cloud.events(identity.tower_id) == logged and \
        tower.pushed_seq() == logged[-1][0]


def test_events_and_commands_ride_the_broker_without_http_sync(
        cloud: Cloud, gateway_factory: Callable[..., TestClient], gateway_db: str) -> None:
    identity = cloud.tower()
    gateway = start_tower(cloud, gateway_factory, gateway_db, identity)
    wait_until(lambda: all_pushed(gateway, cloud, identity), "the tower's events never arrived")
    locker = next(iter(identity.lockers))
    cloud.queue_release(identity, locker)
    wait_until(lambda: cloud.status(identity, locker) == "available",
               "the release never reached the tower and came back acknowledged")
    wait_until(lambda: all_pushed(gateway, cloud, identity), "the acknowledgement never arrived")
    assert cloud.unapplied(identity.tower_id) == 0
    assert cloud.app.calls == []  # not one HTTP sync call: all of it went over MQTT
    assert gateway.app.state.gateway_tower.transport.route == "broker"  # type: ignore[attr-defined]


def test_a_tower_without_an_http_link_syncs_over_the_broker_alone(
        cloud: Cloud, gateway_factory: Callable[..., TestClient], gateway_db: str) -> None:
    """Provisioned offline (no ``tower_access`` client): once its site is bound, it syncs."""
    identity = replace(cloud.tower(), cloud=None)
    gateway = start_tower(cloud, gateway_factory, gateway_db, identity)
    wait_until(lambda: all_pushed(gateway, cloud, identity), "the tower's events never arrived")
    assert gateway.app.state.gateway_tower.transport.http is None  # type: ignore[attr-defined]


def test_a_repeated_call_is_applied_once(cloud: Cloud, gateway_db: str) -> None:
    """QoS 1 may deliver a call (or its answer) twice: the once-rules make the repeat harmless."""
    identity = cloud.tower()
    tower = TowerService(Database(gateway_db), identity, _no_door)
    tower.install()
    tower.door_forced(7)  # a signed event for the cloud
    batch = tower.events_after(0, 100)
    creds = cloud.site_credentials()
    site = MqttProbe(cloud.broker, creds.username, creds.password)
    try:
        site.subscribe(p.tower_replies_topic(SITE))
        call = p.TowerCall("call-1", "events", identity.tower_id, events=batch)
        for _ in range(2):
            site.publish(p.tower_calls_topic(SITE), call.encode(), correlation=b"call-1")
        first, second = _replies(site, "call-1", 2)
        assert {r["outcome"] for r in first["results"]} <= {"recorded", "applied"}
        assert {r["outcome"] for r in second["results"]} == {"duplicate"}
        assert cloud.events(identity.tower_id) == [(e["seq"], e["type"]) for e in batch]

        locker = next(iter(identity.lockers))
        cloud.queue_release(identity, locker)
        fetch = p.TowerCall("call-2", "commands", identity.tower_id)
        for _ in range(2):
            site.publish(p.tower_calls_topic(SITE), fetch.encode(), correlation=b"call-2")
        outcomes = [tower.apply_command(c["id"], c["payload"], c["payload_auth"], c["kind"])
                    .outcome for reply in _replies(site, "call-2", 2) for c in reply["commands"]]
        assert outcomes == ["applied", "duplicate"]
    finally:
        site.close()
        tower.db.dispose()


def test_only_the_bound_tower_is_taken_from_a_site(cloud: Cloud, gateway_db: str) -> None:
    """A site's calls count for the tower bound to it: another tower's are refused, even
    signed by that tower (a gateway cannot sync a tower it does not serve)."""
    bound = cloud.tower()
    other = provision_tower(cloud.service, "demo", "elsewhere", [GatewayLocker(1, "medium")])
    creds = cloud.site_credentials()
    site = MqttProbe(cloud.broker, creds.username, creds.password)
    try:
        site.subscribe(p.tower_replies_topic(SITE))
        for cid, tower_id in (("c-other", other.tower_id), ("c-bound", bound.tower_id)):
            fetch = p.TowerCall(cid, "commands", tower_id)
            site.publish(p.tower_calls_topic(SITE), fetch.encode(), correlation=cid.encode())
        refused = _reply(site, "c-other")
        assert refused.code == "TOWER_NOT_BOUND" and refused.body is None
        assert _reply(site, "c-bound").code is None
        forged = TowerIdentity(bound.tower_id, Ed25519PrivateKey.generate(), {},
                               bound.lockers)  # not the tower's key
        fake = TowerService(Database(gateway_db), forged, _no_door)
        fake.install()
        fake.door_forced(7)
        call = p.TowerCall("c-forged", "events", bound.tower_id, events=fake.events_after(0))
        site.publish(p.tower_calls_topic(SITE), call.encode(), correlation=b"c-forged")
        assert _reply(site, "c-forged").code == "EVENT_SIGNATURE"
        assert cloud.events(bound.tower_id) == []
        fake.db.dispose()
    finally:
        site.close()
    cloud.service.fleet.create_organisation("globex")
    cloud.service.fleet.bind_site("globex", location(cloud.service, "Two"), "depot-2")
    with pytest.raises(Conflict):  # one tower, one site
        cloud.service.fleet.bind_tower("depot-2", bound.tower_id)
    with pytest.raises(InvalidInput):
        cloud.service.fleet.bind_tower(SITE, bound.tower_id, "nobody")


def test_http_is_the_fallback_while_the_broker_is_down(
        cloud: Cloud, gateway_factory: Callable[..., TestClient], gateway_db: str) -> None:
    identity = cloud.tower()
    gateway = start_tower(cloud, gateway_factory, gateway_db, identity)
    part = gateway.app.state.gateway_tower  # type: ignore[attr-defined]
    wait_until(lambda: all_pushed(gateway, cloud, identity), "the tower's events never arrived")
    assert cloud.app.calls == []
    first, second = list(identity.lockers)

    cloud.broker.stop()
    cloud.queue_release(identity, first)
    wait_until(lambda: cloud.status(identity, first) == "available",
               "the release never went through over HTTP")
    wait_until(lambda: all_pushed(gateway, cloud, identity), "events lost over HTTP")
    assert cloud.app.calls and part.transport.route == "http"

    cloud.broker.start()
    wait_until(lambda: part.transport.route == "broker", "the tower never went back to MQTT")
    over_http = len(cloud.app.calls)
    cloud.queue_release(identity, second)
    wait_until(lambda: cloud.status(identity, second) == "available",
               "the second release never went through over MQTT")
    wait_until(lambda: all_pushed(gateway, cloud, identity), "events lost over MQTT")
    assert len(cloud.app.calls) == over_http  # back on the broker: no more HTTP sync
    tower: TowerService = gateway.app.state.tower  # type: ignore[attr-defined]
    applied = [e["command_id"] for e in tower.events_after(0, 1000)
               if e["type"] == "command_applied"]
    assert len(applied) == len(set(applied)) == 2  # each command applied once
    assert cloud.unapplied(identity.tower_id) == 0


async def _no_door(_gateway_locker_id: int) -> Any:
    raise AssertionError("no door opens here")


def _replies(site: MqttProbe, call_id: str, count: int) -> list[Any]:
    wait_until(lambda: len(_all(site, call_id)) >= count, f"{count} replies to {call_id}")
    found = _all(site, call_id)
    assert all(r.code is None for r in found), found
    return [r.body for r in found]


def _reply(site: MqttProbe, call_id: str) -> p.TowerReply:
    wait_until(lambda: _all(site, call_id), f"no reply to {call_id}")
    return _all(site, call_id)[0]


def _all(site: MqttProbe, call_id: str) -> list[p.TowerReply]:
    got = [p.decode_tower_reply(m.payload) for m in site.received(p.tower_replies_topic(SITE))]
    return [r for r in got if r.id == call_id]
