"""Replacing a failed lock controller, against byte-level simulated Kerong boards (sim://)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from berth.hardware import embedded_sim
from berth.hardware.protocols import kerong
from tests.gateway.admin.test_admin import login
from tests.gateway.conftest import AUTH
from tests.gateway.doors.test_real_driver import POLICY, demo_site_on
from tests.support.waiting import wait_until


@pytest.fixture
def bus() -> Iterator[str]:
    yield f"sim://replace-{uuid.uuid4().hex[:8]}"
    embedded_sim.stop_all()


@pytest.fixture
def owner(gateway_factory: Callable[..., TestClient], db_url: str, bus: str) -> TestClient:
    """The demo site on a simulated bus (boards 0, 1, 2; 3-15 spare), logged in as owner."""
    client = gateway_factory(db_url, demo_site_on(bus, close_after=0.5), controllers=None,
                             policy=POLICY)
    token = login(client)
    client.headers["X-CSRF-Token"] = token
    return client


def online(client: TestClient, controller_id: str) -> bool:
    rows = client.get("/admin/api/controllers").json()
    return next(r for r in rows if r["controllerId"] == controller_id)["online"]


def test_a_new_board_takes_over_the_lockers_of_a_dead_one(owner: TestClient, bus: str) -> None:
    sim = embedded_sim.simulator(bus, "kerong")
    assert sim is not None
    wait_until(lambda: online(owner, "bank-b"), "bank-b never came online")
    sim.inject("silent", board=1)  # bank-b's board dies
    wait_until(lambda: not online(owner, "bank-b"), "bank-b never went offline")

    r = owner.post("/admin/api/controllers/bank-b/replace", json={"address": 5})
    assert r.status_code == 200, r.text
    assert r.json()["address"] == 5
    wait_until(lambda: online(owner, "bank-b"), "the new board never answered")
    opened = owner.post("/lockers/13/open", headers=AUTH).json()  # bank B's first locker
    assert opened["success"] is True, opened
    unlocks = sim.call(lambda: [(f.board, f.lock) for f in sim.sim.log if f.cmd == kerong.UNLOCK])
    assert unlocks[-1] == (5, 1)
    config = owner.get("/lockers/13/config", headers=AUTH).json()
    assert config["controllerAddress"] == 5 and config["channel"] == 1
    logs = owner.get("/system/logs", headers=AUTH).json()
    assert any(e["event"] == "CONTROLLER_REPLACED" for e in logs)


def test_replacing_needs_an_owner_a_token_and_a_free_address(owner: TestClient) -> None:
    assert owner.post("/admin/api/controllers/bank-b/replace", json={"address": 0}
                      ).json()["error"] == "ADDRESS_IN_USE"
    assert owner.post("/admin/api/controllers/nope/replace", json={"address": 9}
                      ).status_code == 404
    assert owner.post("/admin/api/controllers/bank-b/replace", json={"address": 9},
                      headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert owner.post("/admin/api/controllers/bank-b/replace", json={"address": 300}
                      ).status_code == 400
