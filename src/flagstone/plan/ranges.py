"""Bucket ranges looked up by a scan when a rule or allocation has few, by bisection when it
has many (a snapshot may hold hundreds of thousands; a scan of them costs milliseconds per
evaluate, a bisection a microsecond).

Ranges are ``(lower, upper)`` pairs, lower inclusive and upper exclusive; validation
guarantees the ranges handed here do not overlap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["SCAN_LIMIT", "in_ranges", "range_finder"]

SCAN_LIMIT = 8
"""Up to this many ranges a scan in Python beats a bisection (a C call and two look-ups)."""

T = TypeVar("T")


def in_ranges(ranges: Sequence[tuple[int, int]]) -> Callable[[int], bool]:
    """A test of whether a bucket lies in one of ``ranges`` (which must not overlap)."""
    ordered = tuple(sorted(ranges))
    if len(ordered) <= SCAN_LIMIT:
        return lambda index: any(lower <= index < upper for lower, upper in ordered)
    lowers = [lower for lower, _ in ordered]
    uppers = [upper for _, upper in ordered]

    def holds(index: int) -> bool:
        position = bisect_right(lowers, index) - 1
        return position >= 0 and index < uppers[position]

    return holds


def range_finder(ranges: Sequence[tuple[int, int, T]]) -> Callable[[int], T | None]:
    """The item of the range (``(lower, upper, item)``, not overlapping) that holds a bucket,
    ``None`` for a bucket in no range, by bisection."""
    ordered = sorted(ranges, key=lambda entry: entry[0])
    lowers = [lower for lower, _, _ in ordered]
    uppers = [upper for _, upper, _ in ordered]
    items = [item for _, _, item in ordered]

    def find(index: int) -> T | None:
        position = bisect_right(lowers, index) - 1
        if position >= 0 and index < uppers[position]:
            return items[position]
        return None

    return find
