"""The gateway's outbound MQTT 5 link: presence, and requests answered through its own API.

One connection per gateway, opened outward (no inbound port behind NAT). On connect it
subscribes to its site's requests and publishes a retained ``online``; the broker publishes its
Last Will ``offline`` when the connection dies, so the cloud sees a dead site within 1.5x the
keep-alive. Each request names a Gateway API operation (``berth.fleet.protocol.OPERATIONS``);
it is sent to this gateway's own app in-process, so the routers, services, validation and
error bodies are exactly the Gateway API's, and executed once per request id
(``FleetRequestService``). The answer goes to the request's MQTT 5 response topic with its
correlation data, QoS 1.

When the gateway is a cloud tower, its sync calls ride this connection too (``tower_call``):
published on the site's ``tower/calls``, answered by the cloud on its ``tower/replies``
(``berth.tower.transport`` falls back to HTTP when no answer comes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiomqtt
import httpx

from berth import __version__
from berth.fleet import protocol as p
from berth.fleet.client import LinkConfig, publish_properties, response_route
from berth.gateway.fleet.service import FleetRequestService
from berth.kit.threads import run_blocking
from berth.tower.transport import LinkUnavailable

log = logging.getLogger("berth.gateway.fleet")


class GatewayFleetLink:
    """``app`` is this gateway's ASGI app; ``api_key`` its key (requests pass its checks)."""

    def __init__(self, app: Any, site_id: str, config: LinkConfig, api_key: str,
                 requests: FleetRequestService) -> None:
        self.site_id = p.check_site_id(site_id)
        self.config = config
        self.requests = requests
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://gateway.fleet", headers={"X-API-Key": api_key},
            timeout=None)
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._replies: dict[str, asyncio.Future[p.TowerReply]] = {}

    # --- the connection ---------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; until cancelled (then say ``offline``)."""
        await run_blocking(self.requests.interrupt_unfinished)
        offline = p.Presence(self.site_id, False, __version__).encode()
        will = aiomqtt.Will(p.presence_topic(self.site_id), offline, qos=1, retain=True)
        backoff = 0.2
        try:
            while True:
                try:
                    async with self.config.client(f"berth-site-{self.site_id}", will) as client:
                        await self._serve(client)
                except aiomqtt.MqttError as exc:
                    log.warning("fleet link to %s lost: %s", self.config.broker_url, exc)
                finally:
                    self.connected.clear()
                    self._client = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.config.reconnect_max)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self.http.aclose()

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.subscribe(p.requests_topic(self.site_id), qos=1)
        await client.subscribe(p.tower_replies_topic(self.site_id), qos=1)
        online = p.Presence(self.site_id, True, __version__).encode()
        await client.publish(p.presence_topic(self.site_id), online, qos=1, retain=True)
        self._client = client
        self.connected.set()
        log.info("fleet link up: site %s on %s", self.site_id, self.config.broker_url)
        try:
            async for message in client.messages:
                if str(message.topic) == p.tower_replies_topic(self.site_id):
                    self._tower_reply(message)
                    continue
                task = asyncio.create_task(self._handle(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except asyncio.CancelledError:  # a clean stop: say so before the connection closes
            offline = p.Presence(self.site_id, False, __version__).encode()
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(2):
                    await client.publish(p.presence_topic(self.site_id), offline, qos=1,
                                         retain=True)
            raise

    # --- the tower's cloud link -------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self.connected.is_set() and self._client is not None

    async def tower_call(self, call: p.TowerCall, timeout: float) -> p.TowerReply:
        """Publish one tower sync call (QoS 1) and wait up to ``timeout`` for its reply."""
        client = self._client
        if client is None:
            raise LinkUnavailable("the fleet broker link is down")
        future: asyncio.Future[p.TowerReply] = asyncio.get_running_loop().create_future()
        self._replies[call.id] = future
        props = publish_properties(correlation=call.id.encode(), expiry=timeout)
        try:
            await client.publish(p.tower_calls_topic(self.site_id), call.encode(), qos=1,
                                 properties=props)
            async with asyncio.timeout(timeout):
                return await future
        except aiomqtt.MqttError as exc:
            raise LinkUnavailable(f"the tower call was not sent: {exc}") from None
        except TimeoutError:
            raise LinkUnavailable(f"no reply over the broker within {timeout:g} s") from None
        finally:
            self._replies.pop(call.id, None)

    def _tower_reply(self, message: aiomqtt.Message) -> None:
        """A reply to a waiting call; a repeat (QoS 1) or a late one finds nobody: dropped."""
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            reply = p.decode_tower_reply(payload)
        except p.ProtocolError as exc:
            log.warning("tower reply ignored: %s", exc)
            return
        future = self._replies.get(reply.id)
        if future is not None and not future.done():
            future.set_result(reply)

    # --- one request ------------------------------------------------------------------------

    async def _handle(self, message: aiomqtt.Message) -> None:
        topic, correlation = response_route(message)
        if topic is None or not p.answerable(self.site_id, topic):
            log.warning("fleet request without a response topic of this site: dropped")
            return
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            request = p.decode_request(payload)
            request.path()  # a known operation with its parameters, or ProtocolError
        except p.ProtocolError as exc:
            rid = correlation.decode(errors="replace") if correlation else ""
            await self._answer(topic, correlation, p.Response(rid, "refused", detail=str(exc))
                               .encode())
            return
        answer = await self.requests.execute_once(request, self._execute)
        if answer is not None:  # None: a repeat while the first delivery still executes
            await self._answer(topic, correlation, answer)

    async def _execute(self, request: p.Request) -> p.Response:
        """The Gateway API call, made against this gateway's own app (its rules, its shapes)."""
        op = request.operation()
        body = request.body if op.mutating and request.body is not None else None
        reply = await self.http.request(op.method, request.path(), params=request.query,
                                        json=body)
        try:
            content = reply.json() if reply.content else None
        except ValueError:
            content = reply.text
        headers = {k: reply.headers[k] for k in p.KEPT_HEADERS if k in reply.headers}
        return p.Response(request.id, "done", reply.status_code, content, headers)

    async def _answer(self, topic: str, correlation: bytes | None, answer: bytes) -> None:
        """Publish the answer, QoS 1; while the link is down, wait for it (up to the request
        lifetime) - the cloud also re-sends, and a repeat is answered from the ledger."""
        props = publish_properties(correlation=correlation, expiry=self.config.request_ttl)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.request_ttl):
                while True:
                    await self.connected.wait()
                    client = self._client
                    if client is None:
                        continue
                    try:
                        await client.publish(topic, answer, qos=1, properties=props)
                        return
                    except aiomqtt.MqttError:
                        self.connected.clear()
        log.warning("fleet answer not delivered within %.0f s", self.config.request_ttl)
