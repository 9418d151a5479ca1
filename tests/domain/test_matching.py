"""Locker matching rules of the pure domain core."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.domain.errors import InvalidInput, http_status
from berth.domain.matching import (
    Item,
    LockerTypeSpec,
    MatchError,
    MatchingStrategy,
    MatchRequest,
    Tier,
    fits,
    plan_search,
)

SMALL = LockerTypeSpec(1, "small", 16, 8, 20)
MEDIUM = LockerTypeSpec(2, "medium", 16, 16, 20)
LARGE = LockerTypeSpec(3, "large", 20, 30, 24)
TYPES = [LARGE, SMALL, MEDIUM]  # deliberately not in size order
BITS = {"low": 1, "high": 2}
UPRIGHT, ANY = MatchingStrategy.DO_NOT_TIP, MatchingStrategy.ANY_ORIENTATION


def test_do_not_tip_keeps_height_but_lets_footprint_swap() -> None:
    assert fits(Item(20, 8, 16), SMALL, UPRIGHT)  # width/length swapped against 16x20
    assert not fits(Item(8, 16, 8), SMALL, UPRIGHT)  # too tall upright
    assert fits(Item(8, 16, 8), SMALL, ANY)  # lying down it fits
    assert not fits(Item(21, 1, 1), SMALL, ANY)
    assert fits(None, SMALL, UPRIGHT)


def test_no_preference_is_every_fitting_type_smallest_first() -> None:
    plan = plan_search(MatchRequest(), TYPES, BITS)
    assert plan == [Tier(1, 0), Tier(2, 0), Tier(3, 0)]
    tall = plan_search(MatchRequest(item=Item(5, 12, 5)), TYPES, BITS)
    assert [t.type_id for t in tall] == [2, 3]


def test_preferred_type_with_and_without_fallback() -> None:
    assert plan_search(MatchRequest("small"), TYPES, BITS) == [Tier(1, 0)]
    assert plan_search(MatchRequest("small", allow_fallback=True), TYPES, BITS) == [
        Tier(1, 0), Tier(2, 0), Tier(3, 0)]
    assert plan_search(MatchRequest("medium", allow_fallback=True), TYPES, BITS) == [
        Tier(2, 0), Tier(3, 0)]


def test_attributes_filter_or_prefer() -> None:
    required = MatchRequest("medium", ("low",), attributes_required=True, allow_fallback=True)
    assert plan_search(required, TYPES, BITS) == [Tier(2, 1), Tier(3, 1)]
    preferred = MatchRequest("medium", ("low", "high"))
    assert plan_search(preferred, TYPES, BITS) == [Tier(2, 3), Tier(2, 0)]


@pytest.mark.parametrize(("request_", "code"), [
    (MatchRequest(item=Item(30, 40, 30)), "ITEM_TOO_LARGE"),
    (MatchRequest("giant"), "UNKNOWN_LOCKER_TYPE"),
    (MatchRequest(preferred_attributes=("purple",)), "UNKNOWN_ATTRIBUTE"),
    (MatchRequest("small", item=Item(5, 12, 5)), "ITEM_DOES_NOT_FIT_LOCKER_TYPE"),
])
def test_impossible_requests(request_: MatchRequest, code: str) -> None:
    with pytest.raises(MatchError) as err:
        plan_search(request_, TYPES, BITS)
    assert err.value.code == code


dims = st.floats(min_value=0.5, max_value=40, allow_nan=False)
types_st = st.lists(st.tuples(dims, dims, dims), min_size=1, max_size=5).map(
    lambda ds: [LockerTypeSpec(i, f"t{i}", *d) for i, d in enumerate(ds, 1)])


@given(types=types_st, item=st.none() | st.builds(Item, dims, dims, dims),
       strategy=st.sampled_from(list(MatchingStrategy)), fallback=st.booleans(),
       pick=st.integers(0, 10), prefer=st.booleans())
def test_plans_only_contain_fitting_types_in_size_order(
        types: list[LockerTypeSpec], item: Item | None, strategy: MatchingStrategy,
        fallback: bool, pick: int, prefer: bool) -> None:
    preferred = types[pick % len(types)].slug if prefer else None
    request = MatchRequest(preferred, (), item, fallback, False, strategy)
    try:
        plan = plan_search(request, types, BITS)
    except MatchError as exc:
        fitting = [t for t in types if fits(item, t, strategy)]
        assert exc.code in ("ITEM_TOO_LARGE", "ITEM_DOES_NOT_FIT_LOCKER_TYPE")
        assert not fitting or exc.code == "ITEM_DOES_NOT_FIT_LOCKER_TYPE"
        return
    by_id = {t.type_id: t for t in types}
    planned = [by_id[t.type_id] for t in plan]
    assert all(fits(item, t, strategy) for t in planned)
    assert [t.size_key for t in planned] == sorted(t.size_key for t in planned)
    if preferred and not fallback:
        assert {t.slug for t in planned} == {preferred}
    if preferred:
        assert all(t.size_key >= by_id[types[pick % len(types)].type_id].size_key
                   for t in planned)


def test_a_refused_match_is_invalid_input() -> None:
    """Every API renders it as a 400 with the matching code, from the one error hierarchy."""
    with pytest.raises(InvalidInput) as err:
        plan_search(MatchRequest("giant"), TYPES, BITS)
    assert http_status(err.value) == 400 and err.value.code == "UNKNOWN_LOCKER_TYPE"
    assert err.value.details["preferredLockerType"] == "giant"
