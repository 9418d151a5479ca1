"""Fleet figures: /fleet/v1 latency against the same call straight to the gateway, as the number
of sites on one broker grows (10, 100, 500).

One real Mosquitto, one real gateway (demo site, in-process simulated boards) linked as a site,
the cloud with its fleet link, both under uvicorn on loopback; the other sites are real MQTT 5
clients in one process (presence retained, each answering its requests with a canned locker
list). Timed, sequentially, per N: ``GET /lockers`` and ``POST /transactions`` (released
after, untimed) straight to the gateway and through ``/fleet/v1``, and a locker list through
``/fleet/v1`` to a simulated site (the fleet path without a gateway's work). Bounded: a fixed
number of calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from berth.cloud.app import build_service
from berth.cloud.app import create_app as create_cloud
from berth.cloud.config import CloudConfig
from berth.cloud.locations.schemas import LocationCreate
from berth.fleet import protocol as p
from berth.fleet.broker import BrokerFiles
from berth.fleet.client import Credentials, LinkConfig, publish_properties, response_route
from berth.gateway.app import create_app as create_gateway
from berth.gateway.config import GatewayConfig
from berth.gateway.site import load_site
from berth.hardware.simulated import SimulatedController
from berth.kit.settings import Settings
from tests.support.serving import free_port, serving

SITES = (10, 100, 500)
CALLS = 60  # per figure and N
GATEWAY_SITE = "bench-gw"
API_KEY = "bench-gateway-key-0123456789"


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class SimulatedSites:
    """Sites that are only MQTT clients: online presence, a canned answer to every request."""

    def __init__(self, broker_url: str, passwords: dict[str, str], canned: Any) -> None:
        self.url, self.passwords, self.canned = broker_url, passwords, canned
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[Any] = []
        self.ready: dict[str, threading.Event] = {}

    def add(self, site_ids: list[str]) -> None:
        for site in site_ids:
            self.ready[site] = threading.Event()
            self.tasks.append(asyncio.run_coroutine_threadsafe(self._site(site), self.loop))
        for site in site_ids:
            if not self.ready[site].wait(120):
                raise RuntimeError(f"simulated site {site} never connected")

    async def _site(self, site: str) -> None:
        link = LinkConfig(self.url, Credentials(site, self.passwords[site]), keepalive=30,
                          reconnect_max=1, request_ttl=60)
        will = aiomqtt.Will(p.presence_topic(site), p.Presence(site, False).encode(), qos=1,
                            retain=True)
        async with link.client(f"sim-{site}", will) as client:
            await client.subscribe(p.requests_topic(site), qos=1)
            await client.publish(p.presence_topic(site), p.Presence(site, True).encode(), qos=1,
                                 retain=True)
            self.ready[site].set()
            async for message in client.messages:
                topic, correlation = response_route(message)
                request = p.decode_request(message.payload)  # type: ignore[arg-type]
                answer = p.Response(request.id, "done", 200, self.canned, {})
                await client.publish(topic or "", answer.encode(), qos=1,
                                     properties=publish_properties(correlation=correlation))

    def close(self) -> None:
        """Cancel every site's task and wait until each has closed its connection."""
        for task in self.tasks:
            task.cancel()
        concurrent.futures.wait(self.tasks, 60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


def timed(call: Callable[[int], httpx.Response], after: Callable[[int], object] | None = None,
          n: int = CALLS) -> tuple[float, float]:
    """p50 and p99 in ms of ``call(i)``; ``after(i)`` runs untimed between calls."""
    samples = []
    for i in range(n):
        start = time.perf_counter()
        r = call(i)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code in (200, 201), (r.status_code, r.headers, r.text)
        if after is not None:
            after(i)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


@dataclass(frozen=True)
class Urls:
    http: httpx.Client
    gateway: str
    fleet: str  # .../fleet/v1/locations
    location: int  # the real gateway's
    sim_location: int  # a simulated site's
    key: str


def measure(u: Urls, n: int) -> tuple[int, tuple[float, float], ...]:
    """The five figures at ``n`` sites."""
    gw, fleet = {"X-API-Key": API_KEY}, {"X-API-Key": u.key}

    def create(direct: bool, tag: str) -> Callable[[int], httpx.Response]:
        def call(i: int) -> httpx.Response:
            tid = f"{tag}-{n}-{i}"
            body = {"transactionId": tid, "preferredLockerType": "small", "allowFallback": True}
            if direct:
                return u.http.post(f"{u.gateway}/transactions", json=body, headers=gw)
            return u.http.post(f"{u.fleet}/{u.location}/transactions", json=body,
                               headers=fleet | {"Idempotency-Key": tid})
        return call

    def release(tag: str) -> Callable[[int], object]:
        return lambda i: u.http.delete(f"{u.gateway}/transactions/{tag}-{n}-{i}", headers=gw)

    return (n,
            timed(lambda _i: u.http.get(f"{u.gateway}/lockers", headers=gw)),
            timed(lambda _i: u.http.get(f"{u.fleet}/{u.location}/lockers", headers=fleet)),
            timed(lambda _i: u.http.get(f"{u.fleet}/{u.sim_location}/lockers", headers=fleet)),
            timed(create(True, "d"), release("d")),
            timed(create(False, "f"), release("f")))


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="berth-bench-fleet-"))
    files = BrokerFiles(root / "broker")
    port = free_port()
    files.write(port)
    passwords = {site: secrets.token_urlsafe(12)
                 for site in [GATEWAY_SITE, *(f"sim-{i}" for i in range(max(SITES)))]}
    cloud_pw = secrets.token_urlsafe(12)
    files.add_user(p.CLOUD_USER, cloud_pw)
    for site, password in passwords.items():  # one mosquitto_passwd per user: a few seconds
        files.add_user(site, password)
    broker = subprocess.Popen(files.command(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    sims = None
    try:
        while not listening(port):
            time.sleep(0.05)
        url = f"mqtt://127.0.0.1:{port}"
        settings = Settings(data_dir=root, fleet={"requests_per_minute": 10**9})
        link = LinkConfig(url, Credentials(p.CLOUD_USER, cloud_pw), 30, 1, 60)
        cloud_config = CloudConfig.from_settings(
            settings, db_url=f"sqlite:///{root / 'cloud.db'}", sweep_interval=0,
            outbox_dispatch_interval=0, fleet_link=link)
        services = build_service(cloud_config)
        key = services.fleet.create_organisation("bench")
        locations = {}
        for site in passwords:
            locations[site] = services.locations.create_location(LocationCreate(
                name=site, latitude=52.5, longitude=13.4, timezone="Europe/Berlin")).id
            services.fleet.bind_site("bench", locations[site], site)
        site = load_site()
        boards = {c.controller_id: SimulatedController(c.controller_id, c.channels, 0.2)
                  for c in site.controllers}  # in-process: a busy machine never drops a board
        gw_config = GatewayConfig.from_settings(
            settings, db_url=f"sqlite:///{root / 'gateway.db'}", api_key=API_KEY, mdns=False,
            site=site, controllers=boards,
            fleet=LinkConfig(url, Credentials(GATEWAY_SITE, passwords[GATEWAY_SITE]), 30, 1, 60),
            fleet_site_id=GATEWAY_SITE)
        with serving(create_gateway(gw_config), free_port()) as gw_url, \
                serving(create_cloud(cloud_config, services), free_port()) as cloud_url, \
                httpx.Client(timeout=60) as http:
            gw = {"X-API-Key": API_KEY}
            api = f"{cloud_url}/fleet/v1/locations"
            while not any(s.online for s in services.fleet.list_sites()
                          if s.site_id == GATEWAY_SITE):
                time.sleep(0.05)
            while not http.get(f"{gw_url}/lockers", params={"available": True},
                               headers=gw).json():  # the boards answer: doors known
                time.sleep(0.1)
            canned = http.get(f"{gw_url}/lockers", headers=gw).json()
            sims = SimulatedSites(url, passwords, canned)
            rows, started = [], 1
            for n in SITES:
                sims.add([f"sim-{i}" for i in range(started - 1, n - 1)])
                started = n
                rows.append(measure(Urls(http, gw_url, api, locations[GATEWAY_SITE],
                                         locations[f"sim-{n // 2}"], key), n))
        print(f"{CALLS} sequential calls per figure; p50 / p99 in ms")
        print("sites  lockers: direct   fleet (ratio)       sim-site    "
              "create: direct   fleet (ratio)")
        for n, dl, fl, sl, dc, fc in rows:
            print(f"{n:5}  {dl[0]:6.1f}/{dl[1]:6.1f}  {fl[0]:6.1f}/{fl[1]:6.1f} "
                  f"({fl[0] / dl[0]:4.1f}x)  {sl[0]:5.1f}/{sl[1]:6.1f}  "
                  f"{dc[0]:6.1f}/{dc[1]:6.1f}  {fc[0]:6.1f}/{fc[1]:6.1f} ({fc[0] / dc[0]:4.1f}x)")
    finally:
        if sims is not None:
            sims.close()
        broker.terminate()
        broker.wait(30)
