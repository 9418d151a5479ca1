"""Webhook delivery on real SQLite and PostgreSQL to a real HTTP receiver, verified with the
`standardwebhooks` library: down then up, order, once per webhook-id, tampering, rotation,
backoff and disabling on a FakeClock."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select
from standardwebhooks import WebhookVerificationError

from berth.cloud.app import build_service
from berth.cloud.events.dispatch import Dispatcher
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.cloud.tables import outbox, webhook_deliveries
from berth.cloud.webhooks.delivery import DeliveryWorker, WebhookConsumer
from berth.cloud.webhooks.schemas import WebhookCreate, WebhookUpdate
from berth.domain.tokens import TokenKind
from berth.kit.clock import FakeClock
from tests.cloud.webhooks.receiver import Receiver
from tests.support.configs import cloud_config, isolated_settings

LOCAL = isolated_settings(cloud={"webhooks_allow_private": True})


@dataclass
class Hooks:
    service: CloudServices
    clock: FakeClock
    pid: int
    tower: str
    lockers: list[int]
    receiver: Receiver
    worker: DeliveryWorker

    def dispatch(self) -> None:
        Dispatcher(self.service.db, [WebhookConsumer(self.service.webhooks)],
                   clock=self.clock).run_once()

    def deliver_all(self, rounds: int = 200) -> None:
        """Dispatch, then attempt due deliveries, moving the clock past each backoff, until
        nothing is pending."""
        self.dispatch()
        for _ in range(rounds):
            self.worker.run_once()
            if not self.pending():
                return
            self.clock.advance(self.service.webhook_policy.retry_max)
        raise AssertionError("deliveries still pending")

    def pending(self) -> int:
        with self.service.db.read() as conn:
            return len(conn.execute(select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.status == "pending")).all())

    def endpoint(self, **fields: object) -> str:
        made = self.service.webhooks.create(self.pid, WebhookCreate(url=self.receiver.url,
                                                                    **fields))  # type: ignore[arg-type]
        self.secret = made.secret
        return made.id


@pytest.fixture
def hooks(db_url: str, tmp_path: Path, free_port: Callable[[], int]) -> Iterator[Hooks]:
    clock = FakeClock()
    service = build_service(cloud_config(db_url=db_url, data_dir=tmp_path, settings=LOCAL,
                                         clock=clock, sweep_interval=0))
    pid = service.partners.create_partner("p").partner_id
    assert pid is not None
    tower = service.towers.create_tower("t")
    service.lockers.add_lockers(tower.id, [LockerCreate(name=str(i)) for i in range(6)])
    service.towers.assign_tower(tower.id, pid)
    lockers = [lk.id for lk in service.lockers.list_lockers(pid, tower.id)]
    receiver = Receiver(free_port())
    yield Hooks(service, clock, pid, tower.id, lockers, receiver,
                DeliveryWorker(service.webhooks, rng=random.Random(7)))
    receiver.stop()
    service.db.dispose()


def test_receiver_down_then_up_gets_every_event_in_order_once(hooks: Hooks) -> None:
    h = hooks
    wid = h.endpoint()
    for lk in h.lockers[:3]:  # 6 events: state change + reservation.created each
        h.service.reservations.create_reservation(h.pid, h.tower, lk, 600)
    h.dispatch()
    for _ in range(5):  # down: connection refused, retried later, the next waits
        assert h.worker.run_once() == 1
        h.clock.advance(h.service.webhook_policy.retry_max)
    assert h.receiver.got == []
    h.receiver.start()
    h.deliver_all()
    got = h.receiver.got
    assert Counter(h.receiver.ids()).most_common(1)[0][1] == 1 and len(got) == 6
    bodies = [r.verify(h.secret) for r in got]
    assert [b["data"]["position"] for b in bodies] == [1, 2, 3, 4, 5, 6]  # type: ignore[index]
    assert {b["type"] for b in bodies} == {"locker.state_changed",  # type: ignore[index]
                                           "reservation.created"}
    first = h.service.webhooks.deliveries(h.pid, wid)
    oldest = first[-1]
    assert oldest.attempts == 6 and oldest.status == "succeeded"
    assert oldest.last_status_code == 200 and oldest.response_excerpt == "thanks"
    h.dispatch()  # an event handed over twice (a crash before marking) is delivered once
    h.worker.run_once()
    assert len(h.receiver.got) == 6


def test_a_tampered_body_fails_the_standard_verifier(hooks: Hooks) -> None:
    h = hooks
    h.endpoint()
    h.receiver.start()
    h.service.reservations.create_reservation(h.pid, h.tower, h.lockers[0], 600)
    h.deliver_all()
    got = h.receiver.got[0]
    assert got.verify(h.secret)
    assert got.headers["webhook-signature"].startswith("v1,")
    tampered = replace(got, body=got.body.replace("600", "601").replace('"Reserved"', '"x"')
                       .replace("reservation", "reservatiom"))
    with pytest.raises(WebhookVerificationError):
        tampered.verify(h.secret)
    with pytest.raises(WebhookVerificationError):
        got.verify("whsec_" + "A" * 32)


def test_token_operations_are_locker_operation_webhooks(hooks: Hooks) -> None:
    h = hooks
    h.endpoint(event_types=["LOCKER_OPERATION"])
    h.receiver.start()
    h.service.tokens.issue_token(h.pid, h.tower, h.lockers[0], TokenKind.DROPOFF, 600,
                                 client_info="courier 7")
    h.deliver_all()
    [got] = h.receiver.got
    body = got.verify(h.secret)
    assert body["type"] == "LOCKER_OPERATION"  # type: ignore[index]
    data = body["data"]  # type: ignore[index]
    assert data["source"] == "LOCKER_TOKEN_CREATED" and data["client_info"] == "courier 7"
    assert data["locker_id"] == h.lockers[0] and data["tower_id"] == h.tower
    assert data["open_locker_token_id"] and data["locker_status"] == "rented"
    assert set(data) >= {"timestamp", "reservation_id", "keypad_code"}


def test_rotation_overlap_sends_both_signatures(hooks: Hooks) -> None:
    h = hooks
    wid = h.endpoint()
    old = h.secret
    h.receiver.start()
    new = h.service.webhooks.rotate_secret(h.pid, wid).secret
    h.service.reservations.create_reservation(h.pid, h.tower, h.lockers[0], 600)
    h.deliver_all()
    got = h.receiver.got[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    got.verify(old)
    got.verify(new)
    h.clock.advance(24 * 3600 + 1)  # the overlap is over: only the new secret signs
    h.service.reservations.create_reservation(h.pid, h.tower, h.lockers[1], 600)
    h.deliver_all()
    got = h.receiver.got[-1]
    got.verify(new)
    with pytest.raises(WebhookVerificationError):
        got.verify(old)


def test_backoff_grows_with_jitter_and_a_failing_endpoint_is_disabled(hooks: Hooks) -> None:
    h = hooks
    wid = h.endpoint()
    h.service.reservations.create_reservation(h.pid, h.tower, h.lockers[0], 600)
    h.dispatch()
    policy = h.service.webhook_policy
    waits = []
    start = h.clock()
    while h.service.webhooks.get(h.pid, wid).enabled:
        assert h.worker.run_once() == 1
        [head, *_] = sorted(h.service.webhooks.deliveries(h.pid, wid), key=lambda d: d.id)
        assert head.next_attempt_at is not None and head.last_status_code is None
        waits.append((head.next_attempt_at - h.clock()).total_seconds())
        h.clock.now = head.next_attempt_at
    assert policy.retry_base * 0.5 <= waits[0] <= policy.retry_base
    assert waits[3] > waits[0] and max(waits) <= policy.retry_max
    assert (h.clock() - start).total_seconds() >= policy.disable_after  # days, not minutes
    endpoint = h.service.webhooks.get(h.pid, wid)
    assert endpoint.disabled_reason == "FAILING"
    with h.service.db.read() as conn:
        told = conn.execute(select(outbox).where(outbox.c.type == "endpoint.disabled")
                            ).mappings().one()
    assert told["partner_id"] == h.pid and json.loads(told["data"])["webhook_endpoint_id"] == wid
    assert h.worker.run_once() == 0  # disabled: nothing is sent
    h.receiver.start()
    enabled = h.service.webhooks.update(h.pid, wid, WebhookUpdate(enabled=True))
    assert enabled.enabled and enabled.disabled_reason is None and enabled.failing_since is None
    assert h.worker.run_once() == 1  # at once, not after the last backoff
    assert len(h.receiver.got) == 1
