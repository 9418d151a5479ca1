"""The locations as points of an inline SVG map: no tiles, no internet, just the coordinates.

An equirectangular projection around the fleet's middle latitude (longitude shrunk by its
cosine), so a city's stations keep their real shape at the scale a console shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, MARGIN = 640.0, 400.0, 40.0


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    towers: int


def plot(places: Sequence[tuple[float, float, str, int]]) -> list[Point]:
    """``(latitude, longitude, label, towers there)`` -> points inside the SVG's view box."""
    if not places:
        return []
    mid = math.radians(sum(p[0] for p in places) / len(places))
    xs = [p[1] * math.cos(mid) for p in places]
    ys = [p[0] for p in places]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0  # one place: the middle
    scale = min(WIDTH, HEIGHT) - 2 * MARGIN
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [Point(round(WIDTH / 2 + (x - cx) / span * scale, 1),
                  round(HEIGHT / 2 - (y - cy) / span * scale, 1), label, towers)
            for x, y, (_, _, label, towers) in zip(xs, ys, places, strict=True)]
