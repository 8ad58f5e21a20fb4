"""Specialised resolvers for the most common flag: a single plain rule.

A plain rule reads its unit from a top-level context key, has no sticky assignments, no
treatment overrides, no schedule, and a segment outside any reference cycle. For a flag
whose only rule is plain, the rule loop of ``flagstone.plan.resolver`` is unrolled into one
closure: the unit read, the targeting predicate, the allocation hash and the variant hash
inline, every constant bound when the closure is built (on the flag's first call, see
``resolver.first_call``). It resolves exactly as ``resolve_flag`` does (a test compares the
two on random contexts); it only skips the loop's bookkeeping.

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
from .segments import ProportionCut
from .signals import MaterializationUnsupported, SkipRule
from .targeting import string_among_spec

if TYPE_CHECKING:
    from .flag import FlagPlan, Resolver

__all__ = [
    "COARSE_CELLS",
    "MAX_CELLS",
    "coarse_cells",
    "is_plain",
    "outcome_cells",
    "single_rule_resolver",
]

MAX_CELLS = 128
"""At most this many cells in a rule's table of outcomes (see :func:`outcome_cells`)."""

COARSE_CELLS = 16
"""The cells of a table over ranges too fine for :func:`outcome_cells` (see
:func:`coarse_cells`)."""

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


def coarse_cells(rule: CompiledRule) -> tuple[int, tuple[Outcome | None, ...]]:
    """``(width, cells)`` for ranges too fine for :func:`outcome_cells`: :data:`COARSE_CELLS`
    cells of ``width`` buckets (the last may be shorter), each holding the outcome of the
    assignment one of whose ranges holds all of its buckets, or ``None`` where a range ends
    inside it (the resolver then asks the rule, as for a gap or a fallthrough).

    A split of 10 000 buckets in thirds (3 333, 3 333, 3 334) is 16 cells of 625, two of
    them cut: 7 units in 8 take the table (~100 instructions) instead of the rule's search
    (~1 500), for a 184-byte tuple."""
    count = rule.bucket_count
    width = -(-count // COARSE_CELLS)
    cells: list[Outcome | None] = [None] * -(-count // width)
    for assignment in rule.assignments:
        if assignment.outcome is None:
            continue  # a fallthrough: the rule's search records it
        for lower, upper in assignment.ranges:
            # the cells from the first that starts at or after lower to the last that ends
            # at or before upper (the last cell ends at count)
            last = len(cells) if upper >= count else upper // width
            for cell in range(-(-lower // width), last):
                cells[cell] = assignment.outcome
    return _SMALL_INTS.setdefault(width, width), tuple(cells)


def single_rule_resolver(flag: FlagPlan, rule: CompiledRule) -> Resolver:
    """The unrolled resolver of a flag whose only rule is plain (see :func:`is_plain`).

    Every constant is bound as a default argument: locals are the fastest variables in
    CPython, and a tuple of defaults costs far less memory than a closure cell per value
    (a plan may hold tens of thousands of these). But each default is copied into the frame
    on every call, used or not (~13 instructions, more with its frame slot), so there are
    two resolvers, each with only the defaults its work reads: :func:`_ungated` for a
    segment that admits every unit (6 defaults, where one resolver for all had 17) and
    :func:`_gated` for any other (12); what only a rare path reads (the rule, the flag's
    error outcomes) is reached through the flag. Per ``evaluate`` (callgrind): the peers'
    50/50 flag 7 712 → 7 492 instructions, behind a country rule 6 615 → 6 484."""
    width, cells = _assignment_table(rule)
    if rule.targeting is None and rule.allocation is None:
        return _ungated(flag, rule, width, cells)
    return _gated(flag, rule, width, cells)


def _assignment_table(rule: CompiledRule) -> tuple[int, Any]:
    """``(width, cells)``, how both resolvers find a unit's outcome: for one assignment
    holding every bucket, width ``0`` and its outcome itself (no hash, no look-up); else
    :func:`outcome_cells`'s table, or for ranges too fine for it, :func:`coarse_cells`'s
    (the peers' flag split in thirds of 10 000 buckets: 9 327 → 7 801 instructions per
    ``evaluate``, where the rule's search served every unit). Every layout is a table: the
    resolvers have no third branch for fine ranges."""
    single = rule.single
    if single is not None and single.outcome is not None:
        return 0, single.outcome
    table = outcome_cells(rule)
    return table if table is not None else coarse_cells(rule)


def _ungated(flag: FlagPlan, rule: CompiledRule, width: int, cells: Any) -> Resolver:
    """A plain rule whose segment admits every unit: the unit, then its assignment."""

    def resolve(
        context: dict[str, Any],
        key: str = rule.selector,
        salt: str = rule.salt,
        count: int = rule.bucket_count,
        width: int = width,
        cells: Any = cells,
        flag: FlagPlan = flag,
    ) -> Resolution:
        # The unit: a short ASCII str as it is (~660 instructions for the three tests);
        # anything else through _unusual_unit. isascii is not optional: mmh3 crashes the
        # process on a lone surrogate.
        unit: Any = context.get(key)
        if unit.__class__ is not str or len(unit) > 100 or not unit.isascii():
            unit = _unusual_unit(flag, unit)
            if unit.__class__ is not str:
                return unit  # type: ignore[no-any-return]  # no unit, or an unusable one
        # The assignment, as in _gated: the bucket's cell, or no hash for one assignment
        # that holds every bucket.
        if width:
            index = ((_hash128(salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF) % count
            outcome = cells[index // width]
            if outcome is None:  # a gap, a fallthrough, or a range ends inside the cell
                return _searched(flag, unit, index)
        else:
            outcome = cells
        # A new Resolution: the class called without arguments and two slot stores, the
        # cheapest object CPython makes (~870 instructions; object.__new__(cls) ~1 160).
        resolution = Resolution()
        resolution._outcome = outcome
        resolution._unit = unit
        return resolution

    return resolve


def _gated(flag: FlagPlan, rule: CompiledRule, width: int, cells: Any) -> Resolver:
    """A plain rule whose segment has targeting or an allocation: the unit, the segment's
    gate, then the assignment (as :func:`_ungated`). The one place a plain rule's gate is
    evaluated: a lone string ``eqRule``/``setRule`` and a proportion cut inline, any other
    targeting through its predicate; an allocation other than a proportion makes the
    predicate the segment's whole gate (targeting and allocation, as the rule loop tests
    it)."""
    inline = string_among_spec(rule.targeting)
    targeting = rule.targeting if inline is None else None
    allocation = rule.allocation
    cut = allocation if isinstance(allocation, ProportionCut) else None
    if allocation is not None and cut is None:
        inline, targeting = None, rule.gate

    def resolve(
        context: dict[str, Any],
        key: str = rule.selector,
        attribute: str | None = inline[0] if inline is not None else None,
        strings: frozenset[str] = inline[1] if inline is not None else frozenset(),
        targeting: Any = targeting,
        cut_salt: str | None = cut.salt if cut is not None else None,
        cut_threshold: int = cut.threshold if cut is not None else 0,
        salt: str = rule.salt,
        count: int = rule.bucket_count,
        width: int = width,
        cells: Any = cells,
        no_match: Resolution = resolved(flag.no_match),
        flag: FlagPlan = flag,
    ) -> Resolution:
        unit: Any = context.get(key)  # as in _ungated
        if unit.__class__ is not str or len(unit) > 100 or not unit.isascii():
            unit = _unusual_unit(flag, unit)
            if unit.__class__ is not str:
                return unit  # type: ignore[no-any-return]
        # Targeting: a lone string eqRule/setRule inline (~250 instructions instead of
        # ~700 through its predicate), else the predicate.
        if attribute is not None:
            value = context.get(attribute)
            if value.__class__ is str:
                if value not in strings:
                    return no_match
            elif not flag.rules[0].targeting(context, unit):  # type: ignore[misc]  # a list, …
                return no_match
        elif targeting is not None:
            try:
                if not targeting(context, unit):
                    return no_match
            except SkipRule:
                return no_match
            except MaterializationUnsupported:
                return flag.failed(flag.unsupported)
        # Allocation: a proportion's hash inline.
        if (
            cut_salt is not None
            and ((_hash128(cut_salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF) % 1_000_000
            >= cut_threshold
        ):
            return no_match
        if width:  # the assignment, as in _ungated
            index = ((_hash128(salt + unit, 0, True, False) >> 4) & 0xFFFFFFFFFFFFFFF) % count
            outcome = cells[index // width]
            if outcome is None:
                return _searched(flag, unit, index)
        else:
            outcome = cells
        resolution = Resolution()
        resolution._outcome = outcome
        resolution._unit = unit
        return resolution

    return resolve


def _unusual_unit(flag: FlagPlan, value: Any) -> Any:
    """The unit of a targeting key that is not a short ASCII ``str`` (see ``coerce_unit``),
    or the resolution when there is none: no match for an absent key,
    ``TARGETING_KEY_ERROR`` (counted) for an unusable one."""
    if value is None:
        return resolved(flag.no_match)
    unit = coerce_unit(value)
    if unit is INVALID_UNIT:
        return flag.failed(flag.key_error)
    return unit


def _searched(flag: FlagPlan, unit: str, index: int) -> Resolution:
    """The resolution of a unit in bucket ``index`` that the table leaves to the flag's only
    rule: its assignment by the rule's own search (a cell a range ends inside), else no
    match, for a gap, or for a fallthrough, which is recorded."""
    rule = flag.rules[0]
    assignment = rule.assignment_at(index)
    if assignment is None:
        return resolved(flag.no_match)
    if assignment.outcome is None:
        passed = FallthroughAssignment(rule.name, assignment.assignment_id, unit, rule.selector)
        return resolved(flag.no_match, None, (passed,))
    return resolved(assignment.outcome, unit)
