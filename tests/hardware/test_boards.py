"""Kerong and DIP drivers against the byte-level simulator over a real pty and real TCP."""

from __future__ import annotations

import asyncio

import pytest

from berth.hardware.boards import DipController, KerongController, kerong_bus_status
from berth.hardware.driver import CommunicationError, DoorState, HardwareFault
from berth.hardware.opening import OpenPolicy, open_door
from berth.hardware.simulator import Fault, SimulatedBus
from tests.hardware.sim_helpers import FAST, rig, run, with_options
from tests.support.waiting import BOUND

PROTOCOLS = ["kerong", "dip"]
TRANSPORTS = ["pty", "tcp"]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_open_and_status(protocol: str, transport: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, transport) as (sim, [controller]):
            board = sim.board(controller.address)
            assert set((await controller.read_doors()).values()) == {DoorState.CLOSED}
            outcome = await open_door(controller, 5, FAST)
            assert outcome.success and outcome.attempts == 1
            assert board.unlocks == [5] and board.door(5).is_open
            doors = await controller.read_doors()
            assert doors[5] is DoorState.OPEN and doors[4] is DoorState.CLOSED
            assert await controller.read_door(5) is DoorState.OPEN
            board.door(5).close()
            assert await controller.read_door(5) is DoorState.CLOSED
            assert controller.online

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_many_boards_share_one_bus_and_replies_reach_the_right_board(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "pty", boards=4) as (sim, controllers):
            assert len({id(c.bus) for c in controllers}) == 1
            outcomes = await asyncio.gather(
                *(open_door(c, i + 2, FAST) for i, c in enumerate(controllers)),
                *(c.read_doors() for c in controllers),
            )
            assert all(o.success for o in outcomes[:4])
            for i, c in enumerate(controllers):
                assert sim.board(c.address).unlocks == [i + 2]
                doors = await c.read_doors()
                assert [ch for ch, s in doors.items() if s is DoorState.OPEN] == [i + 2]

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_jammed_door_gives_door_did_not_open_without_retry(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "tcp") as (sim, [controller]):
            sim.inject(Fault.JAM, board=controller.address, channel=3)
            outcome = await open_door(controller, 3, FAST)
            assert not outcome.success and outcome.reason_code == "DOOR_DID_NOT_OPEN"
            assert sim.board(controller.address).unlocks == [3]
            assert controller.online  # the board answers; the lock is what failed

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_board_is_unreachable_and_offline_until_it_answers(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "pty", timeout=0.1) as (sim, [controller]):
            sim.inject("silent", board=controller.address)
            outcome = await open_door(controller, 1, FAST)
            # the unlock went out on the line: the board may have fired it without answering
            assert not outcome.success and outcome.reason_code == "DOOR_STATE_UNKNOWN"
            assert outcome.door_open is None
            assert sim.board(controller.address).unlocks == []  # and it is never sent again
            assert not controller.online
            with pytest.raises(CommunicationError):
                await controller.read_doors()
            sim.clear()
            await controller.read_doors()
            assert controller.online

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_corrupted_checksum_is_retried_without_a_second_unlock(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "pty") as (sim, [controller]):
            board = sim.board(controller.address)
            sim.inject(Fault.CORRUPT, board=controller.address, value=1)
            outcome = await open_door(controller, 7, FAST)
            assert outcome.success and outcome.attempts == 2
            assert board.unlocks == [7]
            assert controller.bus.stats.malformed >= 1

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_lost_reply_and_quickly_shut_door_is_never_fired_twice(protocol: str) -> None:
    """The unlock's reply is lost, the door opens and shuts before the retry reads it."""
    async def scenario() -> None:
        async with rig(protocol, "pty", close_after=0.05) as (sim, [controller]):
            board = sim.board(controller.address)
            sim.inject(Fault.CORRUPT, board=controller.address, value=1)
            slow_retry = OpenPolicy(attempt_timeout=2.0, attempts=3, retry_gap=0.3,
                                    confirm_timeout=0.3, confirm_poll=0.02)
            outcome = await open_door(controller, 4, slow_retry)
            assert board.unlocks == [4]  # one pulse, whatever the readings said
            assert not outcome.success and outcome.door_open is None
            assert outcome.reason_code == "DOOR_STATE_UNKNOWN"

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_door_opened_behind_corrupt_replies_is_reconciled_not_unreachable(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "pty") as (sim, [controller]):
            board = sim.board(controller.address)
            # the unlock's reply and both retry readings are corrupt; the door did open
            sim.inject(Fault.CORRUPT, board=controller.address, value=3)
            outcome = await open_door(controller, 6, FAST)
            assert board.unlocks == [6] and board.door(6).is_open
            assert outcome.success and outcome.door_open is True  # the final read saw it
            # corrupt for good: nobody can tell, so the answer says so rather than "failed"
            board.door(6).close()
            sim.inject(Fault.CORRUPT, board=controller.address, value=1000)
            unknown = await open_door(controller, 6, FAST)
            assert board.unlocks == [6, 6] and board.door(6).is_open
            assert not unknown.success and unknown.door_open is None
            assert unknown.reason_code == "DOOR_STATE_UNKNOWN"

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stuck_busy_board_status_read_avoids_a_double_unlock(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "tcp") as (sim, [controller]):
            board = sim.board(controller.address)
            sim.inject(Fault.STUCK_BUSY, board=controller.address)
            outcome = await open_door(controller, 2, FAST)
            assert outcome.success and outcome.attempts == 2
            assert board.unlocks == [2] and board.dropped == 1

    run(scenario())


def test_slow_replies_within_the_timeout_still_work() -> None:
    async def scenario() -> None:
        async with rig("kerong", "pty", timeout=0.5) as (sim, [controller]):
            sim.inject(Fault.SLOW, board=0, value=0.1)
            assert (await open_door(controller, 1, FAST)).success

    run(scenario())


def test_a_late_reply_is_flushed_never_taken_as_the_next_answer() -> None:
    async def scenario() -> None:
        async with rig("dip", "pty", timeout=0.1) as (sim, [controller]):
            sim.inject(Fault.SLOW, board=1, value=0.3)
            with pytest.raises(CommunicationError):
                await controller.read_door(1)  # answer "closed" arrives too late
            sim.clear()
            sim.board(1).door(1).force_open()
            await asyncio.sleep(0.25)  # the late reply lands now, before the next request
            assert await controller.read_door(1) is DoorState.OPEN
            assert controller.bus.stats.timeouts == 1

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_forced_open_door_reads_open_with_no_unlock(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "pty") as (sim, [controller]):
            sim.inject(Fault.FORCE_OPEN, board=controller.address, channel=9)
            assert (await controller.read_doors())[9] is DoorState.OPEN
            assert sim.board(controller.address).unlocks == []

    run(scenario())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reconnects_after_the_tcp_connection_drops(protocol: str) -> None:
    async def scenario() -> None:
        async with rig(protocol, "tcp") as (sim, [controller]):
            await controller.read_doors()
            sim.drop_connections()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while True:
                try:
                    await controller.read_doors()
                    break
                except CommunicationError:
                    assert loop.time() < deadline, "never reconnected"
                    await asyncio.sleep(0.02)
            assert controller.bus.transport.connects == 2 and controller.online
            assert (await open_door(controller, 4, FAST)).success

    run(scenario())


def test_unreachable_line_starts_but_reports_offline(free_port) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        controller = KerongController("k", f"tcp://127.0.0.1:{free_port()}?timeout=0.1", 0)
        await controller.start()
        try:
            with pytest.raises(CommunicationError):
                await controller.read_doors()
            assert not controller.online
        finally:
            await controller.aclose()

    run(scenario())


def test_simulated_door_closes_after_the_configured_time() -> None:
    async def scenario() -> None:
        # open for a second: long enough for a busy machine's confirm read to see it open
        async with rig("kerong", "pty", close_after=1.0) as (_sim, [controller]):
            patient = OpenPolicy(attempt_timeout=60.0, attempts=1, retry_gap=0.0,
                                 confirm_timeout=30.0, confirm_poll=0.02)
            assert (await open_door(controller, 1, patient)).success
            async with asyncio.timeout(BOUND):  # then it shuts by itself
                while await controller.read_door(1) is not DoorState.CLOSED:
                    await asyncio.sleep(0.05)

    run(scenario())


def test_kerong_item_present_bits_follow_drop_off_and_pick_up() -> None:
    async def scenario() -> None:
        async with rig("kerong", "pty") as (sim, [controller]):
            assert isinstance(controller, KerongController)
            sim.board(0).door(6).put_item()
            status = await controller.read_status()
            assert status.item_present(6) and not status.item_present(5)
            sim.board(0).door(6).take_item()
            assert not (await controller.read_status()).item_present(6)

    run(scenario())


def test_kerong_unlock_all_and_pulse_time() -> None:
    async def scenario() -> None:
        async with rig("kerong", "tcp") as (sim, [controller]):
            assert isinstance(controller, KerongController)
            assert await controller.set_pulse_time(300) == 300
            assert sim.board(0).pulse_millis == 300
            await controller.unlock_all()
            assert set((await controller.read_doors()).values()) == {DoorState.OPEN}

    run(scenario())


def test_dip_unlock_all_opens_every_door() -> None:
    async def scenario() -> None:
        async with rig("dip", "tcp") as (_sim, [controller]):
            assert isinstance(controller, DipController)
            await controller.unlock_all()
            assert set((await controller.read_doors()).values()) == {DoorState.OPEN}

    run(scenario())


@pytest.mark.parametrize("channels", [8, 24, 32])
def test_dip_polarity_and_bank_sizes(channels: int) -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="dip", channels=channels, open_is_high=False,
                                      close_after=None) as sim:
            url = with_options(sim.url, timeout=0.2)
            right = DipController("right", url, 1, channels, open_is_high=False)
            wrong = DipController("wrong", url, 1, channels, open_is_high=True)
            for c in (right, wrong):
                await c.start()
            try:
                sim.board(1).door(channels).force_open()
                doors = await right.read_doors()
                assert doors[channels] is DoorState.OPEN and doors[1] is DoorState.CLOSED
                assert await right.read_door(channels) is DoorState.OPEN
                assert (await wrong.read_doors())[channels] is DoorState.CLOSED
            finally:
                for c in (right, wrong):
                    await c.aclose()

    run(scenario())


def test_unknown_channel_is_a_hardware_fault() -> None:
    async def scenario() -> None:
        async with rig("kerong", "pty") as (_sim, [controller]):
            with pytest.raises(HardwareFault) as info:
                await controller.unlock(17)
            assert info.value.code == "NO_SUCH_CHANNEL"

    run(scenario())


def test_kerong_bus_status_collects_every_answering_board() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=4, close_after=None) as sim:
            sim.inject("silent", board=2)
            sim.board(3).door(16).force_open()
            sim.board(1).door(1).put_item()
            found = await kerong_bus_status(with_options(sim.url, timeout=0.3), quiet=0.05)
            assert sorted(found) == [0, 1, 3]
            assert not found[3].locked(16) and found[3].locked(15)
            assert found[1].item_present(1)

    run(scenario())
