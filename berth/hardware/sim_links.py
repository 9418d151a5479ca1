"""The simulator's links: a pseudo-terminal or a TCP port carrying bytes to and from its boards.

A link only moves bytes: each connection gets a queue of received chunks and a ``write``
function, and the simulator's ``serve(chunks, write)`` does the rest until the link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

#: Serves one connection: received chunks in, replies out through ``write``.
Serve = Callable[["asyncio.Queue[bytes]", Callable[[bytes], None]], Awaitable[None]]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


@asynccontextmanager
async def pty_link(serve: Serve) -> AsyncIterator[str]:
    """A raw pseudo-terminal served by ``serve``; yields the slave device's path."""
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
    task = asyncio.create_task(serve(chunks, write))
    try:
        yield os.ttyname(slave)
    finally:
        await _cancel(task)
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)


class TcpLink:
    """A listening TCP port; every client connection is served on its own."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.Task[object]] = set()
        self.port = 0

    def drop_connections(self) -> None:
        """Cut every client off (they must reconnect by themselves)."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        me = asyncio.current_task()
        if me is not None:
            self._clients.add(me)
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        server = asyncio.create_task(self._serve(chunks, writer.write))
        try:
            while data := await reader.read(4096):
                chunks.put_nowait(data)
        except (OSError, ConnectionError):
            pass
        finally:
            await _cancel(server)
            self._writers.discard(writer)
            writer.close()
            if me is not None:
                self._clients.discard(me)

    async def _close_clients(self) -> None:
        self.drop_connections()
        if self._clients:
            await asyncio.wait(set(self._clients), timeout=2)

    @classmethod
    @asynccontextmanager
    async def listen(cls, serve: Serve, host: str, port: int) -> AsyncIterator[TcpLink]:
        """Listen on ``host:port`` (0 = a free port, then in ``.port``) until the block ends."""
        link = cls(serve)
        server = await asyncio.start_server(link._client, host, port)
        link.port = server.sockets[0].getsockname()[1]
        try:
            yield link
        finally:
            server.close()
            await link._close_clients()
            await server.wait_closed()
