"""Reservations: createReservation (Available -> Reserved) and cancelReservation (back)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError

from berth.cloud.context import CloudContext
from berth.cloud.lockers import lifecycle
from berth.cloud.reservations import repository as repo
from berth.contracts.cloud import Reservation
from berth.domain.errors import Conflict, NotFound
from berth.domain.lifecycle import Action


def reservation_view(row: RowMapping, tower_id: str) -> Reservation:
    return Reservation(
        id=row["id"],
        locker_id=row["locker_id"],
        tower_id=tower_id,
        status=row["status"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


@dataclass
class ReservationsService:
    ctx: CloudContext

    def create_reservation(
        self, partner_id: int, tower_id: str, locker_id: int, duration: int | None
    ) -> Reservation:
        """Reserved for ``duration`` seconds, at most the location's drop-off window (its
        default)."""
        now = self.ctx.clock()
        rid = uuid.uuid4().hex
        try:
            with self.ctx.write() as conn:
                row = lifecycle.lock_locker(conn, partner_id, tower_id, locker_id, now)
                expires = now + timedelta(seconds=lifecycle.dropoff_duration(
                    conn, tower_id, duration))
                lifecycle.apply(conn, row, Action.CREATE_RESERVATION, now, partner_id,
                                deadline=expires)
                repo.insert_reservation(conn, rid, locker_id, partner_id, now, expires)
                lifecycle.emit(conn, [partner_id], "reservation.created", row, now, {
                    "reservation_id": rid, "status": "active",
                    "expires_at": expires.isoformat()})
        except IntegrityError as exc:  # the unique index: someone else's reservation won
            raise Conflict(
                "LOCKER_RESERVED_CANNOT_CREATE_RESERVATION", "The locker was reserved just now."
            ) from exc
        return Reservation(id=rid, locker_id=locker_id, tower_id=tower_id, status="active",
                           created_at=now, expires_at=expires)

    def cancel_reservation(
        self, partner_id: int, tower_id: str, locker_id: int, reservation_id: str
    ) -> Reservation:
        now = self.ctx.clock()
        with self.ctx.write() as conn:
            row = lifecycle.lock_locker(conn, partner_id, tower_id, locker_id, now)
            res = repo.reservation(conn, reservation_id)
            if res is None or res["locker_id"] != locker_id or res["partner_id"] != partner_id:
                raise NotFound("RESERVATION_NOT_FOUND", "No such reservation on this locker.")
            if res["status"] != "active":
                raise Conflict(
                    f"RESERVATION_{res['status'].upper()}_CANNOT_CANCEL_RESERVATION",
                    f"The reservation is already {res['status']}.",
                )
            lifecycle.apply(conn, row, Action.CANCEL_RESERVATION, now, partner_id)
            res = repo.reservation(conn, reservation_id)
        assert res is not None
        return reservation_view(res, tower_id)
