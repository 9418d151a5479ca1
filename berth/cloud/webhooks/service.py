"""A partner's webhook endpoints, their secrets, and the deliveries each outbox event becomes.

Secrets are Standard Webhooks secrets (``whsec_`` + base64 of 24 random bytes), shown once and
kept sealed under the cloud's vault key (AES-GCM, bound to the endpoint id): the cloud must be
able to sign with them, so they cannot be hashed, and they are never stored or logged plain.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from berth.cloud.context import CloudContext
from berth.cloud.webhooks import repository as repo
from berth.cloud.webhooks.payloads import webhook_body
from berth.cloud.webhooks.policy import WebhookPolicy
from berth.cloud.webhooks.schemas import WebhookCreate, WebhookUpdate
from berth.contracts.cloud import (
    PartnerEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookSecret,
)
from berth.domain.errors import NotFound

FAILING = "FAILING"  # disabled_reason when Berth disabled a failing endpoint


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _context(endpoint_id: str) -> bytes:
    return b"berth-webhook-secret:" + endpoint_id.encode()


def message_id(event: PartnerEvent, endpoint_id: str) -> str:
    """The ``webhook-id``: the same for every attempt of one event to one endpoint."""
    return f"msg_{event.partner_id}_{event.position}_{endpoint_id}"


def to_endpoint(row: RowMapping) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"], url=row["url"], event_types=json.loads(row["event_types"]),
        enabled=row["enabled"], disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"], created_at=row["created_at"])


def to_delivery(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"], webhook_id=row["message_id"], type=row["type"], status=row["status"],
        attempts=row["attempts"], last_status_code=row["last_status_code"],
        latency_ms=row["last_latency_ms"], response_excerpt=row["last_response"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        created_at=row["created_at"], delivered_at=row["delivered_at"])


@dataclass
class WebhooksService:
    ctx: CloudContext
    policy: WebhookPolicy

    # ---- endpoints -------------------------------------------------------------------------

    def create(self, partner_id: int, body: WebhookCreate) -> WebhookEndpointCreated:
        self.policy.check_target(body.url)
        endpoint_id = "wh_" + secrets.token_hex(8)
        secret = new_secret()
        with self.ctx.write() as conn:
            repo.insert_endpoint(conn, dict(
                id=endpoint_id, partner_id=partner_id, url=body.url,
                event_types=json.dumps(sorted(set(body.event_types))), enabled=body.enabled,
                secret_sealed=self.ctx.vault.seal(secret.encode(), _context(endpoint_id)),
                created_at=self.ctx.clock()))
            row = self._own(conn, partner_id, endpoint_id)
        return WebhookEndpointCreated(**to_endpoint(row).model_dump(), secret=secret)

    def list(self, partner_id: int) -> list[WebhookEndpoint]:
        with self.ctx.db.read() as conn:
            return [to_endpoint(r) for r in repo.partner_endpoints(conn, partner_id)]

    def get(self, partner_id: int, endpoint_id: str) -> WebhookEndpoint:
        with self.ctx.db.read() as conn:
            return to_endpoint(self._own(conn, partner_id, endpoint_id))

    def update(self, partner_id: int, endpoint_id: str, body: WebhookUpdate) -> WebhookEndpoint:
        if body.url is not None:
            self.policy.check_target(body.url)
        values: dict[str, Any] = {}
        if body.url is not None:
            values["url"] = body.url
        if body.event_types is not None:
            values["event_types"] = json.dumps(sorted(set(body.event_types)))
        if body.enabled is not None:
            values["enabled"] = body.enabled
            if body.enabled:  # a fresh start: its failing time counts anew
                values.update(disabled_reason=None, failing_since=None)
        with self.ctx.write() as conn:
            self._own(conn, partner_id, endpoint_id)
            if values:
                repo.update_endpoint(conn, endpoint_id, values)
            if body.enabled:  # its waiting deliveries go now, not after their last backoff
                repo.retry_now(conn, endpoint_id, self.ctx.clock())
            return to_endpoint(self._own(conn, partner_id, endpoint_id))

    def delete(self, partner_id: int, endpoint_id: str) -> None:
        """The endpoint and its delivery log; undelivered events are not sent."""
        with self.ctx.write() as conn:
            self._own(conn, partner_id, endpoint_id)
            repo.delete_endpoint(conn, endpoint_id)

    def rotate_secret(self, partner_id: int, endpoint_id: str) -> WebhookSecret:
        """A new secret signs from now on; the current one signs too for the overlap, so a
        receiver can switch without losing a delivery."""
        secret = new_secret()
        now = self.ctx.clock()
        until = now + timedelta(seconds=self.policy.rotation_overlap)
        with self.ctx.write() as conn:
            row = self._own(conn, partner_id, endpoint_id)
            repo.update_endpoint(conn, endpoint_id, dict(
                secret_sealed=self.ctx.vault.seal(secret.encode(), _context(endpoint_id)),
                previous_secret_sealed=row["secret_sealed"], previous_until=until))
        return WebhookSecret(secret=secret, previous_valid_until=until)

    def signing_secrets(self, row: RowMapping, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one during
        a rotation's overlap."""
        found = [self.ctx.vault.open(row["secret_sealed"], _context(row["id"])).decode()]
        if row["previous_secret_sealed"] is not None and row["previous_until"] is not None \
                and now < row["previous_until"]:
            found.append(self.ctx.vault.open(row["previous_secret_sealed"],
                                             _context(row["id"])).decode())
        return found

    # ---- deliveries ------------------------------------------------------------------------

    def enqueue(self, event: PartnerEvent) -> int:
        """One pending delivery of ``event`` per enabled endpoint of its partner that wants its
        type (what the outbox consumer does); returns how many endpoints matched."""
        now = self.ctx.clock()
        with self.ctx.write() as conn:
            endpoints = repo.partner_endpoints(conn, event.partner_id, enabled_only=True)
            if not endpoints:
                return 0
            type_, body = webhook_body(conn, event)
            matched = 0
            for ep in endpoints:
                wanted = json.loads(ep["event_types"])
                if wanted and type_ not in wanted:
                    continue
                matched += 1
                repo.add_delivery(conn, dict(
                    endpoint_id=ep["id"], message_id=message_id(event, ep["id"]), type=type_,
                    body=body, status="pending", attempts=0, next_attempt_at=now,
                    created_at=now))
        return matched

    def deliveries(self, partner_id: int, endpoint_id: str,
                   limit: int = 50) -> list[WebhookDelivery]:
        with self.ctx.db.read() as conn:
            self._own(conn, partner_id, endpoint_id)
            return [to_delivery(r) for r in repo.endpoint_deliveries(conn, endpoint_id, limit)]

    def redeliver(self, partner_id: int, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        """Send a delivery again now (same ``webhook-id``, so a receiver that has it already
        can tell); it goes before the endpoint's later deliveries."""
        with self.ctx.write() as conn:
            self._own(conn, partner_id, endpoint_id)
            if repo.delivery(conn, endpoint_id, delivery_id) is None:
                raise NotFound("WEBHOOK_DELIVERY_NOT_FOUND", "No such delivery of this webhook.")
            repo.update_delivery(conn, delivery_id, dict(
                status="pending", next_attempt_at=self.ctx.clock(), lease_until=None))
            row = repo.delivery(conn, endpoint_id, delivery_id)
        assert row is not None
        return to_delivery(row)

    @staticmethod
    def _own(conn: Connection, partner_id: int, endpoint_id: str) -> RowMapping:
        row = repo.endpoint(conn, partner_id, endpoint_id)
        if row is None:
            raise NotFound("WEBHOOK_NOT_FOUND", "No such webhook endpoint (or not yours).")
        return row
