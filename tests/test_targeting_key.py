"""The targeting key: how a rule's selector reads the unit from the context, and what happens
when it is missing or unusable (DESIGN.md, "Targeting key").

Where the variant depends on the hash, the expected bucket is computed here with mmh3.
"""

from __future__ import annotations

import math
from typing import Any

import mmh3
import pytest

import flagstone
from flagstone import ErrorCode, Reason
from tests import builders as b

FLAG = "flags/keyed"
BUCKETS = 1000
LOW_64 = 2**64 - 1


def reference_bucket(salt: str, unit: str, count: int = BUCKETS) -> int:
    return ((mmh3.hash128(f"{salt}|{unit}", 0, True, False) & LOW_64) >> 4) % count


def expected_variant(unit: str, segment_id: str = "everyone") -> str:
    return "control" if reference_bucket(segment_id, unit) < BUCKETS // 2 else "treatment"


def split_rule(
    name: str, *, selector: str | None = None, segment: str = "segments/everyone"
) -> dict[str, Any]:
    """control for buckets [0, 500), treatment for [500, 1000)."""
    return b.split_rule(
        f"{FLAG}/rules/{name}",
        ["control", "treatment"],
        buckets_per_variant=BUCKETS // 2,
        assignment_ids=["ctl", "trt"],
        segment=segment,
        selector=selector,
    )


def full_rule(
    name: str,
    *,
    selector: str | None = None,
    variant: str = "fallback",
    segment: str = "segments/everyone",
) -> dict[str, Any]:
    """Every bucket gets ``variant``."""
    return b.everyone_gets(
        f"{FLAG}/rules/{name}", variant, bucket_count=BUCKETS, segment=segment, selector=selector
    )


def snapshot(
    *rules: dict[str, Any],
    segments: list[dict[str, Any]] | None = None,
    bitsets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    arms = {arm: {"arm": arm} for arm in ("control", "treatment", "fallback")}
    return b.snapshot(
        b.flag(FLAG, arms, rules),
        account="acme",
        segments=segments if segments is not None else [b.segment()],
        bitsets=bitsets,
        layout="list",
    )


def evaluate(
    doc: dict[str, Any],
    context: dict[str, Any],
    *,
    strict: bool = True,
    sink: flagstone.sinks.MemorySink | None = None,
) -> flagstone.Resolution:
    client = flagstone.Client.from_dict(doc, strict=strict, sinks=[sink] if sink else [])
    return client.evaluate(FLAG, context)


def assert_key_error(resolution: flagstone.Resolution) -> None:
    assert resolution.reason is Reason.TARGETING_KEY_ERROR
    assert resolution.error is ErrorCode.TARGETING_KEY_ERROR
    assert resolution.variant is None
    assert resolution.value is None
    assert resolution.should_apply is False


# -- strings and whole numbers --------------------------------------------------------------


@pytest.mark.parametrize("unit", ["user-1", "user-2", "user-3", "ユーザー", "a b|c"])
def test_a_string_key_is_the_unit_as_it_is(unit: str) -> None:
    resolution = evaluate(snapshot(split_rule("r")), {"targeting_key": unit})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key == unit
    assert resolution.variant == expected_variant(unit)


def test_units_spread_over_both_arms() -> None:
    client = flagstone.Client.from_dict(snapshot(split_rule("r")))
    variants = [client.evaluate(FLAG, {"targeting_key": f"user-{i}"}).variant for i in range(200)]
    for i, variant in enumerate(variants):
        assert variant == expected_variant(f"user-{i}")
    assert {"control", "treatment"} <= set(variants)


@pytest.mark.parametrize("number", [12345, 0, -7, 2**70, 98765])
def test_a_whole_number_key_is_formatted_as_an_integer(number: int) -> None:
    resolution = evaluate(snapshot(split_rule("r")), {"targeting_key": number})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key == str(number)
    assert resolution.variant == expected_variant(str(number))


@pytest.mark.parametrize("number", [12345.0, -7.0, 0.0, 1e15])
def test_a_whole_float_key_is_formatted_as_an_integer(number: float) -> None:
    resolution = evaluate(snapshot(split_rule("r")), {"targeting_key": number})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key == str(int(number))
    assert resolution.variant == expected_variant(str(int(number)))


def test_an_int_a_whole_float_and_its_string_are_the_same_unit() -> None:
    client = flagstone.Client.from_dict(snapshot(split_rule("r")))
    results = {
        client.evaluate(FLAG, {"targeting_key": key}).targeting_key
        for key in (12345, 12345.0, "12345")
    }
    assert results == {"12345"}


def test_a_key_of_exactly_100_characters_is_accepted() -> None:
    unit = "u" * 100
    resolution = evaluate(snapshot(split_rule("r")), {"targeting_key": unit})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key == unit


# -- unusable keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [True, False, 3.14, -0.5, math.nan, math.inf, {}, {"id": "u1"}, [], ["u1"]],
    ids=[
        "true",
        "false",
        "fraction",
        "negative-fraction",
        "nan",
        "inf",
        "empty-dict",
        "dict",
        "empty-list",
        "list",
    ],
)
def test_a_key_that_is_not_a_string_or_whole_number_is_a_targeting_key_error(key: Any) -> None:
    assert_key_error(evaluate(snapshot(split_rule("r")), {"targeting_key": key}))


def test_a_string_key_longer_than_100_characters_is_a_targeting_key_error() -> None:
    assert_key_error(evaluate(snapshot(split_rule("r")), {"targeting_key": "u" * 101}))


def test_a_number_key_longer_than_100_digits_is_a_targeting_key_error() -> None:
    assert_key_error(evaluate(snapshot(split_rule("r")), {"targeting_key": 10**100}))


def test_a_targeting_key_error_applies_even_when_every_bucket_has_the_same_variant() -> None:
    doc = snapshot(full_rule("r", selector="targeting_key"))
    assert_key_error(evaluate(doc, {"targeting_key": 3.14}))


def test_a_blank_selector_lets_a_full_rollout_through_an_invalid_key_without_a_unit() -> None:
    # Confidence's resolvers ("mirror Java"): a blank selector and one assignment covering
    # every bucket need no unit, so an unusable targeting_key is not an error there
    resolution = evaluate(snapshot(full_rule("r", selector="")), {"targeting_key": 3.14})
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"
    assert resolution.targeting_key is None


def test_a_blank_selector_with_a_split_still_reports_an_invalid_key() -> None:
    doc = snapshot(split_rule("r", selector=""))
    assert_key_error(evaluate(doc, {"targeting_key": 3.14}))


def test_a_targeting_key_error_is_for_the_flag_not_just_the_rule() -> None:
    doc = snapshot(split_rule("custom", selector="customId"), full_rule("default"))
    assert_key_error(evaluate(doc, {"customId": 3.14, "targeting_key": "user-1"}))


def test_a_targeting_key_error_records_no_exposure() -> None:
    sink = flagstone.sinks.MemorySink()
    evaluate(snapshot(split_rule("r")), {"targeting_key": {"nested": 1}}, sink=sink)
    assert sink.events == []


def test_a_disabled_rule_does_not_read_its_key() -> None:
    disabled = {**split_rule("off", selector="customId"), "enabled": False}
    resolution = evaluate(
        snapshot(disabled, full_rule("on")), {"customId": 3.14, "targeting_key": "u"}
    )
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"


# -- missing keys ---------------------------------------------------------------------------


def test_a_missing_key_skips_the_rule() -> None:
    resolution = evaluate(snapshot(split_rule("r")), {"country": "SE"})
    assert resolution.reason is Reason.NO_SEGMENT_MATCH
    assert resolution.error is None
    assert resolution.should_apply is False


def test_a_null_key_is_a_missing_key() -> None:
    resolution = evaluate(snapshot(split_rule("r")), {"targeting_key": None})
    assert resolution.reason is Reason.NO_SEGMENT_MATCH
    assert resolution.error is None


def test_a_missing_key_lets_a_later_rule_with_another_selector_match() -> None:
    doc = snapshot(split_rule("by-account", selector="account_id"), full_rule("by-user"))
    resolution = evaluate(doc, {"targeting_key": "user-1"})
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"
    assert resolution.rule == f"{FLAG}/rules/by-user"
    assert resolution.targeting_key == "user-1"


# -- selectors ------------------------------------------------------------------------------


def test_a_custom_selector_reads_another_attribute() -> None:
    resolution = evaluate(
        snapshot(split_rule("r", selector="customId")), {"customId": "c-9", "targeting_key": "u"}
    )
    assert resolution.targeting_key == "c-9"
    assert resolution.targeting_key_selector == "customId"
    assert resolution.variant == expected_variant("c-9")


def test_a_dotted_selector_reads_a_nested_key() -> None:
    resolution = evaluate(snapshot(split_rule("r", selector="user.id")), {"user": {"id": "abc-17"}})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key == "abc-17"
    assert resolution.targeting_key_selector == "user.id"
    assert resolution.variant == expected_variant("abc-17")


def test_a_dotted_selector_coerces_whole_numbers_too() -> None:
    resolution = evaluate(snapshot(split_rule("r", selector="user.id")), {"user": {"id": 4242}})
    assert resolution.targeting_key == "4242"
    assert resolution.variant == expected_variant("4242")


@pytest.mark.parametrize(
    "context",
    [{}, {"user": {}}, {"user": "abc"}, {"user": {"id": None}}],
    ids=["no-user", "no-id", "user-not-an-object", "null-id"],
)
def test_a_dotted_selector_with_a_missing_step_skips_the_rule(context: dict[str, Any]) -> None:
    doc = snapshot(split_rule("r", selector="user.id"), full_rule("default"))
    resolution = evaluate(doc, {**context, "targeting_key": "fallback-user"})
    assert resolution.variant == "fallback"
    assert resolution.targeting_key == "fallback-user"


def test_a_dotted_selector_with_an_unusable_value_is_a_targeting_key_error() -> None:
    assert_key_error(evaluate(snapshot(split_rule("r", selector="user.id")), {"user": {"id": [1]}}))


# -- the explicit empty selector: no unit ---------------------------------------------------


def test_an_empty_selector_matches_without_any_key() -> None:
    resolution = evaluate(snapshot(full_rule("everyone", selector="")), {})
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"
    assert resolution.targeting_key is None


def test_an_empty_selector_ignores_an_unusable_targeting_key() -> None:
    resolution = evaluate(snapshot(full_rule("everyone", selector="")), {"targeting_key": {}})
    assert resolution.reason is Reason.MATCH
    assert resolution.error is None


def test_an_empty_selector_buckets_a_split_on_targeting_key() -> None:
    resolution = evaluate(snapshot(split_rule("r", selector="")), {"targeting_key": "u-17"})
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == expected_variant("u-17")
    assert resolution.targeting_key == "u-17"


def test_a_selector_left_out_reads_like_an_empty_one() -> None:
    # protobuf's JSON leaves out empty strings, so a missing selector is a blank one
    resolution = evaluate(snapshot(full_rule("r")), {"country": "SE"})
    assert resolution.reason is Reason.MATCH
    assert resolution.targeting_key is None


def test_an_empty_selector_with_a_split_and_no_targeting_key_does_not_match() -> None:
    resolution = evaluate(snapshot(split_rule("r", selector="")), {"country": "SE"})
    assert resolution.reason is Reason.NO_SEGMENT_MATCH


def test_an_empty_selector_is_not_admitted_by_a_partial_bitset() -> None:
    doc = snapshot(full_rule("everyone", selector=""), bitsets={"segments/everyone": [0, 1, 2]})
    assert evaluate(doc, {}).reason is Reason.NO_SEGMENT_MATCH


def test_an_empty_selector_is_not_admitted_by_a_partial_proportion() -> None:
    doc = snapshot(
        full_rule("everyone", selector=""),
        segments=[{"name": "segments/everyone", "allocation": {"proportion": 0.99}}],
    )
    assert evaluate(doc, {}).reason is Reason.NO_SEGMENT_MATCH


def test_an_empty_selector_is_admitted_by_a_full_bitset() -> None:
    doc = snapshot(full_rule("everyone", selector=""), bitsets={"segments/everyone": "ALL"})
    assert evaluate(doc, {}).reason is Reason.MATCH
