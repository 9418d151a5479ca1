"""``LockController.counters()``: a board's line counts what happens on it, and ``berth hw``
shows it."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from berth.cli.main import app
from berth.hardware.boards import KerongController
from berth.hardware.driver import CommunicationError
from berth.hardware.protocols import kerong
from berth.hardware.simulated import SimulatedController
from tests.hardware.sim_helpers import rig, run
from tests.hardware.test_bus import raw_board
from tests.support.waiting import BOUND


def test_garbage_a_wrong_board_and_a_malformed_frame_each_move_their_counter() -> None:
    async def scenario() -> None:
        async def noisy(request: bytes, writer: asyncio.StreamWriter) -> None:
            writer.write(b"\xff\xfe")  # line noise: discarded by the decoder
            writer.write(kerong.encode(kerong.status_reply(1, 0, 0)))  # another board: mismatched
            writer.write(b"\x02\x00\x35garbage")  # malformed
            writer.write(kerong.encode(kerong.status_reply(0, 0xFFFF, 0)))

        server, url, _seen = await raw_board(noisy)
        controller = KerongController("k", f"{url}?timeout=2", 0)
        assert controller.counters() == {}  # nothing counted before the line is opened
        await controller.start()
        try:
            await controller.read_doors()
            counts = controller.counters()
            assert counts["requests"] == 1 and counts["connects"] == 1
            assert counts["mismatched"] == 1 and counts["malformed"] >= 1
            assert counts["discarded_bytes"] >= 2 and counts["timeouts"] == 0
        finally:
            await controller.aclose()
            server.close()
        assert controller.counters()["requests"] == 1  # still shown after the line closed

    run(scenario())


def test_a_corrupt_reply_counts_malformed_and_a_timeout_then_the_late_bytes_are_flushed() -> None:
    async def scenario() -> None:
        async with rig("dip", "pty", timeout=0.2) as (sim, [controller]):
            before = controller.counters()
            assert before["malformed"] == before["timeouts"] == 0
            sim.inject("corrupt", board=1, value=1)
            with pytest.raises(CommunicationError):  # the only reply was corrupt
                await controller.read_doors()
            counts = controller.counters()
            assert counts["malformed"] == 1 and counts["timeouts"] == 1
            sim.inject("slow", board=1, value=0.4)
            with pytest.raises(CommunicationError):  # the reply comes too late
                await controller.read_door(1)
            sim.clear()
            # the simulator shares this loop: its 0.4 s timer fires before this one, and the
            # late reply it writes is dropped before the next request goes out
            await asyncio.sleep(0.6)
            await controller.read_door(1)
            assert controller.counters()["flushed_bytes"] == 5
            # the simulated board heard every request the line wrote
            assert sim.board(1).counters()["requests"] == controller.counters()["requests"]

    run(scenario())


def test_a_reconnect_counts_a_connect() -> None:
    async def scenario() -> None:
        async with rig("kerong", "tcp") as (sim, [controller]):
            await controller.read_doors()
            sim.drop_connections()
            async with asyncio.timeout(BOUND):
                while controller.counters()["connects"] < 2:
                    await asyncio.sleep(0.02)

    run(scenario())


def test_the_in_process_simulated_controller_counts_nothing() -> None:
    assert SimulatedController("s", 4).counters() == {}


def test_berth_hw_watch_shows_the_counters_moving() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from berth.cli.main import app; app()", "hw", "simulate",
         "--protocol", "kerong", "--tcp", "0", "--no-advertise", "--corrupt", "0:1",
         "--duration", "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1] + "?timeout=2"
        result = CliRunner().invoke(app, ["hw", "watch", url, "--polls", "2", "--interval", "0"],
                                    env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        counters = " ".join(result.output.split("link counters")[-1].split())  # unwrapped
        assert "requests 2" in counters and "malformed 1" in counters
        assert "timeouts 1" in counters and "connects 1" in counters
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_simulator_controls_show_what_each_board_heard() -> None:
    from berth.hardware.sim_control import act

    async def scenario() -> None:
        async with rig("kerong", "pty", boards=2) as (sim, [first, _second]):
            await first.unlock(4)
            await first.read_doors()
            answer = act(sim, {"action": "status", "board": 0, "lock": 4})
            # unlock, its status read, one more read: three frames, one unlock
            assert answer["counters"] == {"0": {"requests": 3, "dropped": 0, "unlocks": 1}}
            assert act(sim, {"action": "status"})["counters"]["1"]["requests"] == 0

    run(scenario())
