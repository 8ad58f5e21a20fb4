"""The resolver: (compiled flag, context) → ``Resolution``. Pure, lock-free, no I/O beyond
the materialization store a client was given, no logging.

Rules are tried in order and the first that matches wins:

1. Read the unit with the rule's selector: absent → next rule; not a string or whole number
   (or over 100 characters) → ``TARGETING_KEY_ERROR`` for the flag. A blank selector reads
   ``targeting_key`` but goes on without a unit when it is absent (or invalid, for a full
   rollout); such a rule then matches only through a segment and an assignment that need no
   unit, as in Confidence's resolvers.
2. A/B-test rules: a treatment override for the unit wins at once; then the rule applies only
   while the test is live and inside its schedule.
3. Sticky assignments (a rule that reads a materialization): a unit already in it keeps its
   variant, re-checked against the targeting unless the rule says targeting can be ignored;
   ``materializationMustMatch`` admits no new units. A store that could not answer in time
   (``UNAVAILABLE``) makes the unit a new unit where new units are admitted (its assignment
   written only if none is recorded) and no match where they are not.
4. The segment gate (targeting, then allocation).
5. The variant bucket (``f"{segment id}|{unit}"`` over the rule's bucket count) picks the
   assignment: a variant, the client default, or a fallthrough (recorded; try the next rule).

No rule matched → ``NO_SEGMENT_MATCH``, to be applied only if a fallthrough was passed.
"""

from __future__ import annotations

import time
from functools import partial
from types import MethodType
from typing import Any

from ..resolution import FallthroughAssignment, Resolution, resolved
from ..semantics.hashing import bucket
from ..stores.materializations import UNAVAILABLE, MaterializationStore
from .fastpath import is_plain, single_rule_resolver
from .flag import RETIRED, FlagPlan, Plan, Resolver
from .rules import FALLTHROUGH, INVALID_UNIT, CompiledAssignment, CompiledRule
from .signals import MaterializationUnsupported, SkipRule

__all__ = ["first_call", "resolve_flag", "resolver_for", "retire_replaced"]

_SKIP = object()
_GATE_PASSED = object()
_UNREAD = object()


def resolver_for(flag: FlagPlan) -> Resolver:
    """The fastest correct resolver of ``flag``: a constant answer for an archived flag or one
    without rules, the unrolled single-rule resolver where it applies, else the rule loop."""
    if not flag.active:
        archived = resolved(flag.archived)
        return lambda context: archived
    if not flag.rules:
        no_match = resolved(flag.no_match)
        return lambda context: no_match
    if len(flag.rules) == 1 and is_plain(flag.rules[0]):
        return single_rule_resolver(flag, flag.rules[0])
    return partial(resolve_flag, flag)


def first_call(flag: FlagPlan) -> Resolver:
    """What a compiled flag resolves with until its first call: that call builds the flag's
    resolver (:func:`resolver_for`), puts it in the flag's ``resolve`` and in its plan's
    ``resolvers`` (where ``Client.evaluate`` finds it), and resolves with it.

    A snapshot's flags are checked and compiled when it loads; only the unrolled resolver,
    a function of the compiled flag, waits for a call. Most flags of a large snapshot are
    never evaluated by a given process: for 10 000 flags, building them all took 15 to 30
    ms of the load and kept ~3 MiB (a function, its defaults, a table of outcomes and a
    no-match resolution each, ~330 bytes a flag) where this takes a bound method (64
    bytes); the first call of each flag pays ~5 µs once. What is built after the load is
    not frozen with it (``flagstone.process.gc``): 10 000 flags evaluated put ~50 000
    objects in the collector's oldest generation (~3 ms a full collection)."""
    return MethodType(_first_call, flag)


def _first_call(flag: FlagPlan, context: dict[str, Any]) -> Resolution:
    served = flag.resolve
    if served.__class__ is MethodType and served.__func__ is _first_call:
        # Not built yet (or being built by another thread at this moment: both build one,
        # equivalent, and the last one put in place stays). The order below is what makes
        # a concurrent FlagPlan.retire safe without a lock: retire marks home RETIRED, then
        # sets resolve; this sets resolve, then reads home, and retires the flag again when
        # it finds it RETIRED (the built resolver holds the flag: left in place on a retired
        # flag, the flag could never be freed by reference counting).
        served = flag.resolve = resolver_for(flag)
        if flag.home is RETIRED:
            flag.retire(resolver_for)
            return served(context)
    home = flag.home
    if home:
        # the plan's entries that still call this (one made before the flag's resolver was
        # put in place, by a plan built at that moment, is mended by its next call)
        for name in (flag.name, flag.short_name):
            entry: Any = home.get(name)
            if entry.__class__ is MethodType and entry.__self__ is flag:
                home[name] = served
    return served(context)


def resolve_flag(flag: FlagPlan, context: dict[str, Any]) -> Resolution:
    """Resolve an active flag for ``context`` (a ``dict``)."""
    fallthrough: list[FallthroughAssignment] | None = None
    for rule in flag.rules:
        unit = rule.unit(context)
        if unit is None:
            if not rule.blank_selector:
                continue
        elif unit is INVALID_UNIT:
            if rule.blank_selector and rule.full_variant is not None:
                unit = None  # a full rollout needs no unit
            elif rule.active:
                return flag.failed(flag.key_error)
            else:
                continue
        if rule.overrides is not None and unit is not None:
            overridden = rule.overrides.get(unit)
            if overridden is not None:
                return resolved(overridden, unit, tuple(fallthrough) if fallthrough else ())
        if not rule.active or (rule.window is not None and not _in_window(rule.window)):
            continue
        if rule.needs_store:
            return flag.failed(flag.unsupported)
        try:
            assignment = _assign(flag, rule, context, unit)
        except SkipRule:
            continue
        except MaterializationUnsupported:
            return flag.failed(flag.unsupported)
        if assignment is None:
            continue
        if assignment.kind == FALLTHROUGH:
            if fallthrough is None:
                fallthrough = []
            fallthrough.append(
                FallthroughAssignment(rule.name, assignment.assignment_id, unit, rule.selector)
            )
            continue
        return resolved(assignment.outcome, unit, tuple(fallthrough) if fallthrough else ())  # type: ignore[arg-type]
    return resolved(flag.no_match, None, tuple(fallthrough) if fallthrough else ())


def _assign(
    flag: FlagPlan, rule: CompiledRule, context: dict[str, Any], unit: str | None
) -> CompiledAssignment | None:
    """The assignment ``rule`` gives ``unit``, or ``None`` if the rule does not match."""
    sticky: Any = None
    if rule.read_materialization:
        if unit is None:
            return None
        sticky = _sticky(flag, rule, context, unit)
        if sticky is _SKIP:
            return None
        if sticky is not None and sticky is not _GATE_PASSED and sticky is not _UNREAD:
            return sticky  # type: ignore[no-any-return]
    if sticky is None or sticky is _UNREAD:
        gate = rule.gate
        if gate is not None and not gate(context, unit):
            return None
    if unit is None:
        assignment = rule.full_variant
        if assignment is None:
            return None
    else:
        assignment = rule.single
        if assignment is None:
            assignment = rule.assignment_at(bucket(rule.salt + unit, rule.bucket_count))
            if assignment is None:
                return None
    if rule.write_materialization and unit is not None:
        if sticky is _UNREAD:
            _write_if_absent(flag.store, unit, rule, assignment.variant_name)  # type: ignore[arg-type]
        else:
            flag.store.write(unit, rule.write_materialization, rule.name, assignment.variant_name)  # type: ignore[union-attr]
    return assignment


def _write_if_absent(
    store: MaterializationStore, unit: str, rule: CompiledRule, variant: str
) -> None:
    """After a read the store could not answer: record the assignment unless one is (a store
    without ``write_if_absent`` records nothing rather than overwrite what it could not
    read)."""
    write = getattr(store, "write_if_absent", None)
    if write is not None:
        write(unit, rule.write_materialization, rule.name, variant)


def _sticky(flag: FlagPlan, rule: CompiledRule, context: dict[str, Any], unit: str) -> Any:
    """Read a unit's sticky assignment: ``_SKIP`` (the rule does not match), ``None`` (not in
    the materialization: go through the gate as usual), ``_UNREAD`` (the store could not
    tell: the same, but write only if absent), ``_GATE_PASSED`` (in it, targeting holds, no
    usable variant recorded: assign by bucket without the allocation check) or the
    assignment recorded for the unit."""
    record = flag.store.read(unit, rule.read_materialization)  # type: ignore[union-attr]
    if record is None or not record.is_unit_in_materialization:
        if rule.must_match:
            return _SKIP
        return _UNREAD if record is UNAVAILABLE else None
    if not rule.ignore_targeting:
        targeting = rule.targeting
        if targeting is not None and not targeting(context, unit):
            return _SKIP
    variant = record.rule_to_variant.get(rule.name)
    candidates = rule.by_variant.get(variant) if variant else None
    if not candidates:
        return _GATE_PASSED
    if len(candidates) == 1:
        return candidates[0]
    bucket_index = bucket(rule.salt + unit, rule.bucket_count)
    for candidate in candidates:
        if candidate.holds(bucket_index):
            return candidate
    return candidates[0]


def _in_window(window: tuple[int | None, int | None]) -> bool:
    now = time.time_ns()
    start, end = window
    return (start is None or now >= start) and (end is None or now < end)


def retire_replaced(old: Plan, new: Plan) -> None:
    """Retire the flags of ``old`` that ``new`` does not serve (see ``FlagPlan.retire``)."""
    kept = {id(flag) for flag in new.values()}
    for flag in {id(flag): flag for flag in old.values()}.values():
        if id(flag) not in kept:
            flag.retire(resolver_for)
