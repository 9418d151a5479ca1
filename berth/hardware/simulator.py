"""A byte-level simulator of lock-control boards, speaking the exact frames of a registered
protocol.

It serves a pseudo-terminal (the driver opens the slave device through pyserial, like a real tty)
or a loopback TCP port (optionally advertised by mDNS), so tests, benchmarks and the demo site run
the production driver, bus and transport code. Four parts: the board model (``boardsim.model``:
doors, items, faults), the protocol's pure responder (``boardsim.<protocol>``, found in the
registry), the links (``sim_links``: pty, TCP) and the thread that can run it all
(``sim_thread``). This module joins them: it cuts the bytes a link receives into request
frames, asks the responder, and writes the replies at the pace of the line.

    async with SimulatedBus.start(protocol="kerong", boards=3, transport="pty") as sim:
        controller = KerongController("c0", sim.url, 0)
        sim.board(0).door(5).is_open
        sim.inject("jam", board=0, channel=5)

``SimulatedBus.in_thread(...)`` runs the same thing on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from berth.hardware import registry
from berth.hardware.boardsim.model import Fault, Reply, SimBoard, SimDoor
from berth.hardware.sim_links import TcpLink, pty_link
from berth.hardware.sim_thread import Service, SimulatorThread
from berth.hardware.spec import ControllerSpec

__all__ = ["BITS_PER_BYTE", "Fault", "Service", "SimBoard", "SimDoor", "SimulatedBus",
           "SimulatorThread"]
BITS_PER_BYTE = 10  # 8N1, what both built-in protocols use: start + 8 data + stop


class SimulatedBus:
    """Boards on one simulated line, reachable at ``url`` once started."""

    def __init__(self, protocol: str = "kerong", boards: int = 1, channels: int = 16,
                 close_after: float | None = 5.0, open_is_high: bool = True,
                 first_address: int | None = None, baud: int | None = None) -> None:
        self.spec = registry.get(protocol)
        self.protocol = protocol
        self.channels = channels
        self.open_is_high = open_is_high
        self.baud = baud  # pace replies at this wire speed; None = as fast as the link goes
        first = self.spec.first_address if first_address is None else first_address
        self.boards = {
            a: SimBoard(a, channels, close_after, open_is_high, schedule=self._schedule)
            for a in range(first, first + boards)
        }
        self.url = ""
        self.log: list[Any] = []
        self._tcp: TcpLink | None = None

    @staticmethod
    def _schedule(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    # -- the API for tests and the demo site ------------------------------------------------
    def board(self, address: int) -> SimBoard:
        return self.boards[address]

    def inject(self, fault: Fault | str, board: int, channel: int | None = None,
               value: float | None = None) -> None:
        self.board(board).inject(fault, channel, value)

    def clear(self, board: int | None = None) -> None:
        for b in self.boards.values() if board is None else [self.board(board)]:
            b.clear()

    def controller_specs(self, prefix: str = "sim") -> list[ControllerSpec]:
        """One ``ControllerSpec`` per simulated board, pointing at this simulator's URL."""
        return [
            ControllerSpec(f"{prefix}-{a}", self.protocol, self.url, a, self.channels,
                           open_is_high=self.open_is_high)
            for a in self.boards
        ]

    def drop_connections(self) -> None:
        """Cut every TCP client off (they must reconnect by themselves)."""
        if self._tcp is not None:
            self._tcp.drop_connections()

    # -- serving a link ---------------------------------------------------------------------
    def answer(self, frame: Any) -> list[Reply]:
        """Replies to one request frame, each with the board that sends it."""
        self.log.append(frame)
        return self.spec.respond(self.boards, frame)

    async def _pace(self, wire: int) -> None:
        if self.baud and wire:
            await asyncio.sleep(wire * self.spec.line.bits_per_byte / self.baud)

    async def _serve_frames(self, frames: list[Any], write: Callable[[bytes], None]) -> None:
        for frame in frames:
            wire = len(self.spec.codec.encode(frame))
            for board, raw in self.answer(frame):
                if board.delay:
                    await asyncio.sleep(board.delay)
                await self._pace(wire + len(raw))
                wire = 0
                write(raw)
            await self._pace(wire)

    async def _serve_link(self, chunks: asyncio.Queue[bytes],
                          write: Callable[[bytes], None]) -> None:
        decoder = self.spec.codec.request_decoder()
        while True:
            data = await chunks.get()
            with contextlib.suppress(OSError, ConnectionError):
                await self._serve_frames(decoder.feed(data), write)

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        protocol: str = "kerong",
        boards: int = 1,
        channels: int = 16,
        transport: str = "pty",
        port: int = 0,
        host: str = "127.0.0.1",
        close_after: float | None = 5.0,
        open_is_high: bool = True,
        first_address: int | None = None,
        baud: int | None = None,
        advertise: bool = False,
    ) -> AsyncIterator[SimulatedBus]:
        """Run the boards on a pty (``transport="pty"``) or a TCP port (``"tcp"``, 0 = free)."""
        sim = cls(protocol, boards, channels, close_after, open_is_high, first_address, baud)
        async with contextlib.AsyncExitStack() as stack:
            if transport == "pty":
                device = await stack.enter_async_context(pty_link(sim._serve_link))
                sim.url = f"serial://{device}?baud={baud or sim.spec.line.baud}"
            elif transport == "tcp":
                sim._tcp = await stack.enter_async_context(
                    TcpLink.listen(sim._serve_link, host, port))
                sim.url = f"tcp://{host}:{sim._tcp.port}"
                if advertise:
                    from berth.hardware.announce import advertise as announce

                    first, last = min(sim.boards), max(sim.boards)
                    stack.push_async_callback(await announce(
                        sim._tcp.port, protocol=sim.protocol, host=host, channels=sim.channels,
                        boards=f"{first}-{last}"))
            else:
                raise ValueError(f"unknown simulator transport {transport!r} (pty or tcp)")
            try:
                yield sim
            finally:
                for b in sim.boards.values():
                    for door in b.doors.values():
                        door.close()

    @staticmethod
    def in_thread(serve: Service | None = None, **options: Any) -> SimulatorThread:
        """The same simulator on its own event loop in a background thread (started)."""
        return SimulatorThread(SimulatedBus.start, serve, **options).begin()
