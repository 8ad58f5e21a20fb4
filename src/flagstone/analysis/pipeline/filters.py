"""Exposure filters as SQL: targeting (criteria + expression) over the context attributes
recorded on exposures, as a predicate in the one dialect the aggregation is written in.

Each attribute is a text column of the staged exposures (``ctx_<n>``); a criterion on an
attribute that is missing is false, as in targeting, so every criterion is wrapped in
``COALESCE(…, FALSE)`` (SQL's unknown would turn ``not`` around). Supported: ``eqRule``,
``setRule``, ``rangeRule`` over numbers and strings, ``startsWithRule``, ``endsWithRule``,
``containsRule``, and ``and``/``or``/``not``/``ref``; anything else (lists, versions,
timestamps, segments) is a :class:`~flagstone.errors.PipelineError`.
"""

from __future__ import annotations

from collections.abc import Callable

from flagstone.errors import PipelineError
from flagstone.model.targeting import (
    AttributeCriterion,
    Expression,
    RangeRule,
    Targeting,
    TargetingValue,
)

__all__ = ["attributes", "predicate", "sql_string"]


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def attributes(targeting: Targeting) -> list[str]:
    """The context attributes the targeting's criteria read, in order."""
    found: list[str] = []
    for criterion in targeting.criteria.values():
        if criterion.attribute is None:
            raise PipelineError(
                "an exposure filter tests recorded context attributes only, not segments"
            )
        if criterion.attribute.attribute_name not in found:
            found.append(criterion.attribute.attribute_name)
    return found


def predicate(targeting: Targeting, column: Callable[[str], str]) -> str:
    """The SQL predicate of ``targeting``; ``column(attribute)`` names its column."""
    if targeting.expression is None:
        return "TRUE"
    return _expression(targeting.expression, targeting, column)


def _expression(expression: Expression, targeting: Targeting, column: Callable[[str], str]) -> str:
    if expression.ref is not None:
        criterion = targeting.criteria.get(expression.ref)
        if criterion is None or criterion.attribute is None:
            raise PipelineError(f"exposure filter: unknown criterion {expression.ref!r}")
        return f"COALESCE({_criterion(criterion.attribute, column)}, FALSE)"
    if expression.not_ is not None:
        return f"(NOT {_expression(expression.not_, targeting, column)})"
    operands = expression.and_ if expression.and_ is not None else expression.or_
    if operands is None:
        raise PipelineError("exposure filter: an empty expression")
    word = " AND " if expression.and_ is not None else " OR "
    parts = [_expression(operand, targeting, column) for operand in operands.operands]
    if not parts:
        return "TRUE" if expression.and_ is not None else "FALSE"
    return "(" + word.join(parts) + ")"


def _criterion(criterion: AttributeCriterion, column: Callable[[str], str]) -> str:
    name = criterion.attribute_name
    col = column(name)
    if criterion.eq_rule is not None:
        value = criterion.eq_rule.value
        if value is None or value.kind == "null":
            return f"({col} IS NULL)"
        return _compare(col, "=", value, name)
    if criterion.set_rule is not None:
        if not criterion.set_rule.values:
            return "FALSE"
        return (
            "(" + " OR ".join(_compare(col, "=", v, name) for v in criterion.set_rule.values) + ")"
        )
    if criterion.range_rule is not None:
        return _range(col, criterion.range_rule, name)
    if criterion.starts_with_rule is not None:
        return f"STARTS_WITH({col}, {sql_string(criterion.starts_with_rule.value)})"
    if criterion.ends_with_rule is not None:
        suffix = criterion.ends_with_rule.value
        return f"(RIGHT({col}, {len(suffix)}) = {sql_string(suffix)})"
    if criterion.contains_rule is not None:
        return f"(STRPOS({col}, {sql_string(criterion.contains_rule.value)}) > 0)"
    raise PipelineError(
        f"exposure filter on {name!r}: only eq, set, range, startsWith, endsWith and "
        "contains rules can be applied to recorded context"
    )


def _compare(col: str, operator: str, value: TargetingValue, name: str) -> str:
    if value.string_value is not None:
        return f"({col} {operator} {sql_string(value.string_value)})"
    if value.number_value is not None:
        return f"(CAST({col} AS DOUBLE) {operator} {float(value.number_value)!r})"
    if value.bool_value is not None and operator == "=":
        return f"({col} = {sql_string('true' if value.bool_value else 'false')})"
    raise PipelineError(
        f"exposure filter on {name!r}: a {value.kind} value cannot be compared with "
        "recorded context (strings, numbers and booleans can)"
    )


def _range(col: str, rule: RangeRule, name: str) -> str:
    parts = []
    for value, operator in (
        (rule.start_inclusive, ">="),
        (rule.start_exclusive, ">"),
        (rule.end_inclusive, "<="),
        (rule.end_exclusive, "<"),
    ):
        if value is not None:
            parts.append(_compare(col, operator, value, name))
    return "(" + " AND ".join(parts) + ")" if parts else "FALSE"
