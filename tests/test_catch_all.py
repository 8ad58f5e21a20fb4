"""``Resolution.catch_all``: whether the matching rule serves its variant to every unit
whatever the context (the OpenFeature provider reports such a match as STATIC or DEFAULT).

A rule is a catch-all when its segment has no targeting and no allocation limit, it reads
and writes no materialization, and one variant covers every bucket: ``"only"`` as the flag's
first applied rule, ``"fallback"`` after other rules (A/B tests included), else ``None``.
"""

from __future__ import annotations

from typing import Any

import flagstone
from tests import builders as b

VARIANTS = {"off": {"on": False}, "on": {"on": True}}
CONTEXT = {"targeting_key": "user-1", "country": "SE"}


def catch_all_of(
    *rules: dict[str, Any],
    segments: list[dict[str, Any]] | None = None,
    abtests: list[dict[str, Any]] | None = None,
) -> str | None:
    document = b.snapshot(
        b.flag("f", VARIANTS, list(rules)),
        segments=[b.segment(), *(segments or [])],
        abtests=abtests,
    )
    with flagstone.Client.from_dict(document) as client:
        for index in range(1000):  # the first unit a rule of the flag's own matches
            context = {**CONTEXT, "targeting_key": f"user-{index}"}
            resolution = client.evaluate("f", context, apply=False)
            if resolution.reason is flagstone.Reason.MATCH and resolution.abtest is None:
                return resolution.catch_all
    raise AssertionError("no unit matched a rule of the flag")


def test_the_only_rule_serving_one_variant_to_everyone_is_only() -> None:
    assert catch_all_of(b.everyone_gets("flags/f/rules/all", "on")) == "only"


def test_such_a_rule_after_a_targeted_rule_is_the_fallback() -> None:
    sweden_elsewhere = b.segment("elsewhere", targeting=b.attribute_is("country", b.string("NO")))
    rules = (
        b.everyone_gets("flags/f/rules/norway", "on", segment="elsewhere"),
        b.everyone_gets("flags/f/rules/default", "off"),
    )
    assert catch_all_of(*rules, segments=[sweden_elsewhere]) == "fallback"


def test_a_targeted_rule_is_no_catch_all() -> None:
    sweden = b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))
    assert (
        catch_all_of(b.everyone_gets("flags/f/rules/se", "on", segment="sweden"), segments=[sweden])
        is None
    )


def test_an_allocation_limit_makes_no_catch_all() -> None:
    half = b.segment("half", proportion=0.5)
    rule = b.everyone_gets("flags/f/rules/half", "on", segment="half")
    assert catch_all_of(rule, segments=[half]) is None


def test_a_full_allocation_is_no_limit() -> None:
    whole = b.segment("whole", proportion=1.0)
    rule = b.everyone_gets("flags/f/rules/whole", "on", segment="whole")
    assert catch_all_of(rule, segments=[whole]) == "only"


def test_a_split_is_no_catch_all() -> None:
    split = b.split_rule("flags/f/rules/split", ["off", "on"], buckets_per_variant=1)
    assert catch_all_of(split) is None


def test_a_rule_after_a_live_abtest_is_the_fallback() -> None:
    test = b.abtest(
        "t",
        flag="f",
        weights=[("off", 5000), ("on", 5000)],
        segment={"allocation": {"proportion": 0.5}},
    )
    assert catch_all_of(b.everyone_gets("flags/f/rules/all", "on"), abtests=[test]) == "fallback"
