"""Compile segments into gates: targeting, then allocation.

A gate is ``None`` (admits everyone) or a predicate of (context, unit). Allocation is decided
by, in order: an explicit bitset (Confidence's; the unit's bucket of
``f"MegaSalt-{account id}|{unit}"`` over 1 000 000), ``allocation.bucketRanges`` in that same
account space, or ``allocation.proportion`` p (flagstone's rule: the bucket of
``f"allocation-{segment id}|{unit}"`` over 1 000 000 is below ``round(p * 1 000 000)``).
Checks that need a unit fail without one.

A reference back to a segment whose evaluation is under way (a cycle) does not match, as in
Confidence's resolvers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ..model.bitsets import BitsetSpec, BloomFilter
from ..model.segments import Allocation
from ..model.targeting import Targeting
from ..semantics.hashing import ACCOUNT_BUCKETS, bucket
from ..semantics.membership import bloom_filter_predicate, decode_bitset
from ..stores.materializations import UNAVAILABLE, MaterializationStore
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


class SegmentCompiler:
    """Compiles and memoises the gate of every segment a plan uses."""

    def __init__(
        self,
        segments: dict[str, SegmentSource],
        *,
        account_id: str,
        bitsets: dict[str, BitsetSpec],
        bloom_filters: dict[str, BloomFilter],
        store: MaterializationStore | None,
        cyclic: Iterable[str] = (),
    ) -> None:
        self._segments = segments
        self._account_salt = f"MegaSalt-{account_id}|"
        self._bitsets = bitsets
        self._blooms = {
            name: bloom_filter_predicate(spec.data, spec.bit_count, spec.hash_function_count)
            for name, spec in bloom_filters.items()
        }
        self._store = store
        self._cyclic = frozenset(cyclic)
        self._gates: dict[str, Predicate | None] = {}
        self._targetings: dict[str, Predicate | None] = {}
        self._allocations: dict[str, AllocationPlan] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._segments

    def gate(self, name: str, visiting: frozenset[str] = frozenset()) -> Predicate | None:
        """Targeting and allocation of segment ``name`` (which must exist).

        ``visiting`` holds the segments whose evaluation led here; a reference back to one
        of them is a cycle and, as in Confidence, does not match. Gates of segments on a
        cycle depend on where evaluation entered the cycle, so only the others are memoised.
        """
        if name in visiting:
            return _never
        memoise = name not in self._cyclic
        if memoise and name in self._gates:
            return self._gates[name]
        targeting = self._targeting(name, visiting | {name})
        gate = _both(targeting, allocation_check(self.allocation(name)))
        if memoise:
            self._gates[name] = gate
        return gate

    def allocation(self, name: str) -> AllocationPlan:
        """The allocation of segment ``name`` (which must exist)."""
        if name not in self._allocations:
            self._allocations[name] = self._compile_allocation(name)
        return self._allocations[name]

    def targeting(self, name: str) -> Predicate | None:
        """Only the targeting of segment ``name`` (what sticky units are re-checked against)."""
        if name in self._cyclic:
            return self._targeting(name, frozenset())
        if name not in self._targetings:
            self._targetings[name] = self._targeting(name, frozenset())
        return self._targetings[name]

    def _targeting(self, name: str, visiting: frozenset[str]) -> Predicate | None:
        return compile_targeting(
            self._segments[name][0],
            lambda reference: self._reference(reference, visiting),
            self._materialized,
        )

    # -- criteria that point outside the targeting ------------------------------------------

    def _reference(self, name: str, visiting: frozenset[str]) -> Predicate:
        if name not in self._segments:
            return _never
        gate = self.gate(name, visiting)
        if gate is None:
            return lambda context, unit: True
        return gate

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

    def _compile_allocation(self, name: str) -> AllocationPlan:
        if name in self._bitsets:
            has = decode_bitset(self._bitsets[name])
            if has is None:
                return None
            return self._account_buckets(has)
        allocation = self._segments[name][1]
        if allocation is None:
            return None
        if allocation.bucket_ranges:
            ranges = tuple((r.lower, r.upper) for r in allocation.bucket_ranges)
            return self._account_buckets(
                lambda index: any(lower <= index < upper for lower, upper in ranges)
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
