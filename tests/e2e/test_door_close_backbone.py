"""The backbone's acceptance: one door close, published once on the gateway's bus, is seen by the
audit log, the tower and a test subscriber, and reaches the cloud's outbox exactly once although
the cloud is killed with SIGKILL between applying it and dispatching it.

The gateway runs in this process (so the test can subscribe to its bus) with a simulated board;
the cloud is a real ``berth cloud serve`` process that the tower syncs with over HTTP.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from berth import events as ev
from berth.cloud.app import build_service
from berth.cloud.events.dispatch import JsonLinesConsumer
from berth.cloud.provision import provision_tower
from berth.cloud.seed import seed_demo
from berth.cloud.tables import outbox
from berth.gateway.app import create_app
from berth.gateway.site import load_site, site_lockers
from berth.hardware.simulated import SimulatedController
from berth.sdk.cloud import CloudClient
from tests.e2e.test_outbox_kill import cloud_process
from tests.gateway.conftest import AUTH, make_config
from tests.support.configs import cloud_config, isolated_settings
from tests.support.waiting import wait_until


def outbox_rows(db: Any) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(outbox)).all()]


def test_a_door_close_reaches_every_listener_and_the_outbox_once_across_kill_9(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data, jsonl = tmp_path / "cloud", tmp_path / "dispatched.jsonl"
    gateway_db = f"sqlite:///{tmp_path / 'gateway.db'}"  # the cloud's may be SQLite too
    port = free_port()
    cloud_url = f"http://127.0.0.1:{port}"
    service = build_service(cloud_config(db_url, data, sweep_interval=0))
    creds = seed_demo(service)["partners"]["demo"]
    site = load_site()
    identity = provision_tower(service, "demo", "backbone tower", site_lockers(site),
                               cloud_url=cloud_url)
    controllers = {c.controller_id: SimulatedController(c.controller_id, c.channels,
                                                        close_after=None)
                   for c in site.controllers}

    with cloud_process(db_url, data, port, 0, jsonl) as cloud:  # applies, never dispatches
        fast_sync = isolated_settings(tower={"sync_interval": 0.05, "sync_max_backoff": 0.5})
        gateway = TestClient(create_app(make_config(gateway_db, site, fast_sync,
                                                    controllers=controllers, tower=identity)))
        with gateway:
            gateway.headers.update(AUTH)
            heard: list[ev.DoorEvent] = []
            bus = gateway.app.state.bus  # type: ignore[attr-defined]
            bus.subscribe(heard.append, ev.DoorOpened, ev.DoorClosed, name="test")

            partner = CloudClient(cloud_url, creds["client_id"], creds["client_secret"])
            locker = next(lk for lk in partner.list_lockers(identity.tower_id)
                          if lk.status.id == 1)
            gateway_locker = identity.lockers[locker.id][0]
            drop = partner.create_dropoff_token(identity.tower_id, locker.id, duration=3000)
            opened = gateway.post("/tower/open", json={"payload": drop.payload,
                                                       "payload_auth": drop.payload_auth})
            assert opened.status_code == 200 and opened.json()["success"], opened.text
            wait_until(lambda: any(isinstance(e, ev.DoorOpened) for e in heard),
                       "the door watcher never saw the door open")
            where = site.lockers_by_id[gateway_locker]
            controllers[where.controller_id].close_door(where.channel)

            # the one event, heard by the test subscriber, the audit log and the tower
            def closes() -> list[ev.DoorEvent]:
                return [e for e in heard
                        if isinstance(e, ev.DoorClosed) and e.locker_id == gateway_locker]

            wait_until(closes, "the test subscriber never heard the door close")
            assert len(closes()) == 1

            def audit() -> list[dict[str, Any]]:
                logs = gateway.get("/system/logs", params={"lockerId": gateway_locker})
                return [e for e in logs.json() if e["event"] == "DOOR_CLOSED"]

            wait_until(lambda: audit(), "the audit log never wrote DOOR_CLOSED")
            assert len(audit()) == 1

            def tower_events(kind: str) -> list[dict[str, Any]]:
                page = gateway.get("/tower/events", params={"after": 0, "limit": 500}).json()
                return [e for e in page["events"] if e["type"] == kind]

            wait_until(lambda: tower_events("dropoff_token_used"),
                       "the tower never spent the drop-off token")

            # the tower syncs it; the cloud applies it (outbox rows written), dispatch is off
            def state() -> str:
                return partner.get_locker(identity.tower_id, locker.id).status.name

            wait_until(lambda: state() == "occupied", "the cloud never saw the parcel")
            pending = [r for r in outbox_rows(service.db) if r["dispatched_at"] is None]
            assert any(r["type"] == "locker.state_changed" for r in pending)
            cloud.send_signal(signal.SIGKILL)
            cloud.wait(timeout=30)

            # the tower retries against a dead cloud meanwhile; nothing is applied twice
            with cloud_process(db_url, data, port, 0.05, jsonl):
                wait_until(lambda: all(r["dispatched_at"] is not None
                                       for r in outbox_rows(service.db)),
                           "the restarted cloud never dispatched its outbox")
    sent = JsonLinesConsumer(jsonl).read()
    rows = outbox_rows(service.db)
    assert len(sent) == len(rows)  # every event dispatched, none twice
    assert Counter((e["partner_id"], e["position"]) for e in sent).most_common(1)[0][1] == 1
    occupied = [e for e in sent if e["type"] == "locker.state_changed"
                and e["locker_id"] == locker.id and e["data"]["to"] == "occupied"]
    assert len(occupied) == 1, [(e["type"], e["locker_id"], e["data"]) for e in sent]
    service.db.dispose()
