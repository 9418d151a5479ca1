"""The MQTT 5 connection both ends of the fleet link open (aiomqtt over paho).

Reads the broker URL, the credentials file and the optional CA from ``FleetLinkConfig``; the
gateway's link and the cloud's fleet API each build their ``aiomqtt.Client`` here, so TLS and
credentials are handled in one place.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from berth.kit.secret_files import write_private
from berth.kit.settings import Settings


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @classmethod
    def load(cls, path: Path) -> Credentials:
        data = json.loads(path.read_text())
        return cls(str(data["username"]), str(data["password"]))

    def save(self, path: Path) -> None:
        """Write them 0600 (replacing an older file): a broker password is a secret."""
        write_private(path, json.dumps({"username": self.username, "password": self.password}),
                      replace=True)

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        return f"Credentials(username={self.username!r})"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker URL {url!r}: mqtt://host:port or mqtts://host:port")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls)


def connect(url: str, credentials: Credentials, *, identifier: str, keepalive: int,
            tls_ca: Path | None = None, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
    """A client (not yet connected: ``async with`` it) speaking MQTT 5 with a clean start:
    nothing published to a disconnected client waits for it (no queued door openings)."""
    address = BrokerAddress.parse(url)
    context = None
    if address.tls:
        context = ssl.create_default_context(cafile=str(tls_ca) if tls_ca else None)
    return aiomqtt.Client(
        address.host, address.port, username=credentials.username,
        password=credentials.password, identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5, keepalive=keepalive, will=will,
        clean_start=True, tls_context=context, timeout=10)


def publish_properties(*, response_topic: str | None = None, correlation: bytes | None = None,
                       expiry: float | None = None) -> Properties:
    """MQTT 5 PUBLISH properties: response topic, correlation data, message expiry."""
    props = Properties(PacketTypes.PUBLISH)
    if response_topic is not None:
        props.ResponseTopic = response_topic
    if correlation is not None:
        props.CorrelationData = correlation
    if expiry is not None:
        props.MessageExpiryInterval = max(1, int(expiry))
    return props


def response_route(message: aiomqtt.Message) -> tuple[str | None, bytes | None]:
    """The response topic and correlation data a request carries (either may be missing)."""
    props = message.properties
    topic = getattr(props, "ResponseTopic", None) if props is not None else None
    correlation = getattr(props, "CorrelationData", None) if props is not None else None
    return topic, correlation


@dataclass(frozen=True)
class LinkConfig:
    """One end's view of the broker: where it is, who this end is, how patient to be."""

    broker_url: str
    credentials: Credentials
    keepalive: int
    reconnect_max: float
    request_ttl: float
    tls_ca: Path | None = None
    tower_reply_wait: float | None = None  # a tower's sync call over the broker; None: keep-alive

    @classmethod
    def from_settings(cls, settings: Settings, credentials_file: Path | None
                      ) -> LinkConfig | None:
        """None when no broker is configured; a ValueError naming what is missing otherwise."""
        fleet = settings.fleet
        if not fleet.broker_url:
            return None
        BrokerAddress.parse(fleet.broker_url)
        if credentials_file is None:
            raise ValueError("BERTH_FLEET_BROKER_URL is set but no broker credentials file is")
        return cls(fleet.broker_url, Credentials.load(credentials_file), fleet.keepalive,
                   fleet.reconnect_max, fleet.request_ttl, fleet.tls_ca, fleet.tower_reply_wait)

    @property
    def reply_wait(self) -> float:
        """How long a tower's sync call over the broker waits for the cloud's reply."""
        return self.tower_reply_wait or float(self.keepalive)

    def client(self, identifier: str, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
        return connect(self.broker_url, self.credentials, identifier=identifier,
                       keepalive=self.keepalive, tls_ca=self.tls_ca, will=will)
