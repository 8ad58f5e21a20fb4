"""Conditions ↔ native targeting: an authoring ``when`` compiled into criteria and an
expression, and the way back.

Compiling: every attribute test becomes one criterion (ids ``c0``, ``c1``, … in document
order; ``gt``/``gte``/``lt``/``lte`` of one attribute make one ``rangeRule``), the keys of a
condition object are and-ed, ``and``/``or``/``not`` become the expression's operators and
``segment`` a segment criterion. Problems are collected with their paths in the authoring
document.

Reading back (:func:`condition_of`): a native targeting as a condition, or the reason it has
no authoring words (a materialized segment, a criterion without a rule, an empty ``and``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...model.paths import key_path
from ...model.targeting import (
    AttributeCriterion,
    Expression,
    InnerRule,
    RangeRule,
    Targeting,
    TargetingValue,
)
from .models import Condition, Operators, TimestampOperand, VersionOperand

__all__ = ["CannotExpress", "TargetingCompiler", "condition_of", "typed_value"]

Native = dict[str, Any]

_RANGE = (
    ("gt", "startExclusive"),
    ("gte", "startInclusive"),
    ("lt", "endExclusive"),
    ("lte", "endInclusive"),
)
_STRINGS = (
    ("starts_with", "startsWith", "startsWithRule"),
    ("ends_with", "endsWith", "endsWithRule"),
    ("contains", "contains", "containsRule"),
)


def typed_value(operand: Any) -> Native:
    """The native typed value of an operand: ``"SE"`` → ``{"stringValue": "SE"}``, …,
    ``null`` → ``{}``."""
    if isinstance(operand, VersionOperand):
        return {"versionValue": {"version": operand.version}}
    if isinstance(operand, TimestampOperand):
        return {"timestampValue": operand.timestamp}
    if operand is None:
        return {}
    if isinstance(operand, bool):
        return {"boolValue": operand}
    if isinstance(operand, int | float):
        return {"numberValue": operand}
    return {"stringValue": operand}


class TargetingCompiler:
    """Compiles the conditions of one document; ``problem(path, message)`` collects what is
    wrong, ``segment_known(name)`` says whether a ``segment`` reference names a segment."""

    def __init__(
        self,
        problem: Callable[[str, str], None],
        segment_known: Callable[[str], bool],
    ) -> None:
        self._problem = problem
        self._segment_known = segment_known
        self._criteria: Native = {}

    def targeting(self, condition: Condition | None, path: str) -> Native | None:
        """The native targeting of ``condition`` (at ``path``); ``None`` for everyone (no
        condition, or ``{}``)."""
        if condition is None:
            return None
        self._criteria = {}
        expression = self._condition(condition, path, top=True)
        if expression is None:
            return None
        return {"criteria": self._criteria, "expression": expression}

    # -- conditions -------------------------------------------------------------------------

    def _condition(self, condition: Condition, path: str, *, top: bool = False) -> Native | None:
        parts: list[Native] = []
        for key, operands in (("and", condition.and_), ("or", condition.or_)):
            if operands is None:
                continue
            if not operands:
                self._problem(f"{path}.{key}", f"an empty {key!r}: give at least one condition")
                continue
            compiled = [
                self._condition(operand, f"{path}.{key}[{index}]")
                for index, operand in enumerate(operands)
            ]
            kept = [expression for expression in compiled if expression is not None]
            if len(kept) == len(compiled):
                parts.append(kept[0] if len(kept) == 1 else {key: {"operands": kept}})
        if condition.not_ is not None:
            inner = self._condition(condition.not_, f"{path}.not")
            if inner is not None:
                parts.append({"not": inner})
        if condition.segment is not None:
            if self._segment_known(condition.segment):
                parts.append(
                    self._criterion({"segment": {"segment": f"segments/{condition.segment}"}})
                )
            else:
                self._problem(
                    f"{path}.segment",
                    f"no segment {condition.segment!r} in this document's segments",
                )
        for attribute, test in (condition.__pydantic_extra__ or {}).items():
            parts.extend(self._attribute(attribute, test, key_path(path, attribute)))
        if not parts:
            if not top and not condition.model_fields_set and not condition.__pydantic_extra__:
                self._problem(path, "an empty condition: it would match everyone")
            return None
        return parts[0] if len(parts) == 1 else {"and": {"operands": parts}}

    def _criterion(self, criterion: Native) -> Native:
        criterion_id = f"c{len(self._criteria)}"
        self._criteria[criterion_id] = criterion
        return {"ref": criterion_id}

    # -- attribute tests --------------------------------------------------------------------

    def _attribute(self, attribute: str, test: Any, path: str) -> list[Native]:
        if not attribute or any(not part for part in attribute.split(".")):
            self._problem(path, f"{attribute!r} is not a context attribute such as user.country")
            return []
        rules = self._rules(test, path, inner=False)
        return [
            self._criterion({"attribute": {"attributeName": attribute, **rule}}) for rule in rules
        ]

    def _rules(self, test: Any, path: str, *, inner: bool) -> list[Native]:
        """The native rules (``{"eqRule": …}``, …) an attribute test is made of."""
        if isinstance(test, list):
            return [{"setRule": {"values": [typed_value(value) for value in test]}}]
        if not isinstance(test, Operators):
            return [{"eqRule": {"value": typed_value(test)}}]
        given = test.model_fields_set
        if not given:
            self._problem(path, "no test: give a value, a list, or operators such as gte")
            return []
        rules: list[Native] = []
        if "eq" in given:
            rules.append({"eqRule": {"value": typed_value(test.eq)}})
        if "in_" in given and test.in_ is not None:
            rules.append({"setRule": {"values": [typed_value(value) for value in test.in_]}})
        bounds: Native = {}
        for field, native in _RANGE:
            if field not in given:
                continue
            bound = getattr(test, field)
            if bound is None or isinstance(bound, bool):
                self._problem(
                    f"{path}.{field}", "a bound is a number, a string, a version or a timestamp"
                )
                continue
            side = native[:3] if native.startswith("end") else native[:5]
            if any(other.startswith(side) for other in bounds):
                self._problem(f"{path}.{field}", "a range has one lower and one upper bound")
                continue
            bounds[native] = typed_value(bound)
        if bounds:
            rules.append({"rangeRule": bounds})
        for field, _, native in _STRINGS:
            value = getattr(test, field)
            if value is not None:
                rules.append({native: {"value": value}})
        for field in ("any", "all"):
            value = getattr(test, field)
            if value is None:
                continue
            where = f"{path}.{field}"
            if inner:
                self._problem(where, f"{field!r} tests the elements of a list, not an element")
                continue
            inside = self._rules(value, where, inner=True)
            if len(inside) > 1:
                self._problem(where, f"{field!r} takes one test (a range counts as one)")
            elif inside:
                rules.append({f"{field}Rule": {"rule": inside[0]}})
        return rules


# -- reading native targeting back ----------------------------------------------------------


class CannotExpress(Exception):
    """A native construct the authoring format has no words for; the message says which."""


def condition_of(targeting: Targeting | None) -> dict[str, Any] | None:
    """The authoring condition of a native targeting (``None``: everyone), or
    :class:`CannotExpress`."""
    if targeting is None or targeting.expression is None:
        return None
    return _expression(targeting.expression, targeting)


def _expression(expression: Expression, targeting: Targeting) -> dict[str, Any]:
    if expression.ref is not None:
        criterion = targeting.criteria.get(expression.ref)
        if criterion is None:
            raise CannotExpress(f"the expression names no criterion {expression.ref!r}")
        if criterion.attribute is not None:
            attribute = criterion.attribute
            return {attribute.attribute_name: _attribute_test(attribute)}
        if criterion.segment is not None:
            return {"segment": _segment_id(criterion.segment.segment)}
        raise CannotExpress("a materialized segment has no authoring words")
    if expression.not_ is not None:
        return {"not": _expression(expression.not_, targeting)}
    for key, operands in (("and", expression.and_), ("or", expression.or_)):
        if operands is None:
            continue
        if not operands.operands:
            raise CannotExpress(f"an empty {key!r} has no authoring words")
        conditions = [_expression(operand, targeting) for operand in operands.operands]
        if len(conditions) == 1:
            return conditions[0]
        if key == "and":
            merged = _merged(conditions)
            if merged is not None:
                return merged
        return {key: conditions}
    raise CannotExpress("an expression without an operator has no authoring words")


def _merged(conditions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One object for conditions with different keys (an object's keys are and-ed);
    ``None`` when two share a key (two tests of one list attribute may hold for different
    elements, which one object of operators would not say)."""
    merged: dict[str, Any] = {}
    for condition in conditions:
        for key, test in condition.items():
            if key in merged:
                return None
            merged[key] = test
    return merged


def _segment_id(name: str) -> str:
    return name.split("/", 1)[1] if name.startswith("segments/") else name


def _attribute_test(attribute: AttributeCriterion | InnerRule) -> Any:
    if attribute.eq_rule is not None:
        if attribute.eq_rule.value is None:
            raise CannotExpress("an eqRule without a value has no authoring words")
        return _operand(attribute.eq_rule.value)
    if attribute.set_rule is not None:
        return [_operand(value) for value in attribute.set_rule.values]
    if attribute.range_rule is not None:
        return _range(attribute.range_rule)
    for field, word, _ in _STRINGS:
        rule = getattr(attribute, f"{field}_rule")
        if rule is not None:
            return {word: rule.value}
    if isinstance(attribute, AttributeCriterion):
        for word, holder in (("any", attribute.any_rule), ("all", attribute.all_rule)):
            if holder is None:
                continue
            if holder.rule is None or holder.rule.kind is None:
                raise CannotExpress(f"an {word}Rule without an inner rule has no authoring words")
            return {word: _attribute_test(holder.rule)}
    raise CannotExpress("a criterion without a recognised rule has no authoring words")


def _range(rule: RangeRule) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for word, native in _RANGE:
        value = getattr(rule, _snake(native))
        if value is not None:
            bounds[word] = _operand(value)
    if not bounds:
        raise CannotExpress("an empty rangeRule has no authoring words")
    if any(bound is None for bound in bounds.values()):
        raise CannotExpress("a null range bound has no authoring words")
    return bounds


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _operand(value: TargetingValue) -> Any:
    kind = value.kind
    if kind == "version":
        assert value.version_value is not None
        return {"version": value.version_value.version}
    if kind == "timestamp":
        return {"timestamp": value.timestamp_value}
    if kind == "number":
        number = value.number_value
        assert number is not None
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "bool":
        return value.bool_value
    if kind == "string":
        return value.string_value
    return None
