"""The cloud locker's lifecycle, written: the one path every locker change takes.

Every change runs inside a :meth:`CloudContext.write` transaction that locks the locker row
(``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers),
applies any expiry that is due (lazy expiry), asks the domain state machine for the arrow and
writes the result, its outbox events and, once committed, a ``CloudLockerStateChanged`` on the
bus. Reservations, tokens, tower sync, the operator switch and the sweeper all come here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from berth.cloud.context import publish_after_commit
from berth.cloud.events import outbox
from berth.cloud.locations import repository as locations_repo
from berth.cloud.lockers import outcomes
from berth.cloud.lockers import repository as repo
from berth.cloud.lockers.outcomes import told
from berth.cloud.reservations import repository as reservations_repo
from berth.cloud.towers.service import visible_tower
from berth.domain.dwell import bounded_duration
from berth.domain.errors import NotFound
from berth.domain.lifecycle import Action, LockerState, due_expiry, next_state
from berth.events.types import CloudLockerStateChanged

KEEP: Any = object()  # "leave the locker's deadline as it is"

# What becomes of the active reservation when the locker leaves Reserved.
RESERVATION_ENDS = {
    Action.CANCEL_RESERVATION: "cancelled",
    Action.RESERVATION_EXPIRED: "expired",
    Action.CREATE_DROPOFF_TOKEN: "used",
}


def dropoff_duration(conn: Connection, tower_id: str, asked: int | None) -> int:
    """Seconds a reservation or drop-off token lasts at the tower's location (its window)."""
    return bounded_duration(asked, locations_repo.tower_windows(conn, tower_id)[0])


def lock_locker(conn: Connection, partner_id: int | None, tower_id: str, locker_id: int,
                now: datetime) -> RowMapping:
    """Lock the locker row for this transaction and bring it up to date with the clock; a
    partner must see the tower (``partner_id`` None: an operator)."""
    if partner_id is not None:
        visible_tower(conn, partner_id, tower_id)
    row = repo.locker(conn, locker_id, tower_id, for_update=True)
    if row is None:
        raise NotFound("LOCKER_NOT_FOUND", f"No locker {locker_id} in tower {tower_id}.")
    return expire_if_due(conn, row, now)


def expire_if_due(conn: Connection, row: RowMapping, now: datetime) -> RowMapping:
    """Apply the expiry the clock says is due (if any); returns the locker as it is now."""
    action = due_expiry(LockerState(row["state"]), row["deadline"], now)
    if action is None:
        return row
    apply(conn, row, action, now, None)
    fresh = repo.locker(conn, row["id"])
    assert fresh is not None
    return fresh


def apply(conn: Connection, row: RowMapping, action: Action, now: datetime,
          requester: int | None, *, deadline: Any = None) -> LockerState:
    """One arrow of the state machine, written; a refusal is the domain's ``TransitionRefused``
    (a ``Conflict`` with its stable code)."""
    before = LockerState(row["state"])
    outcome = next_state(before, action, requester=requester, holder=row["holder_partner_id"])
    holder = row["holder_partner_id"]
    if outcome.release_holder:
        holder = None
    elif requester is not None:
        holder = requester
    values: dict[str, Any] = dict(
        state=int(outcome.state), holder_partner_id=holder, updated_at=now
    )
    if deadline is not KEEP:
        values["deadline"] = None if outcome.release_holder else deadline
    if outcome.bump_generation:
        values["generation"] = row["generation"] + 1
    values.update(outcomes.dwell_values(conn, row, before, outcome.state, now))
    repo.update_locker(conn, row["id"], values)
    partners = told(conn, row, holder)
    emit(conn, partners, "locker.state_changed", row, now, {
        "from": before.label, "to": outcome.state.label,
        "action": str(action), "generation": values.get("generation", row["generation"])})
    outcomes.announce(conn, row, action, partners, now)
    if outcome.state is not before:
        publish_after_commit(conn, CloudLockerStateChanged(
            tower_id=row["tower_id"], locker_id=row["id"], state=outcome.state.label,
            previous=before.label, occurred_at=now))
    if before is LockerState.RESERVED and outcome.state is not LockerState.RESERVED:
        active = reservations_repo.active_reservation(conn, row["id"])
        if active is not None:
            status = RESERVATION_ENDS[action]
            reservations_repo.set_reservation_status(conn, active["id"], status)
            emit(conn, [active["partner_id"]], f"reservation.{status}", row, now,
                 {"reservation_id": active["id"], "status": status})
    return outcome.state


def emit(conn: Connection, partner_ids: Sequence[int], type_: str, row: RowMapping,
         now: datetime, data: dict[str, Any]) -> None:
    """One outbox event about the locker ``row``, in the change's transaction."""
    outbox.emit(conn, partner_ids, type_, row["tower_id"], row["id"], now, data)
