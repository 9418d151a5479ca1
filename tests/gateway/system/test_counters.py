"""GET /system/counters: the bus, the group committer and the boards, counted since start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from berth import events as ev
from berth.gateway.app import create_app
from berth.gateway.site import load_site
from berth.hardware.driver import DoorState
from berth.hardware.simulated import SimulatedController
from tests.gateway.conftest import AUTH, make_config
from tests.support.waiting import wait_until


class CountingController(SimulatedController):
    """A simulated board that counts its polls, as a real board counts its link's requests."""

    def __init__(self, controller_id: str, channels: int) -> None:
        super().__init__(controller_id, channels, close_after=0.3)
        self.polls = 0

    async def read_doors(self) -> dict[int, DoorState]:
        self.polls += 1
        return await super().read_doors()

    def counters(self) -> dict[str, int]:
        return {"polls": self.polls}


def test_counters_move_with_what_happens(sqlite_url: str) -> None:
    site = load_site()
    controllers = {c.controller_id: CountingController(c.controller_id, c.channels)
                   for c in site.controllers}
    app = create_app(make_config(sqlite_url, site, controllers=controllers))
    bus: ev.EventBus = app.state.bus
    # published before the gateway runs: nobody can hear it
    bus.publish(ev.TransactionReleased(transaction_id="early", locker_id=1,
                                       occurred_at=datetime.now(UTC)))
    heard: list[ev.Event] = []
    bus.subscribe(heard.append, ev.TransactionEvent, name="test-heard")

    def fail(_event: ev.Event) -> None:
        raise RuntimeError("a subscriber bug")

    bus.subscribe(fail, ev.TransactionCreated, name="test-failing")

    async def stuck(_event: ev.Event) -> None:
        await asyncio.sleep(3600)  # never done: its one-event queue overflows

    bus.subscribe(stuck, ev.TransactionCreated, name="test-stuck", maxsize=1)

    with TestClient(app) as client:
        assert client.get("/system/counters").status_code == 401  # the API key is required
        client.headers.update(AUTH)
        before = client.get("/system/counters").json()
        assert before["bus"]["unrouted"] == 1
        assert before["batcher"] == {"batches": 0, "items": 0}
        assert set(before["controllers"]) == set(controllers)

        for i in range(4):
            assert client.post("/transactions", json={"transactionId": f"c-{i}"}).status_code == 201
        wait_until(lambda: len(heard) == 4, "the test subscriber heard the four creates")

        def subscription(body: dict, name: str) -> dict:
            return next(s for s in body["bus"]["subscriptions"] if s["name"] == name)

        def counted() -> dict:
            return client.get("/system/counters").json()

        wait_until(lambda: subscription(counted(), "test-failing")["failures"] == 4,
                   "the failing subscriber's failures were counted")
        after = counted()
        assert subscription(after, "test-heard")["delivered"] == 4
        assert subscription(after, "test-heard")["dropped"] == 0
        # one event in the handler, one queued: the others pushed the oldest out (three if the
        # second create came before the subscriber took the first from its queue)
        assert subscription(after, "test-stuck")["dropped"] in (2, 3)
        assert after["bus"]["dropped"] >= 2 and after["bus"]["failures"] >= 4
        assert after["bus"]["published"] >= before["bus"]["published"] + 4
        assert after["batcher"]["items"] == 4 and 1 <= after["batcher"]["batches"] <= 4
        # each board's own counters pass through as it reports them
        wait_until(lambda: all(c["polls"] > before["controllers"][cid]["polls"]
                               for cid, c in counted()["controllers"].items()),
                   "every board was polled again")
