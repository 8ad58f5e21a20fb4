"""Targeting: the criteria and boolean expression that decide whether a context belongs to a
segment, in Confidence's JSON shape.

A criterion is an attribute test (``eqRule``, ``setRule``, ``rangeRule``, ``startsWithRule``,
``endsWithRule``, ``containsRule``, ``anyRule``/``allRule`` over a list), a reference to
another segment, or a materialized segment (a stored or bloom-filtered set of units). The
expression combines criteria by id with ``ref``/``and``/``or``/``not``.

Shapes that Confidence's resolver tolerates but cannot evaluate (an attribute criterion with
no rule, an ``anyRule`` without an inner rule, an empty ``rangeRule``) parse here; the
snapshot validation reports them in strict mode.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic.alias_generators import to_camel

from .base import CONFIG, dataclass

__all__ = [
    "ATTRIBUTE_RULE_FIELDS",
    "AllRule",
    "AnyRule",
    "AttributeCriterion",
    "Criterion",
    "EqRule",
    "Expression",
    "InnerRule",
    "MaterializedSegmentCriterion",
    "Operands",
    "RangeRule",
    "SegmentCriterion",
    "SemanticVersion",
    "SetRule",
    "StringRule",
    "Targeting",
    "TargetingValue",
    "ValueKind",
]

ValueKind = Literal["string", "number", "bool", "timestamp", "version", "null"]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class SemanticVersion:
    """``{"version": "2.0.0"}``."""

    version: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class TargetingValue:
    """A typed rule value: ``{"stringValue": "SE"}``, ``{"numberValue": 18}``,
    ``{"boolValue": true}``, ``{"timestampValue": "2022-11-17T15:16:17Z"}``,
    ``{"versionValue": {"version": "2.0.0"}}``; ``{}`` stands for null."""

    string_value: str | None = None
    number_value: float | None = None
    bool_value: bool | None = None
    timestamp_value: str | None = None
    version_value: SemanticVersion | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TargetingValue:
        if _VALUES(self).count(None) >= len(_VALUE_FIELDS) - 1:  # see _ONE_CALL
            return self
        given = [name for name in _VALUE_FIELDS if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"a value has one kind, found {', '.join(_CAMEL[n] for n in given)}")
        return self

    @property
    def kind(self) -> ValueKind:
        if self.string_value is not None:
            return "string"
        if self.number_value is not None:
            return "number"
        if self.bool_value is not None:
            return "bool"
        if self.timestamp_value is not None:
            return "timestamp"
        if self.version_value is not None:
            return "version"
        return "null"


_VALUE_FIELDS = ("string_value", "number_value", "bool_value", "timestamp_value", "version_value")
_VALUES = attrgetter(*_VALUE_FIELDS)
_ONE_CALL = None
"""The "at most one of" validators below first read every field in one C call
(``attrgetter``) and count the ``None``s: ~0.2 µs where naming the given fields cost ~1 µs,
and a 10 000-flag snapshot runs 60 000 of them. The names are made only for the message."""
_CAMEL = {
    "string_value": "stringValue",
    "number_value": "numberValue",
    "bool_value": "boolValue",
    "timestamp_value": "timestampValue",
    "version_value": "versionValue",
}


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class EqRule:
    """Equal to ``value``; ``{"value": {}}`` tests for null or a missing attribute."""

    value: TargetingValue | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class SetRule:
    """Equal to one of ``values``."""

    values: list[TargetingValue] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class RangeRule:
    """Between optional bounds, each inclusive or exclusive."""

    start_inclusive: TargetingValue | None = None
    start_exclusive: TargetingValue | None = None
    end_inclusive: TargetingValue | None = None
    end_exclusive: TargetingValue | None = None

    @model_validator(mode="after")
    def _one_bound_each_side(self) -> RangeRule:
        if self.start_inclusive is not None and self.start_exclusive is not None:
            raise ValueError("a range has one start: startInclusive or startExclusive, not both")
        if self.end_inclusive is not None and self.end_exclusive is not None:
            raise ValueError("a range has one end: endInclusive or endExclusive, not both")
        return self

    @property
    def start(self) -> TargetingValue | None:
        return self.start_inclusive if self.start_inclusive is not None else self.start_exclusive

    @property
    def end(self) -> TargetingValue | None:
        return self.end_inclusive if self.end_inclusive is not None else self.end_exclusive


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class StringRule:
    """``startsWithRule``, ``endsWithRule`` and ``containsRule``: a literal string."""

    value: str


_RULE_FIELDS = (
    "eq_rule",
    "set_rule",
    "range_rule",
    "starts_with_rule",
    "ends_with_rule",
    "contains_rule",
)
_RULES = attrgetter(*_RULE_FIELDS)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class InnerRule:
    """The test an ``anyRule``/``allRule`` applies to each list element."""

    eq_rule: EqRule | None = None
    set_rule: SetRule | None = None
    range_rule: RangeRule | None = None
    starts_with_rule: StringRule | None = None
    ends_with_rule: StringRule | None = None
    contains_rule: StringRule | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> InnerRule:
        if _RULES(self).count(None) < len(_RULE_FIELDS) - 1:  # see _ONE_CALL
            _at_most_one_rule(self, _RULE_FIELDS)
        return self

    @property
    def kind(self) -> str | None:
        """The name of the rule given (``"eq_rule"`` …), ``None`` if there is none."""
        return _rule_kind(self, _RULE_FIELDS)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AnyRule:
    """True if the inner rule holds for at least one element of the attribute's list."""

    rule: InnerRule | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AllRule:
    """True if the inner rule holds for every element of the attribute's list."""

    rule: InnerRule | None = None


ATTRIBUTE_RULE_FIELDS = (*_RULE_FIELDS, "any_rule", "all_rule")
"""The fields of an attribute criterion that hold its rule, one of which is set."""
_ATTRIBUTE_RULES = attrgetter(*ATTRIBUTE_RULE_FIELDS)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AttributeCriterion:
    """A test on one context attribute, addressed by a dotted path."""

    attribute_name: str = Field(
        validation_alias=AliasChoices("attributeName", "attribute", "attribute_name"),
        serialization_alias="attributeName",
    )
    eq_rule: EqRule | None = None
    set_rule: SetRule | None = None
    range_rule: RangeRule | None = None
    starts_with_rule: StringRule | None = None
    ends_with_rule: StringRule | None = None
    contains_rule: StringRule | None = None
    any_rule: AnyRule | None = None
    all_rule: AllRule | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> AttributeCriterion:
        if _ATTRIBUTE_RULES(self).count(None) < len(ATTRIBUTE_RULE_FIELDS) - 1:  # _ONE_CALL
            _at_most_one_rule(self, ATTRIBUTE_RULE_FIELDS)
        return self

    @property
    def kind(self) -> str | None:
        """The name of the rule given (``"eq_rule"`` …), ``None`` if there is none."""
        return _rule_kind(self, ATTRIBUTE_RULE_FIELDS)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class SegmentCriterion:
    """Membership of another segment (its targeting and its allocation)."""

    segment: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MaterializedSegmentCriterion:
    """Membership of a materialized segment: a bloom filter in the snapshot or a set of
    units in the client's materialization store."""

    materialized_segment: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Criterion:
    """One of ``attribute``, ``segment`` or ``materializedSegment``."""

    attribute: AttributeCriterion | None = None
    segment: SegmentCriterion | None = None
    materialized_segment: MaterializedSegmentCriterion | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> Criterion:
        if _CRITERION_KINDS(self).count(None) >= 2:  # see _ONE_CALL
            return self
        given = [
            name
            for name in ("attribute", "segment", "materialized_segment")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            names = ", ".join(to_camel(name) for name in given)
            raise ValueError(f"a criterion has one kind, found {names}")
        return self


_CRITERION_KINDS = attrgetter("attribute", "segment", "materialized_segment")


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Operands:
    operands: list[Expression] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Expression:
    """``{"ref": id}``, ``{"not": expression}``, ``{"and": {"operands": [...]}}`` or
    ``{"or": {"operands": [...]}}``."""

    ref: str | None = None
    not_: Expression | None = Field(default=None, alias="not")
    and_: Operands | None = Field(default=None, alias="and")
    or_: Operands | None = Field(default=None, alias="or")

    @model_validator(mode="after")
    def _at_most_one(self) -> Expression:
        if _OPERATORS(self).count(None) >= 3:  # see _ONE_CALL
            return self
        given = [name for name in ("ref", "not_", "and_", "or_") if getattr(self, name) is not None]
        if len(given) > 1:
            names = ", ".join(name.rstrip("_") for name in given)
            raise ValueError(f"an expression has one operator, found {names}")
        return self


_OPERATORS = attrgetter("ref", "not_", "and_", "or_")


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Targeting:
    """Named criteria and the expression over them. No expression means "everyone"."""

    criteria: dict[str, Criterion] = Field(default_factory=dict)
    expression: Expression | None = None


def _at_most_one_rule(model: object, fields: tuple[str, ...]) -> None:
    given = [name for name in fields if getattr(model, name) is not None]
    if len(given) > 1:
        names = ", ".join(to_camel(name) for name in given)
        raise ValueError(f"a criterion has one rule, found {names}")


def _rule_kind(model: object, fields: tuple[str, ...]) -> str | None:
    for name in fields:
        if getattr(model, name) is not None:
            return name
    return None
