"""Distances on the Earth and the boxes that bound them: pure rules for location search.

Search is two steps: a bounding box that an index on (latitude, longitude) can answer, then the
exact great-circle (haversine) distance of the few rows inside it. The box is never smaller than
the circle, so the prefilter loses nothing; near a pole or across the antimeridian it widens to
every longitude, or splits into two longitude ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


@dataclass(frozen=True)
class Box:
    """Latitudes ``south..north``; longitudes ``west..east``, or, when ``west > east`` (the box
    crosses the antimeridian), ``west..180`` and ``-180..east``."""

    south: float
    north: float
    west: float
    east: float

    @property
    def wraps(self) -> bool:
        return self.west > self.east


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> Box:
    """The smallest latitude/longitude box holding every point within ``radius_m`` of the centre."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    south, north = lat - dlat, lat + dlat
    if south <= -90 or north >= 90:  # the circle holds a pole: every longitude
        return Box(max(south, -90.0), min(north, 90.0), -180.0, 180.0)
    # The widest longitude span of the circle (at the latitude where it touches its meridians).
    ratio = math.sin(radius_m / EARTH_RADIUS_M) / math.cos(math.radians(lat))
    if ratio >= 1:
        return Box(south, north, -180.0, 180.0)
    dlon = math.degrees(math.asin(ratio))
    west, east = lon - dlon, lon + dlon
    if west < -180:
        west += 360
    if east > 180:
        east -= 360
    return Box(south, north, west, east)


def box_of_corners(start: tuple[float, float], end: tuple[float, float]) -> Box:
    """The box between two opposite corners ``(lat, lon)``, in either order (no wrap)."""
    (lat1, lon1), (lat2, lon2) = start, end
    return Box(min(lat1, lat2), max(lat1, lat2), min(lon1, lon2), max(lon1, lon2))
