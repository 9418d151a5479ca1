"""This fleet API process's connection to the broker: requests out, answers and presence in.

Each process has its own requester name, so a site's answer (to
``berth/sites/{site}/responses/{requester}``) reaches the process that waits for it. Answers
and presence are written to the database (any process can then serve a poll or refuse an
offline site). A request not answered yet is re-sent, with the same id, when this link
reconnects or its site comes back online: the gateway executes an id once and answers a repeat
with its first answer, so a re-send never runs anything twice.

It also carries the cloud link of towers behind those sites: a tower's sync calls (signed events
up, a command fetch) arrive on ``berth/sites/{site}/tower/calls`` through a shared
subscription (one process takes each), go to the tower sync rules for the tower bound to that
site, and the answer goes back on the site's ``tower/replies``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import aiomqtt

from berth.cloud.fleet.service import FleetService
from berth.fleet import protocol as p
from berth.fleet.client import LinkConfig, publish_properties
from berth.kit.threads import run_blocking

log = logging.getLogger("berth.cloud.fleet")


class CloudFleetLink:
    def __init__(self, config: LinkConfig, service: FleetService) -> None:
        self.config = config
        self.service = service
        self.requester = "api-" + secrets.token_hex(6)
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._waiters: dict[str, asyncio.Future[p.Response]] = {}
        self._pending: dict[str, tuple[str, bytes, float]] = {}  # id: site, payload, deadline

    def waiter(self, request_id: str) -> asyncio.Future[p.Response]:
        future = self._waiters.get(request_id)
        if future is None:
            future = self._waiters[request_id] = asyncio.get_running_loop().create_future()
        return future

    def release(self, request_id: str) -> None:
        """The caller stopped waiting: drop its waiter unless this link still awaits the answer
        (then the answer, when it comes, is stored for a poll)."""
        if request_id not in self._pending:
            self._waiters.pop(request_id, None)

    async def send(self, site_id: str, request_id: str, payload: bytes, ttl: float) -> None:
        """Publish a request, QoS 1; kept until answered or expired, to re-send after a drop."""
        self._pending[request_id] = (site_id, payload, time.monotonic() + ttl)
        await self._publish(request_id)

    async def _publish(self, request_id: str) -> None:
        site_id, payload, deadline = self._pending[request_id]
        left = deadline - time.monotonic()
        client = self._client
        if left <= 0 or client is None:
            return  # expired, or not connected: the reconnect re-sends it
        props = publish_properties(response_topic=p.responses_topic(site_id, self.requester),
                                   correlation=request_id.encode(), expiry=left)
        try:
            await client.publish(p.requests_topic(site_id), payload, qos=1, properties=props)
        except aiomqtt.MqttError as exc:
            log.warning("fleet request %s not sent now (%s); re-sent on reconnect",
                        request_id, exc)

    async def _resend(self, site_id: str | None = None) -> None:
        now = time.monotonic()
        for request_id, (site, _payload, deadline) in list(self._pending.items()):
            if deadline <= now:
                self._forget(request_id)
            elif site_id is None or site == site_id:
                await self._publish(request_id)

    def _forget(self, request_id: str) -> None:
        self._pending.pop(request_id, None)
        future = self._waiters.pop(request_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with self.config.client(self.requester) as client:
                    await client.subscribe(p.responses_filter(self.requester), qos=1)
                    await client.subscribe(p.PRESENCE_FILTER, qos=1)
                    await client.subscribe(p.TOWER_CALLS_FILTER, qos=1)
                    self._client = client
                    self.connected.set()
                    backoff = 0.2
                    await self._resend()
                    async for message in client.messages:
                        await self._on_message(message)
            except aiomqtt.MqttError as exc:
                log.warning("fleet broker link lost: %s", exc)
            finally:
                self.connected.clear()
                self._client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max)

    async def _on_message(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = message.payload if isinstance(message.payload, bytes) else b""
        site = p.site_of(topic)
        if site is not None and topic == p.tower_calls_topic(site):
            await self._tower_call(site, payload)
            return
        try:
            if topic.endswith("/presence"):
                presence = p.decode_presence(topic, payload)
                await run_blocking(self.service.record_presence, presence)
                if presence.online:
                    await self._resend(presence.site_id)
                return
            response = p.decode_response(payload)
        except p.ProtocolError as exc:
            log.warning("fleet message on %s ignored: %s", topic, exc)
            return
        if site is None:
            return
        pending = self._pending.get(response.id)
        if pending is not None and pending[0] != site:
            log.warning("site %s answered a request of another site: ignored", site)
            return
        try:  # stored only as an answer of this site's own request (the repository checks)
            recorded = await run_blocking(self.service.record_answer, site, response)
        except Exception:
            log.exception("fleet answer %s not stored", response.id)
            recorded = pending is not None
        if not recorded and pending is None:
            return  # not a request of that site's (or answered already)
        self._pending.pop(response.id, None)
        future = self._waiters.pop(response.id, None)
        if future is not None and not future.done():
            future.set_result(response)

    async def _tower_call(self, site_id: str, payload: bytes) -> None:
        """One tower sync call of ``site_id``'s tower, answered on the site's replies topic
        (QoS 1: a repeated call or answer is harmless, events and commands apply once)."""
        try:
            call = p.decode_tower_call(payload)
        except p.ProtocolError as exc:
            log.warning("tower call of site %s ignored: %s", site_id, exc)
            return
        try:
            reply = await run_blocking(self.service.tower_call, site_id, call)
        except Exception:
            log.exception("tower call %s of site %s failed", call.id, site_id)
            reply = p.TowerReply(call.id, code="CLOUD_ERROR", detail="the cloud failed")
        client = self._client
        if client is None:
            return  # the tower asks again (over HTTP if need be)
        props = publish_properties(correlation=call.id.encode(),
                                   expiry=self.config.request_ttl)
        try:
            await client.publish(p.tower_replies_topic(site_id), reply.encode(), qos=1,
                                 properties=props)
        except aiomqtt.MqttError as exc:
            log.warning("tower reply %s not sent (%s); the tower asks again", call.id, exc)
