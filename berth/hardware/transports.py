"""Byte transports to a lock bus: serial (RS-485 adapters, ptys) and TCP (serial-to-Ethernet
bridges), behind one small interface that reconnects by itself.

A background pump copies received bytes into our own buffer, so the bus can discard stale input at
any moment (after a timeout, before a request) without racing a pending read. When the line drops
(EOF, I/O error) the transport reconnects with exponential backoff; requests meanwhile fail fast
with ``TransportClosed``, a ``CommunicationError`` the open rule retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from berth.hardware.driver import CommunicationError
from berth.hardware.protocols.codec import LineSettings

#: A serial line whose protocol is not known (``berth hw`` tools): 19200 8N1.
DEFAULT_LINE = LineSettings(baud=19200)


class TransportClosed(CommunicationError):
    """The line is down (not connected yet, dropped, or reconnecting)."""


class Transport(ABC):
    """A reconnecting byte pipe to one bus."""

    def __init__(self, url: str, reconnect_min: float = 0.05, reconnect_max: float = 2.0) -> None:
        self.url = url
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.connects = 0
        self.last_error: str | None = None
        #: Sees every byte written (``">"``) and read (``"<"``): the capture recorder's tap.
        self.tap: Callable[[str, bytes], None] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._rx = bytearray()
        self._rx_event = asyncio.Event()
        self._connected = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._closed = False

    @abstractmethod
    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the line once."""

    def _discard_os_input(self) -> None:
        """Drop bytes still held below us (the serial driver's buffer)."""

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def open(self) -> None:
        """Connect, or keep trying in the background; never raises for an unreachable line."""
        self._closed = False
        if self.connected or self._reconnector is not None:
            return
        self._reconnector = asyncio.create_task(self._reconnect_loop())
        await asyncio.wait({self._reconnector}, timeout=1.0)

    async def wait_connected(self, timeout: float) -> None:
        if self.connected:
            return
        if self._closed:
            raise TransportClosed(f"{self.url}: transport closed")
        if self._reconnector is None:
            self._reconnector = asyncio.create_task(self._reconnect_loop())
        await asyncio.wait({self._reconnector}, timeout=timeout)
        if not self.connected:
            detail = f": {self.last_error}" if self.last_error else ""
            raise TransportClosed(f"{self.url}: not connected{detail}") from None

    async def _reconnect_loop(self) -> None:
        delay = self.reconnect_min
        try:
            while not self._closed:
                try:
                    self._reader, self._writer = await self._connect()
                except (OSError, ValueError) as exc:  # pyserial raises SerialException(OSError)
                    self.last_error = str(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.reconnect_max)
                    continue
                self.connects += 1
                self.last_error = None
                self._rx.clear()
                self._connected.set()
                self._pump = asyncio.create_task(self._pump_loop(self._reader))
                return
        finally:
            self._reconnector = None

    async def _pump_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    self.last_error = "connection closed by peer"
                    break
                self._rx += data
                self._rx_event.set()
        except (OSError, ConnectionError) as exc:
            self.last_error = str(exc) or type(exc).__name__
        self._drop_line()
        if not self._closed and self._reconnector is None:
            self._reconnector = asyncio.create_task(self._reconnect_loop())

    def _drop_line(self) -> None:
        self._connected.clear()
        self._rx_event.set()  # wake a reader so it notices
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._writer = self._reader = None

    async def write(self, data: bytes) -> None:
        if not self.connected or self._writer is None:
            raise TransportClosed(f"{self.url}: not connected")
        if self.tap is not None:
            self.tap(">", data)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ConnectionError) as exc:
            raise TransportClosed(f"{self.url}: write failed: {exc}") from exc

    async def receive(self, timeout: float) -> bytes:
        """Whatever has arrived, waiting up to ``timeout`` for something; ``b""`` on silence."""
        if not self._rx:
            if not self.connected:
                raise TransportClosed(f"{self.url}: connection lost")
            self._rx_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rx_event.wait(), max(timeout, 0))
            if not self._rx and not self.connected:
                raise TransportClosed(f"{self.url}: connection lost")
        data = bytes(self._rx)
        self._rx.clear()
        if data and self.tap is not None:
            self.tap("<", data)
        return data

    def discard_input(self) -> int:
        """Forget every byte received so far; returns how many were dropped."""
        dropped = len(self._rx)
        self._rx.clear()
        if self.connected:
            self._discard_os_input()
        return dropped

    async def close(self) -> None:
        self._closed = True
        for task in (self._reconnector, self._pump):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._reconnector = self._pump = None
        self._drop_line()


class TcpTransport(Transport):
    """``tcp://host:port``: a serial-to-Ethernet bridge or a network controller."""

    def __init__(self, url: str, host: str, port: int, connect_timeout: float = 2.0) -> None:
        super().__init__(url)
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except TimeoutError as exc:
            raise OSError(f"connect to {self.host}:{self.port} timed out") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer


class SerialTransport(Transport):
    """``serial:///dev/ttyUSB0?baud=19200``: an RS-485 adapter or a pseudo-terminal."""

    def __init__(self, url: str, device: str, line: LineSettings = DEFAULT_LINE) -> None:
        super().__init__(url)
        self.device, self.line = device, line

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        import serial_asyncio_fast

        return await serial_asyncio_fast.open_serial_connection(
            url=self.device, baudrate=self.line.baud, bytesize=self.line.bytesize,
            parity=self.line.parity, stopbits=self.line.stopbits,
        )

    def _discard_os_input(self) -> None:
        if self._writer is None:
            return
        port = self._writer.transport.get_extra_info("serial")
        if port is not None:
            with contextlib.suppress(Exception):
                port.reset_input_buffer()


def url_options(url: str) -> dict[str, str]:
    """The ``?key=value`` options of a bus URL (last value wins)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def bus_key(url: str) -> str:
    """The line a URL names, without its options: boards on one line share one bus."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def open_transport(url: str, line: LineSettings | None = None) -> Transport:
    """A transport for ``serial://DEVICE?baud=N`` or ``tcp://HOST:PORT`` (not yet connected).

    A serial line takes the protocol's ``line`` settings (19200 8N1 when none), and ``baud``
    from the URL over them; a TCP bridge sets its serial side itself.
    """
    parts = urlsplit(url)
    if parts.scheme == "tcp":
        if not parts.hostname or not parts.port:
            raise ValueError(f"TCP bus URL needs host and port: {url!r}")
        return TcpTransport(url, parts.hostname, parts.port)
    if parts.scheme == "serial":
        device = parts.path or parts.netloc
        if not device:
            raise ValueError(f"serial bus URL needs a device path: {url!r}")
        line = line or DEFAULT_LINE
        if "baud" in (opts := url_options(url)):
            line = dataclasses.replace(line, baud=int(opts["baud"]))
        return SerialTransport(url, device, line)
    raise ValueError(f"unsupported bus URL scheme {parts.scheme!r} in {url!r} (serial:// or tcp://)")
