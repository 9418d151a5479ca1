"""``sim://`` buses: the factory starts one byte-level simulator per bus behind a real pty."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from berth.hardware import embedded_sim
from berth.hardware.boards import KerongController
from berth.hardware.driver import DoorState
from berth.hardware.factory import ControllerSpec, build_controller
from berth.hardware.opening import OpenPolicy, open_door


@pytest.fixture(autouse=True)
def _stop_simulators() -> Iterator[None]:
    yield
    embedded_sim.stop_all()


def test_boards_on_one_sim_bus_share_one_simulator_over_a_pty() -> None:
    specs = [ControllerSpec(f"bank-{a}", "kerong", "sim://t1", address=a, channels=12,
                            close_after=None) for a in (0, 1)]
    controllers = [build_controller(s) for s in specs]
    assert all(isinstance(c, KerongController) for c in controllers)
    sim = embedded_sim.simulator("sim://t1", "kerong")
    assert sim is not None and sim.url.startswith("serial://")

    async def scenario() -> tuple[bool, DoorState]:
        for c in controllers:
            await c.start()
        try:
            outcome = await open_door(controllers[1], 3, OpenPolicy(attempt_timeout=3, attempts=3,
                                                                  retry_gap=1.0))
            return outcome.success, await controllers[0].read_door(3)
        finally:
            for c in controllers:
                await c.aclose()

    opened, other_board = asyncio.run(scenario())
    assert opened and other_board is DoorState.CLOSED
    assert sim.call(lambda: sim.sim.board(1).door(3).is_open)  # type: ignore[union-attr]


def test_plain_urls_pass_through() -> None:
    assert embedded_sim.resolve("tcp://127.0.0.1:5000", "kerong", 16, None) == \
        "tcp://127.0.0.1:5000"


def test_dip_boards_on_one_sim_bus_need_the_same_channel_count() -> None:
    embedded_sim.resolve("sim://t2", "dip", 8, None)
    with pytest.raises(ValueError, match="same channel count"):
        embedded_sim.resolve("sim://t2", "dip", 16, None)
