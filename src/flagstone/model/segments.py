"""Segments: who is in (targeting) and how much of them (allocation).

A segment's allocation is decided, in this order, by an explicit bitset in the snapshot's
``bitsets`` (Confidence's form), by ``allocation.bucketRanges`` in the account-wide bucket
space (used for exclusive tests), or by ``allocation.proportion`` (flagstone's rule, see
DESIGN.md). A segment with none of them admits every unit its targeting admits.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .base import CONFIG, Count, ResourceMetadata, dataclass
from .targeting import Targeting

__all__ = ["Allocation", "BucketRange", "Proportion", "Segment", "parse_proportion"]


def parse_proportion(raw: Any) -> float:
    """Read a proportion written as a number, a decimal string, or ``{"value": "0.5"}``
    (the Confidence A/B-test API's shape); it must lie in [0, 1]."""
    if isinstance(raw, dict):
        if set(raw) != {"value"}:
            raise ValueError('a proportion object has exactly one key, "value"')
        raw = raw["value"]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError('a proportion is a number, a decimal string or {"value": ...}')
    if isinstance(raw, str):
        try:
            number = float(Decimal(raw.strip()))
        except InvalidOperation:
            raise ValueError(f"proportion {raw!r} is not a decimal number") from None
    else:
        number = float(raw)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"proportion {raw!r} is outside [0, 1]")
    return number


Proportion = Annotated[float, BeforeValidator(parse_proportion)]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class BucketRange:
    """Buckets ``lower`` (inclusive) to ``upper`` (exclusive). ``lower`` may be left out, as
    protobuf's JSON leaves out zeros."""

    lower: Count = 0
    upper: Count


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Allocation:
    """How much of the targeted population a segment admits.

    ``proportion`` p admits a unit when its bucket of ``f"allocation-{segment id}|{unit}"``
    among 1 000 000 is below ``round(p * 1_000_000)``. ``bucketRanges`` instead place the
    segment in the account-wide space (``f"MegaSalt-{account id}|{unit}"``); segments that
    share an ``exclusivityTags`` tag must have disjoint ranges, so no unit is in two of them.
    """

    proportion: Proportion | None = None
    exclusivity_tags: list[str] = Field(default_factory=list)
    exclusive_to: list[str] = Field(default_factory=list)
    bucket_ranges: list[BucketRange] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Segment(ResourceMetadata):
    """A named population: ``segments/<id>``. The id is the salt of the variant bucket."""

    name: str
    state: str | None = None
    targeting: Targeting | None = None
    allocation: Allocation | None = None
    workflow_instance: str | None = None
