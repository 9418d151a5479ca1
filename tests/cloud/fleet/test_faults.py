"""Faults on the real broker: the broker restarted mid-request, a gateway killed mid-open.
Either way a request ends in a clear outcome and a door never fires twice for one request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from berth.fleet import protocol as p
from berth.gateway import tables as gt
from berth.gateway.site import load_site
from berth.storage.engine import Database
from tests.cloud.fleet.conftest import Fleet
from tests.gateway.conftest import simulated
from tests.support.fleet import MqttProbe, gated
from tests.support.waiting import SERVER_START, wait_until

ASYNC = {"Prefer": "respond-async"}


def _open_async(fleet: Fleet, key: str) -> str:
    r = fleet.cloud.post(f"/fleet/v1/locations/{fleet.locations['depot-1']}/lockers/1/open",
                         headers=fleet.headers(**ASYNC, **{"Idempotency-Key": key}))
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _view(fleet: Fleet, request_id: str) -> dict[str, Any]:
    service = fleet.service.fleet
    return service.request_view(service.authenticate(fleet.keys["acme"]), request_id)


def _settled(fleet: Fleet, request_id: str) -> dict[str, Any]:
    wait_until(lambda: _view(fleet, request_id)["state"] != "pending",
               f"request {request_id} never settled")
    return _view(fleet, request_id)


def test_a_broker_restart_mid_request_completes_it_once(fleet: Fleet, tmp_path: Path) -> None:
    gate = threading.Event()
    site = load_site()
    controllers = gated(site, gate)
    gw = fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw.db'}", site=site,
                       controllers=controllers)
    request_id = _open_async(fleet, "door-1")
    wait_until(lambda: any(c.entered.is_set() for c in controllers.values()),
               "the door never began to open")
    fleet.broker.kill()  # a crash: no clean shutdown, every session and message gone
    fleet.broker.start()
    gate.set()
    done = _settled(fleet, request_id)
    assert (done["state"], done["status"]) == ("done", 200), done
    assert done["body"]["success"] is True
    assert sum(len(c.unlocks) for c in controllers.values()) == 1  # once, re-sends or not
    logs = gw.get("/system/logs", params={"lockerId": 1}).json()
    assert sum(1 for e in logs if e["event"] == "LOCKER_OPENED") == 1
    again = fleet.cloud.post(f"/fleet/v1/locations/{fleet.locations['depot-1']}/lockers/1/open",
                             headers=fleet.headers(**{"Idempotency-Key": "door-1"}))
    assert again.status_code == 200 and again.headers["x-fleet-request-id"] == request_id
    assert sum(len(c.unlocks) for c in controllers.values()) == 1


def test_a_gateway_killed_mid_open_goes_offline_and_the_request_ends_interrupted(
        fleet: Fleet, tmp_path: Path, free_port: Any) -> None:
    db_url = f"sqlite:///{tmp_path / 'gw.db'}"
    fleet.broker.add_user("depot-1", "depot-1-pw")
    log = (tmp_path / "gateway.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fleet_gateway", db_url, fleet.broker.url,
         "depot-1", "depot-1-pw", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        wait_until(lambda: proc.poll() is None and fleet.online("depot-1"),
                   "the gateway process never came online", SERVER_START)
        request_id = _open_async(fleet, "door-2")
        db = Database(db_url)
        try:
            wait_until(lambda: _running(db, request_id), "the gateway never began the request")
        finally:
            db.dispose()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(60)
        # the broker's Last Will: offline within 1.5x the keep-alive (3 s), not at a next poll
        wait_until(lambda: not fleet.online("depot-1"), "never offline", bound=3 * 1.5 + 10)
        assert _view(fleet, request_id)["state"] == "pending"
        refused = fleet.cloud.post(
            f"/fleet/v1/locations/{fleet.locations['depot-1']}/lockers/2/open",
            headers=fleet.headers(**{"Idempotency-Key": "door-3"}))
        assert refused.status_code == 503 and refused.json()["code"] == "SITE_OFFLINE"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(60)
        log.close()
    site = load_site()
    controllers = simulated(site)
    fleet.gateway("depot-1", db_url, site=site, controllers=controllers)  # back: re-sent
    ended = _settled(fleet, request_id)
    assert (ended["state"], ended["outcome"]) == ("failed", "interrupted"), ended
    assert "not executed again" in ended["detail"]
    assert all(not c.unlocks for c in controllers.values())  # never run a second time


def _running(db: Database, request_id: str) -> bool:
    try:
        with db.read() as conn:
            state = conn.execute(select(gt.fleet_requests.c.state).where(
                gt.fleet_requests.c.request_id == request_id)).scalar()
    except Exception:  # the table may not exist yet while the gateway migrates
        return False
    return state == "running"


def test_a_site_cannot_answer_another_sites_request(fleet: Fleet, tmp_path: Path) -> None:
    """A rogue site publishing a forged answer (under its own name, as the ACL forces) for
    another site's request id is ignored; the real site's answer stands."""
    gate = threading.Event()
    site = load_site()
    controllers = gated(site, gate)
    fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw.db'}", site=site,
                  controllers=controllers)
    request_id = _open_async(fleet, "door-4")
    wait_until(lambda: any(c.entered.is_set() for c in controllers.values()), "not opening")
    fleet.broker.add_user("depot-2", "depot-2-pw")
    rogue = MqttProbe(fleet.broker, "depot-2", "depot-2-pw")
    try:
        link = fleet.service.fleet.link
        assert link is not None
        forged = p.Response(request_id, "done", 200, {"success": True, "forged": True})
        rogue.publish(p.responses_topic("depot-2", link.requester), forged.encode(),
                      correlation=request_id.encode())
        # one client's messages arrive in order: once its presence is in, so was the forgery
        rogue.publish(p.presence_topic("depot-2"), p.Presence("depot-2", True).encode(),
                      retain=True)
        fleet.wait_online("depot-2")
        assert _view(fleet, request_id)["state"] == "pending"
    finally:
        rogue.close()
    gate.set()
    done = _settled(fleet, request_id)
    assert done["state"] == "done" and "forged" not in done["body"]
