"""Verifying Berth's webhooks on the receiving side (Standard Webhooks scheme).

    payload = verify_webhook(secret, request_body, request_headers)  # raises if forged

Any Standard Webhooks library does the same; this is that library with Berth's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> Any:
    """The parsed body (``{"type", "timestamp", "data"}``) when ``webhook-signature`` matches
    ``secret`` (``whsec_...``; either of the two during a rotation) and ``webhook-timestamp``
    is within 5 minutes; else ``WebhookVerificationError``. Deduplicate by ``webhook-id``."""
    return Webhook(secret).verify(body, dict(headers))
