"""The event bus's promises: no publisher waits, failures stay local, threads may publish."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from berth import events as ev
from berth.events import EventBus
from tests.support.waiting import BOUND


def closed(channel: int) -> ev.DoorClosed:
    return ev.DoorClosed(controller_id="c", channel=channel, locker_id=channel)


async def until(predicate, timeout: float = BOUND) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def test_a_slow_subscriber_never_blocks_the_publisher_and_loses_the_oldest() -> None:
    async def scenario() -> None:
        bus = EventBus(maxsize=10)
        gate = asyncio.Event()
        slow: list[int] = []
        fast: list[int] = []

        async def stuck(event: ev.DoorClosed) -> None:
            await gate.wait()
            slow.append(event.channel)

        bus.subscribe(stuck, name="stuck")
        bus.subscribe(lambda e: fast.append(e.channel), name="fast", maxsize=200)
        await bus.start()
        bus.publish(closed(0))
        await until(lambda: fast == [0])  # the stuck subscriber now holds event 0
        for n in range(1, 101):  # no await between: a blocking publish would deadlock here
            bus.publish(closed(n))
        await until(lambda: len(fast) == 101)
        assert fast == list(range(101))  # the fast one heard everything, in order
        sub = bus.subscriptions[0]
        assert sub.dropped == 90 and bus.dropped == 90  # 100 queued into 10 places
        gate.set()
        await until(lambda: len(slow) == 11)
        assert slow == [0, *range(91, 101)]  # the oldest went, the newest stayed
        await bus.stop()

    asyncio.run(scenario())


def test_a_failing_subscriber_is_logged_counted_and_keeps_receiving(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus = EventBus()
        tried: list[int] = []
        heard: list[int] = []

        def broken(event: ev.DoorClosed) -> None:
            tried.append(event.channel)
            raise RuntimeError("subscriber bug")

        async def broken_async(event: ev.DoorClosed) -> None:
            raise RuntimeError("async subscriber bug")

        bus.subscribe(broken, name="broken")
        bus.subscribe(broken_async, name="broken-async")
        bus.subscribe(lambda e: heard.append(e.channel), name="fine")
        await bus.start()
        for n in range(3):
            bus.publish(closed(n))  # never raises
        await until(lambda: len(heard) == 3 and len(tried) == 3 and bus.failures == 6)
        assert heard == [0, 1, 2] and tried == [0, 1, 2]
        assert [s.failures for s in bus.subscriptions] == [3, 3, 0]
        await bus.stop()

    with caplog.at_level(logging.ERROR, logger="berth.events"):
        asyncio.run(scenario())
    assert "event subscriber broken failed" in caplog.text
    assert "async subscriber bug" in caplog.text


def test_subscribers_choose_events_by_class_or_base_class() -> None:
    async def scenario() -> dict[str, list[str]]:
        bus = EventBus()
        got: dict[str, list[str]] = {"closed": [], "doors": [], "all": [], "either": []}
        bus.subscribe(lambda e: got["closed"].append(e.name), ev.DoorClosed)
        bus.subscribe(lambda e: got["doors"].append(e.name), ev.DoorEvent)
        bus.subscribe(lambda e: got["all"].append(e.name))
        bus.subscribe(lambda e: got["either"].append(e.name), ev.DoorForced,
                      ev.ControllerOffline)
        await bus.start()
        for event in (closed(1), ev.DoorForced(controller_id="c", channel=2),
                      ev.ControllerOffline(controller_id="c"),
                      ev.TransactionCreated(transaction_id="t", locker_id=1)):
            bus.publish(event)
        await until(lambda: len(got["all"]) == 4)
        await bus.stop()  # drains: every queue is worked through
        return got

    got = asyncio.run(scenario())
    assert got == {
        "closed": ["DOOR_CLOSED"],
        "doors": ["DOOR_CLOSED", "DOOR_FORCED_OPEN"],
        "all": ["DOOR_CLOSED", "DOOR_FORCED_OPEN", "CONTROLLER_OFFLINE", "TRANSACTION_CREATED"],
        "either": ["DOOR_FORCED_OPEN", "CONTROLLER_OFFLINE"]}


def test_publishing_from_worker_threads_is_safe() -> None:
    threads, each = 8, 250

    async def scenario() -> list[tuple[str, int]]:
        bus = EventBus(maxsize=threads * each)
        heard: list[tuple[str, int]] = []
        loop_thread = threading.get_ident()
        on_loop: list[bool] = []

        def record(event: ev.DoorClosed) -> None:
            on_loop.append(threading.get_ident() == loop_thread)
            heard.append((event.controller_id, event.channel))

        bus.subscribe(record)
        await bus.start()

        def work(t: int) -> None:
            for n in range(each):
                bus.publish(ev.DoorClosed(controller_id=f"t{t}", channel=n))

        await asyncio.gather(*(asyncio.to_thread(work, t) for t in range(threads)))
        await until(lambda: len(heard) == threads * each)
        await bus.stop()
        assert all(on_loop)  # handlers always run on the loop, whoever published
        return heard

    heard = asyncio.run(scenario())
    for t in range(threads):  # each thread's events arrive complete and in its order
        assert [n for who, n in heard if who == f"t{t}"] == list(range(each))


def test_stop_drains_what_is_queued() -> None:
    async def scenario() -> list[int]:
        bus = EventBus()
        heard: list[int] = []

        async def slowish(event: ev.DoorClosed) -> None:
            await asyncio.sleep(0)
            heard.append(event.channel)

        bus.subscribe(slowish)
        await bus.start()
        for n in range(50):
            bus.publish(closed(n))
        await bus.stop()
        return heard

    assert asyncio.run(scenario()) == list(range(50))


def test_stop_cancels_a_stuck_subscriber_instead_of_hanging() -> None:
    async def scenario() -> None:
        bus = EventBus(drain=0.05)
        forever = asyncio.Event()
        entered = asyncio.Event()

        async def stuck(_event: ev.Event) -> None:
            entered.set()
            await forever.wait()

        async def stubborn(_event: ev.Event) -> None:  # swallows the first cancellation
            try:
                await forever.wait()
            except asyncio.CancelledError:
                await asyncio.sleep(0)

        bus.subscribe(stuck)
        bus.subscribe(stubborn)
        await bus.start()
        bus.publish(closed(1))
        bus.publish(closed(2))
        await entered.wait()
        await asyncio.wait_for(bus.stop(), BOUND)
        assert all(s.task is None for s in bus.subscriptions)
        bus.publish(closed(3))  # after stop: counted, not delivered, no error
        assert bus.unrouted == 1

    asyncio.run(scenario())


def test_publish_before_start_is_counted_not_raised() -> None:
    bus = EventBus()
    bus.subscribe(lambda e: None)
    bus.publish(closed(1))
    assert bus.unrouted == 1 and bus.published == 0


def test_unsubscribing_stops_delivery_and_keeps_the_counts() -> None:
    async def scenario() -> None:
        bus = EventBus(maxsize=1)
        gate, entered = asyncio.Event(), asyncio.Event()
        heard: list[int] = []

        async def stuck(_event: ev.Event) -> None:
            entered.set()
            await gate.wait()

        sub = bus.subscribe(stuck)
        bus.subscribe(lambda e: heard.append(e.channel), maxsize=10)
        await bus.start()
        bus.publish(closed(0))
        await entered.wait()  # the stuck subscriber holds event 0
        bus.publish(closed(1))
        bus.publish(closed(2))  # pushes event 1 out of its one place
        await until(lambda: len(heard) == 3)
        assert bus.dropped == 1
        bus.unsubscribe(sub)
        bus.publish(closed(3))
        await until(lambda: len(heard) == 4)
        assert sub.task is not None and (sub.task.cancelling() or sub.task.done())
        assert sub not in bus.subscriptions and bus.dropped == 1  # the count outlives it
        await bus.stop()

    asyncio.run(scenario())
