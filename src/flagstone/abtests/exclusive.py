"""Stable placement of exclusive tests in the account-wide bucket space.

Tests that share an exclusivity tag own disjoint ``bucketRanges`` of the 1 000 000 buckets of
``f"MegaSalt-{account id}|{unit}"``, so no unit is in two of them. ``place`` sizes one test's
ranges to a new width without moving a bucket it already owns: growing adds the lowest free
buckets (first fit, so the result depends only on the ranges given out), shrinking (drafts
only) gives back the highest buckets first. ``held`` finds the ranges the other holders of a
tag have in a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ConfigError, Problem
from ..model.segments import Allocation
from ..model.snapshot import Snapshot
from ..semantics.hashing import ACCOUNT_BUCKETS

__all__ = [
    "HOLDING",
    "Range",
    "free_ranges",
    "held",
    "merge",
    "place",
    "ranges_of",
    "share_of",
    "width",
]

HOLDING = ("draft", "live")
"""The states in which a test holds its exclusive buckets (ended and archived tests give them
back)."""

Range = tuple[int, int]
"""``(lower, upper)``: buckets ``lower`` (inclusive) to ``upper`` (exclusive)."""


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Sorted ranges with touching and overlapping ones joined."""
    merged: list[Range] = []
    for lower, upper in sorted(r for r in ranges if r[1] > r[0]):
        if merged and lower <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], upper))
        else:
            merged.append((lower, upper))
    return merged


def width(ranges: Iterable[Range]) -> int:
    """How many buckets ``ranges`` cover (they must not overlap)."""
    return sum(upper - lower for lower, upper in ranges)


def free_ranges(taken: Iterable[Range], space: int = ACCOUNT_BUCKETS) -> list[Range]:
    """The parts of ``[0, space)`` that no range in ``taken`` covers, lowest first."""
    free: list[Range] = []
    cursor = 0
    for lower, upper in merge(taken):
        if lower > cursor:
            free.append((cursor, lower))
        cursor = max(cursor, upper)
    if cursor < space:
        free.append((cursor, space))
    return free


def place(
    own: Sequence[Range],
    others: Iterable[Range],
    target: int,
    *,
    path: str = "$",
    space: int = ACCOUNT_BUCKETS,
) -> list[Range]:
    """``own`` resized to ``target`` buckets, never moving one it keeps.

    ``others`` are the ranges the tests sharing a tag with this one hold. Raises
    ``ConfigError`` (at ``path``) when the free space is too small.
    """
    ranges = merge(own)
    current = width(ranges)
    if target <= current:
        return _shrink(ranges, current - target)
    taken = merge([*ranges, *others])
    need = target - current
    available = width(free_ranges(taken, space))
    if need > available:
        raise ConfigError(
            [
                Problem(
                    path,
                    f"needs {need} more of the {space} exclusive buckets but only {available} "
                    "are free under its exclusivity tags; end or shrink another test first",
                )
            ]
        )
    added: list[Range] = []
    for lower, upper in free_ranges(taken, space):
        take = min(need, upper - lower)
        added.append((lower, lower + take))
        need -= take
        if need == 0:
            break
    return merge([*ranges, *added])


def _shrink(ranges: list[Range], excess: int) -> list[Range]:
    kept = list(ranges)
    while excess > 0:
        lower, upper = kept.pop()
        cut = min(excess, upper - lower)
        if upper - cut > lower:
            kept.append((lower, upper - cut))
        excess -= cut
    return kept


def ranges_of(allocation: Allocation | None) -> list[Range]:
    """An allocation's bucket ranges, merged (none for no allocation)."""
    if allocation is None:
        return []
    return merge((item.lower, item.upper) for item in allocation.bucket_ranges)


def share_of(allocation: Allocation | None) -> float:
    """The share of the population an allocation admits: its proportion, else the width of
    its bucket ranges, else everyone (1.0)."""
    if allocation is None:
        return 1.0
    if allocation.proportion is not None:
        return allocation.proportion
    ranges = ranges_of(allocation)
    return width(ranges) / ACCOUNT_BUCKETS if ranges else 1.0


def held(snapshot: Snapshot, tags: Iterable[str], *, besides: int | None = None) -> list[Range]:
    """The ranges held under any of ``tags`` by the snapshot's segments and by its tests in a
    holding state, the test at index ``besides`` left out."""
    wanted = set(tags)
    allocations = [segment.allocation for _, _, segment in snapshot.segment_entries()]
    allocations += [
        test.segment.allocation
        for index, test in enumerate(snapshot.abtests)
        if index != besides and test.state in HOLDING and test.segment is not None
    ]
    taken: list[Range] = []
    for allocation in allocations:
        if allocation is not None and wanted & set(allocation.exclusivity_tags):
            taken += ranges_of(allocation)
    return taken
