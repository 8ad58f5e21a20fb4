"""Specialised resolvers for the most common flag: a single plain rule.

A plain rule reads its unit from a top-level context key, has no sticky assignments, no
treatment overrides, no schedule, and a segment outside any reference cycle. For a flag
whose only rule is plain, the rule loop of ``flagstone.plan.resolver`` is unrolled into one closure:
the unit read, the targeting predicate, the allocation hash and the variant hash inline, every
constant bound at compile time. It resolves exactly as ``resolve_flag`` does (a test compares
the two on random contexts); it only skips the loop's bookkeeping.

Numbers below are CPython 3.11 instructions per call (callgrind), against ~4 400 for the
peers harness's minimal resolver and ~940 for the ``mmh3.hash128`` call alone.
"""

from __future__ import annotations

from math import gcd
from typing import TYPE_CHECKING, Any

import mmh3

from ..resolution import FallthroughAssignment, Outcome, Resolution, resolved
from ..semantics.hashing import ACCOUNT_BUCKETS
from .rules import INVALID_UNIT, MAX_UNIT_LENGTH, CompiledRule, coerce_unit
from .segments import ProportionCut, allocation_check
from .signals import MaterializationUnsupported, SkipRule
from .targeting import string_among_spec

if TYPE_CHECKING:
    from .flag import FlagPlan, Resolver

__all__ = ["MAX_CELLS", "is_plain", "outcome_cells", "single_rule_resolver"]

MAX_CELLS = 128
"""At most this many cells in a rule's table of outcomes (see :func:`outcome_cells`)."""

_SMALL_INTS: dict[int, int] = {}
"""One object per cell width across flags (``gcd`` makes a new ``int`` each time: 10 000 of
``5000`` held ~0.3 MiB)."""

_hash128 = mmh3.hash128  # a module global read costs about what a default does

# The resolver writes these as literals: a literal costs nothing per call, a default
# argument ~13 instructions (it is copied into the frame on every call).
assert MAX_UNIT_LENGTH == 100 and ACCOUNT_BUCKETS == 1_000_000


def is_plain(rule: CompiledRule) -> bool:
    """Whether ``rule`` can be served by the unrolled resolver."""
    return (
        rule.active
        and rule.window is None
        and rule.overrides is None
        and not rule.needs_store
        and not rule.read_materialization
        and not rule.write_materialization
        and not rule.blank_selector
        and "." not in rule.selector
    )


def outcome_cells(rule: CompiledRule) -> tuple[int, tuple[Outcome | None, ...]] | None:
    """``(width, cells)``: the rule's assignments as a table over its buckets, one cell per
    ``width`` buckets, where every range bound is a multiple of ``width`` (their greatest
    common divisor); a cell holds the outcome of its assignment, or ``None`` for a gap or a
    fallthrough assignment (the resolver then asks the rule). ``None`` when that takes more
    than :data:`MAX_CELLS` cells.

    A 50/50 split over 10 000 buckets is two cells of 5 000: ``cells[bucket // 5000]`` costs
    ~100 instructions where scanning the ranges cost ~400 (and grows with their number)."""
    width = rule.bucket_count
    for assignment in rule.assignments:
        for lower, upper in assignment.ranges:
            width = gcd(gcd(width, lower), upper)
    if rule.bucket_count // width > MAX_CELLS:
        return None
    cells: list[Outcome | None] = [None] * (rule.bucket_count // width)
    for assignment in rule.assignments:
        for lower, upper in assignment.ranges:
            for cell in range(lower // width, upper // width):
                cells[cell] = assignment.outcome  # None for a fallthrough
    return _SMALL_INTS.setdefault(width, width), tuple(cells)


def single_rule_resolver(flag: FlagPlan, rule: CompiledRule) -> Resolver:
    """The unrolled resolver of a flag whose only rule is plain (see :func:`is_plain`).

    Every constant is bound as a default argument: locals are the fastest variables in
    CPython, and a tuple of defaults costs far less memory than a closure cell per value
    (a plan may hold tens of thousands of these)."""
    allocation = rule.allocation
    cut = allocation if isinstance(allocation, ProportionCut) else None
    inline = string_among_spec(rule.targeting)
    single = rule.single
    table = outcome_cells(rule) if single is None else None

    def resolve(
        context: dict[str, Any],
        key: str = rule.selector,
        gated: bool = rule.targeting is not None or allocation is not None,
        attribute: str | None = inline[0] if inline is not None else None,
        strings: frozenset[str] = inline[1] if inline is not None else frozenset(),
        targeting: Any = rule.targeting if inline is None else None,
        cut_salt: str | None = cut.salt if cut is not None else None,
        cut_threshold: int = cut.threshold if cut is not None else 0,
        check: Any = None if cut is not None else allocation_check(allocation),
        salt: str = rule.salt,
        count: int = rule.bucket_count,
        width: int = table[0] if table is not None else 0,
        cells: tuple[Outcome | None, ...] | None = table[1] if table is not None else None,
        single: Outcome | None = single.outcome if single is not None else None,
        no_match: Resolution = resolved(flag.no_match),
        flag: FlagPlan = flag,
        rule: CompiledRule = rule,
    ) -> Resolution:
        # The unit: a short ASCII str as it is (~660 instructions for the three tests);
        # anything else through coerce_unit. isascii is not optional: mmh3 crashes the
        # process on a lone surrogate.
        unit: Any = context.get(key)
        if unit.__class__ is not str or len(unit) > 100 or not unit.isascii():
            if unit is None:
                return no_match
            unit = coerce_unit(unit)
            if unit is INVALID_UNIT:
                return flag.failed(flag.key_error)
        # The segment's gate, skipped as a whole (one test instead of four, ~150
        # instructions) when the segment admits every unit.
        if gated:
            # Targeting: a lone string eqRule/setRule inline (~250 instructions instead of
            # ~700 through its predicate), else the predicate.
            if attribute is not None:
                value = context.get(attribute)
                if value.__class__ is str:
                    if value not in strings:
                        return no_match
                elif not rule.targeting(context, unit):  # type: ignore[misc]  # a list, …
                    return no_match
            elif targeting is not None:
                try:
                    if not targeting(context, unit):
                        return no_match
                except SkipRule:
                    return no_match
                except MaterializationUnsupported:
                    return flag.failed(flag.unsupported)
            # Allocation: a proportion's hash inline, else the check.
            if cut_salt is not None:
                if (
                    (_hash128(cut_salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF
                ) % 1_000_000 >= cut_threshold:
                    return no_match
            elif check is not None and not check(unit):
                return no_match
        # The assignment: no hash when one assignment holds every bucket; else the bucket's
        # cell, or for ranges too fine for a table, the rule's own search.
        if cells is not None:
            index = ((_hash128(salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF) % count
            outcome = cells[index // width]
            if outcome is None:  # a gap or a fallthrough
                return _unassigned(flag, rule, unit, rule.assignment_at(index))
        elif single is not None:
            outcome = single
        else:  # ranges too fine for a table, or one fallthrough over every bucket
            assignment = rule.single
            if assignment is None:
                index = ((_hash128(salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF) % count
                assignment = rule.assignment_at(index)
            if assignment is None or assignment.outcome is None:
                return _unassigned(flag, rule, unit, assignment)
            outcome = assignment.outcome
        # A new Resolution: the class called without arguments and two slot stores, the
        # cheapest object CPython makes (~870 instructions; object.__new__(cls) ~1 160).
        resolution = Resolution()
        resolution._outcome = outcome
        resolution._unit = unit
        return resolution

    return resolve


def _unassigned(flag: FlagPlan, rule: CompiledRule, unit: str, assignment: Any) -> Resolution:
    """The resolution of a unit whose bucket is in a gap (``assignment`` ``None``: no match)
    or in a fallthrough assignment: the flag's only rule, so nothing matches, and the
    fallthrough is recorded."""
    if assignment is None:
        return resolved(flag.no_match)
    passed = FallthroughAssignment(rule.name, assignment.assignment_id, unit, rule.selector)
    return resolved(flag.no_match, None, (passed,))
