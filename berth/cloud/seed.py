"""Demo data: an operator, a partner ``demo`` holding a tower of 16 lockers, a partner ``other``;
four locations in Berlin, the tower standing in the first.

``seed_demo`` is idempotent in what it builds (a second run reuses the partners and the tower)
and always prints fresh client credentials, because stored secrets are only hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from berth.cloud.locations.schemas import LocationCreate
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.contracts.cloud import Address, Dimensions, OpeningHours, OpeningInterval
from berth.domain.errors import NotFound

DEMO_TOWER = "Demo tower"
# (type, low locker?, inner width/height/depth in mm): 4 columns of 4, the bottom row low.
_ROWS = [
    ("xlarge", False, (450, 600, 600)),
    ("large", False, (450, 450, 600)),
    ("medium", False, (450, 300, 600)),
    ("small", True, (450, 150, 600)),
]


def demo_lockers() -> list[LockerCreate]:
    lockers = []
    for column in range(4):
        for row, (kind, low, (w, h, d)) in enumerate(_ROWS):
            lockers.append(
                LockerCreate(
                    name=str(column * len(_ROWS) + row + 1),
                    type="small" if column == 3 and row == 2 else kind,  # a mix of types
                    isLowLocker=low,
                    dimensions=Dimensions(width=w, height=h, depth=d),
                )
            )
    return lockers


_SHOP_DAY = [OpeningInterval(open="08:00", close="20:00")]
_SHOP_HOURS = OpeningHours(monday=_SHOP_DAY, tuesday=_SHOP_DAY, wednesday=_SHOP_DAY,
                           thursday=_SHOP_DAY, friday=_SHOP_DAY, saturday=_SHOP_DAY)
# Several locations in one city (Berlin); the demo tower stands in the first, the main station.
DEMO_LOCATIONS = [
    ("Hauptbahnhof", 52.5251, 13.3694, "Europaplatz 1", "10557", None),
    ("Alexanderplatz", 52.5219, 13.4132, "Alexanderplatz 3", "10178", _SHOP_HOURS),
    ("Potsdamer Platz", 52.5096, 13.3759, "Potsdamer Platz 1", "10785", _SHOP_HOURS),
    ("Kreuzberg Markthalle", 52.4988, 13.4318, "Eisenbahnstraße 42", "10997", _SHOP_HOURS),
]
# The local stack's own site (`berth up`): its gateway is the tower standing here.
SITE_LOCATION = ("Friedrichstraße", 52.5203, 13.3869, "Friedrichstraße 141", "10117", None)


def _quiet(_done: str) -> None:
    """No one watches the steps."""


Step = Callable[[str], None]  # told each finished step (the CLI's progress bar)


def demo_locations(cloud: CloudServices, step: Step = _quiet) -> list[int]:
    """The demo city's location ids, created on the first run (reused by name after)."""
    return _locations(cloud, DEMO_LOCATIONS, step)


def site_location(cloud: CloudServices) -> int:
    """The location where `berth up`'s gateway stands (its tower is placed there)."""
    return _locations(cloud, [SITE_LOCATION])[0]


def _locations(cloud: CloudServices, entries: list[tuple[Any, ...]],
               step: Step = _quiet) -> list[int]:
    known = {loc.name: loc.id for loc in cloud.locations.all_locations()}
    ids = []
    for name, lat, lon, street, postal, hours in entries:
        if name not in known:
            known[name] = cloud.locations.create_location(LocationCreate(
                name=name, latitude=lat, longitude=lon, opening_hours=hours,
                address=Address(street=street, postal_code=postal, city="Berlin", country="DE"),
                timezone="Europe/Berlin")).id
        ids.append(known[name])
        step(f"location {name}")
    return ids


def _partner_credentials(cloud: CloudServices, name: str) -> dict[str, str]:
    try:
        cloud.partners.partner_id(name)
        creds = cloud.partners.create_client(name)
    except NotFound:
        creds = cloud.partners.create_partner(name)
    return {"client_id": creds.client_id, "client_secret": creds.client_secret}


SEED_STEPS = 5 + len(DEMO_LOCATIONS)  # how many times ``seed_demo`` calls its ``step``


def seed_demo(cloud: CloudServices, step: Step = _quiet) -> dict[str, Any]:
    """Create (or reuse) the demo world; returns the credentials and the tower id. ``step``
    hears each of the ``SEED_STEPS`` parts when it is done (each hashes a secret or writes)."""
    operator = cloud.partners.create_operator("demo operator")
    step("operator")
    demo = _partner_credentials(cloud, "demo")
    step("partner demo")
    other = _partner_credentials(cloud, "other")
    step("partner other")
    tower = next((t for t in cloud.towers.all_towers() if t.name == DEMO_TOWER), None)
    if tower is None:
        tower = cloud.towers.create_tower(DEMO_TOWER)
        cloud.lockers.add_lockers(tower.id, demo_lockers())
    cloud.towers.assign_tower(tower.id, cloud.partners.partner_id("demo"))
    step("tower and its lockers")
    locations = demo_locations(cloud, step)
    cloud.locations.place_tower(locations[0], tower.id)
    step("tower placed")
    return {
        "partners": {"demo": demo, "other": other},
        "tower_id": tower.id,
        "location_ids": locations,
        "operator": {"client_id": operator.client_id, "client_secret": operator.client_secret},
    }
