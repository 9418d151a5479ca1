"""The locations' plot keeps their real arrangement inside the SVG's view box."""

from __future__ import annotations

from berth.cloud.console.plot import HEIGHT, MARGIN, WIDTH, plot


def test_north_is_up_east_is_right_and_everything_fits() -> None:
    north, east, south = plot([(52.6, 13.4, "north", 1), (52.5, 13.6, "east", 0),
                               (52.4, 13.4, "south", 0)])
    assert north.y < south.y and east.x > north.x and north.x == south.x
    for p in (north, east, south):
        assert MARGIN - 1 <= p.x <= WIDTH - MARGIN + 1 and MARGIN - 1 <= p.y <= HEIGHT - MARGIN + 1
    assert (north.label, north.towers) == ("north", 1)


def test_one_place_sits_in_the_middle_and_none_draws_nothing() -> None:
    [only] = plot([(52.5, 13.4, "only", 2)])
    assert (only.x, only.y) == (WIDTH / 2, HEIGHT / 2)
    assert plot([]) == []
