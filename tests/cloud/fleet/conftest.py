"""A fleet on a real Mosquitto: a cloud with its fleet link, gateways with theirs, and two
organisations, each with its own location bound to its own site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from berth.cloud.app import build_service, create_app
from berth.cloud.locations.schemas import LocationCreate
from berth.cloud.services import CloudServices
from berth.fleet import protocol as p
from berth.fleet.client import Credentials, LinkConfig
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import AUTH
from tests.support.broker import MosquittoBroker
from tests.support.configs import cloud_config
from tests.support.waiting import wait_until

gateway_factory = gateway_fixtures.gateway_factory  # the gateway tests' fixture, here too


@dataclass
class Fleet:
    broker: MosquittoBroker
    cloud: TestClient
    service: CloudServices
    keys: dict[str, str]  # organisation -> API key
    locations: dict[str, int]  # site -> location id
    start_gateway: Callable[..., TestClient]

    def headers(self, org: str = "acme", **extra: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[org], **extra}

    def online(self, site: str) -> bool:
        return any(s.site_id == site and s.online for s in self.service.fleet.list_sites())

    def wait_online(self, site: str, online: bool = True) -> None:
        wait_until(lambda: self.online(site) is online, f"{site} never {online=}")

    def gateway(self, site_id: str, db_url: str, **overrides: Any) -> TestClient:
        """A gateway with its fleet link (``overrides``: more config, e.g. its site)."""
        self.broker.add_user(site_id, f"{site_id}-pw")
        link = LinkConfig(self.broker.url, Credentials(site_id, f"{site_id}-pw"), keepalive=3,
                          reconnect_max=0.3, request_ttl=60)
        gw = self.start_gateway(db_url, fleet=link, fleet_site_id=site_id, **overrides)
        gw.headers.update(AUTH)
        self.wait_online(site_id)
        return gw


def link_config(broker: MosquittoBroker) -> LinkConfig:
    broker.add_user(p.CLOUD_USER, "cloud-pw")
    return LinkConfig(broker.url, Credentials(p.CLOUD_USER, "cloud-pw"), keepalive=3,
                      reconnect_max=0.3, request_ttl=60)


def location(service: CloudServices, name: str) -> int:
    return service.locations.create_location(LocationCreate(
        name=name, latitude=52.5, longitude=13.4, timezone="Europe/Berlin")).id


@pytest.fixture
def fleet(mosquitto: MosquittoBroker, tmp_path: Path, db_url: str,
          gateway_factory: Callable[..., TestClient]) -> Iterator[Fleet]:
    config = cloud_config(db_url=db_url, data_dir=tmp_path / "cloud", sweep_interval=0,
                          fleet_link=link_config(mosquitto))
    service = build_service(config)
    keys = {org: service.fleet.create_organisation(org) for org in ("acme", "globex")}
    locations = {"depot-1": location(service, "Depot one"),
                 "depot-2": location(service, "Depot two")}
    service.fleet.bind_site("acme", locations["depot-1"], "depot-1")
    service.fleet.bind_site("globex", locations["depot-2"], "depot-2")
    with TestClient(create_app(config, service)) as cloud:
        wait_until(lambda: service.fleet.link is not None and service.fleet.link.connected
                   .is_set(), "the cloud never reached the broker")
        yield Fleet(mosquitto, cloud, service, keys, locations, gateway_factory)
