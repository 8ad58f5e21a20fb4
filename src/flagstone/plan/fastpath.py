"""Specialised resolvers for the most common flag: a single plain rule.

A plain rule reads its unit from a top-level context key, has no sticky assignments, no
treatment overrides, no schedule, and a segment outside any reference cycle. For a flag
whose only rule is plain, the rule loop of ``flagstone.plan.resolver`` is unrolled into one closure:
the unit read, the targeting predicate, the allocation hash and the variant hash inline, every
constant bound at compile time. It resolves exactly as ``resolve_flag`` does (a test compares
the two on random contexts); it only skips the loop's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mmh3

from ..resolution import FallthroughAssignment, Resolution
from ..semantics.hashing import ACCOUNT_BUCKETS
from .rules import INVALID_UNIT, MAX_UNIT_LENGTH, CompiledRule, coerce_unit
from .segments import ProportionCut, allocation_check
from .signals import MaterializationUnsupported, SkipRule
from .targeting import string_among_spec

if TYPE_CHECKING:
    from .flag import FlagPlan, Resolver

__all__ = ["is_plain", "single_rule_resolver"]

_LOW64_SHIFTED = (1 << 60) - 1


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


def single_rule_resolver(flag: FlagPlan, rule: CompiledRule) -> Resolver:
    """The unrolled resolver of a flag whose only rule is plain (see :func:`is_plain`).

    Every constant is bound as a default argument: locals are the fastest variables in
    CPython, and a tuple of defaults costs far less memory than a closure cell per value
    (a plan may hold tens of thousands of these)."""
    allocation = rule.allocation
    cut = allocation if isinstance(allocation, ProportionCut) else None
    inline = string_among_spec(rule.targeting)
    single = rule.single
    find = rule.find  # many ranges: bisection, past an empty scan (see below)
    ranges = (
        ()
        if find is not None
        else tuple(
            (upper, lower, assignment.outcome, assignment)
            for lower, upper, assignment in rule.ranges
        )
    )

    def resolve(
        context: dict[str, Any],
        key: str = rule.selector,
        targeting: Any = rule.targeting if inline is None else None,
        attribute: str | None = inline[0] if inline is not None else None,
        strings: frozenset[str] = inline[1] if inline is not None else frozenset(),
        matches: Any = rule.targeting,
        cut_salt: str | None = cut.salt if cut is not None else None,
        cut_threshold: int = cut.threshold if cut is not None else 0,
        check: Any = None if cut is not None else allocation_check(allocation),
        salt: str = rule.salt,
        count: int = rule.bucket_count,
        single: Any = single,
        single_outcome: Any = single.outcome if single is not None else None,
        ranges: Any = ranges,
        find: Any = find,
        no_match: Resolution = Resolution(flag.no_match),
        flag: FlagPlan = flag,
        rule: CompiledRule = rule,
        hash128: Callable[[str, int, bool, bool], int] = mmh3.hash128,
        mask: int = _LOW64_SHIFTED,
        accounts: int = ACCOUNT_BUCKETS,
        max_length: int = MAX_UNIT_LENGTH,
        invalid: Any = INVALID_UNIT,
        str_: Any = str,
        new: Callable[[type[Resolution]], Resolution] = object.__new__,
        resolution_type: type[Resolution] = Resolution,
    ) -> Resolution:
        unit: Any = context.get(key)
        if unit.__class__ is not str_ or len(unit) > max_length or not unit.isascii():
            if unit is None:
                return no_match
            unit = coerce_unit(unit)
            if unit is invalid:
                return resolution_type(flag.key_error)
        if attribute is not None:  # a lone string eqRule/setRule, tested inline
            value = context.get(attribute)
            if value.__class__ is str_:
                if value not in strings:
                    return no_match
            elif not matches(context, unit):
                return no_match
        elif targeting is not None:
            try:
                if not targeting(context, unit):
                    return no_match
            except SkipRule:
                return no_match
            except MaterializationUnsupported:
                return resolution_type(flag.unsupported)
        if cut_salt is not None:
            if ((hash128(cut_salt + unit, 0, True, False) >> 4) & mask) % accounts >= cut_threshold:
                return no_match
        elif check is not None and not check(unit):
            return no_match
        if single is not None:
            outcome = single_outcome
            assignment = single
        else:
            index = ((hash128(salt + unit, 0, True, False) >> 4) & mask) % count
            for upper, lower, outcome, assignment in ranges:
                if index < upper:
                    if index >= lower:
                        break
                    return no_match
            else:  # past every range scanned: a gap, or a rule with many ranges
                if find is None:
                    return no_match
                assignment = find(index)
                if assignment is None:
                    return no_match
                outcome = assignment.outcome
        if outcome is None:  # a fallthrough assignment: the only rule, so nothing matches
            passed = FallthroughAssignment(rule.name, assignment.assignment_id, unit, rule.selector)
            return resolution_type(flag.no_match, None, (passed,))
        resolution = new(resolution_type)
        resolution._outcome = outcome
        resolution._unit = unit
        return resolution

    return resolve
