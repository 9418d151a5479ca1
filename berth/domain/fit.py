"""The fit check: does an item go into a locker of given inner size?

An item fits when some rotation of it lies within the locker's inner width, height and depth.
For boxes, a rotation that fits exists exactly when the item's sorted dimensions are each at most
the locker's sorted dimensions (pair the largest with the largest, and so on), so no rotation is
tried one by one. A locker of unknown size, or with one dimension unknown, never fits: a carrier
asks before committing, and "maybe" would send a parcel to a door it cannot pass.
"""

from __future__ import annotations

from collections.abc import Sequence


def fits(item: Sequence[float], inner: Sequence[float | None]) -> bool:
    """Whether the item (three sizes) fits a locker's inner size (three sizes, any unknown)."""
    if len(item) != 3 or len(inner) != 3:
        raise ValueError("three dimensions each")
    if any(size is None for size in inner):
        return False
    known = sorted(float(size) for size in inner if size is not None)
    return all(i <= s for i, s in zip(sorted(item), known, strict=True))


def weight_fits(weight: float | None, max_weight: float | None) -> bool:
    """An item's weight against a locker's load limit; no weight given, or no limit, passes."""
    return weight is None or max_weight is None or weight <= max_weight
