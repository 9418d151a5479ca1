"""The door watcher on the in-process simulated controller, and what the gateway makes of it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from berth import events as ev
from berth.gateway.site import load_site
from berth.hardware.simulated import SimulatedController
from berth.hardware.watcher import DoorEvent, DoorEventKind, DoorWatcher
from tests.gateway.conftest import AUTH, simulated
from tests.support.waiting import BOUND

K = DoorEventKind


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(controller: SimulatedController, clock: Clock | None = None
         ) -> tuple[DoorWatcher, list[DoorEvent]]:
    events: list[DoorEvent] = []
    watcher = DoorWatcher([controller], events.append, interval=0.01,
                          monotonic=clock or time.monotonic)
    return watcher, events


def test_publishes_only_changes_and_tells_forced_from_unlocked() -> None:
    async def scenario() -> list[DoorEvent]:
        ctl = SimulatedController("c", 4, close_after=None)
        watcher, events = make(ctl)
        await watcher.poll_once()
        assert events == []  # closed doors at first sight are no news
        await watcher.poll_once()
        watcher.note_unlock("c", 2)
        await ctl.unlock(2)
        await watcher.poll_once()
        await watcher.poll_once()  # unchanged: nothing new
        ctl.close_door(2)
        await watcher.poll_once()
        ctl.force_open(3)  # nobody unlocked it
        await watcher.poll_once()
        await ctl.unlock(1)  # an unlock nobody announced looks forced too
        await watcher.poll_once()
        return events

    events = asyncio.run(scenario())
    assert [(e.kind, e.channel) for e in events] == [
        (K.DOOR_OPENED, 2), (K.DOOR_CLOSED, 2), (K.DOOR_FORCED_OPEN, 3),
        (K.DOOR_FORCED_OPEN, 1)]


def test_a_door_opened_and_shut_between_two_polls_is_still_reported() -> None:
    """The open rule read it open; the watcher only ever reads it closed: without the note the
    closing (which spends a token, reports a parcel in) would never be published."""
    async def scenario() -> list[DoorEvent]:
        ctl = SimulatedController("c", 3, close_after=None)
        watcher, events = make(ctl)
        watcher.note_unlock("c", 1)
        await ctl.unlock(1)
        watcher.note_opened("c", 1)  # what the door service says after a confirmed open
        ctl.close_door(1)  # shut before the first poll ever saw it
        await watcher.poll_once()
        await watcher.poll_once()  # the note is used up: nothing more
        return events

    assert [(e.kind, e.channel) for e in asyncio.run(scenario())] == [
        (K.DOOR_OPENED, 1), (K.DOOR_CLOSED, 1)]


def test_an_opened_note_is_used_up_by_the_poll_that_sees_the_door_open() -> None:
    async def scenario() -> list[DoorEvent]:
        ctl = SimulatedController("c", 2, close_after=None)
        watcher, events = make(ctl)
        await watcher.poll_once()
        watcher.note_unlock("c", 2)
        await ctl.unlock(2)
        watcher.note_opened("c", 2)
        await watcher.poll_once()  # seen open: the usual opening
        ctl.close_door(2)
        await watcher.poll_once()
        await watcher.poll_once()  # closed and closed again: no invented opening
        return events

    assert [(e.kind, e.channel) for e in asyncio.run(scenario())] == [
        (K.DOOR_OPENED, 2), (K.DOOR_CLOSED, 2)]


def test_a_reading_begun_before_the_door_opened_does_not_use_the_note() -> None:
    """A poll already under way when the open rule saw the door open may read the door as it
    was before: it must neither invent a closing nor lose the note."""
    async def scenario() -> list[DoorEvent]:
        clock = Clock()
        ctl = SimulatedController("c", 2, close_after=None)
        watcher, events = make(ctl, clock)
        await watcher.poll_once()
        reading = ctl.read_doors

        async def slow_read() -> dict:  # the door opens while this reading is on the line
            doors = await reading()
            clock.now += 1
            watcher.note_unlock("c", 1)
            await ctl.unlock(1)
            watcher.note_opened("c", 1)
            return doors

        ctl.read_doors = slow_read  # type: ignore[method-assign]
        await watcher.poll_once()  # read closed, before the opening: no news
        ctl.read_doors = reading  # type: ignore[method-assign]
        assert events == []
        await watcher.poll_once()  # now it is seen open
        return events

    assert [(e.kind, e.channel) for e in asyncio.run(scenario())] == [(K.DOOR_OPENED, 1)]


def test_unlock_note_expires() -> None:
    async def scenario() -> list[DoorEvent]:
        clock = Clock()
        ctl = SimulatedController("c", 2, close_after=None)
        watcher, events = make(ctl, clock)
        await watcher.poll_once()
        watcher.note_unlock("c", 1)
        clock.now += watcher.unlock_window + 1
        ctl.force_open(1)
        await watcher.poll_once()
        return events

    assert [e.kind for e in asyncio.run(scenario())] == [K.DOOR_FORCED_OPEN]


def test_offline_after_three_failed_polls_then_online_again() -> None:
    async def scenario() -> list[DoorEvent]:
        ctl = SimulatedController("c", 2, close_after=None)
        watcher, events = make(ctl)
        ctl.force_open(1)
        await watcher.poll_once()  # open at first sight
        ctl.offline = True
        for _ in range(2):
            await watcher.poll_once()
        assert [e.kind for e in events] == [K.DOOR_OPENED, K.DOORS_UNKNOWN]
        await watcher.poll_once()
        await watcher.poll_once()  # still offline: reported once
        ctl.offline = False
        await watcher.poll_once()
        return events

    events = asyncio.run(scenario())
    assert [(e.kind, e.channel) for e in events] == [
        (K.DOOR_OPENED, 1), (K.DOORS_UNKNOWN, None), (K.CONTROLLER_OFFLINE, None),
        (K.CONTROLLER_ONLINE, None), (K.DOOR_OPENED, 1), (K.DOOR_CLOSED, 2),
        (K.DOORS_KNOWN, None)]


def test_first_failed_poll_makes_doors_unknown_on_the_byte_level_board() -> None:
    from berth.hardware.driver import DoorState
    from tests.hardware.sim_helpers import rig

    async def scenario() -> list[DoorEvent]:
        async with rig("kerong", "pty", timeout=0.1) as (sim, [controller]):
            events: list[DoorEvent] = []
            watcher = DoorWatcher([controller], events.append, interval=0.01)
            sim.board(controller.address).door(3).force_open()
            await watcher.poll_once()
            sim.inject("silent", board=controller.address)  # the board stops answering
            await watcher.poll_once()
            assert [e.kind for e in events] == [K.DOOR_OPENED, K.DOORS_UNKNOWN]
            await watcher.poll_once()  # still silent: said once
            sim.clear()
            await watcher.poll_once()
            known = events[-1]
            assert known.kind is K.DOORS_KNOWN
            assert dict(known.doors)[3] is DoorState.OPEN
            assert dict(known.doors)[4] is DoorState.CLOSED
            return events

    events = asyncio.run(scenario())
    assert [e.kind for e in events] == [K.DOOR_OPENED, K.DOORS_UNKNOWN, K.DOORS_KNOWN]


def test_locker_is_unknown_and_unassigned_from_the_first_failed_poll(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site, close_after=None)
    # the background watcher polls once at start, then the test steps it by hand
    client = gateway_factory(sqlite_url, site, controllers=controllers,
                             door_poll_interval=3600)
    client.headers.update(AUTH)
    service = client.app.state.service
    bank_b = {lk.id for lk in site.lockers if lk.controller_id == "bank-b"}
    controllers["bank-b"].offline = True
    client.portal.call(service.watcher.poll_once)  # one failed poll
    locker = client.get("/lockers/13").json()
    assert locker["doorOpen"] is None and locker["available"] is False
    assert locker["operational"] is True  # offline (operational false) after 3 failures, as before
    assert locker["reasonCode"] == "DOOR_STATE_UNKNOWN"
    assigned = []
    for i in range(len(site.lockers)):
        r = client.post("/transactions", json={"transactionId": f"u{i}"})
        if r.status_code == 201:
            assigned.append(r.json()["lockerId"])
    assert assigned and not set(assigned) & bank_b
    assert len(assigned) == len(site.lockers) - len(bank_b)
    controllers["bank-b"].offline = False
    client.portal.call(service.watcher.poll_once)
    assert client.get("/lockers/13").json()["doorOpen"] is False
    got = client.post("/transactions", json={"transactionId": "after"})
    assert got.status_code == 201 and got.json()["lockerId"] in bank_b


def test_runs_in_background_with_async_callback() -> None:
    async def scenario() -> list[DoorEvent]:
        ctl = SimulatedController("c", 2, close_after=0.05)
        seen: list[DoorEvent] = []

        async def record(event: DoorEvent) -> None:
            seen.append(event)

        watcher = DoorWatcher([ctl], record, interval=0.01)
        await watcher.start()
        await asyncio.sleep(0.05)
        watcher.note_unlock("c", 1)
        await ctl.unlock(1)
        async with asyncio.timeout(BOUND):  # the door opens, then closes by itself
            while len(seen) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # room for an event too many to show up
        await watcher.aclose()
        await ctl.aclose()
        return seen

    assert [e.kind for e in asyncio.run(scenario())] == [K.DOOR_OPENED, K.DOOR_CLOSED]


def wait_for(predicate: Callable[[], object], timeout: float = BOUND) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail("condition not reached")


def test_gateway_records_door_events_and_controller_health(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site, close_after=None)
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)

    def events(**params: object) -> list[str]:
        return [e["event"] for e in client.get("/system/logs", params=params).json()]

    heard: list[tuple[type, int | None]] = []
    bus = client.app.state.bus
    bus.subscribe(lambda e: heard.append((type(e), e.locker_id)), ev.DoorEvent)
    bus.subscribe(lambda e: 1 / 0, ev.DoorEvent)  # must not disturb

    controllers["bank-a"].force_open(3)
    wait_for(lambda: "DOOR_FORCED_OPEN" in events(lockerId=3))
    wait_for(lambda: (ev.DoorForced, 3) in heard)
    assert client.get("/lockers/3").json()["doorOpen"] is True
    controllers["bank-a"].close_door(3)
    wait_for(lambda: client.get("/lockers/3").json()["doorOpen"] is False)
    # the flag is written first; the audit subscriber writes the entry a moment later
    wait_for(lambda: "DOOR_CLOSED" in events(lockerId=3))

    controllers["bank-b"].offline = True
    wait_for(lambda: client.get("/lockers/13").json()["operational"] is False)
    locker = client.get("/lockers/13").json()
    assert locker["reasonCode"] == "CONTROLLER_OFFLINE" and locker["doorOpen"] is None
    assert client.get("/system").json()["controllers"][1]["online"] is False
    assert "CONTROLLER_OFFLINE" in events(level="error")
    # nothing on that bank is assigned while it is offline
    for i in range(10):
        got = client.post("/transactions", json={"transactionId": f"w{i}"}).json()
        assert site.lockers_by_id[got["lockerId"]].controller_id != "bank-b"
    controllers["bank-b"].offline = False
    wait_for(lambda: client.get("/lockers/13").json()["operational"] is True)
    wait_for(lambda: client.get("/lockers/13").json()["doorOpen"] is False)  # re-reported


def test_stops_even_when_a_callback_swallows_cancellation() -> None:
    async def scenario() -> bool:
        ctl = SimulatedController("c", 1, close_after=None)

        async def stubborn(_event: DoorEvent) -> None:
            with contextlib.suppress(asyncio.CancelledError):  # as a shielded hand-off may do
                await asyncio.sleep(0.05)

        watcher = DoorWatcher([ctl], stubborn, interval=0.001)
        await watcher.start()
        for _ in range(20):  # keep the watcher busy in its callback
            ctl.force_open(1)
            await asyncio.sleep(0.002)
            ctl.close_door(1)
            await asyncio.sleep(0.002)
        await asyncio.wait_for(watcher.aclose(), BOUND)
        return watcher._task is None

    assert asyncio.run(scenario())
