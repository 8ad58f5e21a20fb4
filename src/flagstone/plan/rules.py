"""Compiled rules: everything the rule loop needs, prepared once per snapshot and client.

A ``CompiledRule`` holds plain data and closures only: the unit reader for its selector, the
segment gate, the variant-bucket salt and ranges, the outcome of each assignment (shared by
every resolution it produces), and for A/B-test rules the treatment overrides and schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from ..resolution import Outcome
from .signals import Predicate
from .targeting import attribute_getter

__all__ = [
    "CLIENT_DEFAULT",
    "FALLTHROUGH",
    "INVALID_UNIT",
    "VARIANT",
    "CompiledAssignment",
    "CompiledRule",
    "UnitReader",
    "unit_reader",
]

VARIANT: Final = 0
CLIENT_DEFAULT: Final = 1
FALLTHROUGH: Final = 2

MAX_UNIT_LENGTH = 100

INVALID_UNIT: Final[Any] = object()
"""Returned by a unit reader for a targeting key that is neither a string nor a whole number,
or longer than 100 characters."""

UnitReader = Callable[[dict[str, Any]], Any]
"""context → the unit (``str``), ``None`` when absent, or ``INVALID_UNIT``."""


def _coerce_unit(value: Any) -> Any:
    if isinstance(value, bool):
        return INVALID_UNIT
    if isinstance(value, str):
        unit = str(value)
    elif isinstance(value, int):
        unit = str(int(value))
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        unit = str(int(value))
    else:
        return INVALID_UNIT
    return unit if len(unit) <= MAX_UNIT_LENGTH else INVALID_UNIT


def unit_reader(selector: str) -> UnitReader:
    """The unit at a dotted selector path: strings as they are, whole numbers formatted as
    integers; anything else (or longer than 100 characters) is ``INVALID_UNIT``."""
    get = attribute_getter(selector)

    def read_unit(context: dict[str, Any]) -> Any:
        value = get(context)
        if value.__class__ is str and len(value) <= MAX_UNIT_LENGTH:
            return value
        if value is None:
            return None
        return _coerce_unit(value)

    return read_unit


class CompiledAssignment:
    """One assignment of a rule: its kind and the outcome every unit in it gets."""

    __slots__ = ("assignment_id", "kind", "outcome", "ranges", "variant_name")

    def __init__(
        self,
        kind: int,
        assignment_id: str,
        outcome: Outcome | None,
        variant_name: str,
        ranges: tuple[tuple[int, int], ...],
    ) -> None:
        self.kind = kind
        self.assignment_id = assignment_id
        self.outcome = outcome
        self.variant_name = variant_name
        self.ranges = ranges

    def holds(self, bucket: int) -> bool:
        return any(lower <= bucket < upper for lower, upper in self.ranges)


class CompiledRule:
    """A rule ready for the rule loop in ``flagstone.resolve``."""

    __slots__ = (
        "active",
        "bucket_count",
        "by_variant",
        "gate",
        "ignore_targeting",
        "must_match",
        "name",
        "needs_store",
        "overrides",
        "ranges",
        "read_materialization",
        "salt",
        "selector",
        "single",
        "targeting",
        "unit",
        "window",
        "write_materialization",
    )

    def __init__(
        self,
        *,
        name: str,
        selector: str,
        segment_id: str,
        bucket_count: int,
        assignments: list[CompiledAssignment],
        gate: Predicate | None,
        targeting: Predicate | None,
        read_materialization: str = "",
        write_materialization: str = "",
        must_match: bool = False,
        ignore_targeting: bool = False,
        needs_store: bool = False,
        overrides: dict[str, Outcome] | None = None,
        window: tuple[int | None, int | None] | None = None,
        active: bool = True,
    ) -> None:
        self.name = name
        self.selector = selector
        self.unit: UnitReader | None = unit_reader(selector) if selector else None
        self.salt = f"{segment_id}|"
        self.bucket_count = bucket_count
        self.gate = gate
        self.targeting = targeting
        self.read_materialization = read_materialization
        self.write_materialization = write_materialization
        self.must_match = must_match
        self.ignore_targeting = ignore_targeting
        self.needs_store = needs_store
        self.overrides = overrides or None
        self.window = window
        self.active = active
        ranges = sorted(
            (lower, upper, assignment)
            for assignment in assignments
            for lower, upper in assignment.ranges
        )
        self.ranges: tuple[tuple[int, int, CompiledAssignment], ...] = tuple(ranges)
        self.single = _covering_assignment(assignments, bucket_count)
        by_variant: dict[str, list[CompiledAssignment]] = {}
        for assignment in assignments:
            if assignment.kind == VARIANT:
                by_variant.setdefault(assignment.variant_name, []).append(assignment)
                short = assignment.variant_name.rsplit("/", 1)[-1]
                if short != assignment.variant_name:
                    by_variant.setdefault(short, []).append(assignment)
        self.by_variant = by_variant

    def assignment_at(self, bucket: int) -> CompiledAssignment | None:
        """The assignment whose range holds ``bucket`` (validation guarantees the ranges of
        a rule do not overlap), or ``None`` for a bucket in a gap."""
        for lower, upper, assignment in self.ranges:
            if bucket < upper:
                return assignment if bucket >= lower else None
        return None


def _covering_assignment(
    assignments: list[CompiledAssignment], bucket_count: int
) -> CompiledAssignment | None:
    """The assignment that holds every bucket, if there is one: then the bucket does not
    matter, and neither a hash nor even a unit is needed."""
    for assignment in assignments:
        reach = 0
        for lower, upper in sorted(assignment.ranges):
            if lower > reach:
                break
            reach = max(reach, upper)
        if reach >= bucket_count:
            return assignment
    return None
