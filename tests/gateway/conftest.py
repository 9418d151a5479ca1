"""Gateway fixtures: a real app on a real database, with fast in-process simulated controllers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from berth.gateway.app import create_app
from berth.gateway.config import GatewayConfig
from berth.gateway.site import Site, load_site
from berth.hardware.opening import OpenPolicy
from berth.hardware.simulated import SimulatedController
from berth.kit.settings import Settings
from tests.support.configs import gateway_config
from tests.support.waiting import SERVER_START

API_KEY = "test-key-0123456789"
AUTH = {"X-API-Key": API_KEY}
FAST_POLICY = OpenPolicy(attempt_timeout=1.0, attempts=2, retry_gap=0.01, confirm_timeout=0.15,
                         confirm_poll=0.01)
CURL_EXAMPLE = {
    "transactionId": "string", "preferredLockerType": "medium", "preferredAttributes": ["low"],
    "widthInches": 18, "heightInches": 24, "lengthInches": 12, "allowFallback": True,
    "attributesRequired": True, "matchingStrategy": "do_not_tip",
}


def simulated(site: Site, close_after: float | None = 0.3) -> dict[str, SimulatedController]:
    return {c.controller_id: SimulatedController(c.controller_id, c.channels, close_after)
            for c in site.controllers}


def make_config(db_url: str, site: Site | None = None, settings: Settings | None = None,
                **overrides: object) -> GatewayConfig:
    """A fast gateway (simulated controllers, no mDNS); ``overrides`` are GatewayConfig fields."""
    site = site or load_site()
    values: dict = {"site": site, "api_key": API_KEY, "policy": FAST_POLICY,
                    "open_all_gap": 0.001, "door_poll_interval": 0.05,
                    "controllers": simulated(site), "mdns": False}
    values.update(overrides)
    return gateway_config(db_url, settings, **values)


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., TestClient]]:
    """Start gateways (lifespan included) and stop them at the end of the test."""
    clients: list[TestClient] = []

    def start(db_url: str, site: Site | None = None, **overrides: object) -> TestClient:
        client = TestClient(create_app(make_config(db_url, site, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(gateway_factory: Callable[..., TestClient], sqlite_url: str) -> TestClient:
    """A gateway on SQLite with the demo site, authenticated by default."""
    c = gateway_factory(sqlite_url)
    c.headers.update(AUTH)
    return c


@pytest.fixture
def any_client(gateway_factory: Callable[..., TestClient], db_url: str) -> TestClient:
    """The same, once per engine (SQLite and PostgreSQL)."""
    c = gateway_factory(db_url)
    c.headers.update(AUTH)
    return c


class ServerProcess:
    """``berth gateway serve`` in a real subprocess (uvicorn), for multi-process tests."""

    def __init__(self, db_url: str, port: int, data_dir: Path, site: Path | None = None) -> None:
        env = os.environ | {"BERTH_GATEWAY_API_KEY": API_KEY, "BERTH_DATA_DIR": str(data_dir)}
        cmd = [str(Path(sys.executable).parent / "berth"), "gateway", "serve", "--port", str(port),
               "--db", db_url, "--no-mdns"]
        if site is not None:
            cmd += ["--site", str(site)]
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir / f"server-{port}.log"
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = SERVER_START) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready: {self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
