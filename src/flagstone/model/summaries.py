"""What the rest of a snapshot needs to know of a flag or a segment once its model is gone.

Loading a large snapshot validates each flag and segment and lets its model go; an update
validates only the flags and segments whose text changed. What the checks that span
entities (names defined once, references that resolve, reference chains and cycles,
exclusive ranges, A/B tests naming a flag's variants) and the compiler's bookkeeping need of
the others is their summary: a few names and numbers, a tenth of the model's memory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .flags import Flag
from .segments import Segment

__all__ = ["FlagSummary", "SegmentSummary", "Shared", "summarize_flag", "summarize_segment"]


class FlagSummary(NamedTuple):
    """A flag's name, state, variant names (as defined), the segments its rules name, the
    clients it lists, and whether any rule is limited to environments or reads or writes a
    materialization (the compiler's view of it depends on the client's then)."""

    name: str
    state: str
    variants: tuple[str, ...]
    segments: tuple[str, ...]
    clients: tuple[str, ...]
    client_specific: bool


class SegmentSummary(NamedTuple):
    """A segment's name, the segments and materialized segments its criteria name, and its
    exclusive placement (``(tags, ranges)`` when it has ``exclusivityTags``)."""

    name: str
    references: tuple[str, ...]
    materialized: tuple[str, ...]
    exclusive: tuple[tuple[str, ...], tuple[tuple[int, int], ...]] | None


class Shared:
    """One instance of each equal tuple within a load: 10 000 flags with the variants
    ``("control", "treatment")`` then hold one tuple, not 10 000. ``shared(value)``, or
    ``shared.one(value, value)`` (the dict's own ``setdefault``, without a Python call)."""

    __slots__ = ("_seen", "one")

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}
        self.one = self._seen.setdefault

    def __call__(self, value: Any) -> Any:
        return self._seen.setdefault(value, value)


def summarize_flag(flag: Flag, shared: Shared, names: dict[str, str] | None = None) -> FlagSummary:
    """The summary of ``flag``; equal parts shared through ``shared``, and names that are
    keys of ``names`` (the document's map keys) as the string found there."""
    one = shared.one
    names = names or {}
    variants = tuple([variant.name for variant in flag.variants])
    segments = tuple([names.get(rule.segment, rule.segment) for rule in flag.rules])
    name = names.get(flag.name, flag.name)
    clients = tuple(flag.clients)
    return FlagSummary(
        name,  # held by the compiled flag too; a unique name gains nothing from sharing
        flag.state,
        one(variants, variants),
        one(segments, segments),
        one(clients, clients),
        any(rule.environments or rule.materialization_spec is not None for rule in flag.rules),
    )


def summarize_segment(segment: Segment, shared: Shared, key: str | None = None) -> SegmentSummary:
    """The summary of ``segment``; equal parts shared through ``shared``, and its name the
    string ``key`` (its map key, kept anyway) when that is equal."""
    references: tuple[str, ...] = ()
    materialized: tuple[str, ...] = ()
    targeting = segment.targeting
    if targeting is not None and targeting.criteria:
        references = shared(
            tuple(
                criterion.segment.segment
                for criterion in targeting.criteria.values()
                if criterion.segment is not None
            )
        )
        materialized = shared(
            tuple(
                criterion.materialized_segment.materialized_segment
                for criterion in targeting.criteria.values()
                if criterion.materialized_segment is not None
            )
        )
    exclusive = None
    allocation = segment.allocation
    if allocation is not None and allocation.exclusivity_tags:
        exclusive = (
            tuple(allocation.exclusivity_tags),
            tuple((r.lower, r.upper) for r in allocation.bucket_ranges),
        )
    name = key if key == segment.name else segment.name
    return SegmentSummary(name, references, materialized, exclusive)
