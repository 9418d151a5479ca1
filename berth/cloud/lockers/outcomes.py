"""Named outcomes of a locker's change that a carrier acts on, beside ``locker.state_changed``.

``lifecycle.apply`` calls :func:`dwell_values` (a parcel landing gets its collection deadline)
and :func:`announce` (out of service / back, drop-off tokens that ran out unused); the sweeper
calls :func:`report_overdue` for a parcel past its deadline. Each is an outbox event in the
change's transaction, for the locker's holder, else the partners of its tower.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from berth.cloud.events import outbox
from berth.cloud.locations import repository as locations_repo
from berth.cloud.lockers import repository as repo
from berth.cloud.tokens import repository as tokens_repo
from berth.cloud.towers import repository as towers_repo
from berth.domain.dwell import collection_deadline, overdue
from berth.domain.lifecycle import Action, LockerState

# Operator switches, each with its own event (the state change is announced too).
SWITCHES = {
    Action.SET_OUT_OF_SERVICE: "locker.out_of_service",
    Action.CLEAR_OUT_OF_SERVICE: "locker.back_in_service",
}


def told(conn: Connection, row: RowMapping, holder_after: int | None) -> list[int]:
    """Who hears of a locker's change: its holder (after, else before the change), else
    every partner the tower is assigned to."""
    holder = holder_after if holder_after is not None else row["holder_partner_id"]
    return [holder] if holder is not None else towers_repo.tower_partner_ids(conn, row["tower_id"])


def _emit(conn: Connection, partner_ids: Sequence[int], type_: str, row: RowMapping,
          now: datetime, data: dict[str, Any]) -> None:
    outbox.emit(conn, partner_ids, type_, row["tower_id"], row["id"], now, data)


def dwell_values(conn: Connection, row: RowMapping, before: LockerState, after: LockerState,
                 now: datetime) -> dict[str, Any]:
    """A parcel that lands gets its location's collection deadline; one that leaves, none."""
    if after is LockerState.OCCUPIED and before is not LockerState.OCCUPIED:
        window = locations_repo.tower_windows(conn, row["tower_id"])[1]
        return {"collect_by": collection_deadline(now, window), "overdue_at": None}
    if before is LockerState.OCCUPIED and after is not LockerState.OCCUPIED:
        return {"collect_by": None, "overdue_at": None}
    return {}


def announce(conn: Connection, row: RowMapping, action: Action, partner_ids: Sequence[int],
             now: datetime) -> None:
    """The named events of one arrow, for ``partner_ids`` (those told of the state change)."""
    if action in SWITCHES:
        _emit(conn, partner_ids, SWITCHES[action], row, now,
              {"from": LockerState(row["state"]).label})
    elif action is Action.DROPOFF_TOKEN_EXPIRED:
        expired = tokens_repo.unreported_expired_dropoffs(conn, row["id"], now)
        for tok in expired:  # each to the partner that issued it
            _emit(conn, [tok["partner_id"]], "token.expired", row, now, {
                "token_id": tok["id"], "kind": "dropoff", "client_info": tok["client_info"],
                "expires_at": tok["expires_at"].isoformat()})
        tokens_repo.mark_tokens_expired(conn, [t["id"] for t in expired], now)


def report_overdue(conn: Connection, locker_id: int, now: datetime) -> bool:
    """``parcel.not_collected`` once for a parcel past its deadline; False if it no longer is
    (collected, or already reported, since the sweeper listed it)."""
    row = repo.locker(conn, locker_id, for_update=True)
    if (row is None or row["state"] != LockerState.OCCUPIED or row["overdue_at"] is not None
            or not overdue(row["collect_by"], now)):
        return False
    repo.update_locker(conn, locker_id, {"overdue_at": now})
    _emit(conn, told(conn, row, None), "parcel.not_collected", row, now, {
        "collect_by": row["collect_by"].isoformat(), "generation": row["generation"]})
    return True
