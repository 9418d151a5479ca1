"""The Cloud SDK against the real cloud app (in-process ASGI, real SQLite)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth.cloud.app import build_service, create_app
from berth.cloud.events.dispatch import Dispatcher
from berth.cloud.locations.schemas import LocationPatch
from berth.cloud.seed import seed_demo
from berth.cloud.webhooks.delivery import DeliveryWorker, WebhookConsumer
from berth.domain.tokens import sign_event
from berth.kit.clock import FakeClock
from berth.sdk import AuthenticationError, Conflict, NotFound, TooManyRequests, ValidationFailed
from berth.sdk.cloud import TOWER_ACCESS, AsyncCloudClient, CloudClient
from berth.sdk.webhooks import WebhookVerificationError, verify_webhook
from tests.cloud.webhooks.receiver import Receiver
from tests.support.configs import cloud_config, isolated_settings


@pytest.fixture
def cloud(tmp_path: Path, clock: FakeClock) -> tuple[Any, dict[str, Any]]:
    config = cloud_config(db_url=f"sqlite:///{tmp_path / 'cloud.db'}", data_dir=tmp_path,
                         clock=clock, sweep_interval=0)
    service = build_service(config)
    world = seed_demo(service)
    return create_app(config, service), world


def client(app: Any, creds: dict[str, str], **kw: Any) -> CloudClient:
    return CloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                       http=TestClient(app, base_url="http://cloud"), **kw)


def test_guide_calls_through_the_sync_client(cloud: tuple[Any, dict[str, Any]]) -> None:
    app, world = cloud
    tower = world["tower_id"]
    with client(app, world["partners"]["demo"]) as sdk:
        assert sdk.whoami() is not None
        assert [t.id for t in sdk.list_towers()] == [tower]
        lockers = sdk.list_lockers(tower)
        free = [lk for lk in lockers if lk.status.id == 1]
        assert len(free) == len(lockers) >= 12
        first, second = free[0].id, free[1].id
        reservation = sdk.reserve(tower, first, duration=300)
        assert sdk.get_locker(tower, first).status.name == "reserved"
        sdk.cancel_reservation(tower, first, reservation.id)
        assert sdk.get_locker(tower, first).status.name == "available"

        sdk.reserve(tower, first, 300)
        token = sdk.create_dropoff_token(tower, first, duration=3000)
        assert token.kind == "dropoff" and bytes.fromhex(token.payload)
        assert [a.id for a in sdk.assigned_lockers()] == [first]
        with pytest.raises(Conflict) as refused:
            sdk.create_pickup_token(tower, first)
        assert refused.value.code == "LOCKER_RENTED_CANNOT_CREATE_PICKUP_TOKEN"
        released = sdk.release_locker(tower, first)
        assert released.kind == "release" and released.command_id > 0
        assert sdk.get_locker(tower, first).status.name == "declined"

        with pytest.raises(NotFound):
            sdk.get_locker(tower, 10_000_000)
        with pytest.raises(ValidationFailed):
            sdk.reserve(tower, second, duration=-5)

    with client(app, world["partners"]["demo"], scope=TOWER_ACCESS) as phone:
        commands = phone.get_commands(tower).commands
        assert [c.token_id for c in commands] == [released.token_id]


def test_other_partner_sees_nothing(cloud: tuple[Any, dict[str, Any]]) -> None:
    app, world = cloud
    with client(app, world["partners"]["other"]) as sdk:
        assert sdk.list_towers() == []
        with pytest.raises(NotFound):
            sdk.list_lockers(world["tower_id"])


def test_async_client_refreshes_its_token(cloud: tuple[Any, dict[str, Any]],
                                          clock: FakeClock) -> None:
    app, world = cloud
    creds = world["partners"]["demo"]

    async def scenario() -> list[str]:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")
        async with AsyncCloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                                    http=http, clock=clock) as sdk:
            first = await sdk.list_towers()
            token1 = sdk.creds.tokens.token  # type: ignore[union-attr]
            clock.advance(301)  # the server's access token has expired by now
            second = await sdk.list_towers()
            token2 = sdk.creds.tokens.token  # type: ignore[union-attr]
            assert token1 != token2
            return [t.id for t in first + second]

    assert asyncio.run(scenario()) == [world["tower_id"]] * 2


def test_the_event_stream_through_both_clients(cloud: tuple[Any, dict[str, Any]]) -> None:
    app, world = cloud
    tower = world["tower_id"]
    with client(app, world["partners"]["demo"]) as sdk:
        first = sdk.list_lockers(tower)[0].id
        reservation = sdk.reserve(tower, first, 300)
        page = sdk.events()
        assert [(e.position, e.type) for e in page.events] == [
            (1, "locker.state_changed"), (2, "reservation.created")]
        assert page.events[1].data["reservation_id"] == reservation.id
        assert sdk.events(after=page.next_after).events == []
        with pytest.raises(ValidationFailed):
            sdk.events(limit=0)
    creds = world["partners"]["demo"]

    async def scenario() -> list[int]:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")
        async with AsyncCloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                                    http=http) as sdk:
            return [e.position for e in (await sdk.events(after=1, limit=5)).events]

    assert asyncio.run(scenario()) == [2]
    with client(app, world["partners"]["other"]) as sdk:
        assert sdk.events().events == []


def test_too_many_failed_logins_is_a_typed_429_with_retry_after(tmp_path: Path,
                                                               clock: FakeClock) -> None:
    config = cloud_config(db_url=f"sqlite:///{tmp_path / 'cloud.db'}", data_dir=tmp_path,
                         clock=clock, sweep_interval=0, login_failures_per_client="2/minute")
    service = build_service(config)
    world = seed_demo(service)
    wrong = {**world["partners"]["demo"], "client_secret": "wrong"}
    with client(create_app(config, service), wrong) as sdk:
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                sdk.get_token()
        with pytest.raises(TooManyRequests) as refused:
            sdk.get_token()
    assert refused.value.status == 429 and refused.value.code == "TOO_MANY_ATTEMPTS"
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 60


def test_locations_through_both_clients(cloud: tuple[Any, dict[str, Any]]) -> None:
    app, world = cloud
    home = world["location_ids"][0]
    with client(app, world["partners"]["demo"]) as sdk:
        assert [loc.id for loc in sdk.list_locations()] == [home]
        assert sdk.list_locations(skip=1) == []
        near = sdk.closest_locations(52.52, 13.40, radius=3000)
        assert [loc.id for loc in near] == [home] and near[0].distance_m > 0
        assert [loc.id for loc in sdk.locations_in_area((52.53, 13.36), (52.5, 13.4))] == [home]
        assert len(sdk.location_lockers(home)) == 16
        plain = sdk.location_availability(home)
        assert (plain.available, plain.total, plain.fitting_types) == (16, 16, None)
        fit = sdk.location_availability(home, (500, 400, 350), weight=3000)
        assert fit.fitting_types == ["large", "xlarge"] and fit.fitting_available == 8
        with pytest.raises(NotFound):
            sdk.location_lockers(world["location_ids"][1])
    creds = world["partners"]["demo"]

    async def scenario() -> list[int]:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")
        async with AsyncCloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                                    http=http) as sdk:
            found = await sdk.closest_locations(52.52, 13.40, radius=3000)
            availability = await sdk.location_availability(home, (100, 100, 100))
            return [loc.id for loc in found] + [availability.fitting_available or 0]

    assert asyncio.run(scenario()) == [home, 16]


def test_webhook_calls_and_verification(tmp_path: Path, clock: FakeClock,
                                        free_port: Any) -> None:
    settings = isolated_settings(cloud={"webhooks_allow_private": True,
                                        "webhooks_delivery_interval": 0})
    config = cloud_config(db_url=f"sqlite:///{tmp_path / 'cloud.db'}", data_dir=tmp_path,
                          settings=settings, clock=clock, sweep_interval=0,
                          outbox_dispatch_interval=0)
    service = build_service(config)
    world = seed_demo(service)
    receiver = Receiver(free_port()).start()
    try:
        with client(create_app(config, service), world["partners"]["demo"]) as sdk:
            made = sdk.create_webhook(receiver.url, ["reservation.created"])
            assert [w.id for w in sdk.list_webhooks()] == [made.id]
            sdk.reserve(world["tower_id"], sdk.list_lockers(world["tower_id"])[0].id, 300)
            Dispatcher(service.db, [WebhookConsumer(service.webhooks)], clock=clock).run_once()
            DeliveryWorker(service.webhooks).run_once()
            [got] = receiver.got
            assert verify_webhook(made.secret, got.body, got.headers)["type"] == \
                "reservation.created"
            with pytest.raises(WebhookVerificationError):
                verify_webhook(made.secret, got.body + " ", got.headers)
            [delivery] = sdk.webhook_deliveries(made.id)
            assert delivery.status == "succeeded" and delivery.webhook_id == \
                got.headers["webhook-id"]
            assert sdk.redeliver_webhook(made.id, delivery.id).status == "pending"
            rotated = sdk.rotate_webhook_secret(made.id)
            assert rotated.secret != made.secret
            assert sdk.update_webhook(made.id, enabled=False).enabled is False
            sdk.delete_webhook(made.id)
            with pytest.raises(NotFound):
                sdk.webhook_deliveries(made.id)
    finally:
        receiver.stop()


def test_pickup_token_with_a_keypad_code_through_both_clients(
        cloud: tuple[Any, dict[str, Any]]) -> None:
    app, world = cloud
    tower = world["tower_id"]
    services = app.state.services
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(services.towers.provisioning(tower).tower_private_key))
    creds = world["partners"]["demo"]
    with client(app, creds) as sdk, client(app, creds, scope=TOWER_ACCESS) as phone:
        lockers = [lk.id for lk in sdk.list_lockers(tower)[:2]]
        for seq, lid in enumerate(lockers, 1):
            drop = sdk.create_dropoff_token(tower, lid)
            phone.push_events(tower, [sign_event(
                {"tower_id": tower, "seq": seq, "type": "dropoff_token_used", "timestamp": 1,
                 "locker_id": lid, "token_id": drop.token_id}, key)])
        plain = sdk.create_pickup_token(tower, lockers[0])
        assert plain.keypad_code is None
        coded = sdk.create_pickup_token(tower, lockers[0], keypad_code=True)
        assert coded.keypad_code is not None and len(coded.keypad_code) == 6
        kinds = [(c.kind, c.token_id) for c in phone.get_commands(tower).commands]
        assert kinds == [("keypad_code", coded.token_id)]

    async def scenario() -> str | None:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")
        async with AsyncCloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                                    http=http) as sdk:
            return (await sdk.create_pickup_token(tower, lockers[1], keypad_code=True)).keypad_code

    code = asyncio.run(scenario())
    assert code is not None and code.isdigit()


def test_dwell_time_through_both_clients(cloud: tuple[Any, dict[str, Any]],
                                         clock: FakeClock) -> None:
    """The windows on the location, durations left to them, the collection deadline on the
    assigned lockers and a return token once the parcel is overdue."""
    app, world = cloud
    services, tower, home = app.state.services, world["tower_id"], world["location_ids"][0]
    services.locations.update_location(home, LocationPatch(dropoff_window=600,
                                                           collection_window=3600))
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(services.towers.provisioning(tower).tower_private_key))
    with client(app, world["partners"]["demo"]) as sdk:
        [here] = sdk.list_locations()
        assert (here.dropoff_window, here.collection_window) == (600, 3600)
        first, second = [lk.id for lk in sdk.list_lockers(tower, status="available")][:2]
        reservation = sdk.reserve(tower, first, duration=None)
        assert reservation.expires_at - reservation.created_at == timedelta(seconds=600)
        drop = sdk.create_dropoff_token(tower, second)  # 3000 asked, bounded by the window
        assert drop.expires_at - clock() == timedelta(seconds=600)
        used = sign_event({"tower_id": tower, "seq": 1, "type": "dropoff_token_used",
                           "timestamp": int(clock().timestamp()), "locker_id": second,
                           "token_id": drop.token_id}, key)
        services.tower_sync.ingest_events(services.partners.partner_id("demo"), tower, [used])
        [held] = [a for a in sdk.assigned_lockers() if a.id == second]
        assert held.collectBy == clock() + timedelta(seconds=3600)
        with pytest.raises(Conflict) as early:
            sdk.create_pickup_token(tower, second, purpose="return")
        assert early.value.code == "PARCEL_NOT_OVERDUE"
        clock.advance(3601)
        services.sweep()
        assert sdk.create_pickup_token(tower, second, purpose="return").kind == "pickup"
    creds = world["partners"]["demo"]

    async def scenario() -> int:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")
        async with AsyncCloudClient("http://cloud", creds["client_id"], creds["client_secret"],
                                    http=http) as sdk:
            made = await sdk.reserve(tower, first + 2, duration=None)
            return int((made.expires_at - made.created_at).total_seconds())

    assert asyncio.run(scenario()) == 600
