"""Compiled rules: everything the rule loop needs, prepared once per snapshot and client.

A ``CompiledRule`` holds plain data and closures only: the unit reader for its selector, the
segment gate, the variant-bucket salt and ranges, the outcome of each assignment (shared by
every resolution it produces), and for A/B-test rules the treatment overrides and schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

from ..resolution import Outcome
from .ranges import SCAN_LIMIT, in_ranges, range_finder
from .segments import AllocationPlan
from .signals import Predicate
from .targeting import attribute_getter

__all__ = [
    "CLIENT_DEFAULT",
    "DEFAULT_SELECTOR",
    "FALLTHROUGH",
    "INVALID_UNIT",
    "MAX_UNIT_LENGTH",
    "VARIANT",
    "CompiledAssignment",
    "CompiledRule",
    "UnitReader",
    "coerce_unit",
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


_EXACT_DOUBLE = 2**53


def coerce_unit(value: Any) -> Any:
    """A targeting key that is not a plain short ASCII string, as a unit or
    ``INVALID_UNIT``. Strings that are not valid Unicode (lone surrogates) are invalid.

    Whole numbers are formatted as integers. Confidence reads contexts as JSON, where a
    number is a double, so an int beyond 2**53 is first rounded to a double as it would be
    there; the unit then hashes to the same bucket as in Confidence.
    """
    if isinstance(value, bool):
        return INVALID_UNIT
    if isinstance(value, str):
        if len(value) > MAX_UNIT_LENGTH:
            return INVALID_UNIT  # before anything reads it: a key may be megabytes long
        unit = str(value)
        if not unit.isascii() and not _encodable(unit):
            return INVALID_UNIT
    elif isinstance(value, int):
        if -_EXACT_DOUBLE <= value <= _EXACT_DOUBLE:
            unit = str(int(value))
        else:
            try:
                unit = str(int(float(value)))
            except OverflowError:
                return INVALID_UNIT
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        unit = str(int(value))
    else:
        return INVALID_UNIT
    return unit if len(unit) <= MAX_UNIT_LENGTH else INVALID_UNIT


DEFAULT_SELECTOR = "targeting_key"


def _encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates, which ``json.loads`` lets
    through and which must never reach the hash)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_READERS: dict[str, UnitReader] = {}


def unit_reader(selector: str) -> UnitReader:
    """The unit at a dotted selector path (a blank selector reads ``targeting_key``):
    strings as they are, whole numbers formatted as integers; anything else (or longer than
    100 characters) is ``INVALID_UNIT``. Readers are stateless and shared by selector."""
    reader = _READERS.get(selector)
    if reader is None:
        reader = _READERS.setdefault(selector, _unit_reader(selector))
    return reader


def _unit_reader(selector: str) -> UnitReader:
    get = attribute_getter(selector or DEFAULT_SELECTOR)

    def read_unit(context: dict[str, Any]) -> Any:
        value = get(context)
        if value.__class__ is str and len(value) <= MAX_UNIT_LENGTH and value.isascii():
            return value
        if value is None:
            return None
        return coerce_unit(value)

    return read_unit


_NONE: dict[str, list[CompiledAssignment]] = {}
"""The ``by_variant`` of every rule that reads no materialization (never written to): one
empty dict, not one per rule."""


class CompiledAssignment:
    """One assignment of a rule: its kind and the outcome every unit in it gets."""

    __slots__ = ("_many", "assignment_id", "kind", "outcome", "ranges", "variant_name")

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
        self._many = in_ranges(ranges) if len(ranges) > SCAN_LIMIT else None

    def holds(self, bucket: int) -> bool:
        """Whether ``bucket`` lies in one of the assignment's ranges."""
        if self._many is not None:
            return self._many(bucket)
        return any(lower <= bucket < upper for lower, upper in self.ranges)


class CompiledRule:
    """A rule ready for the rule loop in ``flagstone.plan.resolver``."""

    __slots__ = (
        "_find",
        "_ranges",
        "active",
        "allocation",
        "assignments",
        "blank_selector",
        "bucket_count",
        "by_variant",
        "full_variant",
        "gate",
        "ignore_targeting",
        "must_match",
        "name",
        "needs_store",
        "overrides",
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
        allocation: AllocationPlan = None,
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
        self.unit: UnitReader = unit_reader(selector)
        self.blank_selector = selector == ""
        """A blank selector reads ``targeting_key`` but, as Confidence's resolvers do, lets a
        full rollout (see ``full_variant``) through without a unit when the key is absent or
        invalid; an absent key then only skips rules that need a unit."""
        self.salt = f"{segment_id}|"
        self.bucket_count = bucket_count
        self.gate = gate
        self.targeting = targeting
        """The segment's targeting alone (what a sticky unit is re-checked against)."""
        self.allocation = allocation
        self.read_materialization = read_materialization
        self.write_materialization = write_materialization
        self.must_match = must_match
        self.ignore_targeting = ignore_targeting
        self.needs_store = needs_store
        self.overrides = overrides or None
        self.window = window
        self.active = active
        self.assignments = tuple(assignments)
        """The rule's assignments, in the order written."""
        self._ranges: tuple[tuple[int, int, CompiledAssignment], ...] | None = None
        self._find: Callable[[int], CompiledAssignment | None] | None = None
        if sum(map(len, map(_ranges_of, assignments))) > SCAN_LIMIT:
            self.ranges  # noqa: B018 - many ranges: sorted and bisected now, not on a call
        self.single = _covering_assignment(assignments, bucket_count)
        """The assignment holding every bucket, if any: a unit's bucket need not be hashed."""
        self.full_variant = _full_variant(assignments, bucket_count)
        """The rule's only assignment when it has one range over every bucket (Confidence's
        "has only one full variant"): what a rule serves when there is no unit."""
        by_variant: dict[str, list[CompiledAssignment]] = {} if read_materialization else _NONE
        for assignment in assignments if read_materialization else ():
            if assignment.kind == VARIANT:
                by_variant.setdefault(assignment.variant_name, []).append(assignment)
                short = assignment.variant_name.rsplit("/", 1)[-1]
                if short != assignment.variant_name:
                    by_variant.setdefault(short, []).append(assignment)
        self.by_variant = by_variant
        """Variant name (full and short) → its assignments; only rules that read sticky
        assignments need it."""

    @property
    def ranges(self) -> tuple[tuple[int, int, CompiledAssignment], ...]:
        """Every range of the rule as ``(lower, upper, assignment)``, in bucket order.

        Made when first needed (the rule loop's :meth:`assignment_at`) for a rule with few
        ranges: the single-rule resolver serves most rules from its table of cells and never
        asks, and the ranges of a 10 000-flag snapshot hold ~1.7 MiB; made at compile time
        for a rule with more than ``SCAN_LIMIT``, which is looked up by bisection. Two
        threads that make them at once make equal tuples; either is kept."""
        ranges = self._ranges
        if ranges is None:
            ranges = tuple(
                sorted(
                    (
                        (lower, upper, assignment)
                        for assignment in self.assignments
                        for lower, upper in assignment.ranges
                    ),
                    key=_lower,
                )
            )
            if len(ranges) > SCAN_LIMIT:
                self._find = range_finder(ranges)
            self._ranges = ranges
        return ranges

    def assignment_at(self, bucket: int) -> CompiledAssignment | None:
        """The assignment whose range holds ``bucket`` (validation guarantees the ranges of
        a rule do not overlap), or ``None`` for a bucket in a gap: by a scan when the rule
        has few ranges, else by bisection."""
        ranges = self._ranges
        if ranges is None:
            ranges = self.ranges
        if self._find is not None:
            return self._find(bucket)
        for lower, upper, assignment in ranges:
            if bucket < upper:
                return assignment if bucket >= lower else None
        return None


_ranges_of = attrgetter("ranges")


def _lower(entry: tuple[int, int, CompiledAssignment]) -> int:
    return entry[0]


def _full_variant(
    assignments: list[CompiledAssignment], bucket_count: int
) -> CompiledAssignment | None:
    if len(assignments) == 1 and assignments[0].ranges == ((0, bucket_count),):
        return assignments[0]
    return None


def _covering_assignment(
    assignments: list[CompiledAssignment], bucket_count: int
) -> CompiledAssignment | None:
    """The assignment that holds every bucket, if there is one: then the bucket does not
    matter, and neither a hash nor even a unit is needed."""
    for assignment in assignments:
        ranges = assignment.ranges
        if len(ranges) == 1:  # the common case, without sorting (~1 µs a rule)
            if ranges[0][0] <= 0 and ranges[0][1] >= bucket_count:
                return assignment
            continue
        reach = 0
        for lower, upper in sorted(ranges):
            if lower > reach:
                break
            reach = max(reach, upper)
        if reach >= bucket_count:
            return assignment
    return None
