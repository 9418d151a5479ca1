"""The Gateway SDK against the real gateway: in-process with its lifespan, and over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from berth.gateway.app import create_app
from berth.sdk import AuthenticationError, Conflict, NotFound
from berth.sdk.gateway import AsyncGatewayClient, GatewayClient
from tests.gateway.conftest import API_KEY, ServerProcess, make_config


@pytest.fixture
def app(sqlite_url: str) -> Iterator[TestClient]:
    """The app with its lifespan running (controllers, watcher, batcher) on the client's loop."""
    with TestClient(create_app(make_config(sqlite_url))) as client:
        yield client


def sdk(app: TestClient, key: str = API_KEY) -> GatewayClient:
    return GatewayClient(str(app.base_url), key, http=app)


def test_transaction_lifecycle(app: TestClient) -> None:
    gw = sdk(app)
    assert gw.health().status in ("ok", "degraded")
    tx = gw.create_transaction("order-42", preferred_locker_type="medium",
                               preferred_attributes=["low"], width_inches=18, height_inches=24,
                               length_inches=12, allow_fallback=True, attributes_required=True,
                               matching_strategy="do_not_tip")
    assert gw.get_transaction("order-42").locker_id == tx.locker_id
    assert [t.transaction_id for t in gw.list_transactions()] == ["order-42"]
    with pytest.raises(Conflict) as duplicate:
        gw.create_transaction("order-42")
    assert duplicate.value.body["lockerId"] == tx.locker_id  # the existing transaction
    opened = gw.open_transaction("order-42")
    assert opened.success and opened.locker_id == tx.locker_id
    gw.release_transaction("order-42")
    assert gw.list_transactions() == []
    with pytest.raises(NotFound) as missing:
        gw.open_transaction("nope")
    assert missing.value.code == "TRANSACTION_NOT_FOUND"


def test_lockers_types_banks_system(app: TestClient) -> None:
    gw = sdk(app)
    lockers = gw.list_lockers()
    assert len(lockers) >= 30
    first = lockers[0].locker_id
    assert gw.locker_config(first).locker_id == first
    out = gw.update_locker(first, out_of_service=True, reason_code="BROKEN_LOCK", reason="jammed")
    assert out.out_of_service and not out.available
    assert not gw.get_locker(first).available
    assert gw.update_locker(first, out_of_service=False).available
    assert {t.slug for t in gw.list_locker_types()} >= {"small", "medium", "large"}
    bank_type = gw.list_bank_types()[0]
    assert gw.get_bank_type(bank_type.bank_type_id).associations
    assert gw.heartbeat("kiosk-1", "kiosk").success
    assert any(d.device_id == "kiosk-1" for d in gw.system().devices)
    assert gw.logs(locker_id=first)


def test_wrong_key_is_a_typed_error(app: TestClient) -> None:
    with pytest.raises(AuthenticationError) as info:
        sdk(app, "wrong").list_lockers()
    assert info.value.code == "UNAUTHORIZED"


def test_async_client_over_http(tmp_path: Path, sqlite_url: str, free_port: Any) -> None:
    server = ServerProcess(sqlite_url, free_port(), tmp_path)
    try:
        server.wait_ready()

        async def scenario() -> int:
            async with AsyncGatewayClient(server.url, API_KEY) as gw:
                created = await asyncio.gather(*(gw.create_transaction(f"a-{i}")
                                                 for i in range(20)))
                await gw.release_transaction("a-0")
                return len({t.locker_id for t in created})

        assert asyncio.run(scenario()) == 20
    finally:
        server.stop()
