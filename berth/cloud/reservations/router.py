"""Reserving a locker and cancelling the reservation."""

from __future__ import annotations

from fastapi import APIRouter

from berth.cloud.deps import LockerId, Reservations, ServiceProvider, TowerId
from berth.cloud.errors import responses
from berth.cloud.reservations.schemas import ReservationCreate
from berth.contracts.cloud import Reservation

router = APIRouter(
    prefix="/api/v1/towers/{tower_id}/lockers/{locker_id}/reservations", tags=["reservations"],
    responses=responses(400, 401, 403, 404, 409, 503),
)


@router.post("", response_model=Reservation, status_code=201)
def create_reservation(
    reservations: Reservations,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: ReservationCreate,
) -> Reservation:
    """createReservation: Available -> Reserved for ``duration`` seconds."""
    return reservations.create_reservation(partner, tower_id, locker_id, body.duration)


@router.delete("/{reservation_id}", response_model=Reservation)
def cancel_reservation(
    reservations: Reservations,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    reservation_id: str,
) -> Reservation:
    """cancelReservation: Reserved -> Available."""
    return reservations.cancel_reservation(partner, tower_id, locker_id, reservation_id)
