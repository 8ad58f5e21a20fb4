"""Flags: variants and the ordered rules that assign them, in Confidence's JSON shape."""

from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from .base import CONFIG, PositiveCount, ResourceMetadata, dataclass
from .segments import BucketRange

__all__ = [
    "Assignment",
    "AssignmentSpec",
    "Empty",
    "Flag",
    "MaterializationReadMode",
    "MaterializationSpec",
    "Rule",
    "Variant",
    "VariantAssignment",
    "VariantValue",
]


def _not_null(raw: Any) -> Any:
    if raw is None:
        raise ValueError("a variant's value is an object, array, string, number or boolean")
    return raw


VariantValue = Annotated[
    dict[str, Any] | list[Any] | bool | int | float | str, BeforeValidator(_not_null)
]
"""A variant's value: a JSON object as Confidence writes it, or (flagstone's extension, what
the authoring format's ``true``, ``"blue"`` and ``42`` compile to) any other JSON value but
``null``, which ``Client.get_value("flag", ctx, default)`` returns as it is."""


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Variant(ResourceMetadata):
    """A named value of a flag. ``name`` is used as written (``"on"`` or
    ``"flags/f/variants/on"``); ``value`` is a JSON object, or any other JSON value but
    ``null`` (see :data:`VariantValue`)."""

    name: str
    value: VariantValue = Field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class VariantAssignment:
    variant: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Empty:
    """``{}``: the body of a ``fallthrough`` or ``clientDefault`` assignment."""


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Assignment:
    """Bucket ranges and what a unit in them gets: a ``variant``, a ``fallthrough`` (record
    the rule, try the next one) or the ``clientDefault`` (a match with no variant)."""

    assignment_id: str = ""
    variant: VariantAssignment | None = None
    fallthrough: Empty | None = None
    client_default: Empty | None = None
    bucket_ranges: list[BucketRange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Assignment:
        # one C call and a count first (~0.2 µs; naming the kinds ~1 µs, 20 000 times for
        # a 10 000-flag snapshot); the names only for the message
        if _KINDS(self).count(None) >= 2:
            return self
        given = [
            name
            for name, value in (
                ("variant", self.variant),
                ("fallthrough", self.fallthrough),
                ("clientDefault", self.client_default),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"an assignment has one kind, found {', '.join(given)}")
        return self

    @property
    def kind(self) -> Literal["variant", "fallthrough", "client_default"] | None:
        if self.variant is not None:
            return "variant"
        if self.fallthrough is not None:
            return "fallthrough"
        if self.client_default is not None:
            return "client_default"
        return None


_KINDS = attrgetter("variant", "fallthrough", "client_default")


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AssignmentSpec:
    """``bucketCount`` buckets of ``f"{segment id}|{unit}"`` split among assignments; the first
    assignment whose range holds the unit's bucket wins."""

    bucket_count: PositiveCount
    assignments: list[Assignment] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MaterializationReadMode:
    materialization_must_match: bool = False
    """Only units already in the materialization may match this rule (paused intake)."""
    segment_targeting_can_be_ignored: bool = False
    """A unit in the materialization keeps its variant even if it no longer matches."""


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MaterializationSpec:
    """Sticky assignments: read a unit's earlier variant from, and write new ones to, a
    materialization in the client's store."""

    read_materialization: str = ""
    write_materialization: str = ""
    mode: MaterializationReadMode | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Rule(ResourceMetadata):
    """One targeting rule of a flag. Rules are tried in order; the first that matches wins.

    ``targetingKeySelector`` is the dotted path of the unit in the context. Blank (or left
    out, as protobuf's JSON leaves out empty strings) it reads ``targeting_key``, and a full
    rollout then also resolves without a unit. ``enabled`` defaults to true.
    """

    name: str
    segment: str
    enabled: bool = True
    targeting_key_selector: str = ""
    environments: list[str] = Field(default_factory=list)
    assignment_spec: AssignmentSpec | None = None
    materialization_spec: MaterializationSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Flag(ResourceMetadata):
    """A flag: ``flags/<id>``, its variants, the clients that may resolve it, and its rules."""

    name: str
    state: Literal["ACTIVE", "ARCHIVED"] = "ACTIVE"
    clients: list[str] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    flag_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    usage_metadata: dict[str, Any] | None = None
