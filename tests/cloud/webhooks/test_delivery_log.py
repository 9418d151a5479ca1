"""The delivery log and redelivery over HTTP, on real SQLite with a real receiver."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.cloud.events.dispatch import Dispatcher
from berth.cloud.webhooks.delivery import DeliveryWorker, WebhookConsumer
from tests.cloud.conftest import Cloud, local_webhooks, make_cloud
from tests.cloud.webhooks.receiver import Receiver


@pytest.fixture
def local(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """Private targets allowed; dispatching and delivery run by hand in the test."""
    policy = local_webhooks(0)
    yield from make_cloud(sqlite_url, tmp_path / "data", webhooks=policy,
                          outbox_dispatch_interval=0)


def send(c: Cloud) -> None:
    Dispatcher(c.service.db, [WebhookConsumer(c.service.webhooks)], clock=c.clock).run_once()
    DeliveryWorker(c.service.webhooks, rng=random.Random(1)).run_once()


def test_the_log_shows_attempts_and_redeliver_sends_again(
    local: Cloud, free_port: Callable[[], int]
) -> None:
    c = local
    receiver = Receiver(free_port(), status=500)
    made = c.http.post("/api/v1/webhooks", json={"url": receiver.url},
                       headers=c.headers()).json()
    base = f"/api/v1/webhooks/{made['id']}"
    lid = c.locker_ids()[0]
    c.http.post(f"{c.lockers_url()}/{lid}/reservations", json={"duration": 60},
                headers=c.headers())
    send(c)  # nobody listening
    [*_, first] = c.http.get(f"{base}/deliveries", headers=c.headers()).json()
    assert first["status"] == "pending" and first["attempts"] == 1
    assert first["last_status_code"] is None and first["latency_ms"] is None
    assert first["response_excerpt"].startswith("no answer: ConnectError")
    assert first["next_attempt_at"] > c.clock().isoformat()
    receiver.start()
    try:
        receiver.status = 500
        c.clock.advance(60)  # past the backoff (10 s, then 20 s at most)
        send(c)
        [*_, first] = c.http.get(f"{base}/deliveries", headers=c.headers()).json()
        assert first["attempts"] == 2 and first["last_status_code"] == 500
        assert first["response_excerpt"] == "thanks" and first["latency_ms"] >= 0
        receiver.status = 204
        c.clock.advance(60)  # past the backoff (10 s, then 20 s at most)
        for _ in range(3):
            send(c)
        log = c.http.get(f"{base}/deliveries", headers=c.headers()).json()
        assert [d["status"] for d in log] == ["succeeded", "succeeded"]
        assert log[-1]["delivered_at"] and log[-1]["next_attempt_at"] is None
        sent = len(receiver.got)
        r = c.http.post(f"{base}/deliveries/{log[-1]['id']}/redeliver", headers=c.headers())
        assert r.status_code == 202 and r.json()["status"] == "pending"
        send(c)
        assert len(receiver.got) == sent + 1
        assert receiver.got[-1].headers["webhook-id"] == log[-1]["webhook_id"]
        receiver.got[-1].verify(made["secret"])
    finally:
        receiver.stop()
    r = c.http.post(f"{base}/deliveries/999/redeliver", headers=c.headers())
    assert r.status_code == 404 and r.json()["code"] == "WEBHOOK_DELIVERY_NOT_FOUND"
    r = c.http.post(f"{base}/deliveries/{log[-1]['id']}/redeliver", headers=c.headers("other"))
    assert r.status_code == 404 and r.json()["code"] == "WEBHOOK_NOT_FOUND"


def test_excerpts_are_cut_at_500_characters(local: Cloud, free_port: Callable[[], int]) -> None:
    c = local
    receiver = Receiver(free_port(), status=400, answer=b"x" * 2000).start()
    try:
        made = c.http.post("/api/v1/webhooks", json={"url": receiver.url},
                           headers=c.headers()).json()
        c.http.post(f"{c.lockers_url()}/{c.locker_ids()[0]}/reservations",
                    json={"duration": 60}, headers=c.headers())
        send(c)
    finally:
        receiver.stop()
    log = c.http.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=c.headers()).json()
    assert log[-1]["response_excerpt"] == "x" * 500 and log[-1]["last_status_code"] == 400
