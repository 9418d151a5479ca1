"""The per-bus scheduler: priorities, reply matching, gaps, the shared registry."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest

from berth.hardware.boards import KerongController
from berth.hardware.bus import Bus, BusConfig, BusRegistry, Priority
from berth.hardware.driver import CommunicationError
from berth.hardware.protocols import kerong
from berth.hardware.simulator import SimulatedBus
from berth.hardware.transports import open_transport
from tests.hardware.sim_helpers import run, with_options

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


async def raw_board(handler: Handler) -> tuple[asyncio.Server, str, list[tuple[float, bytes]]]:
    """A scripted board on a real TCP port; records when each request arrived."""
    seen: list[tuple[float, bytes]] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = kerong.request_decoder()
        while data := await reader.read(4096):
            for frame in decoder.feed(data):
                seen.append((asyncio.get_running_loop().time(), kerong.encode(frame)))
                await handler(kerong.encode(frame), writer)
        writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    return server, f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen


async def status_of(bus: Bus, board: int, priority: Priority = Priority.POLL) -> kerong.Frame:
    return await bus.request(kerong.encode(kerong.status_request(board)), kerong.reply_decoder(),
                             lambda f: f.addr == board << 4, priority=priority)


def test_replies_for_another_board_are_rejected() -> None:
    async def scenario() -> None:
        async def wrong_then_right(request: bytes, writer: asyncio.StreamWriter) -> None:
            writer.write(kerong.encode(kerong.status_reply(1, 0, 0)))  # wrong board
            writer.write(b"\x02\x00\x35garbage")  # malformed
            if request[1] == 0x00:
                writer.write(kerong.encode(kerong.status_reply(0, 0xABCD, 0)))

        server, url, _ = await raw_board(wrong_then_right)
        bus = Bus(open_transport(url), BusConfig(timeout=0.2))
        await bus.start()
        try:
            reply = await status_of(bus, 0)
            assert kerong.parse_status(reply).hooks == 0xABCD
            assert bus.stats.mismatched == 1 and bus.stats.malformed >= 1
            with pytest.raises(CommunicationError):
                await status_of(bus, 2)  # only ever hears board 1's reply
            assert bus.stats.mismatched == 2 and bus.stats.timeouts == 1
        finally:
            await bus.aclose()
            server.close()

    run(scenario())


def test_unlocks_overtake_queued_polls() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=2, close_after=None) as sim:
            bus = Bus(open_transport(sim.url), BusConfig(timeout=0.5))
            await bus.start()
            try:
                sim.inject("slow", board=0, value=0.05)  # keeps the first poll on the line
                polls = [asyncio.create_task(status_of(bus, b % 2)) for b in range(5)]
                await asyncio.sleep(0.01)
                unlock = asyncio.create_task(status_of(bus, 1, Priority.UNLOCK))
                await asyncio.gather(*polls, unlock)
                order = [f.board for f in sim.log]
                # the first poll (board 0) was on the line; the unlock (board 1) went next,
                # before the four polls queued before it
                assert order[:2] == [0, 1] and len(order) == 6
                assert bus.stats.requests == 6
            finally:
                await bus.aclose()

    run(scenario())


def test_inter_frame_gap_is_left_between_frames() -> None:
    async def scenario() -> None:
        async def answer(request: bytes, writer: asyncio.StreamWriter) -> None:
            writer.write(kerong.encode(kerong.status_reply(request[1] >> 4, 0, 0)))

        server, url, seen = await raw_board(answer)
        bus = Bus(open_transport(url), BusConfig(timeout=0.5, gap=0.05))
        await bus.start()
        try:
            await asyncio.gather(*(status_of(bus, b) for b in range(4)))
            arrivals = [t for t, _ in seen]
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            assert len(gaps) == 3 and min(gaps) >= 0.045
        finally:
            await bus.aclose()
            server.close()

    run(scenario())


def test_a_caller_that_gives_up_does_not_block_the_bus() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=1) as sim:
            bus = Bus(open_transport(sim.url), BusConfig(timeout=0.3))
            await bus.start()
            try:
                sim.inject("silent", board=0)
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(status_of(bus, 0), 0.05)
                sim.clear()
                assert (await status_of(bus, 0)).cmd == kerong.STATUS_REPLY
            finally:
                await bus.aclose()

    run(scenario())


def test_registry_shares_one_bus_per_line_and_closes_it_with_the_last_user() -> None:
    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=2, transport="tcp") as sim:
            registry = BusRegistry()
            a = KerongController("a", with_options(sim.url, timeout=0.3), 0, registry=registry)
            b = KerongController("b", with_options(sim.url, timeout=0.9), 1, registry=registry)
            await a.start()
            await b.start()
            assert a.bus is b.bus and a.bus.config.timeout == 0.3  # first URL's options win
            transport = a.bus.transport
            await a.aclose()
            assert transport.connected
            await b.read_doors()
            await b.aclose()
            assert not transport.connected

    run(scenario())


def test_bus_options_come_from_the_url() -> None:
    config = BusConfig.from_url("serial:///dev/ttyUSB0?baud=9600&timeout=0.7&gap=0.01&silence=0.03")
    assert config == BusConfig(timeout=0.7, gap=0.01, silence=0.03)
    assert BusConfig.from_url("tcp://10.0.0.5:5000") == BusConfig()


@pytest.mark.parametrize("url", ["http://x", "tcp://host", "serial://"])
def test_bad_bus_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_transport(url)
