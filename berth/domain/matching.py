"""Locker matching: which locker types, in which order, may hold an item.

The domain core only *plans* the search; the store executes the plan against live locker state,
because which lockers are free changes under concurrency and lives in the database. A plan is an
ordered list of tiers ``(locker type, attribute mask)``; the first tier with a free, in-service,
operational locker wins, lowest locker id first.

Matching strategies (``matchingStrategy``):

* ``do_not_tip`` (default): the item stays upright. Its height must fit the locker's interior
  height; width and length may swap against the locker's width and depth.
* ``any_orientation``: the item may be laid in any orientation; its sorted dimensions must fit the
  locker's sorted interior dimensions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from berth.domain.errors import InvalidInput

MAX_DIMENSION_INCHES = 240.0


class MatchingStrategy(StrEnum):
    DO_NOT_TIP = "do_not_tip"
    ANY_ORIENTATION = "any_orientation"


DEFAULT_STRATEGY = MatchingStrategy.DO_NOT_TIP


@dataclass(frozen=True)
class LockerTypeSpec:
    """A locker type's interior, in inches."""

    type_id: int
    slug: str
    width: float
    height: float
    depth: float

    @property
    def size_key(self) -> tuple[float, float, float, float, int]:
        """Size order used for 'smallest first' and 'next larger': volume, then height."""
        return (self.width * self.height * self.depth, self.height, self.width, self.depth,
                self.type_id)


@dataclass(frozen=True)
class Item:
    width: float
    height: float
    length: float


@dataclass(frozen=True)
class MatchRequest:
    preferred_type: str | None = None
    preferred_attributes: tuple[str, ...] = ()
    item: Item | None = None
    allow_fallback: bool = False
    attributes_required: bool = False
    strategy: MatchingStrategy = DEFAULT_STRATEGY


@dataclass(frozen=True)
class Tier:
    """Search one locker type for lockers carrying every attribute bit in ``mask``."""

    type_id: int
    mask: int


class MatchError(InvalidInput):
    """The request can never be satisfied by this site, whatever its lockers' state (400)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, details or {})


def fits(item: Item | None, locker: LockerTypeSpec, strategy: MatchingStrategy) -> bool:
    """Whether ``item`` fits inside ``locker`` under ``strategy`` (no item: everything fits)."""
    if item is None:
        return True
    if strategy is MatchingStrategy.DO_NOT_TIP:
        if item.height > locker.height:
            return False
        footprint = sorted((item.width, item.length))
        floor = sorted((locker.width, locker.depth))
        return footprint[0] <= floor[0] and footprint[1] <= floor[1]
    dims = sorted((item.width, item.height, item.length))
    room = sorted((locker.width, locker.height, locker.depth))
    return all(d <= r for d, r in zip(dims, room, strict=True))


def attribute_mask(names: Iterable[str], bits: dict[str, int]) -> int:
    """OR of the attribute bits; unknown names are a MatchError."""
    mask = 0
    for name in names:
        if name not in bits:
            raise MatchError("UNKNOWN_ATTRIBUTE", f"Unknown locker attribute {name!r}",
                             {"attribute": name, "known": sorted(bits)})
        mask |= bits[name]
    return mask


def plan_search(
    request: MatchRequest, types: Sequence[LockerTypeSpec], attribute_bits: dict[str, int]
) -> list[Tier]:
    """The ordered tiers to search, or a MatchError when no locker of the site could ever do."""
    ordered = sorted(types, key=lambda t: t.size_key)
    wanted = attribute_mask(request.preferred_attributes, attribute_bits)
    fitting = [t for t in ordered if fits(request.item, t, request.strategy)]
    if not fitting:
        raise MatchError("ITEM_TOO_LARGE", "No locker type of this site can hold the item",
                         _item_details(request))

    if request.preferred_type is None:
        candidates = fitting
    else:
        by_slug = {t.slug: t for t in ordered}
        preferred = by_slug.get(request.preferred_type)
        if preferred is None:
            raise MatchError("UNKNOWN_LOCKER_TYPE",
                             f"Unknown locker type {request.preferred_type!r}",
                             {"preferredLockerType": request.preferred_type,
                              "known": sorted(by_slug)})
        start = ordered.index(preferred)
        scope = ordered[start:] if request.allow_fallback else [preferred]
        candidates = [t for t in scope if t in fitting]
        if not candidates:
            raise MatchError("ITEM_DOES_NOT_FIT_LOCKER_TYPE",
                             f"The item does not fit locker type {preferred.slug!r}"
                             + ("" if request.allow_fallback else " and allowFallback is false"),
                             _item_details(request))

    tiers: list[Tier] = []
    for t in candidates:
        if request.attributes_required or not wanted:
            tiers.append(Tier(t.type_id, wanted if request.attributes_required else 0))
        else:  # attributes are a preference: lockers with them first, then any of this type
            tiers.extend((Tier(t.type_id, wanted), Tier(t.type_id, 0)))
    return tiers


def _item_details(request: MatchRequest) -> dict[str, Any]:
    item = request.item
    if item is None:
        return {}
    return {"widthInches": item.width, "heightInches": item.height,
            "lengthInches": item.length, "matchingStrategy": str(request.strategy)}
