"""Lockers: a partner's reads (with lazy expiry shown, not yet written), the operator's adds and
out-of-service switch, and the expiry sweeper."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from berth.cloud.context import CloudContext
from berth.cloud.lockers import lifecycle, outcomes
from berth.cloud.lockers import repository as repo
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.towers.service import tower_row, visible_tower
from berth.contracts.cloud import AssignedLocker, Dimensions, Locker, LockerStatus, LockerType
from berth.domain.errors import InvalidInput, NotFound
from berth.domain.lifecycle import Action, LockerState, effective_state

LOCKER_TYPES = {1: "small", 2: "medium", 3: "large", 4: "xlarge"}
TYPE_IDS = {name: i for i, name in LOCKER_TYPES.items()}


def locker_view(row: RowMapping, now: datetime) -> Locker:
    state = effective_state(LockerState(row["state"]), row["deadline"], now)
    return Locker(
        id=row["id"],
        name=row["name"],
        isLowLocker=row["is_low"],
        towerId=row["tower_id"],
        status=LockerStatus(id=int(state), name=state.label),
        type=LockerType(id=row["type_id"], name=LOCKER_TYPES[row["type_id"]]),
        accessMode=row["access_mode"],
        dimensions=Dimensions(
            width=row["width_mm"], height=row["height_mm"], depth=row["depth_mm"]
        ),
    )


def parse_status(value: str) -> LockerState:
    """A status filter by name (``available``) or id (``1``)."""
    try:
        return LockerState(int(value)) if value.isdigit() else LockerState[value.upper()]
    except (KeyError, ValueError) as exc:
        names = ", ".join(st.label for st in LockerState)
        raise InvalidInput(
            "STATUS_UNKNOWN", f"Unknown locker status {value!r}; use {names}."
        ) from exc


def locker_values(tower_id: str, spec: LockerCreate, now: datetime) -> dict[str, Any]:
    """A new locker's row (also used by bulk loaders such as the fleet bench)."""
    return dict(
        tower_id=tower_id,
        name=spec.name,
        type_id=TYPE_IDS[spec.type],
        is_low=spec.isLowLocker,
        access_mode=spec.accessMode,
        width_mm=spec.dimensions.width,
        height_mm=spec.dimensions.height,
        depth_mm=spec.dimensions.depth,
        max_weight_g=spec.maxWeight,
        state=int(LockerState.AVAILABLE),
        holder_partner_id=None,
        deadline=None,
        generation=0,
        updated_at=now,
    )


@dataclass
class LockersService:
    ctx: CloudContext

    def list_lockers(self, partner_id: int, tower_id: str, status: str | None = None
                     ) -> list[Locker]:
        """All lockers of a tower (one query); an optional status filter by name or id."""
        wanted = parse_status(status) if status else None
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            visible_tower(conn, partner_id, tower_id)
            rows = repo.tower_lockers(conn, tower_id)
        views = [locker_view(r, now) for r in rows]
        return views if wanted is None else [v for v in views if v.status.id == wanted]

    def tower_lockers(self, tower_id: str) -> list[Locker]:
        """Every locker of a tower, for operators and provisioning (404: no such tower)."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            tower_row(conn, tower_id)
            rows = repo.tower_lockers(conn, tower_id)
        return [locker_view(r, now) for r in rows]

    def get_locker(self, partner_id: int, tower_id: str, locker_id: int) -> Locker:
        with self.ctx.db.read() as conn:
            visible_tower(conn, partner_id, tower_id)
            row = repo.locker(conn, locker_id, tower_id)
        if row is None:
            raise NotFound("LOCKER_NOT_FOUND", f"No locker {locker_id} in tower {tower_id}.")
        return locker_view(row, self.ctx.clock())

    def assigned_lockers(self, partner_id: int) -> list[AssignedLocker]:
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            rows = repo.held_lockers(conn, partner_id)
        out = []
        for row in rows:
            view = locker_view(row, now)
            if LockerState(view.status.id) in (LockerState.AVAILABLE, LockerState.OUT_OF_SERVICE):
                continue  # its hold ran out; the next write will record that
            out.append(AssignedLocker(**view.model_dump(), heldUntil=row["deadline"],
                                      collectBy=row["collect_by"]))
        return out

    def add_lockers(self, tower_id: str, specs: Iterable[LockerCreate]) -> list[Locker]:
        """Add lockers to a tower; returns all its lockers."""
        now = self.ctx.clock()
        with self.ctx.write() as conn:
            tower_row(conn, tower_id)
            repo.insert_lockers(conn, [locker_values(tower_id, spec, now) for spec in specs])
            rows = repo.tower_lockers(conn, tower_id)
        return [locker_view(r, now) for r in rows]

    def set_out_of_service(self, tower_id: str, locker_id: int, out: bool) -> Locker:
        now = self.ctx.clock()
        action = Action.SET_OUT_OF_SERVICE if out else Action.CLEAR_OUT_OF_SERVICE
        with self.ctx.write() as conn:
            tower_row(conn, tower_id)
            row = lifecycle.lock_locker(conn, None, tower_id, locker_id, now)
            lifecycle.apply(conn, row, action, now, None)
            row = repo.locker(conn, locker_id)
        assert row is not None
        return locker_view(row, now)

    def sweep(self, limit: int = 500) -> int:
        """Expire reservations and unused drop-off tokens that have run out; returns how many."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            due = repo.due_locker_ids(conn, now, limit)
        for locker_id in due:
            with self.ctx.write() as conn:
                row = repo.locker(conn, locker_id, for_update=True)
                if row is not None:
                    lifecycle.expire_if_due(conn, row, now)
        return len(due)

    def sweep_overdue(self, limit: int = 500) -> int:
        """Report parcels past their collection deadline (once each); returns how many."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            due = repo.overdue_locker_ids(conn, now, limit)
        reported = 0
        for locker_id in due:
            with self.ctx.write() as conn:
                reported += outcomes.report_overdue(conn, locker_id, now)
        return reported
