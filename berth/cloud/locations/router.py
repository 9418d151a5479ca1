"""Locations: a partner's search and availability; the operator's create and tower placement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from berth.cloud.deps import Locations, Operator, ServiceProvider, TowerId
from berth.cloud.errors import responses
from berth.cloud.locations.schemas import LocationCreate, LocationPatch
from berth.cloud.locations.service import MAX_RADIUS_M, Item
from berth.contracts.cloud import (
    MAX_ID,
    MAX_SIZE_MM,
    Availability,
    Location,
    Locker,
    NearbyLocation,
)
from berth.domain.errors import InvalidInput

LocationId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many.")]
Size = Annotated[int | None, Query(ge=1, le=MAX_SIZE_MM, description="Item size in mm.")]
POINT = "'lat,lon' in degrees, e.g. 52.52,13.40"

router = APIRouter(prefix="/api/v1/locations", tags=["locations"],
                   responses=responses(401, 403, 503))
admin_router = APIRouter(prefix="/api/v1/admin/locations", tags=["operator"],
                         responses=responses(401, 403, 503))


@router.get("/", response_model=list[Location])
def list_locations(
    locations: Locations, partner: ServiceProvider,
    skip: Annotated[int, Query(ge=0, le=MAX_ID)] = 0, limit: Limit = 100,
) -> list[Location]:
    """The locations holding a tower assigned to you, by id."""
    return locations.list_locations(partner, skip, limit)


@router.get("/in-area", response_model=list[Location], responses=responses(400))
def in_area(
    locations: Locations, partner: ServiceProvider,
    start: Annotated[str, Query(max_length=64, description=f"One corner: {POINT}.")],
    end: Annotated[str, Query(max_length=64, description=f"The opposite corner: {POINT}.")],
    limit: Limit = 100,
) -> list[Location]:
    """Your locations in the box between two opposite corners (COORDINATES_INVALID: 400)."""
    return locations.in_area(partner, start, end, limit)


@router.get("/closest", response_model=list[NearbyLocation])
def closest(
    locations: Locations, partner: ServiceProvider,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    radius: Annotated[float, Query(gt=0, le=MAX_RADIUS_M, description="Metres.")] = 5000,
    limit: Limit = 20,
) -> list[NearbyLocation]:
    """Your locations within ``radius`` metres, nearest first, each with its distance."""
    return locations.closest(partner, lat, lon, radius, limit)


@router.get("/{location_id}/lockers", response_model=list[Locker], responses=responses(404))
def location_lockers(locations: Locations, partner: ServiceProvider,
                     location_id: LocationId) -> list[Locker]:
    """ALL lockers of your towers at the location, whatever their status."""
    return locations.lockers(partner, location_id)


@router.get("/{location_id}/availability", response_model=Availability,
            responses=responses(400, 404))
def availability(
    locations: Locations, partner: ServiceProvider, location_id: LocationId,
    width: Size = None, height: Size = None, depth: Size = None,
    weight: Annotated[int | None, Query(ge=1, le=1_000_000, description="Grams.")] = None,
) -> Availability:
    """Free / total, overall and per locker type, and whether the location is open now. With an
    item's width, height and depth (all three; weight optional) also which types take it in
    some rotation, and how many of those are free (ITEM_INCOMPLETE: 400)."""
    sizes = (width, height, depth)
    if any(s is None for s in sizes):
        if any(s is not None for s in sizes) or weight is not None:
            raise InvalidInput("ITEM_INCOMPLETE",
                               "Give the item's width, height and depth together.")
        return locations.availability(partner, location_id)
    assert width is not None and height is not None and depth is not None
    return locations.availability(partner, location_id, Item(width, height, depth, weight))


@admin_router.post("", response_model=Location, status_code=201, responses=responses(400))
def create_location(locations: Locations, _: Operator, body: LocationCreate) -> Location:
    return locations.create_location(body)


@admin_router.patch("/{location_id}", response_model=Location, responses=responses(404))
def update_location(locations: Locations, _: Operator, location_id: LocationId,
                    body: LocationPatch) -> Location:
    """Set or clear (null) the location's drop-off and collection windows."""
    return locations.update_location(location_id, body)


@admin_router.get("", response_model=list[Location])
def all_locations(locations: Locations, _: Operator) -> list[Location]:
    return locations.all_locations()


@admin_router.put("/{location_id}/towers/{tower_id}", status_code=204,
                  responses=responses(404))
def place_tower(locations: Locations, _: Operator, location_id: LocationId,
                tower_id: TowerId) -> None:
    """Put the tower in this location; a tower stands in one location, so it moves here."""
    locations.place_tower(location_id, tower_id)
