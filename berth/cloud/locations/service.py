"""Locations: operators create them and place towers in them; a partner finds the locations of
its towers (a page, an area, the closest to a point) and asks one what is free and what fits.

A location a partner has no tower in does not exist for it (404, absent from every list).
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping

from berth.cloud.context import CloudContext
from berth.cloud.locations import repository as repo
from berth.cloud.locations.schemas import LocationCreate, LocationPatch
from berth.cloud.lockers.service import LOCKER_TYPES, locker_view
from berth.cloud.towers.service import tower_row
from berth.contracts.cloud import (
    Address,
    Availability,
    Location,
    Locker,
    NearbyLocation,
    OpeningHours,
    TypeAvailability,
)
from berth.domain.errors import InvalidInput, NotFound
from berth.domain.fit import fits, weight_fits
from berth.domain.geo import bounding_box, box_of_corners, haversine_m
from berth.domain.hours import WEEKDAYS, Interval, is_open, parse_hhmm
from berth.domain.lifecycle import LockerState

MAX_RADIUS_M = 1_000_000  # 1000 km: wider asks are a listing, not a search


def parse_point(value: str, name: str) -> tuple[float, float]:
    """``"52.52,13.40"`` -> (52.52, 13.40); anything else is 400 COORDINATES_INVALID."""
    parts = value.split(",")
    try:
        lat, lon = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lat = lon = math.nan
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN fails both
        raise InvalidInput("COORDINATES_INVALID", f"{name} must be 'lat,lon' with lat in "
                           f"-90..90 and lon in -180..180, not {value!r}.")
    return lat, lon


def location_view(row: RowMapping) -> Location:
    hours = row["opening_hours"]
    return Location(
        id=row["id"], name=row["name"], latitude=row["latitude"], longitude=row["longitude"],
        address=Address(street=row["street"], postal_code=row["postal_code"], city=row["city"],
                        country=row["country"]),
        opening_hours=OpeningHours.model_validate_json(hours) if hours else None,
        timezone=row["timezone"],
        dropoff_window=row["dropoff_window_s"], collection_window=row["collection_window_s"],
    )


def _intervals(hours: OpeningHours | None) -> dict[str, list[Interval]] | None:
    if hours is None:
        return None
    return {day: [(parse_hhmm(i.open), parse_hhmm(i.close)) for i in getattr(hours, day)]
            for day in WEEKDAYS}


@dataclass(frozen=True)
class Item:
    """What a carrier wants to put in: three sizes in millimetres, a weight in grams."""

    width: int
    height: int
    depth: int
    weight: int | None = None


@dataclass
class LocationsService:
    ctx: CloudContext

    # ---- operators ----------------------------------------------------------------------

    def create_location(self, body: LocationCreate) -> Location:
        hours = body.opening_hours
        values: dict[str, Any] = dict(
            name=body.name, latitude=body.latitude, longitude=body.longitude,
            **body.address.model_dump(),
            opening_hours=hours.model_dump_json() if hours else None,
            timezone=body.timezone, created_at=self.ctx.clock(),
            dropoff_window_s=body.dropoff_window, collection_window_s=body.collection_window,
        )
        with self.ctx.write() as conn:
            location_id = repo.insert_location(conn, values)
            row = repo.location(conn, location_id)
        assert row is not None
        return location_view(row)

    def update_location(self, location_id: int, body: LocationPatch) -> Location:
        """Change the dwell windows given (null clears one); they apply to what is made and
        what lands from now on, not to deadlines already set."""
        given = body.model_dump(exclude_unset=True)
        values = {f"{name}_s": value for name, value in given.items()}
        with self.ctx.write() as conn:
            self._location_row(conn, location_id)
            if values:
                repo.update_location(conn, location_id, values)
            row = repo.location(conn, location_id)
        assert row is not None
        return location_view(row)

    def all_locations(self) -> list[Location]:
        with self.ctx.db.read() as conn:
            return [location_view(r) for r in repo.all_locations(conn)]

    def place_tower(self, location_id: int, tower_id: str) -> None:
        """Put the tower in the location; a tower in another location moves (one at a time)."""
        with self.ctx.write() as conn:
            self._location_row(conn, location_id)
            tower_row(conn, tower_id.lower())
            repo.place_tower(conn, tower_id.lower(), location_id)

    def tower_ids(self, location_id: int) -> list[str]:
        with self.ctx.db.read() as conn:
            self._location_row(conn, location_id)
            return repo.location_tower_ids(conn, location_id)

    @staticmethod
    def _location_row(conn: Any, location_id: int) -> RowMapping:
        row = repo.location(conn, location_id)
        if row is None:
            raise NotFound("LOCATION_NOT_FOUND", f"No location {location_id}.")
        return row

    # ---- partners -----------------------------------------------------------------------

    def list_locations(self, partner_id: int, skip: int, limit: int) -> list[Location]:
        with self.ctx.db.read() as conn:
            rows = repo.partner_locations(conn, partner_id, skip, limit)
        return [location_view(r) for r in rows]

    def in_area(self, partner_id: int, start: str, end: str, limit: int) -> list[Location]:
        """The partner's locations in the box between two opposite corners, by id."""
        box = box_of_corners(parse_point(start, "start"), parse_point(end, "end"))
        with self.ctx.db.read() as conn:
            rows = repo.partner_locations_in_box(conn, partner_id, box, limit)
        return [location_view(r) for r in rows]

    def closest(self, partner_id: int, lat: float, lon: float, radius: float, limit: int
                ) -> list[NearbyLocation]:
        """Within ``radius`` metres, nearest first: the index answers the bounding box, the
        exact distance sorts and trims what it found."""
        with self.ctx.db.read() as conn:
            rows = repo.partner_locations_in_box(conn, partner_id,
                                                 bounding_box(lat, lon, radius))
        near = sorted(
            ((haversine_m(lat, lon, r["latitude"], r["longitude"]), r["id"], r) for r in rows),
            key=lambda t: (t[0], t[1]),
        )
        return [NearbyLocation(**location_view(r).model_dump(), distance_m=round(d, 1))
                for d, _, r in near if d <= radius][:limit]

    def _partner_location(self, conn: Any, partner_id: int, location_id: int) -> RowMapping:
        row = repo.partner_location(conn, partner_id, location_id)
        if row is None:
            raise NotFound("LOCATION_NOT_FOUND", f"No location {location_id} for you.")
        return row

    def lockers(self, partner_id: int, location_id: int) -> list[Locker]:
        """Every locker of the location's towers assigned to you, whatever its status."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            self._partner_location(conn, partner_id, location_id)
            rows = repo.partner_location_lockers(conn, partner_id, location_id)
        return [locker_view(r, now) for r in rows]

    def availability(self, partner_id: int, location_id: int, item: Item | None = None
                     ) -> Availability:
        """Free / total overall and per type, open now, and with an item which types take it."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            row = self._partner_location(conn, partner_id, location_id)
            rows = repo.partner_location_lockers(conn, partner_id, location_id)
        local = now.astimezone(zoneinfo.ZoneInfo(row["timezone"]))
        hours = location_view(row).opening_hours
        open_now = is_open(_intervals(hours), local.weekday(), local.hour * 60 + local.minute)
        types: dict[int, dict[str, int | bool]] = {}
        for locker in rows:
            free = locker_view(locker, now).status.id == LockerState.AVAILABLE
            counts = types.setdefault(locker["type_id"], dict(available=0, total=0, fits=False,
                                                              fitting_available=0))
            counts["total"] += 1
            counts["available"] += free
            if item is not None and _takes(locker, item):
                counts["fits"] = True
                counts["fitting_available"] += free
        by_type = [TypeAvailability(type=LOCKER_TYPES[t], available=int(c["available"]),
                                    total=int(c["total"]),
                                    **_fit_fields(c, item is not None))
                   for t, c in sorted(types.items())]
        return Availability(
            location_id=location_id, open_now=open_now,
            available=sum(t.available for t in by_type), total=sum(t.total for t in by_type),
            by_type=by_type,
            fitting_types=None if item is None else [t.type for t in by_type if t.fits],
            fitting_available=(None if item is None
                               else sum(t.fitting_available or 0 for t in by_type)),
        )


def _takes(locker: Mapping[str, Any], item: Item) -> bool:
    inner = (locker["width_mm"], locker["height_mm"], locker["depth_mm"])
    return (fits((item.width, item.height, item.depth), inner)
            and weight_fits(item.weight, locker["max_weight_g"]))


def _fit_fields(counts: Mapping[str, int | bool], asked: bool) -> dict[str, Any]:
    if not asked:
        return {}
    return {"fits": bool(counts["fits"]), "fitting_available": int(counts["fitting_available"])}
