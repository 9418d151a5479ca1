"""The guide's whole delivery over real HTTP: a cloud process, a gateway process provisioned as
its tower, and byte-level simulated boards behind a pty inside the gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.demo import run_delivery, wait_for_state
from berth.kit.settings import Settings
from berth.sdk import BerthApiError
from berth.sdk.cloud import CloudClient
from berth.sdk.gateway import GatewayClient
from berth.stack import Stack, StackInfo
from tests.cloud.webhooks.receiver import Receiver
from tests.support.waiting import BOUND, SERVER_START, wait_until


@pytest.fixture
def stack(tmp_path: Path, free_port: Callable[[], int]) -> Iterator[Stack]:
    running = Stack(Settings(data_dir=tmp_path), cloud_port=free_port(),
                    gateway_port=free_port(), quiet=True)
    running.start(timeout=SERVER_START)
    yield running
    running.stop()


def clients(info: StackInfo) -> tuple[CloudClient, GatewayClient]:
    return (CloudClient(info.cloud_url, info.client_id, info.client_secret),
            GatewayClient(info.gateway_url, info.gateway_api_key))


def test_whole_delivery_follows_every_state(stack: Stack) -> None:
    assert stack.info is not None
    partner, tower = clients(stack.info)
    seen: list[str] = []
    report = run_delivery(partner, tower, stack.info.tower_id, door_timeout=BOUND,
                          trace=lambda step, detail: seen.append(step))
    assert report.states == ["reserved", "rented", "occupied", "available"]
    assert seen.count("open at the tower") == 2
    # the gateway logged both openings of that door through the real driver
    logs = tower.logs(locker_id=report.gateway_locker_id, limit=200)
    assert sum(1 for e in logs if "open" in e.event.lower()) >= 2


def test_offline_dropoff_reaches_the_cloud_once_it_is_back(stack: Stack) -> None:
    assert stack.info is not None
    partner, tower = clients(stack.info)
    tower_id = stack.info.tower_id
    locker = next(lk for lk in partner.list_lockers(tower_id) if lk.status.id == 1)
    token = partner.create_dropoff_token(tower_id, locker.id, duration=3000)

    stack.stop_cloud()
    opened = tower.tower_open(token.payload, token.payload_auth)  # the site has no internet
    assert opened.success
    wait_until(lambda: any(e["type"] == "dropoff_token_used"
                           for e in tower.tower_events(0, 500).events), "the door never closed")

    stack.start_cloud(timeout=SERVER_START)
    assert wait_for_state(partner, tower_id, locker.id, "occupied", timeout=BOUND) == "occupied"
    # every event arrived exactly once
    events = tower.tower_events(0, 500).events
    used = [e for e in events if e["type"] == "dropoff_token_used"]
    assert len(used) == 1


def test_security_refusals_move_no_door(stack: Stack) -> None:
    assert stack.info is not None
    partner, tower = clients(stack.info)
    tower_id = stack.info.tower_id
    locker = next(lk for lk in partner.list_lockers(tower_id) if lk.status.id == 1)
    token = partner.create_dropoff_token(tower_id, locker.id, duration=3000)
    flipped = bytearray.fromhex(token.payload)
    flipped[-1] ^= 0x01
    with pytest.raises(BerthApiError) as refused:
        tower.tower_open(flipped.hex(), token.payload_auth)
    assert refused.value.status == 403 and refused.value.code == "AUTH_SIGNATURE"
    before = partner.get_locker(tower_id, locker.id).status.name
    assert before == "rented"
    events = tower.tower_events(0, 500).events
    assert not any(e["type"] == "locker_opened" for e in events)


def test_spent_dropoff_token_never_reopens_the_locker(stack: Stack) -> None:
    """The issue's walk: drop off, the door closes, the same body again (and as a 'pick-up')."""
    assert stack.info is not None
    partner, tower = clients(stack.info)
    tower_id = stack.info.tower_id
    locker = next(lk for lk in partner.list_lockers(tower_id) if lk.status.id == 1)
    partner.reserve(tower_id, locker.id, 300)
    drop = partner.create_dropoff_token(tower_id, locker.id, duration=3000)
    opened = tower.tower_open(drop.payload, drop.payload_auth)
    assert opened.success
    # the simulated door closes by itself; the tower reports the drop-off, the cloud follows
    assert wait_for_state(partner, tower_id, locker.id, "occupied", timeout=60) == "occupied"

    def openings() -> int:
        logs = tower.logs(locker_id=opened.gatewayLockerId, limit=500)
        return sum(1 for e in logs if e.event == "LOCKER_OPENED")

    before = openings()
    for _ in range(3):
        with pytest.raises(BerthApiError) as refused:
            tower.tower_open(drop.payload, drop.payload_auth)
        assert refused.value.status == 403 and refused.value.code == "TOKEN_ALREADY_USED"
        assert "pickup-locker-tokens" in str(refused.value)
    assert openings() == before == 1
    pickup = partner.create_pickup_token(tower_id, locker.id, duration=3000)
    assert tower.tower_open(pickup.payload, pickup.payload_auth).success


def test_keypad_pickup_frees_the_locker_and_partners_hear_it_and_the_lockout(
        stack: Stack, free_port: Callable[[], int]) -> None:
    assert stack.info is not None
    partner, tower = clients(stack.info)
    receiver = Receiver(free_port()).start()
    try:
        hook = partner.create_webhook(receiver.url)
        seen: list[str] = []
        report = run_delivery(partner, tower, stack.info.tower_id, door_timeout=BOUND,
                              keypad=True, trace=lambda step, detail: seen.append(step))
        assert report.states == ["reserved", "rented", "occupied", "available"]
        assert "keypad" in seen and "pick-up token" not in seen

        def operations() -> list[dict]:
            bodies = [r.verify(hook.secret) for r in list(receiver.got)]
            return [b for b in bodies if b["type"] == "LOCKER_OPERATION"]  # type: ignore[index]

        wait_until(lambda: any(o["data"]["source"] == "LOCKER_TOKEN_USED"
                               and o["data"]["locker_status"] == "available"
                               for o in operations()), "no webhook for the keypad pick-up")
        assert all(o["data"]["keypad_code"] is None for o in operations())

        for _ in range(5):  # someone guesses at the keypad
            with pytest.raises(BerthApiError) as wrong:
                tower.tower_keypad("000000")
            assert wrong.value.status == 403 and wrong.value.code == "KEYPAD_CODE_INVALID"
        with pytest.raises(BerthApiError) as locked:
            tower.tower_keypad("000000")
        assert locked.value.status == 429 and locked.value.code == "KEYPAD_LOCKED"
        wait_until(lambda: any(r.verify(hook.secret)["type"] == "tower.keypad_locked"  # type: ignore[index]
                               for r in list(receiver.got)), "no webhook for the lockout")
    finally:
        receiver.stop()
