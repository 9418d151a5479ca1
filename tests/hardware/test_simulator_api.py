"""The simulator's API for the gateway: background thread, controller specs, factory."""

from __future__ import annotations

import pytest

from berth.hardware.boards import DipController, KerongController
from berth.hardware.driver import DoorState
from berth.hardware.factory import ControllerSpec, build_controller
from berth.hardware.opening import open_door
from berth.hardware.simulated import SimulatedController
from berth.hardware.simulator import SimulatedBus
from tests.hardware.sim_helpers import FAST, run, with_options


def test_simulator_in_a_background_thread_serves_the_real_driver() -> None:
    with SimulatedBus.in_thread(protocol="kerong", boards=2, transport="pty",
                                close_after=None) as runner:
        assert runner.url.startswith("serial:///dev/")
        specs = runner.controller_specs("bank")
        assert [s.controller_id for s in specs] == ["bank-0", "bank-1"]
        runner.inject("jam", board=1, channel=2)

        async def scenario() -> None:
            controllers = [build_controller(s) for s in specs]
            for c in controllers:
                await c.start()
            try:
                assert (await open_door(controllers[0], 4, FAST)).success
                jammed = await open_door(controllers[1], 2, FAST)
                assert jammed.reason_code == "DOOR_DID_NOT_OPEN"
            finally:
                for c in controllers:
                    await c.aclose()

        run(scenario())
        assert runner.call(lambda: runner.sim.board(0).door(4).is_open)  # type: ignore[union-attr]
        runner.call(runner.sim.board(0).door(4).close)  # type: ignore[union-attr]
        assert not runner.call(lambda: runner.sim.board(0).door(4).is_open)  # type: ignore[union-attr]


def test_factory_builds_each_protocol() -> None:
    assert isinstance(build_controller(ControllerSpec("s")), SimulatedController)
    kerong = build_controller(ControllerSpec("k", "kerong", "tcp://127.0.0.1:5000", 3, 12))
    assert isinstance(kerong, KerongController) and (kerong.address, kerong.channels) == (3, 12)
    dip = build_controller(ControllerSpec("d", "dip", "serial:///dev/ttyUSB0", 7, 24,
                                          open_is_high=False))
    assert isinstance(dip, DipController) and not dip.open_is_high
    with pytest.raises(ValueError):
        build_controller(ControllerSpec("x", "kerong"))
    with pytest.raises(ValueError):
        build_controller(ControllerSpec("x", "modbus", "tcp://h:1"))
    with pytest.raises(ValueError):
        build_controller(ControllerSpec("x", "kerong", "tcp://h:1", address=16))


def test_controller_specs_point_the_factory_at_the_simulator() -> None:
    async def scenario() -> None:
        # the door stays open until the test shuts it: a self-closing door could shut before a
        # busy machine's confirm read sees it open
        async with SimulatedBus.start(protocol="dip", boards=2, transport="tcp",
                                      close_after=None) as sim:
            spec = sim.controller_specs()[1]
            assert (spec.protocol, spec.address, spec.url) == ("dip", 2, sim.url)
            controller = build_controller(ControllerSpec(
                spec.controller_id, spec.protocol, with_options(sim.url, timeout=0.3),
                spec.address, spec.channels))
            await controller.start()
            try:
                assert (await open_door(controller, 1, FAST)).success
                sim.board(2).door(1).close()
                assert await controller.read_door(1) is DoorState.CLOSED
            finally:
                await controller.aclose()

    run(scenario())
