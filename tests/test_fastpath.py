"""The unrolled single-rule resolver (``flagstone.plan.fastpath``) resolves exactly as the
general rule loop (``flagstone.plan.resolver.resolve_flag``) does.

A white-box test: for flags whose only rule is plain, the plan picks the unrolled resolver;
here both resolvers run on the same compiled flag for many contexts and must agree on every
field of the resolution.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone.plan import FlagPlan
from flagstone.plan.fastpath import is_plain
from flagstone.plan.resolver import resolve_flag

TARGETINGS: dict[str, Any] = {
    "none": None,
    "eq-string": {
        "criteria": {
            "c": {
                "attribute": {
                    "attributeName": "country",
                    "eqRule": {"value": {"stringValue": "SE"}},
                }
            }
        },
        "expression": {"ref": "c"},
    },
    "set-strings": {
        "criteria": {
            "c": {
                "attribute": {
                    "attributeName": "country",
                    "setRule": {"values": [{"stringValue": "SE"}, {"stringValue": "NO"}]},
                }
            }
        },
        "expression": {"ref": "c"},
    },
    "range-number": {
        "criteria": {
            "c": {
                "attribute": {
                    "attributeName": "age",
                    "rangeRule": {"startInclusive": {"numberValue": 18}},
                }
            }
        },
        "expression": {"ref": "c"},
    },
    "not-eq": {
        "criteria": {
            "c": {
                "attribute": {
                    "attributeName": "country",
                    "eqRule": {"value": {"stringValue": "SE"}},
                }
            }
        },
        "expression": {"not": {"ref": "c"}},
    },
}
ALLOCATIONS: dict[str, Any] = {
    "none": None,
    "proportion": {"proportion": 0.5},
    "ranges": {"bucketRanges": [{"lower": 0, "upper": 400_000}]},
}
ASSIGNMENTS: dict[str, list[dict[str, Any]]] = {
    "one-full": [
        {
            "assignmentId": "a",
            "variant": {"variant": "on"},
            "bucketRanges": [{"lower": 0, "upper": 100}],
        }
    ],
    "split-with-gap": [
        {"assignmentId": "on", "variant": {"variant": "on"}, "bucketRanges": [{"upper": 30}]},
        {
            "assignmentId": "off",
            "variant": {"variant": "off"},
            "bucketRanges": [{"lower": 40, "upper": 100}],
        },
    ],
    "default-and-fallthrough": [
        {"assignmentId": "cd", "clientDefault": {}, "bucketRanges": [{"upper": 50}]},
        {"assignmentId": "ft", "fallthrough": {}, "bucketRanges": [{"lower": 50, "upper": 100}]},
    ],
}


def flag_plan(targeting: str, allocation: str, assignments: str) -> FlagPlan:
    segment: dict[str, Any] = {"name": "segments/s"}
    if TARGETINGS[targeting] is not None:
        segment["targeting"] = TARGETINGS[targeting]
    if ALLOCATIONS[allocation] is not None:
        segment["allocation"] = ALLOCATIONS[allocation]
    document = {
        "segments": [segment],
        "flags": [
            {
                "name": "flags/f",
                "variants": [{"name": "on", "value": {"x": 1}}, {"name": "off", "value": {"x": 0}}],
                "rules": [
                    {
                        "name": "flags/f/rules/r",
                        "segment": "segments/s",
                        "targetingKeySelector": "targeting_key",
                        "assignmentSpec": {
                            "bucketCount": 100,
                            "assignments": ASSIGNMENTS[assignments],
                        },
                    }
                ],
            }
        ],
    }
    plan: FlagPlan = flagstone.Client.from_dict(document)._plan["flags/f"]
    assert is_plain(plan.rules[0])
    return plan


SHAPES = [(t, a, s) for t in TARGETINGS for a in ALLOCATIONS for s in ASSIGNMENTS]
PLANS = {shape: flag_plan(*shape) for shape in SHAPES}

keys = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.just("x" * 101),
    st.lists(st.text(max_size=3), max_size=2),
)
contexts = st.fixed_dictionaries(
    {},
    optional={
        "targeting_key": keys,
        "country": st.one_of(
            st.sampled_from(["SE", "NO", "DK"]),
            st.integers(),
            st.lists(st.sampled_from(["SE", "US"]), max_size=2),
        ),
        "age": st.one_of(st.integers(0, 40), st.text(max_size=3), st.none()),
    },
)


def same(first: flagstone.Resolution, second: flagstone.Resolution) -> None:
    assert first.to_dict() == second.to_dict()


@pytest.mark.parametrize("shape", SHAPES, ids=["/".join(shape) for shape in SHAPES])
@settings(max_examples=80, deadline=None, derandomize=True)
@given(context=contexts)
def test_the_unrolled_resolver_agrees_with_the_rule_loop(
    shape: tuple[str, str, str], context: dict[str, Any]
) -> None:
    plan = PLANS[shape]
    same(plan.resolve(context), resolve_flag(plan, context))


def test_every_shape_here_uses_the_unrolled_resolver() -> None:
    for plan in PLANS.values():
        assert plan.resolve.__qualname__.startswith("single_rule_resolver")
