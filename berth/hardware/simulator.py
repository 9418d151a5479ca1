"""A byte-level simulator of lock-control boards, speaking the exact Kerong or DIP frames.

It serves a pseudo-terminal (the driver opens the slave device through pyserial, like a real tty)
or a loopback TCP port (optionally advertised by mDNS), so tests, benchmarks and the demo site run
the production driver, bus and transport code. Doors keep state: an unlock opens the door unless it
is jammed, and it closes again after ``close_after`` seconds or on command. Faults can be injected
per board: silence, slow replies, corrupted checksums, a stuck-busy board that drops the frame after
an unlock, a jammed door, a door forced open.

    async with SimulatedBus.start(protocol="kerong", boards=3, transport="pty") as sim:
        controller = KerongController("c0", sim.url, 0)
        sim.board(0).door(5).is_open
        sim.inject("jam", board=0, channel=5)

``SimulatorThread`` runs the same thing on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import tty
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from enum import StrEnum
from typing import Any, TypeVar

from berth.hardware.protocols import dip, kerong
from berth.hardware.spec import ControllerSpec

T = TypeVar("T")
log = logging.getLogger("berth.hardware.simulator")
#: Something run beside a simulator thread's boards (``SimulatorThread(serve=...)``).
Service = Callable[["SimulatedBus"], AbstractAsyncContextManager[Any]]
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop
LINE_BAUD = {"kerong": 19200, "dip": 9600}


class Fault(StrEnum):
    SILENT = "silent"  # the board does not answer at all
    SLOW = "slow"  # replies after ``value`` seconds
    CORRUPT = "corrupt"  # the next ``value`` replies carry a wrong checksum
    STUCK_BUSY = "stuck-busy"  # after each unlock the board drops the next frame
    JAM = "jam"  # unlock accepted, the door stays shut
    FORCE_OPEN = "force-open"  # the door opens with no unlock behind it


class SimDoor:
    """One lock and its door sensor and item-present (IR) sensor."""

    def __init__(self, board: SimBoard, channel: int) -> None:
        self.board = board
        self.channel = channel
        self.is_open = False
        self.item_present = False
        self.jammed = False
        self._closer: asyncio.TimerHandle | None = None

    def fire(self) -> None:
        """The solenoid fired: the door springs open unless it is jammed."""
        self.board.unlocks.append(self.channel)
        if self.jammed:
            return
        self.is_open = True
        self._cancel_closer()
        if self.board.close_after is not None:
            loop = asyncio.get_running_loop()
            self._closer = loop.call_later(self.board.close_after, self.close)

    def close(self) -> None:
        self._cancel_closer()
        self.is_open = False

    def force_open(self) -> None:
        self._cancel_closer()
        self.is_open = True

    def put_item(self) -> None:
        """A drop-off: the IR sensor sees an item."""
        self.item_present = True

    def take_item(self) -> None:
        """A pick-up: the compartment is empty again."""
        self.item_present = False

    def _cancel_closer(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None


class SimBoard:
    """One simulated board at a bus address, with its fault switches."""

    def __init__(self, address: int, channels: int, close_after: float | None,
                 open_is_high: bool = True) -> None:
        self.address = address
        self.channels = channels
        self.close_after = close_after
        self.open_is_high = open_is_high
        self.doors = {ch: SimDoor(self, ch) for ch in range(1, channels + 1)}
        self.unlocks: list[int] = []
        self.requests = 0
        self.silent = False
        self.delay = 0.0
        self.corrupt = 0
        self.stuck_busy = False
        self.dropped = 0
        self.pulse_millis = 200
        self._drop_next = False

    def door(self, channel: int) -> SimDoor:
        return self.doors[channel]

    def hooks(self) -> int:
        """Kerong hook bits: 1 = closed and locked."""
        return sum(1 << (ch - 1) for ch, d in self.doors.items() if not d.is_open)

    def items(self) -> int:
        return sum(1 << (ch - 1) for ch, d in self.doors.items() if d.item_present)

    def feedback(self, channel: int) -> bool:
        """DIP feedback bit of a channel under this board's polarity."""
        return self.doors[channel].is_open == self.open_is_high

    def feedback_bits(self) -> int:
        return sum(1 << (ch - 1) for ch in self.doors if self.feedback(ch))

    def inject(self, fault: Fault | str, channel: int | None = None,
               value: float | None = None) -> None:
        fault = Fault(fault)
        if fault is Fault.SILENT:
            self.silent = True
        elif fault is Fault.SLOW:
            self.delay = 0.5 if value is None else float(value)
        elif fault is Fault.CORRUPT:
            self.corrupt = 1 if value is None else int(value)
        elif fault is Fault.STUCK_BUSY:
            self.stuck_busy = True
        elif channel is None:
            raise ValueError(f"fault {fault} needs a channel")
        elif fault is Fault.JAM:
            self.door(channel).jammed = True
        else:
            self.door(channel).force_open()

    def clear(self) -> None:
        """Remove every fault (doors keep their state)."""
        self.silent = self.stuck_busy = self._drop_next = False
        self.delay, self.corrupt = 0.0, 0
        for door in self.doors.values():
            door.jammed = False

    def hears(self) -> bool:
        """Whether this frame reaches the board's logic (silence and stuck-busy say no)."""
        self.requests += 1
        if self.silent:
            return False
        if self._drop_next:
            self._drop_next = False
            self.dropped += 1
            return False
        return True

    def unlocked(self) -> None:
        if self.stuck_busy:
            self._drop_next = True

    def seal(self, raw: bytes) -> bytes:
        """A reply as it goes on the wire, its checksum spoilt while the fault lasts."""
        if self.corrupt > 0:
            self.corrupt -= 1
            return raw[:-1] + bytes([raw[-1] ^ 0xFF])
        return raw


class SimulatedBus:
    """Boards on one simulated line, reachable at ``url`` once started."""

    def __init__(self, protocol: str = "kerong", boards: int = 1, channels: int = 16,
                 close_after: float | None = 5.0, open_is_high: bool = True,
                 first_address: int | None = None, baud: int | None = None) -> None:
        if protocol not in ("kerong", "dip"):
            raise ValueError(f"unknown protocol {protocol!r} (kerong or dip)")
        self.protocol = protocol
        self.channels = channels
        self.open_is_high = open_is_high
        self.baud = baud  # pace replies at this wire speed; None = as fast as the link goes
        first = (0 if protocol == "kerong" else 1) if first_address is None else first_address
        self.boards = {
            a: SimBoard(a, channels, close_after, open_is_high)
            for a in range(first, first + boards)
        }
        self.url = ""
        self.log: list[Any] = []
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._clients: set[asyncio.Task[Any]] = set()

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
        for writer in list(self._links):
            writer.transport.abort()

    async def _close_clients(self) -> None:
        self.drop_connections()
        if self._clients:
            await asyncio.wait(set(self._clients), timeout=2)

    # -- protocol logic ---------------------------------------------------------------------
    def answer(self, frame: Any) -> list[tuple[SimBoard, bytes]]:
        """Replies to one request frame, each with the board that sends it."""
        self.log.append(frame)
        if self.protocol == "kerong":
            return self._answer_kerong(frame)
        return self._answer_dip(frame)

    def _answer_kerong(self, frame: kerong.Frame) -> list[tuple[SimBoard, bytes]]:
        if frame.cmd == kerong.BUS_STATUS:
            return [
                (b, kerong.encode(kerong.status_reply(b.address, b.hooks(), b.items(), bus=True)))
                for b in self.boards.values()
                if b.hears()
            ]
        board = self.boards.get(frame.board)
        if board is None or not board.hears():
            return []
        if frame.cmd == kerong.STATUS:
            reply = kerong.status_reply(board.address, board.hooks(), board.items())
            return [(board, kerong.encode(reply))]
        if frame.cmd == kerong.UNLOCK:
            if frame.lock <= board.channels:
                board.door(frame.lock).fire()
                board.unlocked()
            return []
        if frame.cmd == kerong.UNLOCK_ALL:
            for door in board.doors.values():
                door.fire()
            board.unlocked()
            return []
        board.pulse_millis = kerong.pulse_millis(frame)
        return [(board, kerong.encode(kerong.pulse_time_reply(board.address, board.pulse_millis)))]

    def _answer_dip(self, frame: dip.Frame) -> list[tuple[SimBoard, bytes]]:
        board = self.boards.get(frame.board)
        if board is None or not board.hears():
            return []
        if frame.channel > board.channels:
            return []
        if frame.header == dip.OPEN:
            targets = board.doors.values() if frame.channel == 0 else [board.door(frame.channel)]
            for door in targets:
                door.fire()
            board.unlocked()
            on = frame.channel == 0 or board.feedback(frame.channel)
            return [(board, dip.encode(dip.single_reply(frame, on)))]
        if frame.channel == 0:
            reply = dip.query_all_reply(board.address, board.feedback_bits(), board.channels)
            return [(board, dip.encode(reply))]
        return [(board, dip.encode(dip.single_reply(frame, board.feedback(frame.channel))))]

    def _decoder(self) -> Any:
        return kerong.request_decoder() if self.protocol == "kerong" else dip.request_decoder()

    def _encode(self, frame: Any) -> bytes:
        return kerong.encode(frame) if self.protocol == "kerong" else dip.encode(frame)

    async def _serve_frames(self, frames: list[Any], write: Callable[[bytes], None]) -> None:
        for frame in frames:
            wire = len(self._encode(frame))
            for board, raw in self.answer(frame):
                if board.delay:
                    await asyncio.sleep(board.delay)
                wire += len(raw)
                if self.baud:
                    await asyncio.sleep(wire * BITS_PER_BYTE / self.baud)
                    wire = 0
                write(board.seal(raw))
            if self.baud and wire:
                await asyncio.sleep(wire * BITS_PER_BYTE / self.baud)

    async def _serve_link(self, chunks: asyncio.Queue[bytes],
                          write: Callable[[bytes], None]) -> None:
        decoder = self._decoder()
        while True:
            data = await chunks.get()
            with contextlib.suppress(OSError, ConnectionError):
                await self._serve_frames(decoder.feed(data), write)

    # -- links: pty and TCP ----------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @asynccontextmanager
    async def _pty(self) -> AsyncIterator[str]:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def readable() -> None:
            with contextlib.suppress(BlockingIOError, OSError):
                chunks.put_nowait(os.read(master, 4096))

        def write(data: bytes) -> None:
            os.write(master, data)

        loop.add_reader(master, readable)
        self._spawn(self._serve_link(chunks, write))
        try:
            yield os.ttyname(slave)
        finally:
            loop.remove_reader(master)
            os.close(master)
            os.close(slave)

    async def _tcp_client(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self._links.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        server = self._spawn(self._serve_link(chunks, writer.write))
        try:
            while data := await reader.read(4096):
                chunks.put_nowait(data)
        except (OSError, ConnectionError):
            pass
        finally:
            server.cancel()
            self._links.discard(writer)
            writer.close()
            self._clients.discard(task)  # type: ignore[arg-type]

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
                device = await stack.enter_async_context(sim._pty())
                line_baud = baud or LINE_BAUD[protocol]
                sim.url = f"serial://{device}?baud={line_baud}"
            elif transport == "tcp":
                server = await asyncio.start_server(sim._tcp_client, host, port)
                stack.push_async_callback(server.wait_closed)
                stack.push_async_callback(sim._close_clients)
                stack.callback(server.close)
                bound = server.sockets[0].getsockname()[1]
                sim.url = f"tcp://{host}:{bound}"
                if advertise:
                    from berth.hardware.announce import advertise

                    first, last = min(sim.boards), max(sim.boards)
                    stack.push_async_callback(await advertise(
                        bound, protocol=sim.protocol, host=host, channels=sim.channels,
                        boards=f"{first}-{last}"))
            else:
                raise ValueError(f"unknown simulator transport {transport!r} (pty or tcp)")
            try:
                yield sim
            finally:
                for task in list(sim._tasks):
                    task.cancel()
                for b in sim.boards.values():
                    for door in b.doors.values():
                        door.close()

    @staticmethod
    def in_thread(**options: Any) -> SimulatorThread:
        """The same simulator on its own event loop in a background thread (started)."""
        return SimulatorThread(**options).begin()


class SimulatorThread:
    """Runs ``SimulatedBus.start(**options)`` in a daemon thread; use ``call`` to reach it.

    With ``serve`` it also runs that service beside the boards for as long as they run: the
    ``sim://`` buses pass the person-at-the-locker unix socket (``berth.hardware.sim_control``),
    handed in so the simulator does not import what is built on top of it.
    """

    def __init__(self, serve: Service | None = None, **options: Any) -> None:
        self.options = options
        self.serve = serve
        self.sim: SimulatedBus | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="berth-board-sim", daemon=True)

    @property
    def url(self) -> str:
        assert self.sim is not None
        return self.sim.url

    def begin(self) -> SimulatorThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        if self.sim is None:
            raise RuntimeError("simulator did not start within 10 s")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with SimulatedBus.start(**self.options) as sim, contextlib.AsyncExitStack() as stack:
            if self.serve is not None:
                try:
                    await stack.enter_async_context(self.serve(sim))
                except (OSError, ValueError) as exc:  # the boards work without it
                    log.warning("no person-at-the-locker controls: %s", exc)
            self.sim = sim
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the simulator's loop (thread-safe) and return its result."""
        assert self._loop is not None
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(10)

    def inject(self, fault: Fault | str, board: int, channel: int | None = None,
               value: float | None = None) -> None:
        assert self.sim is not None
        self.call(self.sim.inject, fault, board, channel, value)

    def controller_specs(self, prefix: str = "sim") -> list[ControllerSpec]:
        assert self.sim is not None
        return self.sim.controller_specs(prefix)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> SimulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
