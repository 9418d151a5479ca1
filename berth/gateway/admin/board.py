"""The site as it stands: each bank a column of its lockers, each locker in the state that matters.

A bank's lockers stand in bank-locker-number order from the top, each as tall and as wide (in
inches) as its locker type, so the drawing keeps the real proportions. One state per locker,
the first that holds of: door open, out of service, fault or door unknown, parcel inside (held
and its door has closed since the transaction began), held, free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.contracts.gateway import Locker, LockerType
from berth.gateway.system.schemas import LogFilter
from berth.gateway.system.service import SystemService

LABELS = {"open": "door open", "out": "out of service", "fault": "fault or unknown",
          "parcel": "parcel inside", "held": "held", "free": "free"}


@dataclass(frozen=True)
class Cell:
    locker: Locker
    state: str
    width: float  # inches
    height: float

    @property
    def label(self) -> str:
        return LABELS[self.state]


@dataclass
class Column:
    bank_id: int
    name: str
    cells: list[Cell] = field(default_factory=list)


def parcel_inside(system: SystemService, locker: Locker) -> bool:
    """Held, and its door closed after the transaction began (a parcel was put in)."""
    if locker.transaction_id is None:
        return False
    entries, _ = system.logs(LogFilter(transaction_id=locker.transaction_id, limit=200))
    return any(e.event == "DOOR_CLOSED" for e in entries)


def state_of(locker: Locker, parcel: bool) -> str:
    if locker.door_open:
        return "open"
    if locker.out_of_service:
        return "out"
    if locker.door_open is None or not locker.operational:
        return "fault"
    if locker.transaction_id is not None:
        return "parcel" if parcel else "held"
    return "free"


def locker_state(system: SystemService, locker: Locker) -> str:
    return state_of(locker, parcel_inside(system, locker))


def draw(lockers: list[Locker], types: list[LockerType], system: SystemService) -> list[Column]:
    """The banks as columns, left to right by bank id."""
    sizes = {t.locker_type_id: (t.width_inches, t.height_inches) for t in types}
    columns: dict[int, Column] = {}
    for lk in sorted(lockers, key=lambda x: (x.bank_id, x.bank_locker_number)):
        column = columns.setdefault(lk.bank_id, Column(lk.bank_id, lk.bank_name))
        width, height = sizes.get(lk.locker_type.locker_type_id, (16.0, 12.0))
        column.cells.append(Cell(lk, locker_state(system, lk), width, height))
    return list(columns.values())
