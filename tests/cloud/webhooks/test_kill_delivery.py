"""kill -9 of a real `berth cloud serve` while a webhook is in flight: after a restart every
event reaches the receiver, in order, and nothing is lost (the one in flight may come twice,
with the same webhook-id, which is what the id is for)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from berth.cloud.app import build_service
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.cloud.tables import outbox, webhook_deliveries
from berth.cloud.webhooks.schemas import WebhookCreate
from tests.cloud.webhooks.receiver import Receiver
from tests.e2e.test_outbox_kill import cloud_process
from tests.support.configs import cloud_config, isolated_settings
from tests.support.waiting import wait_until

FAST = {"BERTH_CLOUD_WEBHOOKS_ALLOW_PRIVATE": "true",
        "BERTH_CLOUD_WEBHOOKS_DELIVERY_INTERVAL": "0.05",
        "BERTH_CLOUD_WEBHOOKS_RETRY_BASE": "0.2", "BERTH_CLOUD_WEBHOOKS_RETRY_MAX": "1"}


def settled(service: CloudServices) -> bool:
    with service.db.read() as conn:
        waiting = conn.execute(select(outbox.c.id).where(outbox.c.dispatched_at.is_(None))).all()
        pending = conn.execute(select(webhook_deliveries.c.id)
                               .where(webhook_deliveries.c.status == "pending")).all()
    return not waiting and not pending


def test_kill_9_mid_delivery_loses_nothing(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data = tmp_path / "data"
    settings = isolated_settings(cloud={"webhooks_allow_private": True})
    service = build_service(cloud_config(db_url=db_url, data_dir=data, settings=settings,
                                         sweep_interval=0))
    pid = service.partners.create_partner("p").partner_id
    assert pid is not None
    tower = service.towers.create_tower("t")
    lockers = [lk.id for lk in service.lockers.add_lockers(
        tower.id, [LockerCreate(name=str(i)) for i in range(3)])]
    service.towers.assign_tower(tower.id, pid)
    receiver = Receiver(free_port(), hold=threading.Event()).start()
    made = service.webhooks.create(pid, WebhookCreate(url=receiver.url))
    for lk in lockers:  # 6 events, committed before any cloud process runs
        service.reservations.create_reservation(pid, tower.id, lk, 600)
    jsonl = tmp_path / "events.jsonl"
    try:
        with cloud_process(db_url, data, free_port(), 0.05, jsonl, **FAST) as proc:
            wait_until(lambda: len(receiver.got) == 1, "the first webhook never arrived")
            proc.send_signal(signal.SIGKILL)  # while the receiver holds the first answer
            proc.wait(timeout=30)
        receiver.hold.set()  # type: ignore[union-attr]
        assert not settled(service)
        with cloud_process(db_url, data, free_port(), 0.05, jsonl, **FAST):
            wait_until(lambda: settled(service), "deliveries did not finish after a restart")
    finally:
        receiver.stop()
    bodies = [r.verify(made.secret) for r in receiver.got]
    positions = [b["data"]["position"] for b in bodies]  # type: ignore[index]
    assert sorted(set(positions)) == [1, 2, 3, 4, 5, 6]
    first_seen = list(dict.fromkeys(positions))
    assert first_seen == [1, 2, 3, 4, 5, 6]  # in order
    assert len(receiver.got) - len(set(receiver.ids())) <= 1  # only the one in flight again
    service.db.dispose()
