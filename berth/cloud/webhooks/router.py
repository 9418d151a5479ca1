"""A partner's webhook endpoints, their secrets and delivery logs (``/api/v1/webhooks``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from berth.cloud.deps import ServiceProvider, Webhooks
from berth.cloud.errors import responses
from berth.cloud.webhooks.schemas import MAX_DELIVERIES_PAGE, WebhookCreate, WebhookUpdate
from berth.contracts.cloud import (
    MAX_ID,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookSecret,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"],
                   responses=responses(401, 403, 503))
WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{16}$", description="wh_ + 16 hex.")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", response_model=WebhookEndpointCreated, status_code=201,
             responses=responses(400))
def create_webhook(body: WebhookCreate, webhooks: Webhooks,
                   partner: ServiceProvider) -> WebhookEndpointCreated:
    """Register an endpoint. The answer's ``secret`` (``whsec_...``) is shown only now. A URL
    in a private, loopback or link-local range is 400 ``WEBHOOK_URL_PRIVATE`` unless the
    operator allows such targets."""
    return webhooks.create(partner, body)


@router.get("", response_model=list[WebhookEndpoint])
def list_webhooks(webhooks: Webhooks, partner: ServiceProvider) -> list[WebhookEndpoint]:
    """Your endpoints (never their secrets)."""
    return webhooks.list(partner)


@router.get("/{webhook_id}", response_model=WebhookEndpoint, responses=responses(404))
def get_webhook(webhook_id: WebhookId, webhooks: Webhooks,
                partner: ServiceProvider) -> WebhookEndpoint:
    return webhooks.get(partner, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookEndpoint, responses=responses(400, 404))
def update_webhook(webhook_id: WebhookId, body: WebhookUpdate, webhooks: Webhooks,
                   partner: ServiceProvider) -> WebhookEndpoint:
    """Change the URL, the event types or ``enabled``; enabling a disabled endpoint resumes
    its pending deliveries, in order."""
    return webhooks.update(partner, webhook_id, body)


@router.delete("/{webhook_id}", status_code=204, responses=responses(404))
def delete_webhook(webhook_id: WebhookId, webhooks: Webhooks,
                   partner: ServiceProvider) -> Response:
    webhooks.delete(partner, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecret,
             responses=responses(404))
def rotate_webhook_secret(webhook_id: WebhookId, webhooks: Webhooks,
                          partner: ServiceProvider) -> WebhookSecret:
    """A new secret (shown once); until ``previous_valid_until`` deliveries carry the old
    and the new signature side by side in ``webhook-signature``."""
    return webhooks.rotate_secret(partner, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=list[WebhookDelivery],
            responses=responses(404))
def list_deliveries(
    webhook_id: WebhookId, webhooks: Webhooks, partner: ServiceProvider,
    limit: int = Query(50, ge=1, le=MAX_DELIVERIES_PAGE, description="The newest this many."),
) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first: attempts, last status code, latency,
    the answer's first 500 characters and the next attempt."""
    return webhooks.deliveries(partner, webhook_id, limit)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=WebhookDelivery,
             status_code=202, responses=responses(404))
def redeliver(webhook_id: WebhookId, delivery_id: DeliveryId, webhooks: Webhooks,
              partner: ServiceProvider) -> WebhookDelivery:
    """Send a delivery again, now, with the same ``webhook-id``."""
    return webhooks.redeliver(partner, webhook_id, delivery_id)
