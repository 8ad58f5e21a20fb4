"""The unrolled single-rule resolver (``flagstone.plan.fastpath``) resolves exactly as the
general rule loop (``flagstone.plan.resolver.resolve_flag``) does.

A white-box test: for flags whose only rule is plain, the plan picks the unrolled resolver;
here both resolvers run on the same compiled flag for many contexts and must agree on every
field of the resolution.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone.plan import FlagPlan
from flagstone.plan.fastpath import is_plain
from flagstone.plan.resolver import resolve_flag, resolver_for
from tests import builders as b

COUNTRY_SE = b.attribute("country", b.eq(b.string("SE")))
TARGETINGS: dict[str, Any] = {
    "none": None,
    "eq-string": b.targeting({"c": COUNTRY_SE}, b.ref("c")),
    "set-strings": b.targeting(
        {"c": b.attribute("country", b.one_of(b.string("SE"), b.string("NO")))}, b.ref("c")
    ),
    "range-number": b.targeting(
        {"c": b.attribute("age", b.between(startInclusive=b.number(18)))}, b.ref("c")
    ),
    "not-eq": b.targeting({"c": COUNTRY_SE}, b.not_(b.ref("c"))),
}
ALLOCATIONS: dict[str, Any] = {
    "none": None,
    "proportion": {"proportion": 0.5},
    "ranges": {"bucketRanges": [{"lower": 0, "upper": 400_000}]},
}
ASSIGNMENTS: dict[str, list[dict[str, Any]]] = {
    "one-full": [b.assignment("a", "on", (0, 100))],
    "split-with-gap": [b.assignment("on", "on", (None, 30)), b.assignment("off", "off", (40, 100))],
    "default-and-fallthrough": [
        b.assignment("cd", None, (None, 50), kind="clientDefault"),
        b.assignment("ft", None, (50, 100), kind="fallthrough"),
    ],
    # one assignment over every bucket in two ranges: no hash for the variant, the client
    # default; a fallthrough over every bucket goes through the rule's search
    "one-in-two-ranges": [b.assignment("a", "on", [(0, 40), (40, 100)])],
    "one-default": [b.assignment("cd", None, (0, 100), kind="clientDefault")],
    "one-fallthrough": [b.assignment("ft", None, (0, 100), kind="fallthrough")],
}


def flag_plan(targeting: str, allocation: str, assignments: str) -> FlagPlan:
    rule = b.rule(
        "flags/f/rules/r",
        ASSIGNMENTS[assignments],
        bucket_count=100,
        segment="segments/s",
        selector="targeting_key",
    )
    document = b.snapshot(
        b.flag("f", {"on": {"x": 1}, "off": {"x": 0}}, [rule]),
        segments=[
            b.segment("s", targeting=TARGETINGS[targeting], allocation=ALLOCATIONS[allocation])
        ],
        layout="list",
    )
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


@settings(max_examples=200, deadline=None, derandomize=True)
@given(context=contexts)
def test_the_unrolled_resolver_agrees_with_the_rule_loop(context: dict[str, Any]) -> None:
    # every shape sees every context (one example resolves all of them: hypothesis's own cost
    # per example is far above a resolution's)
    for shape, plan in PLANS.items():
        fast, loop = plan.resolve(context), resolve_flag(plan, context)
        assert fast.to_dict() == loop.to_dict(), "/".join(shape)


def test_every_shape_here_uses_an_unrolled_resolver() -> None:
    # a segment that admits every unit has its own (fewer defaults), every other segment
    # the gated one: both are compared with the rule loop above
    for (targeting, allocation, _), plan in PLANS.items():
        ungated = targeting == "none" and allocation == "none"
        built = resolver_for(plan)  # what the flag's first call builds
        assert built.__qualname__ == ("_ungated" if ungated else "_gated") + ".<locals>.resolve"
