"""The issue's acceptance: kill -9 a real `berth cloud serve` between a state change and its
dispatch, start it again, and each event of the change is dispatched exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from berth.cloud.app import build_service
from berth.cloud.events.dispatch import JsonLinesConsumer
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.cloud.tables import outbox
from tests.cloud.conftest import wait_until
from tests.support.configs import cloud_config
from tests.support.waiting import HTTP_TIMEOUT, SERVER_START

BERTH = str(Path(sys.executable).parent / "berth")


@contextmanager
def cloud_process(db_url: str, data: Path, port: int, interval: float, jsonl: Path,
                  **more_env: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "BERTH_DATA_DIR": str(data),
           "BERTH_CLOUD_OUTBOX_DISPATCH_INTERVAL": str(interval),
           "BERTH_CLOUD_OUTBOX_JSONL": str(jsonl), "BERTH_CLOUD_SWEEP_INTERVAL": "0", **more_env}
    log = (data / f"cloud-{port}.log").open("w")
    proc = subprocess.Popen([BERTH, "cloud", "serve", "--port", str(port), "--db", db_url],
                            env=env, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert proc.poll() is None, (data / f"cloud-{port}.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=SERVER_START)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)
        log.close()


def undispatched(service: CloudServices) -> int:
    with service.db.read() as conn:
        query = select(outbox.c.id).where(outbox.c.dispatched_at.is_(None))
        return len(conn.execute(query).all())


def test_kill_9_before_dispatch_then_restart_dispatches_each_event_once(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data, jsonl = tmp_path / "data", tmp_path / "dispatched.jsonl"
    service = build_service(cloud_config(db_url=db_url, data_dir=data, sweep_interval=0))
    creds = service.partners.create_partner("p")
    tower = service.towers.create_tower("t")
    locker = service.lockers.add_lockers(tower.id, [LockerCreate(name="1")])[0].id
    service.towers.assign_tower(tower.id, creds.partner_id)  # type: ignore[arg-type]
    token = service.auth.issue_access_token(creds.client_id, creds.client_secret, None).access_token

    port = free_port()
    with cloud_process(db_url, data, port, 0, jsonl) as proc:  # dispatching off
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/towers/{tower.id}/lockers/{locker}"
                       "/reservations", json={"duration": 600},
                       headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 201, r.text
        assert undispatched(service) == 2  # committed with the reservation, not yet sent
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert JsonLinesConsumer(jsonl).read() == []

    port = free_port()
    with cloud_process(db_url, data, port, 0.05, jsonl):
        wait_until(lambda: undispatched(service) == 0)
        wait_until(lambda: len(JsonLinesConsumer(jsonl).read()) >= 2)
    lines = JsonLinesConsumer(jsonl).read()
    assert {e["type"] for e in lines} == {"locker.state_changed", "reservation.created"}
    assert {e["tower_id"] for e in lines} == {tower.id}

    # Once more: a later change is dispatched after a restart, the earlier ones are not again.
    port = free_port()
    with cloud_process(db_url, data, port, 0.05, jsonl):
        service.reservations.cancel_reservation(creds.partner_id, tower.id, locker,  # type: ignore[arg-type]
                                   r.json()["id"])
        wait_until(lambda: undispatched(service) == 0)
        wait_until(lambda: len(JsonLinesConsumer(jsonl).read()) >= 4)
    seen = Counter((e["partner_id"], e["position"]) for e in JsonLinesConsumer(jsonl).read())
    assert seen == {(creds.partner_id, n): 1 for n in (1, 2, 3, 4)}
    service.db.dispose()
