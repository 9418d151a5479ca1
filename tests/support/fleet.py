"""A real MQTT 5 client for tests (paho's threaded client): the cloud's side, or a rogue site.

``MqttProbe`` connects with a user's credentials, records every message it receives, and
publishes requests the way the fleet API does (response topic + correlation data, QoS 1).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from berth.fleet import protocol as p
from berth.gateway.site import Site
from berth.hardware.simulated import SimulatedController
from tests.support.broker import MosquittoBroker
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None


class MqttProbe:
    def __init__(self, broker: MosquittoBroker, username: str, password: str,
                 requester: str | None = None) -> None:
        self.requester = requester or "probe" + uuid.uuid4().hex[:8]
        self.messages: list[Received] = []
        self.suback: dict[int, list[Any]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=self.requester)
        self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.connect_result: list[Any] = []
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connect_result.append(rc)
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        wait_until(lambda: self.connect_result, "the probe never heard CONNACK")

    @property
    def accepted(self) -> bool:
        return bool(self.connect_result) and not self.connect_result[-1].is_failure

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None)
        with self._lock:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain),
                                          correlation))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[Any], _p: Any) -> None:
        self.suback[mid] = codes

    def subscribe(self, topic: str) -> list[Any]:
        """Subscribe (QoS 1) and return the broker's reason codes."""
        _rc, mid = self.client.subscribe(topic, qos=1)
        wait_until(lambda: mid in self.suback, f"no SUBACK for {topic}")
        return self.suback[mid]

    def publish(self, topic: str, payload: bytes, *, response_topic: str | None = None,
                correlation: bytes | None = None, retain: bool = False) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if response_topic:
            props.ResponseTopic = response_topic
        if correlation:
            props.CorrelationData = correlation
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        info.wait_for_publish(timeout=60)

    def request(self, site: str, request: p.Request) -> None:
        """Send one request as the fleet API does."""
        self.publish(p.requests_topic(site), request.encode(),
                     response_topic=p.responses_topic(site, self.requester),
                     correlation=request.id.encode())

    def received(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def answers(self, request_id: str) -> list[p.Response]:
        with self._lock:
            found = [p.decode_response(m.payload) for m in self.messages
                     if "/responses/" in m.topic]
        return [r for r in found if r.id == request_id]

    def wait_answers(self, request_id: str, count: int = 1) -> list[p.Response]:
        wait_until(lambda: len(self.answers(request_id)) >= count,
                   f"{count} answer(s) to {request_id} never came")
        return self.answers(request_id)

    def presence(self, site: str) -> p.Presence | None:
        got = self.received(p.presence_topic(site))
        return p.decode_presence(got[-1].topic, got[-1].payload) if got else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class GatedController(SimulatedController):
    """A simulated board whose unlock waits for ``gate`` (a door mid-opening, for as long as a
    fault test needs); ``entered`` says an unlock has begun."""

    def __init__(self, controller_id: str, channels: int, gate: threading.Event) -> None:
        super().__init__(controller_id, channels, close_after=0.3)
        self.gate = gate
        self.entered = threading.Event()

    async def unlock(self, channel: int) -> None:
        self.entered.set()
        while not self.gate.is_set():  # the hardware, not a test, is waiting here
            await asyncio.sleep(0.01)
        await super().unlock(channel)


def gated(site: Site, gate: threading.Event) -> dict[str, GatedController]:
    return {c.controller_id: GatedController(c.controller_id, c.channels, gate)
            for c in site.controllers}
