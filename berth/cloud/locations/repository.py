"""Location rows and which towers stand where: one place for the SQL, no rules.

A partner sees a location through a tower assigned to it (an EXISTS on ``location_towers`` and
``tower_partners``), so area searches start from the (latitude, longitude) index, never from the
partner's towers or a scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)

from berth.cloud.tables import location_towers, locations, lockers, tower_partners
from berth.domain.geo import Box


def insert_location(conn: Connection, values: Mapping[str, Any]) -> int:
    result = conn.execute(insert(locations).values(**values).returning(locations.c.id))
    return int(result.scalar_one())


def all_locations(conn: Connection) -> Sequence[RowMapping]:
    return conn.execute(select(locations).order_by(locations.c.id)).mappings().all()


def location(conn: Connection, location_id: int) -> RowMapping | None:
    query = select(locations).where(locations.c.id == location_id)
    return conn.execute(query).mappings().first()


def update_location(conn: Connection, location_id: int, values: Mapping[str, Any]) -> None:
    conn.execute(update(locations).where(locations.c.id == location_id).values(**values))


def tower_windows(conn: Connection, tower_id: str) -> tuple[int | None, int | None]:
    """(drop-off, collection) window in seconds of the tower's location; (None, None) when it
    stands nowhere or the location sets none."""
    query = (select(locations.c.dropoff_window_s, locations.c.collection_window_s)
             .join(location_towers, location_towers.c.location_id == locations.c.id)
             .where(location_towers.c.tower_id == tower_id))
    row = conn.execute(query).first()
    return (None, None) if row is None else (row[0], row[1])


def place_tower(conn: Connection, tower_id: str, location_id: int) -> None:
    """The tower stands at this location now (and nowhere else)."""
    conn.execute(delete(location_towers).where(location_towers.c.tower_id == tower_id))
    conn.execute(insert(location_towers).values(tower_id=tower_id, location_id=location_id))


def location_tower_ids(conn: Connection, location_id: int) -> list[str]:
    query = select(location_towers.c.tower_id).where(location_towers.c.location_id == location_id)
    return list(conn.execute(query.order_by(location_towers.c.tower_id)).scalars())


def _visible(partner_id: int) -> ColumnElement[bool]:
    return exists().where(
        location_towers.c.location_id == locations.c.id,
        tower_partners.c.tower_id == location_towers.c.tower_id,
        tower_partners.c.partner_id == partner_id,
    )


def in_box(box: Box) -> ColumnElement[bool]:
    """Inside the box: a latitude range the index seeks, then longitudes (two ranges on a wrap)."""
    lon = locations.c.longitude
    lons = (or_(lon >= box.west, lon <= box.east) if box.wraps
            else lon.between(box.west, box.east))
    return and_(locations.c.latitude.between(box.south, box.north), lons)


def partner_locations(conn: Connection, partner_id: int, skip: int, limit: int
                      ) -> Sequence[RowMapping]:
    query = (select(locations).where(_visible(partner_id)).order_by(locations.c.id)
             .offset(skip).limit(limit))
    return conn.execute(query).mappings().all()


def box_query(partner_id: int, box: Box) -> Select[Any]:
    """The partner's locations in the box (also what the query-plan test explains)."""
    return select(locations).where(in_box(box), _visible(partner_id))


def partner_locations_in_box(conn: Connection, partner_id: int, box: Box,
                             limit: int | None = None) -> Sequence[RowMapping]:
    query = box_query(partner_id, box).order_by(locations.c.id)
    return conn.execute(query if limit is None else query.limit(limit)).mappings().all()


def partner_location(conn: Connection, partner_id: int, location_id: int) -> RowMapping | None:
    query = select(locations).where(locations.c.id == location_id, _visible(partner_id))
    return conn.execute(query).mappings().first()


def partner_location_lockers(conn: Connection, partner_id: int, location_id: int
                             ) -> Sequence[RowMapping]:
    """Lockers of the location's towers assigned to the partner (others' towers stay hidden)."""
    return conn.execute(location_lockers_query(partner_id, location_id)).mappings().all()


def location_lockers_query(partner_id: int, location_id: int) -> Select[Any]:
    """The query of :func:`partner_location_lockers` (also what the query-plan test explains).

    The towers come from the location's index and each is checked against the partner's
    assignment by key, so a partner with a tower at each of 100,000 locations costs no more
    than one with a single tower (joining from ``tower_partners`` would scan them all)."""
    assigned = exists().where(tower_partners.c.tower_id == location_towers.c.tower_id,
                              tower_partners.c.partner_id == partner_id)
    towers_here = select(location_towers.c.tower_id).where(
        location_towers.c.location_id == location_id, assigned)
    return (select(lockers).where(lockers.c.tower_id.in_(towers_here))
            .order_by(lockers.c.tower_id, lockers.c.id))
