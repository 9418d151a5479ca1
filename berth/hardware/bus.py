"""Per-bus request scheduling: one request on the half-duplex line at a time.

Boards on one RS-485 line (or one bridge) share a ``Bus``. A single worker serves a priority queue,
so unlocks overtake queued polls; it leaves an inter-frame gap between frames, discards stale input
before writing, matches replies to the request (frames that do not match are dropped, not
returned), bounds each request with a timeout, and flushes input after a timeout so a late reply is
never taken as the next answer. Where a protocol has no length, a frame ends after ``silence``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from berth.hardware.driver import CommunicationError, NotDelivered
from berth.hardware.protocols.codec import LineSettings
from berth.hardware.protocols.framing import StreamDecoder
from berth.hardware.transports import Transport, bus_key, open_transport, url_options

#: Opens the transport of a bus URL with its protocol's line settings (tests pass a replay).
Opener = Callable[[str, LineSettings | None], Transport]


class Priority(IntEnum):
    UNLOCK = 0
    POLL = 1


@dataclass(frozen=True)
class BusConfig:
    """Timing of one bus; every field can be set from the URL (``?timeout=0.5&gap=0.01``),
    ``gap`` and ``silence`` default to the protocol's line settings."""

    timeout: float = 1.5  # per request, for the reply to arrive
    gap: float = 0.005  # silence left between two frames on the line
    silence: float = 0.025  # a frame without a length ends after this much silence

    @classmethod
    def from_url(cls, url: str, line: LineSettings | None = None) -> BusConfig:
        opts: dict[str, float] = {"gap": line.gap, "silence": line.silence} if line else {}
        opts |= {k: float(v) for k, v in url_options(url).items()
                 if k in ("timeout", "gap", "silence")}
        return cls(**opts)


@dataclass
class BusStats:
    """What one line has counted since its bus started; ``Bus.counters`` shows them."""

    requests: int = 0
    timeouts: int = 0
    mismatched: int = 0  # well-formed replies that did not answer the request
    malformed: int = 0  # frames rejected by the codec (bad checksum, ETX, length ...)
    flushed_bytes: int = 0  # stale input dropped before a request or after a timeout
    discarded_bytes: int = 0  # bytes the reply decoders skipped looking for a frame


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    payload: bytes = field(compare=False)
    decoder: StreamDecoder[Any] | None = field(compare=False)
    accept: Callable[[Any], bool] = field(compare=False)
    timeout: float = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    quiet: float | None = field(default=None, compare=False)  # set: collect frames until quiet


class Bus:
    """Serialises the requests of every board on one transport."""

    def __init__(self, transport: Transport, config: BusConfig | None = None) -> None:
        self.transport = transport
        self.config = config or BusConfig()
        self.stats = BusStats()
        self._queue: asyncio.PriorityQueue[_Job] = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._worker: asyncio.Task[None] | None = None
        self._last_io = 0.0

    def counters(self) -> dict[str, int]:
        """The line's counters and the transport's connects, by stable snake_case name."""
        return {**asdict(self.stats), "connects": self.transport.connects}

    async def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._serve())
            await self.transport.open()

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(BaseException):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(CommunicationError("bus closed"))
        await self.transport.close()

    async def send(self, payload: bytes, *, priority: Priority = Priority.UNLOCK) -> None:
        """Write a frame that has no reply (e.g. a Kerong unlock)."""
        await self._submit(payload, None, lambda _f: True, priority, None)

    async def request(
        self,
        payload: bytes,
        decoder: StreamDecoder[Any],
        accept: Callable[[Any], bool],
        *,
        priority: Priority = Priority.POLL,
        timeout: float | None = None,
    ) -> Any:
        """Write ``payload`` and return the first decoded frame ``accept`` takes as its answer."""
        return await self._submit(payload, decoder, accept, priority, timeout)

    async def collect(
        self,
        payload: bytes,
        decoder: StreamDecoder[Any],
        accept: Callable[[Any], bool],
        *,
        quiet: float = 0.1,
        timeout: float | None = None,
    ) -> list[Any]:
        """Write a bus-wide query and gather the accepted answers of every board.

        Waits up to ``timeout`` for the first answer, then until the line stays ``quiet``.
        """
        return await self._submit(payload, decoder, accept, Priority.POLL, timeout, quiet)

    async def _submit(
        self,
        payload: bytes,
        decoder: StreamDecoder[Any] | None,
        accept: Callable[[Any], bool],
        priority: Priority,
        timeout: float | None,
        quiet: float | None = None,
    ) -> Any:
        if self._worker is None:
            raise NotDelivered(f"{self.transport.url}: bus not started")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = _Job(int(priority), next(self._seq), payload, decoder, accept,
                   self.config.timeout if timeout is None else timeout, future, quiet)
        self._queue.put_nowait(job)
        return await future

    async def _serve(self) -> None:
        while True:
            job = await self._queue.get()
            if job.future.done():  # the caller gave up while queued
                continue
            try:
                result = await self._exchange(job)
            except CommunicationError as exc:
                if not job.future.done():
                    job.future.set_exception(exc)
            except Exception as exc:  # keep the bus alive whatever one request does
                if not job.future.done():
                    job.future.set_exception(CommunicationError(f"bus error: {exc!r}"))
            else:
                if not job.future.done():
                    job.future.set_result(result)

    async def _exchange(self, job: _Job) -> Any:
        loop = asyncio.get_running_loop()
        self.stats.requests += 1
        try:
            await self.transport.wait_connected(job.timeout)
        except CommunicationError as exc:  # nothing was written: the board heard nothing
            raise NotDelivered(str(exc)) from exc
        wait = self._last_io + self.config.gap - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.stats.flushed_bytes += self.transport.discard_input()
        await self.transport.write(job.payload)
        self._last_io = loop.time()
        if job.decoder is None:
            return None
        decoder = job.decoder
        try:
            if job.quiet is not None:
                return await self._gather(job, decoder)
            return await self._answer(job, decoder)
        finally:
            self.stats.discarded_bytes += decoder.discarded

    async def _answer(self, job: _Job, decoder: StreamDecoder[Any]) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + job.timeout
        errors_seen = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self._after_timeout()
                raise CommunicationError(
                    f"{self.transport.url}: no valid reply within {job.timeout:g} s"
                    + (f" ({decoder.errors[-1]})" if decoder.errors else "")
                )
            wait = min(remaining, self.config.silence) if decoder.pending else remaining
            chunk = await self.transport.receive(wait)
            self._last_io = loop.time()
            frames = decoder.feed(chunk) if chunk else decoder.end_of_frame()
            self.stats.malformed += len(decoder.errors) - errors_seen
            errors_seen = len(decoder.errors)
            for frame in frames:
                if job.accept(frame):
                    return frame
                self.stats.mismatched += 1

    async def _gather(self, job: _Job, decoder: StreamDecoder[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        frames: list[Any] = []
        deadline = loop.time() + job.timeout
        while (remaining := deadline - loop.time()) > 0:
            wait = min(remaining, self.config.silence if decoder.pending
                       else job.quiet if frames else remaining)  # type: ignore[operator]
            chunk = await self.transport.receive(wait)
            self._last_io = loop.time()
            if not chunk and not decoder.pending and frames:
                break
            for frame in decoder.feed(chunk) if chunk else decoder.end_of_frame():
                if job.accept(frame):
                    frames.append(frame)
                else:
                    self.stats.mismatched += 1
        self.stats.malformed += len(decoder.errors)
        return frames

    async def _after_timeout(self) -> None:
        """Wait out the line's silence, then drop whatever a late reply left behind."""
        self.stats.timeouts += 1
        with contextlib.suppress(CommunicationError):
            while await self.transport.receive(self.config.silence):
                pass
        self.stats.flushed_bytes += self.transport.discard_input()
        self._last_io = asyncio.get_running_loop().time()


class BusRegistry:
    """One transport and bus per line, shared by every board whose URL names that line."""

    def __init__(self, opener: Opener = open_transport) -> None:
        self._opener = opener
        self._buses: dict[str, tuple[Bus, int, asyncio.AbstractEventLoop]] = {}

    def _key(self, url: str) -> tuple[str, asyncio.AbstractEventLoop]:
        loop = asyncio.get_running_loop()
        return f"{id(loop)}:{bus_key(url)}", loop

    async def acquire(self, url: str, line: LineSettings | None = None) -> Bus:
        """The bus of ``url``'s line, opened with ``line`` settings if it is the first user."""
        key, loop = self._key(url)
        entry = self._buses.get(key)
        if entry is not None and entry[2] is loop:
            self._buses[key] = (entry[0], entry[1] + 1, loop)
            return entry[0]
        bus = Bus(self._opener(url, line), BusConfig.from_url(url, line))
        self._buses[key] = (bus, 1, loop)
        await bus.start()
        return bus

    async def release(self, url: str) -> None:
        key, loop = self._key(url)
        entry = self._buses.get(key)
        if entry is None or entry[2] is not loop:
            return
        bus, users, _ = entry
        if users > 1:
            self._buses[key] = (bus, users - 1, loop)
            return
        del self._buses[key]
        await bus.aclose()


#: The process-wide registry the board controllers use by default.
buses = BusRegistry()
