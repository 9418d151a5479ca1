"""How the tower's sync loop reaches the cloud: over the fleet broker when the gateway has a link
to one, over HTTP (its ``tower_access`` client) otherwise, and over HTTP whenever the broker
does not answer.

The sync loop (``sync.py``) calls ``push_events`` and ``get_commands`` on a ``CloudTransport``
and does not care which way they went: the cursor moves only on an acknowledgement, the cloud
applies each (tower, seq) once and the tower each command once, so a call repeated by the other
way (or delivered twice by QoS 1) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from berth.contracts.cloud import CommandList, EventBatchResult
from berth.fleet import protocol as p

log = logging.getLogger("berth.tower")

Route = Literal["broker", "http"]
T = TypeVar("T")


class LinkUnavailable(Exception):
    """The broker did not carry a call (no connection, no answer in time, or the cloud would
    not take it from this site): the call may be made again, over HTTP."""


class CloudTransport(Protocol):
    """The two calls of the tower's sync (``AsyncCloudClient`` is one: the HTTP way)."""

    async def push_events(self, tower_id: str,
                          events: Iterable[Mapping[str, Any]]) -> EventBatchResult: ...

    async def get_commands(self, tower_id: str, after: int = 0,
                           wait: float = 0) -> CommandList: ...


class BrokerLink(Protocol):
    """The gateway's fleet link as the tower uses it (``GatewayFleetLink``)."""

    @property
    def available(self) -> bool: ...

    connected: asyncio.Event  # set while the link is up

    async def tower_call(self, call: p.TowerCall, timeout: float) -> p.TowerReply:
        """Publish one call and wait for its reply; LinkUnavailable when none comes."""
        ...


class BrokerTransport:
    """The sync calls as ``TowerCall`` messages over the gateway's MQTT connection."""

    def __init__(self, link: BrokerLink, timeout: float) -> None:
        self.link = link
        self.timeout = timeout
        self._started = False
        self._first = asyncio.Lock()

    async def ready(self) -> bool:
        """Whether the link is up; the first time, wait up to ``timeout`` for it (a starting
        gateway connects to the broker while its tower starts syncing)."""
        if not self._started:
            async with self._first:  # the sync's concurrent loops all wait for that first time
                if not self._started:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.timeout):
                            await self.link.connected.wait()
                    self._started = True
        return self.link.available

    async def push_events(self, tower_id: str,
                          events: Iterable[Mapping[str, Any]]) -> EventBatchResult:
        body = await self._call(p.TowerCall(uuid.uuid4().hex, "events", tower_id,
                                            events=[dict(e) for e in events]))
        return EventBatchResult.model_validate(body)

    async def get_commands(self, tower_id: str, after: int = 0,
                           wait: float = 0) -> CommandList:
        """A plain poll: over the broker the cloud never holds it (``waited`` stays false, so
        the sync loop paces itself by its interval), whatever ``wait`` asks."""
        body = await self._call(p.TowerCall(uuid.uuid4().hex, "commands", tower_id,
                                            after=after))
        return CommandList.model_validate(body)

    async def _call(self, call: p.TowerCall) -> Any:
        if not self.link.available:
            raise LinkUnavailable("the fleet broker link is down")
        reply = await self.link.tower_call(call, self.timeout)
        if reply.code is not None:
            raise LinkUnavailable(f"the cloud refused the call over the broker: {reply.code}: "
                                  f"{reply.detail}")
        return reply.body


class FallbackTransport:
    """The broker first, HTTP when it is down or does not answer (and HTTP alone without a
    broker). ``route`` says which way the last call went."""

    def __init__(self, broker: BrokerTransport | None, http: CloudTransport | None) -> None:
        self.broker = broker
        self.http = http
        self.route: Route | None = None

    async def push_events(self, tower_id: str,
                          events: Iterable[Mapping[str, Any]]) -> EventBatchResult:
        batch = list(events)
        return await self._either(lambda way: way.push_events(tower_id, batch))

    async def get_commands(self, tower_id: str, after: int = 0,
                           wait: float = 0) -> CommandList:
        return await self._either(lambda way: way.get_commands(tower_id, after, wait))

    async def _either(self, call: Callable[[CloudTransport], Awaitable[T]]) -> T:
        """``call`` over the broker when it is up, else (or when it fails) over HTTP."""
        if self.broker is not None and await self.broker.ready():
            try:
                result = await call(self.broker)
                self.route = "broker"
                return result
            except LinkUnavailable as exc:
                self._fall_back(exc)
        return await call(self._http())

    def _fall_back(self, exc: LinkUnavailable) -> None:
        if self.route != "http":
            log.warning("tower sync over the broker failed (%s); syncing over HTTP", exc)

    def _http(self) -> CloudTransport:
        if self.http is None:
            raise LinkUnavailable("the fleet broker link is down and the tower has no HTTP "
                                  "cloud link")
        self.route = "http"
        return self.http
