"""The fit rule: an item fits when some rotation lies within the locker's inner size."""

from __future__ import annotations

from itertools import permutations

import pytest

from berth.domain.fit import fits, weight_fits

INNER = (450, 150, 600)


@pytest.mark.parametrize("item", list(permutations((440, 100, 590))))
def test_every_rotation_of_an_item_that_fits_fits(item: tuple[int, int, int]) -> None:
    assert fits(item, INNER)
    for inner in permutations(INNER):
        assert fits(item, inner)


@pytest.mark.parametrize("item", [(460, 460, 100), (160, 160, 160), (10, 10, 601),
                                  (450, 151, 600), (600, 600, 150)])
def test_an_item_too_big_in_any_rotation_does_not_fit(item: tuple[int, int, int]) -> None:
    assert not any(fits(rot, INNER) for rot in permutations(item))


def test_exactly_the_inner_size_fits() -> None:
    assert fits((600, 450, 150), INNER)


def test_brute_force_agrees_with_the_sorted_rule() -> None:
    sizes = (100, 200, 300, 400)
    for item in permutations(sizes * 2, 3):
        for inner in [(250, 350, 150), (400, 100, 300), (200, 200, 200)]:
            brute = any(all(i <= s for i, s in zip(rot, inner, strict=True))
                        for rot in permutations(item))
            assert fits(item, inner) == brute, (item, inner)


@pytest.mark.parametrize("inner", [(None, 150, 600), (450, None, 600), (None, None, None)])
def test_a_locker_of_unknown_size_never_fits(inner: tuple[int | None, ...]) -> None:
    assert not fits((1, 1, 1), inner)


def test_three_dimensions_are_required() -> None:
    with pytest.raises(ValueError):
        fits((1, 1), INNER)


@pytest.mark.parametrize(("weight", "limit", "ok"), [
    (None, None, True), (None, 100, True), (5000, None, True), (100, 100, True), (101, 100, False),
])
def test_weight_against_a_load_limit(weight: int | None, limit: int | None, ok: bool) -> None:
    assert weight_fits(weight, limit) is ok
