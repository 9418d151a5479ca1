"""What a webhook says about an outbox event: ``{"type", "timestamp", "data"}``.

A token issued or used becomes the original's ``LOCKER_OPERATION`` with its ``data`` fields
(``source`` ``LOCKER_TOKEN_CREATED`` or ``LOCKER_TOKEN_USED``); every other event keeps its
outbox type (``reservation.expired``, ``locker.state_changed``, ``endpoint.disabled``, ...)
with the outbox's data plus where it happened.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from berth.cloud.lockers import repository as lockers_repo
from berth.cloud.tokens import repository as tokens_repo
from berth.contracts.cloud import PartnerEvent
from berth.domain.lifecycle import LockerState

LOCKER_OPERATION = "LOCKER_OPERATION"
TOKEN_USED = {"dropoff_token_used", "pickup_token_used"}


def webhook_body(conn: Connection, event: PartnerEvent) -> tuple[str, str]:
    """(webhook type, JSON body) of one outbox event, read in the consumer's transaction."""
    when = event.occurred_at.isoformat()
    operation = _locker_operation(conn, event)
    if operation is not None:
        type_, data = LOCKER_OPERATION, {"timestamp": when, **operation}
    else:
        type_ = event.type
        data = {**event.data, "tower_id": event.tower_id or None, "locker_id": event.locker_id,
                "position": event.position}
    return type_, json.dumps({"type": type_, "timestamp": when, "data": data},
                             separators=(",", ":"), default=str)


def _locker_operation(conn: Connection, event: PartnerEvent) -> dict[str, Any] | None:
    if event.type == "token.issued":
        source = "LOCKER_TOKEN_CREATED"
    elif event.type == "tower.event_applied" and event.data.get("type") in TOKEN_USED:
        source = "LOCKER_TOKEN_USED"
    else:
        return None
    token_id = event.data.get("token_id")
    token = tokens_repo.token(conn, str(token_id)) if token_id else None
    locker = (lockers_repo.locker(conn, event.locker_id)
              if event.locker_id is not None else None)
    return {
        "locker_id": event.locker_id,
        "locker_status": LockerState(locker["state"]).label if locker is not None else None,
        "tower_id": event.tower_id,
        "source": source,
        "reservation_id": event.data.get("reservation_id"),
        "open_locker_token_id": token_id,
        "keypad_code": None,  # never sent: a code is a secret of its recipient
        "client_info": token["client_info"] if token is not None else None,
    }
