"""Compile segments into gates: targeting, then allocation.

A gate is ``None`` (admits everyone) or a predicate of (context, unit). Allocation is decided
by, in order: an explicit bitset (Confidence's; the unit's bucket of
``f"MegaSalt-{account id}|{unit}"`` over 1 000 000), ``allocation.bucketRanges`` in that same
account space, or ``allocation.proportion`` p (flagstone's rule: the bucket of
``f"allocation-{segment id}|{unit}"`` over 1 000 000 is below ``round(p * 1 000 000)``).
Checks that need a unit fail without one.

Segment references. Each segment is evaluated at most once per evaluation of a rule's gate,
however its references branch. Where the segments behind a rule form a tree (each reached by
one path: the common case, a segment or two referencing others), references are plain calls,
compiled children first. Where one is reached twice (a diamond, a lattice, a cycle), the
rule's gate evaluates the graph in one *scope* that remembers each segment's result for the
rest of that evaluation, so a lattice of millions of paths costs one evaluation per segment.
A reference back to a segment whose evaluation is under way (a cycle; lenient mode only) does
not match, as in Confidence's resolvers. Nothing here recurses at compile time: a work list
compiles the graph, and trees are compiled in the order the walk found them, reversed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..model.bitsets import BitsetSpec, BloomFilter
from ..model.segments import Allocation
from ..model.targeting import Expression, Targeting
from ..semantics.hashing import ACCOUNT_BUCKETS, bucket
from ..semantics.membership import bloom_filter_predicate, decode_bitset
from ..stores.materializations import UNAVAILABLE, MaterializationStore
from .ranges import in_ranges
from .signals import MaterializationUnsupported, Predicate, SkipRule
from .targeting import compile_targeting

__all__ = [
    "AllocationPlan",
    "ProportionCut",
    "SegmentCompiler",
    "SegmentSource",
    "allocation_check",
]

SegmentSource = tuple[Targeting | None, Allocation | None]
"""What the compiler needs of a segment: its targeting and its allocation."""


class ProportionCut(NamedTuple):
    """Allocation by proportion: admitted iff ``bucket(salt + unit, 1e6) < threshold``."""

    salt: str
    threshold: int


AllocationCheck = Callable[[str | None], bool]
AllocationPlan = ProportionCut | AllocationCheck | None
"""``None`` admits every unit; a ``ProportionCut`` is kept as data so the rule loop can
inline its hash; anything else is a predicate over the unit."""


def allocation_check(allocation: AllocationPlan) -> AllocationCheck | None:
    """The allocation as a predicate over the unit (``None``: everyone is allocated)."""
    if isinstance(allocation, ProportionCut):
        salt, threshold = allocation
        return lambda unit: unit is not None and bucket(salt + unit, ACCOUNT_BUCKETS) < threshold
    return allocation


def _never(context: dict[str, Any], unit: str | None) -> bool:
    return False


def _always(context: dict[str, Any], unit: str | None) -> bool:
    return True


class _Scope(threading.local):
    """Per thread: the segments one gate evaluation has decided (``False`` also while a
    segment's evaluation is under way), or ``None`` outside any."""

    results: dict[str, bool] | None = None


_SCOPE = _Scope()


def _scoped(name: str, predicate: Predicate | None) -> Predicate | None:
    """``predicate`` (of segment ``name``, which references other segments) evaluated in a
    scope of its own, where ``name`` itself is under way."""
    if predicate is None:
        return None
    scope = _SCOPE

    def in_scope(context: dict[str, Any], unit: str | None) -> bool:
        outer = scope.results  # kept: a store read could, in theory, evaluate again
        scope.results = {name: False}
        try:
            return predicate(context, unit)
        finally:
            scope.results = outer

    return in_scope


def _in_segment(name: str, gates: dict[str, Predicate | None]) -> Predicate:
    """A criterion ``{"segment": name}``: the segment's gate, once per scope."""
    scope = _SCOPE

    def in_segment(context: dict[str, Any], unit: str | None) -> bool:
        results: dict[str, bool] = scope.results  # type: ignore[assignment]
        result = results.get(name)
        if result is None:
            results[name] = False  # under way: a reference back to it does not match
            gate = gates[name]
            result = True if gate is None else bool(gate(context, unit))
            results[name] = result
        return result

    return in_segment


class SegmentCompiler:
    """Compiles and memoises the gate of every segment a plan uses."""

    def __init__(
        self,
        segments: Mapping[str, SegmentSource],
        *,
        account_id: str,
        bitsets: dict[str, BitsetSpec],
        bloom_filters: dict[str, BloomFilter],
        store: MaterializationStore | None,
    ) -> None:
        self._segments = segments
        """Each segment's source, read once (a lazy mapping may validate it on the spot)."""
        self.defines: Callable[[str], bool] = getattr(segments, "has", segments.__contains__)
        """Whether a segment of that name exists: the mapping's ``has`` where it offers one
        (a membership test without a Python call: 10 000 rules of a snapshot ask), else
        ``in``."""
        self._kept: dict[str, Targeting | None] = {}
        """The targeting of the segments that reference others, compiled again as trees."""
        self._shared: dict[Any, Any] = {}
        """Equal compiled criteria and allocations, one instance each (see
        ``compile_targeting``)."""
        self._account_salt = f"MegaSalt-{account_id}|"
        self._bitsets = bitsets
        self._blooms = {
            name: bloom_filter_predicate(spec.data, spec.bit_count, spec.hash_function_count)
            for name, spec in bloom_filters.items()
        }
        self._store = store
        self._gates: dict[str, Predicate | None] = {}
        """Targeting and allocation of every segment compiled so far (references inside as
        look-ups in the current scope)."""
        self._targetings: dict[str, Predicate | None] = {}
        self._referring: set[str] = set()
        """The compiled segments whose targeting references another segment."""
        self._references: dict[str, list[str]] = {}
        """Segment → the segments its expression reaches, once per ``ref`` to them."""
        self._direct_gates: dict[str, Predicate | None] = {}
        self._direct_targetings: dict[str, Predicate | None] = {}
        """Gates and targetings whose references are plain calls (segments with a tree below)."""
        self._pending: list[str] = []
        self._gate_entries: dict[str, Predicate | None] = {}
        self._targeting_entries: dict[str, Predicate | None] = {}
        self._allocations: dict[str, AllocationPlan] = {}
        self._checks: dict[str, AllocationCheck | None] = {}
        self._by_targeting: dict[int, tuple[Targeting, Predicate | None]] = {}
        """The predicate of each targeting object compiled (kept with it: an id is unique
        only while its object lives)."""

    def __contains__(self, name: str) -> bool:
        return self.defines(name)

    def gate(self, name: str) -> Predicate | None:
        """Targeting and allocation of segment ``name`` (which must exist), as a rule
        evaluates it: references as plain calls when the segments behind it form a tree,
        else in a scope of its own (see the module docstring)."""
        return self._entry(name, targeting_only=False)

    def rule_parts(self, name: str) -> tuple[Predicate | None, Predicate | None, AllocationPlan]:
        """``(gate, targeting, allocation)`` of segment ``name`` (which must exist), what a
        rule on it holds. Not kept: a tuple per segment held to the end of a load is freed
        after the plan is built and leaves ~0.8 MiB of holes between the plan's objects (a
        10 000-flag snapshot)."""
        if name not in self._gates:
            self._compile(name)
        if name in self._referring:
            return self.gate(name), self.targeting(name), self.allocation(name)
        # a segment referencing none (most) is its own compiled parts: three look-ups, not
        # the three entries' bookkeeping (~2 µs a segment)
        return self._gates[name], self._targetings[name], self._allocations[name]

    def allocation(self, name: str) -> AllocationPlan:
        """The allocation of segment ``name`` (which must exist)."""
        if name not in self._allocations:
            self._compile(name)
        return self._allocations[name]

    def targeting(self, name: str) -> Predicate | None:
        """Only the targeting of segment ``name`` (what sticky units are re-checked against,
        and what the single-rule resolver inlines), scoped like :meth:`gate`."""
        return self._entry(name, targeting_only=True)

    def _entry(self, name: str, *, targeting_only: bool) -> Predicate | None:
        # one dict per kind, keyed by name: a (name, kind) key was a tuple for each of 20 000
        # look-ups of a 10 000-flag snapshot (~1 MiB held through the load)
        entries = self._targeting_entries if targeting_only else self._gate_entries
        if name not in entries:
            if name not in self._gates:
                self._compile(name)
            if name not in self._referring:
                predicate = self._targetings[name] if targeting_only else self._gates[name]
            else:
                order = self._tree_below(name)
                if order is None:  # a segment reached twice, or a cycle: one scope for all
                    scoped = self._targetings[name] if targeting_only else self._gates[name]
                    predicate = _scoped(name, scoped)
                else:
                    self._compile_direct(order)
                    direct = self._direct_targetings if targeting_only else self._direct_gates
                    predicate = direct[name]
            entries[name] = predicate
        return entries[name]

    def _tree_below(self, root: str) -> list[str] | None:
        """The segments ``root`` reaches through references, each before those it
        references, when every one is reached by exactly one path (``None`` otherwise)."""
        order = [root]
        seen = {root}
        stack = [root]
        while stack:
            for target in self._references.get(stack.pop(), ()):
                if target in seen:
                    return None
                seen.add(target)
                order.append(target)
                stack.append(target)
        return order

    def _compile_direct(self, order: list[str]) -> None:
        """Direct gates for a tree of segments (``order``: parents before children), children
        first, so each reference is a plain call of a gate already compiled."""
        for name in reversed(order):
            if name in self._direct_gates:
                continue
            targeting = self._targetings[name]
            if name in self._referring:
                targeting = compile_targeting(
                    self._kept[name], self._direct_reference, self._materialized, self._shared
                )
            self._direct_targetings[name] = targeting
            self._direct_gates[name] = _both(targeting, self._checks[name])

    def _direct_reference(self, target: str) -> Predicate:
        if target not in self._segments:
            return _never
        gate = self._direct_gates[target]
        return _always if gate is None else gate

    def _compile(self, name: str) -> None:
        """Compile ``name`` and every segment it references, each once, with a work list."""
        pending = self._pending
        pending.append(name)
        while pending:
            current = pending.pop()
            if current in self._gates:
                continue
            targeting, allocation = self._segments[current]  # read once
            predicate = self._compile_targeting(current, targeting)
            plan = self._compile_allocation(current, allocation)
            self._allocations[current] = plan
            check = self._checks[current] = allocation_check(plan)
            self._targetings[current] = predicate
            self._gates[current] = _both(predicate, check)

    def _compile_targeting(self, name: str, targeting: Targeting | None) -> Predicate | None:
        if targeting is None or targeting.expression is None:
            return None
        for criterion in targeting.criteria.values():
            if criterion.segment is not None:
                break
        else:
            # references no segment (most): compiled once per targeting object, which
            # segments read alike share (see formats.streamed._after_name)
            found = self._by_targeting.get(id(targeting))
            if found is not None and found[0] is targeting:
                return found[1]
            predicate = compile_targeting(
                targeting, self._reference, self._materialized, self._shared
            )
            self._by_targeting[id(targeting)] = (targeting, predicate)
            return predicate
        predicate = compile_targeting(targeting, self._reference, self._materialized, self._shared)
        uses = _references_used(targeting.expression)
        reached = [  # once per ref: an expression naming a criterion twice is two paths
            criterion.segment.segment
            for criterion_id, criterion in targeting.criteria.items()
            if criterion.segment is not None and criterion.segment.segment in self._segments
            for _ in range(uses[criterion_id])
        ]
        if reached:
            self._referring.add(name)
            self._references[name] = reached
            self._kept[name] = targeting
        return predicate

    def _reference(self, target: str) -> Predicate:
        """A segment criterion in the scoped form: a look-up in the current scope."""
        if target not in self._segments:
            return _never
        if target not in self._gates:
            self._pending.append(target)
        return _in_segment(target, self._gates)

    # -- criteria that point outside the targeting ------------------------------------------

    def _materialized(self, name: str) -> Predicate:
        bloom = self._blooms.get(name)
        if bloom is not None:
            return lambda context, unit: unit is not None and bloom(unit)
        store = self._store
        if store is None:

            def unsupported(context: dict[str, Any], unit: str | None) -> bool:
                raise MaterializationUnsupported(name)

            return unsupported
        read = store.read

        def in_store(context: dict[str, Any], unit: str | None) -> bool:
            if unit is None:
                return False
            record = read(unit, name)
            if record is UNAVAILABLE:
                # the store could not tell in time: neither in nor out (a not(...) around
                # the criterion must not admit the unit), so the rule does not apply
                raise SkipRule(f"materialization {name!r} could not be read in time")
            return record is not None and record.is_unit_in_materialization

        return in_store

    # -- allocation ---------------------------------------------------------------------------

    def _compile_allocation(self, name: str, allocation: Allocation | None) -> AllocationPlan:
        if name in self._bitsets:
            has = decode_bitset(self._bitsets[name])
            if has is None:
                return None
            return self._account_buckets(has)
        if allocation is None:
            return None
        if allocation.bucket_ranges:
            return self._account_buckets(
                in_ranges([(r.lower, r.upper) for r in allocation.bucket_ranges])
            )
        if allocation.proportion is None:
            return None
        threshold = round(allocation.proportion * ACCOUNT_BUCKETS)
        if threshold >= ACCOUNT_BUCKETS:
            return None
        if threshold <= 0:
            return lambda unit: False
        return ProportionCut(f"allocation-{name.split('/', 1)[-1]}|", threshold)

    def _account_buckets(self, has: Callable[[int], bool]) -> Callable[[str | None], bool]:
        salt = self._account_salt
        return lambda unit: unit is not None and has(bucket(salt + unit, ACCOUNT_BUCKETS))


def _references_used(expression: Expression | None) -> Counter[str]:
    """How many times ``expression`` names each criterion id (``ref``), without recursion."""
    uses: Counter[str] = Counter()
    stack = [expression] if expression is not None else []
    while stack:
        node = stack.pop()
        if node.ref is not None:
            uses[node.ref] += 1
        elif node.not_ is not None:
            stack.append(node.not_)
        else:
            operands = node.and_ or node.or_
            if operands is not None:
                stack.extend(operands.operands)
    return uses


def _both(
    targeting: Predicate | None, allocation: Callable[[str | None], bool] | None
) -> Predicate | None:
    if targeting is None and allocation is None:
        return None
    if allocation is None:
        return targeting
    if targeting is None:
        return lambda context, unit: allocation(unit)
    return lambda context, unit: targeting(context, unit) and allocation(unit)
