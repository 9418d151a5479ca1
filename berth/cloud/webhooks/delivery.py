"""Webhook delivery: the outbox consumer that turns events into delivery rows, and the worker
that sends them.

The consumer only writes rows (durable, in the database, deduplicated by ``webhook-id``), so an
outbox event is marked dispatched once every matching endpoint has its delivery. The worker
takes each enabled endpoint's oldest pending delivery when it is due (an endpoint's next event
waits for the one before), leases it (a worker that dies loses the lease; the delivery is sent
again: at least once, same ``webhook-id``), posts it signed with the Standard Webhooks scheme
(10 s timeout), and records the attempt. A failure is retried after an exponential backoff with
jitter, without limit; an endpoint failing for ``disable_after`` is disabled and its partner
gets an ``endpoint.disabled`` event. Retry times use the injectable ``clock``; the signature's
``webhook-timestamp`` is the real time of sending (``wall``), which receivers check against
their own clock.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, RowMapping
from standardwebhooks import Webhook

from berth.cloud.events import outbox
from berth.cloud.webhooks import repository as repo
from berth.cloud.webhooks.policy import WebhookPolicy
from berth.cloud.webhooks.service import FAILING, WebhooksService
from berth.contracts.cloud import PartnerEvent
from berth.domain.errors import InvalidInput
from berth.kit.clock import Clock, utcnow

log = logging.getLogger("berth.cloud.webhooks")
ATTEMPT_TIMEOUT = 10.0  # seconds per attempt
LEASE = 2 * ATTEMPT_TIMEOUT  # seconds a worker holds a delivery it sends; then another may
EXCERPT = 500  # characters of the answer kept in the delivery log


@dataclass
class WebhookConsumer:
    """The outbox consumer: one delivery row per matching endpoint (``Consumer`` protocol)."""

    webhooks: WebhooksService

    def handle(self, event: PartnerEvent) -> None:
        self.webhooks.enqueue(event)


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int | None
    excerpt: str


@dataclass
class DeliveryWorker:
    webhooks: WebhooksService
    wall: Clock = utcnow  # the webhook-timestamp: real time, checked by the receiver
    rng: random.Random = field(default_factory=random.Random)
    batch: int = 20
    transport: httpx.BaseTransport | None = None

    @property
    def policy(self) -> WebhookPolicy:
        return self.webhooks.policy

    @property
    def clock(self) -> Clock:
        return self.webhooks.ctx.clock

    def run_once(self) -> int:
        """Send every endpoint's due head delivery once (endpoints in parallel); returns how
        many attempts were made."""
        now = self.clock()
        with self.webhooks.ctx.db.write() as conn:
            heads = repo.due_heads(conn, now, self.batch)
            until = now + timedelta(seconds=LEASE)
            taken = [h for h in heads if repo.lease(conn, h["id"], now, until)]
        if not taken:
            return 0
        with ThreadPoolExecutor(max_workers=min(8, len(taken))) as pool:
            list(pool.map(self._attempt, taken))
        return len(taken)

    def _attempt(self, delivery: RowMapping) -> None:
        with self.webhooks.ctx.db.read() as conn:
            endpoint = repo.endpoint(conn, None, delivery["endpoint_id"])
        if endpoint is None:
            return
        outcome = self._send(endpoint, delivery)
        self._record(endpoint, delivery, outcome)

    def _send(self, endpoint: RowMapping, delivery: RowMapping) -> Outcome:
        try:
            self.policy.check_target(endpoint["url"])  # again: DNS may have changed
        except InvalidInput as refused:
            return Outcome(None, None, f"not sent: {refused.code}")
        sent_at = self.wall()
        body = delivery["body"]
        signatures = " ".join(
            Webhook(secret).sign(delivery["message_id"], sent_at, body)
            for secret in self.webhooks.signing_secrets(endpoint, self.clock()))
        headers = {"content-type": "application/json", "user-agent": "Berth-Webhooks/1",
                   "webhook-id": delivery["message_id"],
                   "webhook-timestamp": str(int(sent_at.timestamp())),
                   "webhook-signature": signatures}
        start = time.monotonic()
        try:
            with httpx.Client(timeout=ATTEMPT_TIMEOUT, follow_redirects=False,
                              transport=self.transport) as client:
                answer = client.post(endpoint["url"], content=body.encode(), headers=headers)
        except httpx.HTTPError as err:
            return Outcome(None, None, f"no answer: {type(err).__name__}: {err}"[:EXCERPT])
        latency = int((time.monotonic() - start) * 1000)
        return Outcome(answer.status_code, latency, answer.text[:EXCERPT])

    def _record(self, endpoint: RowMapping, delivery: RowMapping, outcome: Outcome) -> None:
        now = self.clock()
        ok = outcome.status_code is not None and 200 <= outcome.status_code < 300
        attempts = delivery["attempts"] + 1
        values = dict(attempts=attempts, lease_until=None, last_status_code=outcome.status_code,
                      last_latency_ms=outcome.latency_ms, last_response=outcome.excerpt)
        with self.webhooks.ctx.write() as conn:
            current = repo.endpoint(conn, None, endpoint["id"])
            if current is None:  # deleted meanwhile
                return
            if ok:
                repo.update_delivery(conn, delivery["id"], dict(
                    values, status="succeeded", delivered_at=now, next_attempt_at=None))
                if current["failing_since"] is not None:
                    repo.update_endpoint(conn, endpoint["id"], dict(failing_since=None))
                return
            wait = self.policy.backoff(attempts, self.rng)
            repo.update_delivery(conn, delivery["id"], dict(
                values, next_attempt_at=now + timedelta(seconds=wait)))
            since = current["failing_since"] or now
            if current["failing_since"] is None:
                repo.update_endpoint(conn, endpoint["id"], dict(failing_since=now))
            if current["enabled"] and now - since >= timedelta(seconds=self.policy.disable_after):
                self._disable(conn, current, since, now)

    @staticmethod
    def _disable(conn: Connection, endpoint: RowMapping, since: datetime, now: datetime) -> None:
        repo.update_endpoint(conn, endpoint["id"], dict(enabled=False, disabled_reason=FAILING))
        outbox.emit(conn, [endpoint["partner_id"]], "endpoint.disabled", "", None, now, {
            "webhook_endpoint_id": endpoint["id"], "url": endpoint["url"],
            "failing_since": since.isoformat(), "reason": FAILING})
        log.warning("webhook endpoint %s disabled: failing since %s", endpoint["id"], since)
