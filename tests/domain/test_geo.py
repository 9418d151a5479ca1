"""Distances and bounding boxes: the prefilter never loses a point the exact distance keeps."""

from __future__ import annotations

import math
import random

import pytest

from berth.domain.geo import EARTH_RADIUS_M, Box, bounding_box, box_of_corners, haversine_m


def inside(box: Box, lat: float, lon: float) -> bool:
    lons = (lon >= box.west or lon <= box.east) if box.wraps else box.west <= lon <= box.east
    return box.south <= lat <= box.north and lons


def test_known_distances() -> None:
    assert haversine_m(52.5251, 13.3694, 52.5251, 13.3694) == 0
    # Berlin main station to Paris Gare du Nord: about 878 km
    assert 870_000 < haversine_m(52.5251, 13.3694, 48.8809, 2.3553) < 885_000
    # a quarter of the equator
    assert haversine_m(0, 0, 0, 90) == pytest.approx(math.pi * EARTH_RADIUS_M / 2)
    assert haversine_m(10, 20, -30, 40) == pytest.approx(haversine_m(-30, 40, 10, 20))


@pytest.mark.parametrize(("lat", "lon", "radius"), [
    (52.52, 13.40, 2000), (0, 0, 100_000), (-33.86, 151.21, 500_000), (0, 179.9, 50_000),
    (0, -179.95, 20_000), (89.99, 0, 5_000), (-89.5, 10, 100_000), (70, 100, 1_000_000),
])
def test_the_box_holds_every_point_within_the_radius(lat: float, lon: float,
                                                    radius: float) -> None:
    box = bounding_box(lat, lon, radius)
    rng = random.Random(f"{lat},{lon},{radius}")
    dlat = math.degrees(radius / EARTH_RADIUS_M) * 1.2
    dlon = min(180.0, dlat / max(math.cos(math.radians(lat)), 0.01))
    checked = 0
    for _ in range(4000):
        plat = max(-90.0, min(90.0, lat + rng.uniform(-dlat, dlat)))
        plon = (lon + rng.uniform(-dlon, dlon) + 180) % 360 - 180
        if haversine_m(lat, lon, plat, plon) <= radius:
            checked += 1
            assert inside(box, plat, plon), (plat, plon, box)
    # and points on the circle itself, all around
    for bearing in range(0, 360, 5):
        b, d = math.radians(bearing), radius / EARTH_RADIUS_M * 0.999999
        p1, l1 = math.radians(lat), math.radians(lon)
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
        l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1),
                             math.cos(d) - math.sin(p1) * math.sin(p2))
        plon = (math.degrees(l2) + 180) % 360 - 180
        assert inside(box, math.degrees(p2), plon), (bearing, box)
    assert checked > 0


def test_the_box_wraps_across_the_antimeridian() -> None:
    box = bounding_box(0, 179.9, 50_000)
    assert box.wraps and box.west > 179 and box.east < -179


def test_a_box_holding_a_pole_spans_every_longitude() -> None:
    box = bounding_box(89.99, 0, 5_000)
    assert (box.west, box.east, box.north) == (-180, 180, 90)


def test_a_small_box_is_tight() -> None:
    box = bounding_box(52.52, 13.40, 1000)
    assert box.north - box.south == pytest.approx(2 * 1000 / 111_195, rel=1e-3)
    assert not box.wraps


def test_corners_in_either_order_give_the_same_box() -> None:
    assert box_of_corners((52.6, 13.5), (52.4, 13.3)) == box_of_corners((52.4, 13.3), (52.6, 13.5))
    assert box_of_corners((52.6, 13.3), (52.4, 13.5)) == Box(52.4, 52.6, 13.3, 13.5)
