"""A cloud on real SQLite with the demo data, a fake clock and an HTTP client per test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth.cloud.app import build_service, create_app
from berth.cloud.seed import seed_demo
from berth.cloud.services import CloudServices
from berth.cloud.webhooks.policy import WebhookPolicy
from berth.domain.tokens import sign_event
from berth.kit.clock import FakeClock
from tests.support.configs import cloud_config, isolated_settings
from tests.support.waiting import BOUND


@dataclass
class Cloud:
    http: TestClient
    service: CloudServices
    clock: FakeClock
    seed: dict[str, Any]
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _seq: int = 0

    @property
    def tower_id(self) -> str:
        return self.seed["tower_id"]

    def creds(self, who: str) -> dict[str, str]:
        return self.seed["operator"] if who == "operator" else self.seed["partners"][who]

    def headers(self, who: str = "demo", scope: str = "service_provider") -> dict[str, str]:
        """A Bearer header for ``who`` (demo, other, operator) with one scope (cached)."""
        key = (who, scope)
        if key not in self._tokens:
            c = self.creds(who)
            r = self.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": scope, **c},
            )
            assert r.status_code == 200, r.text
            self._tokens[key] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    def lockers_url(self, tower_id: str | None = None) -> str:
        return f"/api/v1/towers/{tower_id or self.tower_id}/lockers"

    def locker_ids(self) -> list[int]:
        r = self.http.get(self.lockers_url(), headers=self.headers())
        return [lk["id"] for lk in r.json()]

    def state(self, locker_id: int) -> str:
        r = self.http.get(f"{self.lockers_url()}/{locker_id}", headers=self.headers())
        return r.json()["status"]["name"]

    def tower_key(self) -> Ed25519PrivateKey:
        prov = self.service.towers.provisioning(self.tower_id)
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(prov.tower_private_key))

    def event(self, type_: str, **fields: Any) -> dict[str, Any]:
        """The next event of the tower's log, signed by the tower."""
        self._seq += 1
        body = {
            "tower_id": self.tower_id,
            "seq": self._seq,
            "type": type_,
            "timestamp": int(self.clock().timestamp()),
            **fields,
        }
        return sign_event(body, self.tower_key())

    def post_events(self, *events: dict[str, Any], who: str = "demo") -> Any:
        return self.http.post(
            f"/sdk/v1/towers/{self.tower_id}/events",
            json={"events": list(events)},
            headers=self.headers(who, "tower_access"),
        )


def make_cloud(
    db_url: str, data_dir: Path, sweep_interval: float = 0, **overrides: Any
) -> Iterator[Cloud]:
    """``overrides`` are further CloudConfig fields (limits, hashing caps)."""
    clock = FakeClock()
    clock.now = clock.now.replace(year=2030)  # a future date: real-time libraries stay out
    config = cloud_config(
        db_url=db_url, data_dir=data_dir, clock=clock, sweep_interval=sweep_interval, **overrides
    )
    service = build_service(config)
    seed = seed_demo(service)
    with TestClient(create_app(config, service)) as http:
        yield Cloud(http, service, clock, seed)


def local_webhooks(delivery_interval: float) -> WebhookPolicy:
    """Webhook policy of a test cloud whose partners' receivers run on this machine."""
    settings = isolated_settings(cloud={"webhooks_allow_private": True,
                                        "webhooks_delivery_interval": delivery_interval})
    return cloud_config("sqlite://", Path("unused"), settings).webhooks


@pytest.fixture
def cloud(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(sqlite_url, tmp_path / "data")


def wait_until(check: Any, timeout: float = BOUND) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
