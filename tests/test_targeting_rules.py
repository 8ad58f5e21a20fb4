"""Targeting: every attribute rule kind, value coercion, expressions and segment references.

Each test builds a tiny snapshot whose one flag (``flags/target``) has a rule on the segment
under test that gives every unit the variant ``on`` (one assignment over all buckets, no
allocation), so a resolution matches exactly when the targeting admits the context. The
semantics are those of DESIGN.md ("Resolution semantics") and of the ``general``
expectation of Confidence's resolver suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import flagstone
from flagstone import Reason
from tests import builders
from tests.builders import (
    NULL,
    all_of,
    and_,
    any_of,
    attribute,
    between,
    contains,
    ends_with,
    eq,
    in_segment,
    not_,
    one_of,
    or_,
    ref,
    starts_with,
    targeting,
)
from tests.builders import boolean as b
from tests.builders import number as n
from tests.builders import string as s
from tests.builders import timestamp as ts
from tests.builders import version as v

FLAG = "flags/target"
SEGMENT = "segments/target"
UNIT = "unit-1"


# -- snapshot builders (tests/builders.py) ----------------------------------------------------


def full_rule(name: str, segment: str, variant: str = "on") -> dict[str, Any]:
    return builders.everyone_gets(f"{FLAG}/rules/{name}", variant, segment=segment, lower=False)


def snapshot(
    segment_targeting: dict[str, Any] | None,
    *,
    other_segments: Sequence[dict[str, Any]] = (),
    bitsets: dict[str, Any] | None = None,
    fallback_rule: bool = False,
) -> dict[str, Any]:
    """One flag, one rule on ``segments/target``; with ``fallback_rule`` a second rule on a
    segment without targeting gives ``fallback`` to everyone the first rule lets through."""
    rules = [full_rule("main", SEGMENT)]
    segments = [segment(SEGMENT, segment_targeting)]
    if fallback_rule:
        rules.append(full_rule("fallback", "segments/everyone", "fallback"))
        segments.append(builders.segment())
    return builders.snapshot(
        builders.flag(FLAG, {"on": {"enabled": True}, "fallback": {"enabled": False}}, rules),
        account="acme",
        segments=segments + list(other_segments),
        bitsets=bitsets or None,
        layout="list",
    )


def resolve(
    doc: dict[str, Any], context: dict[str, Any], *, strict: bool = True
) -> flagstone.Resolution:
    client = flagstone.Client.from_dict(doc, strict=strict)
    return client.evaluate(FLAG, {"targeting_key": UNIT, **context})


def admits(segment_targeting: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    resolution = resolve(snapshot(segment_targeting), context)
    assert resolution.error is None, resolution.error_message
    if resolution.reason is Reason.MATCH:
        assert resolution.variant == "on"
        return True
    assert resolution.reason is Reason.NO_SEGMENT_MATCH
    return False


def rule_admits(name: str, rule: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether a segment with the single criterion ``name``/``rule`` admits ``context``."""
    return admits(targeting({"c": attribute(name, rule)}, ref("c")), context)


# -- eqRule ---------------------------------------------------------------------------------


def test_eq_rule_matches_an_equal_string() -> None:
    assert rule_admits("country", eq(s("SE")), {"country": "SE"})


def test_eq_rule_does_not_match_a_different_string() -> None:
    assert not rule_admits("country", eq(s("SE")), {"country": "NO"})


def test_eq_rule_on_strings_is_case_sensitive() -> None:
    assert not rule_admits("country", eq(s("SE")), {"country": "se"})


def test_eq_rule_matches_an_equal_number() -> None:
    assert rule_admits("age", eq(n(42)), {"age": 42})


def test_eq_rule_on_numbers_treats_int_and_float_alike() -> None:
    assert rule_admits("age", eq(n(42)), {"age": 42.0})


def test_eq_rule_matches_a_boolean() -> None:
    assert rule_admits("beta", eq(b(True)), {"beta": True})
    assert not rule_admits("beta", eq(b(True)), {"beta": False})


def test_eq_rule_with_empty_value_matches_an_explicit_null() -> None:
    assert rule_admits("deleted_at", eq(NULL), {"deleted_at": None})


def test_eq_rule_with_empty_value_matches_a_missing_attribute() -> None:
    assert rule_admits("deleted_at", eq(NULL), {})


@pytest.mark.parametrize("value", ["", "null", 0, False, "2024-01-01"])
def test_eq_rule_with_empty_value_does_not_match_a_present_value(value: Any) -> None:
    assert not rule_admits("deleted_at", eq(NULL), {"deleted_at": value})


def test_not_of_a_null_test_matches_a_present_value() -> None:
    null_test = targeting({"c": attribute("deleted_at", eq(NULL))}, not_(ref("c")))
    assert admits(null_test, {"deleted_at": "2024-01-01"})
    assert not admits(null_test, {})


def test_eq_rule_does_not_match_a_missing_attribute() -> None:
    assert not rule_admits("country", eq(s("SE")), {})


# -- setRule --------------------------------------------------------------------------------


def test_set_rule_matches_a_member_of_the_set() -> None:
    assert rule_admits("country", one_of(s("SE"), s("NO"), s("DK")), {"country": "NO"})


def test_set_rule_does_not_match_a_value_outside_the_set() -> None:
    assert not rule_admits("country", one_of(s("SE"), s("NO"), s("DK")), {"country": "FI"})


def test_set_rule_matches_when_any_list_element_is_in_the_set() -> None:
    assert rule_admits("country", one_of(s("SE"), s("NO")), {"country": ["IT", "NO"]})


def test_set_rule_does_not_match_a_list_with_no_element_in_the_set() -> None:
    assert not rule_admits("country", one_of(s("SE"), s("NO")), {"country": ["IT", "FR"]})


def test_set_rule_of_numbers_matches_a_decimal_string() -> None:
    assert rule_admits("tier", one_of(n(1), n(2), n(3)), {"tier": "2"})


def test_empty_set_rule_matches_nothing() -> None:
    assert not rule_admits("country", one_of(), {"country": "SE"})


def test_set_rule_does_not_match_a_missing_attribute() -> None:
    assert not rule_admits("country", one_of(s("SE"), s("NO")), {})


# -- rangeRule: bounds and inclusivity ------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "age", "expected"),
    [
        ({"startInclusive": n(18)}, 18, True),
        ({"startInclusive": n(18)}, 17.999, False),
        ({"startExclusive": n(18)}, 18, False),
        ({"startExclusive": n(18)}, 18.001, True),
        ({"endInclusive": n(65)}, 65, True),
        ({"endInclusive": n(65)}, 65.001, False),
        ({"endExclusive": n(65)}, 65, False),
        ({"endExclusive": n(65)}, 64.999, True),
    ],
    ids=[
        "start-inclusive-holds-the-bound",
        "start-inclusive-excludes-below",
        "start-exclusive-excludes-the-bound",
        "start-exclusive-holds-above",
        "end-inclusive-holds-the-bound",
        "end-inclusive-excludes-above",
        "end-exclusive-excludes-the-bound",
        "end-exclusive-holds-below",
    ],
)
def test_range_rule_bound_kinds_and_inclusivity(
    bounds: dict[str, Any], age: float, expected: bool
) -> None:
    assert rule_admits("age", {"rangeRule": bounds}, {"age": age}) is expected


@pytest.mark.parametrize(
    ("age", "expected"), [(17, False), (18, True), (40, True), (65, False), (70, False)]
)
def test_range_rule_with_both_bounds_holds_only_values_between_them(
    age: int, expected: bool
) -> None:
    rule = between(startInclusive=n(18), endExclusive=n(65))
    assert rule_admits("age", rule, {"age": age}) is expected


def test_range_rule_matches_when_any_list_element_is_in_range() -> None:
    rule = between(startInclusive=n(18), endExclusive=n(65))
    assert rule_admits("age", rule, {"age": [5, 25]})
    assert not rule_admits("age", rule, {"age": [5, 70]})


def test_range_rule_does_not_match_a_missing_attribute() -> None:
    assert not rule_admits("age", between(startInclusive=n(18)), {})


def test_range_rule_on_numbers_does_not_match_a_non_numeric_string() -> None:
    assert not rule_admits("age", between(startInclusive=n(18)), {"age": "old"})


@pytest.mark.parametrize(
    ("name", "expected"), [("a", False), ("b", True), ("bz", True), ("c9", True), ("d", False)]
)
def test_range_rule_on_strings_compares_lexicographically(name: str, expected: bool) -> None:
    rule = between(startInclusive=s("b"), endExclusive=s("d"))
    assert rule_admits("name", rule, {"name": name}) is expected


# -- rangeRule: timestamps ------------------------------------------------------------------

RELEASE = "2022-11-17T15:16:17.118Z"
RELEASE_EPOCH_MS = 1_668_698_177_118


def after_release() -> dict[str, Any]:
    return between(startInclusive=ts(RELEASE))


def test_timestamp_range_reads_an_rfc3339_string() -> None:
    assert rule_admits("released", after_release(), {"released": "2022-11-17T15:16:17.200Z"})
    assert not rule_admits("released", after_release(), {"released": "2022-11-17T15:16:17.000Z"})


def test_timestamp_range_honours_utc_offsets() -> None:
    # 16:16:17.2 at +01:00 is 15:16:17.2 UTC, after the release; 15:16:17.2 at +01:00 is before
    assert rule_admits("released", after_release(), {"released": "2022-11-17T16:16:17.200+01:00"})
    assert not rule_admits(
        "released", after_release(), {"released": "2022-11-17T15:16:17.200+01:00"}
    )


def test_timestamp_range_compares_sub_second_fractions() -> None:
    assert rule_admits("released", after_release(), {"released": "2022-11-17T15:16:17.118Z"})
    assert not rule_admits("released", after_release(), {"released": "2022-11-17T15:16:17.117999Z"})


def test_timestamp_range_reads_epoch_seconds() -> None:
    assert rule_admits("released", after_release(), {"released": RELEASE_EPOCH_MS // 1000 + 1})
    assert not rule_admits("released", after_release(), {"released": RELEASE_EPOCH_MS // 1000})


def test_timestamp_range_truncates_fractional_epoch_seconds_as_confidence_does() -> None:
    # Confidence truncates 1668698177.5 to the whole second 15:16:17, before 15:16:17.118
    assert not rule_admits("released", after_release(), {"released": 1_668_698_177.5})
    assert not rule_admits("released", after_release(), {"released": 1_668_698_177.999})
    assert rule_admits("released", after_release(), {"released": 1_668_698_178.0})


def test_timestamp_range_reads_epoch_milliseconds() -> None:
    assert rule_admits("released", after_release(), {"released": RELEASE_EPOCH_MS})
    assert rule_admits("released", after_release(), {"released": RELEASE_EPOCH_MS + 82})
    assert not rule_admits("released", after_release(), {"released": RELEASE_EPOCH_MS - 1})


def test_timestamp_range_reads_whole_float_epoch_milliseconds_exactly() -> None:
    # 1668698177001.0 is an exact float: it is the instant 2022-11-17T15:16:17.001Z, no earlier
    bound = between(startInclusive=ts("2022-11-17T15:16:17.001Z"))
    assert rule_admits("released", bound, {"released": 1_668_698_177_001.0})
    assert rule_admits("released", bound, {"released": 1_668_698_177_001})


def test_eq_rule_on_timestamps_matches_whole_float_epoch_milliseconds() -> None:
    assert rule_admits("at", eq(ts("2022-11-17T15:16:17.118Z")), {"at": 1_668_698_177_118.0})


def test_timestamp_range_reads_a_naive_datetime_as_utc() -> None:
    assert rule_admits("released", after_release(), {"released": "2022-11-17T15:16:18"})
    assert not rule_admits("released", after_release(), {"released": "2022-11-17T15:16:17"})


def test_timestamp_range_reads_a_date_as_midnight_utc() -> None:
    assert rule_admits("released", after_release(), {"released": "2022-11-18"})
    assert not rule_admits("released", after_release(), {"released": "2022-11-17"})


@pytest.mark.parametrize(
    "value", ["", "yesterday", "2022-13-01T00:00:00Z", "2022-02-30", True, {"t": 1}]
)
def test_timestamp_range_does_not_match_an_unreadable_value(value: Any) -> None:
    assert not rule_admits(
        "released", between(startInclusive=ts("1970-01-01T00:00:00Z")), {"released": value}
    )


def test_timestamp_range_with_both_bounds() -> None:
    rule = between(
        startInclusive=ts("2024-01-01T00:00:00Z"), endExclusive=ts("2024-02-01T00:00:00Z")
    )
    assert rule_admits("signup", rule, {"signup": "2024-01-31T23:59:59.999Z"})
    assert not rule_admits("signup", rule, {"signup": "2024-02-01T00:00:00Z"})
    assert not rule_admits("signup", rule, {"signup": "2023-12-31T23:59:59Z"})


def test_eq_rule_on_timestamps_compares_instants_not_text() -> None:
    assert rule_admits("at", eq(ts("2024-05-01T12:00:00Z")), {"at": "2024-05-01T14:00:00+02:00"})


# -- rangeRule: versions (Confidence's 4-tuples) ---------------------------------------------


def test_version_range_compares_numerically_not_lexicographically() -> None:
    rule = between(startInclusive=v("2.0.0"))
    assert rule_admits("app_version", rule, {"app_version": "10.0.0"})
    assert not rule_admits("app_version", rule, {"app_version": "1.10.0"})


def test_version_range_end_exclusive() -> None:
    rule = between(startInclusive=v("1.2.0"), endExclusive=v("1.3.0"))
    assert rule_admits("app_version", rule, {"app_version": "1.2.15"})
    assert not rule_admits("app_version", rule, {"app_version": "1.3.0"})


def test_a_pre_release_suffix_is_dropped_so_it_equals_its_release() -> None:
    # not semver precedence: Confidence reads 2.0.0-rc.1 as 2.0.0
    rule = between(startInclusive=v("2.0.0"))
    assert rule_admits("app_version", rule, {"app_version": "2.0.0-rc.1"})
    assert not rule_admits(
        "app_version", between(endExclusive=v("2.0.0")), {"app_version": "2.0.0-rc.1"}
    )


def test_a_fourth_part_orders_after_the_third() -> None:
    rule = between(startExclusive=v("3.0.0"), endExclusive=v("3.0.1"))
    assert rule_admits("app_version", rule, {"app_version": "3.0.0.1"})
    assert not rule_admits("app_version", rule, {"app_version": "3.0.0"})


def test_a_context_text_that_is_not_a_version_compares_as_zero() -> None:
    assert rule_admits("app_version", between(startInclusive=v("0.0.0")), {"app_version": "banana"})
    assert rule_admits("app_version", between(endExclusive=v("0.0.1")), {"app_version": "v2.0.0"})
    assert not rule_admits("app_version", between(startInclusive=v("0.0.1")), {"app_version": "v2"})


@pytest.mark.parametrize("value", [2, 2.0, True, None, {"major": 2}])
def test_a_version_range_never_matches_a_context_value_that_is_not_text(value: Any) -> None:
    assert not rule_admits("app_version", between(endExclusive=v("9.9.9")), {"app_version": value})


def test_a_version_range_tests_each_element_of_a_list() -> None:
    rule = between(startInclusive=v("2.0"))
    assert rule_admits("app_version", rule, {"app_version": ["1.0", "2.1"]})
    assert not rule_admits("app_version", rule, {"app_version": ["1.0", "1.9.9.9"]})


def test_eq_rule_on_versions_compares_4_tuples() -> None:
    # as in Confidence: both sides read as (major, minor, patch, fourth); text that is not a
    # version is (0, 0, 0, 0) and a suffix after '-' is dropped
    assert rule_admits("app_version", eq(v("3.1.4")), {"app_version": "3.1.4"})
    assert not rule_admits("app_version", eq(v("3.1.4")), {"app_version": "3.1.5"})
    assert rule_admits("app_version", eq(v("3.1.4")), {"app_version": "3.1.4.0"})
    assert rule_admits("app_version", eq(v("3.1.4")), {"app_version": "3.1.4-rc.1"})
    assert rule_admits("app_version", eq(v("0.0.0")), {"app_version": "banana"})
    assert not rule_admits("app_version", eq(v("3.1.4")), {"app_version": 3.14})


def test_set_rule_on_versions_compares_4_tuples() -> None:
    rule = {"setRule": {"values": [v("1.0"), v("2.0.0")]}}
    assert rule_admits("app_version", rule, {"app_version": "2.0.0"})
    assert rule_admits("app_version", rule, {"app_version": "1.0.0"})
    assert not rule_admits("app_version", rule, {"app_version": "1.0.1"})


# -- startsWith / endsWith / contains -------------------------------------------------------


def test_starts_with_rule_matches_a_prefix() -> None:
    assert rule_admits("email", starts_with("test@"), {"email": "test@example.com"})
    assert not rule_admits("email", starts_with("test@"), {"email": "me@test.com"})


def test_starts_with_rule_is_case_sensitive() -> None:
    assert not rule_admits("email", starts_with("test@"), {"email": "TEST@example.com"})


def test_starts_with_rule_does_not_match_a_number() -> None:
    assert not rule_admits("code", starts_with("4"), {"code": 42})


def test_starts_with_rule_matches_when_any_list_element_has_the_prefix() -> None:
    assert rule_admits("ids", starts_with("user-"), {"ids": ["admin-1", "user-42"]})


def test_ends_with_rule_matches_a_suffix() -> None:
    assert rule_admits("email", ends_with("@example.com"), {"email": "a@example.com"})
    assert not rule_admits("email", ends_with("@example.com"), {"email": "a@example.com.evil"})


def test_ends_with_rule_does_not_match_a_number() -> None:
    assert not rule_admits("code", ends_with("2"), {"code": 42})


def test_contains_rule_matches_a_substring() -> None:
    assert rule_admits("text", contains("bar"), {"text": "crowbarred"})
    assert not rule_admits("text", contains("bar"), {"text": "crow"})


def test_contains_rule_takes_its_value_literally_not_as_a_pattern() -> None:
    assert rule_admits("repo", contains("repo.*admin"), {"repo": "my/repo.*admin/x"})
    assert not rule_admits("repo", contains("repo.*admin"), {"repo": "repo-x-admin"})


def test_contains_rule_matches_when_any_list_element_contains_it() -> None:
    assert rule_admits("text", contains("bar"), {"text": [123, False, "crowbar"]})


def test_contains_rule_does_not_match_a_number_with_those_digits() -> None:
    assert not rule_admits("code", contains("2"), {"code": 123})
    assert rule_admits("code", contains("2"), {"code": "123"})


def test_string_rules_do_not_match_a_missing_attribute() -> None:
    for rule in (starts_with("a"), ends_with("a"), contains("a")):
        assert not rule_admits("text", rule, {})


# -- anyRule / allRule ----------------------------------------------------------------------


def test_any_rule_matches_when_one_element_satisfies_the_inner_rule() -> None:
    assert rule_admits("tags", any_of(eq(s("premium"))), {"tags": ["basic", "premium"]})


def test_any_rule_does_not_match_when_no_element_satisfies_the_inner_rule() -> None:
    assert not rule_admits("tags", any_of(eq(s("premium"))), {"tags": ["basic", "free"]})


@pytest.mark.parametrize(
    "context", [{"tags": []}, {"tags": None}, {}], ids=["empty", "null", "missing"]
)
def test_any_rule_does_not_match_an_empty_null_or_missing_list(context: dict[str, Any]) -> None:
    assert not rule_admits("tags", any_of(eq(s("premium"))), context)


def test_any_rule_treats_a_scalar_as_a_one_element_list() -> None:
    assert rule_admits("tags", any_of(eq(s("premium"))), {"tags": "premium"})


def test_any_rule_does_not_look_inside_nested_lists() -> None:
    assert not rule_admits("tags", any_of(eq(s("premium"))), {"tags": [["premium"]]})


def test_any_rule_with_set_starts_with_and_range_inner_rules() -> None:
    assert rule_admits("tags", any_of(one_of(s("vip"), s("premium"))), {"tags": ["basic", "vip"]})
    assert rule_admits("ids", any_of(starts_with("user-")), {"ids": ["x", "user-1"]})
    assert rule_admits("scores", any_of(between(startInclusive=n(90))), {"scores": [10, 95]})
    assert not rule_admits("scores", any_of(between(startInclusive=n(90))), {"scores": [10, 89]})


def test_all_rule_matches_when_every_element_satisfies_the_inner_rule() -> None:
    rule = all_of(between(startInclusive=n(0), endInclusive=n(100)))
    assert rule_admits("scores", rule, {"scores": [0, 50, 100]})


def test_all_rule_does_not_match_when_one_element_fails() -> None:
    rule = all_of(between(startInclusive=n(0), endInclusive=n(100)))
    assert not rule_admits("scores", rule, {"scores": [10, 50, 200]})


def test_all_rule_does_not_match_when_one_element_cannot_be_read_in_the_rule_type() -> None:
    rule = all_of(between(startInclusive=n(0), endInclusive=n(100)))
    assert not rule_admits("scores", rule, {"scores": [10, "text", 50]})


@pytest.mark.parametrize(
    "context", [{"scores": []}, {"scores": None}, {}], ids=["empty", "null", "missing"]
)
def test_all_rule_holds_vacuously_for_an_empty_null_or_missing_list(
    context: dict[str, Any],
) -> None:
    assert rule_admits("scores", all_of(between(startInclusive=n(0))), context)


def test_all_rule_treats_a_scalar_as_a_one_element_list() -> None:
    rule = all_of(between(startInclusive=n(0), endInclusive=n(100)))
    assert rule_admits("scores", rule, {"scores": 50})
    assert not rule_admits("scores", rule, {"scores": 500})


def test_all_rule_with_a_contains_inner_rule() -> None:
    rule = all_of(contains("confidence"))
    assert rule_admits("repos", rule, {"repos": ["confidence-admin", "local-confidence"]})
    assert not rule_admits("repos", rule, {"repos": ["confidence-admin", "local-admin"]})


# -- list-valued attributes with plain rules ------------------------------------------------


def test_eq_rule_matches_when_any_list_element_is_equal() -> None:
    assert rule_admits("country", eq(s("SE")), {"country": ["US", "SE"]})
    assert not rule_admits("country", eq(s("SE")), {"country": ["US", "NO"]})


def test_eq_rule_does_not_match_an_empty_list() -> None:
    assert not rule_admits("country", eq(s("SE")), {"country": []})


# -- dotted attribute paths -----------------------------------------------------------------


def test_a_dotted_attribute_name_reads_a_nested_value() -> None:
    assert rule_admits(
        "user.address.country", eq(s("SE")), {"user": {"address": {"country": "SE"}}}
    )
    assert not rule_admits(
        "user.address.country", eq(s("SE")), {"user": {"address": {"country": "NO"}}}
    )


def test_a_dotted_path_through_a_missing_object_reads_as_null() -> None:
    assert not rule_admits("user.country", eq(s("SE")), {"user": {}})
    assert rule_admits("user.country", eq(NULL), {"user": {}})
    assert rule_admits("user.country", eq(NULL), {})


def test_a_dotted_path_through_a_non_object_reads_as_null() -> None:
    assert rule_admits("user.country", eq(NULL), {"user": "SE"})
    assert not rule_admits("user.country", eq(s("SE")), {"user": "SE"})


def test_a_dotted_path_can_end_in_a_list() -> None:
    assert rule_admits("user.tags", any_of(eq(s("beta"))), {"user": {"tags": ["alpha", "beta"]}})


# -- coercion of context values -------------------------------------------------------------


@pytest.mark.parametrize("text", ["42", "42.0", "4.2e1"])
def test_a_number_rule_reads_decimal_strings(text: str) -> None:
    assert rule_admits("age", eq(n(42)), {"age": text})


@pytest.mark.parametrize("text", ["forty-two", "", "42abc"])
def test_a_number_rule_does_not_match_a_non_numeric_string(text: str) -> None:
    assert not rule_admits("age", eq(n(42)), {"age": text})


def test_a_number_rule_does_not_read_booleans_as_numbers() -> None:
    assert not rule_admits("flagged", eq(n(1)), {"flagged": True})
    assert not rule_admits("flagged", eq(n(0)), {"flagged": False})


def test_a_number_range_reads_decimal_strings() -> None:
    rule = between(startInclusive=n(18), endExclusive=n(65))
    assert rule_admits("age", rule, {"age": "30"})
    assert not rule_admits("age", rule, {"age": "70.5"})


def test_a_boolean_rule_reads_the_strings_true_and_false() -> None:
    assert rule_admits("beta", eq(b(True)), {"beta": "true"})
    assert rule_admits("beta", eq(b(False)), {"beta": "false"})
    assert not rule_admits("beta", eq(b(True)), {"beta": "false"})


@pytest.mark.parametrize("value", ["yes", "1", 1, 0, ""])
def test_a_boolean_rule_matches_neither_true_nor_false_for_other_values(value: Any) -> None:
    assert not rule_admits("beta", eq(b(True)), {"beta": value})
    assert not rule_admits("beta", eq(b(False)), {"beta": value})


def test_a_string_rule_does_not_read_numbers_as_strings() -> None:
    assert not rule_admits("code", eq(s("42")), {"code": 42})


# -- expressions ----------------------------------------------------------------------------

SE_ADULT = {
    "se": attribute("country", eq(s("SE"))),
    "adult": attribute("age", between(startInclusive=n(18))),
    "admin": attribute("email", starts_with("admin@")),
}


def test_and_matches_only_when_every_operand_matches() -> None:
    expression = targeting(SE_ADULT, and_(ref("se"), ref("adult")))
    assert admits(expression, {"country": "SE", "age": 30})
    assert not admits(expression, {"country": "SE", "age": 12})
    assert not admits(expression, {"country": "NO", "age": 30})


def test_and_with_three_operands() -> None:
    expression = targeting(SE_ADULT, and_(ref("se"), ref("adult"), ref("admin")))
    assert admits(expression, {"country": "SE", "age": 30, "email": "admin@x"})
    assert not admits(expression, {"country": "SE", "age": 30, "email": "user@x"})


def test_or_matches_when_any_operand_matches() -> None:
    expression = targeting(SE_ADULT, or_(ref("se"), ref("admin")))
    assert admits(expression, {"country": "NO", "email": "admin@x"})
    assert admits(expression, {"country": "SE", "email": "user@x"})
    assert not admits(expression, {"country": "NO", "email": "user@x"})


def test_or_with_three_operands() -> None:
    expression = targeting(SE_ADULT, or_(ref("se"), ref("adult"), ref("admin")))
    assert admits(expression, {"email": "admin@x"})
    assert not admits(expression, {"country": "NO", "age": 3, "email": "user@x"})


def test_not_inverts_its_operand() -> None:
    expression = targeting(SE_ADULT, not_(ref("se")))
    assert admits(expression, {"country": "NO"})
    assert not admits(expression, {"country": "SE"})


def test_not_of_a_criterion_on_a_missing_attribute_matches() -> None:
    assert admits(targeting(SE_ADULT, not_(ref("se"))), {})


def test_expressions_nest() -> None:
    # (SE and adult) or not admin
    expression = targeting(SE_ADULT, or_(and_(ref("se"), ref("adult")), not_(ref("admin"))))
    assert admits(expression, {"country": "SE", "age": 30, "email": "admin@x"})
    assert admits(expression, {"country": "NO", "age": 3, "email": "user@x"})
    assert not admits(expression, {"country": "NO", "age": 30, "email": "admin@x"})


def test_double_negation_is_the_identity() -> None:
    expression = targeting(SE_ADULT, not_(not_(ref("se"))))
    assert admits(expression, {"country": "SE"})
    assert not admits(expression, {"country": "NO"})


def test_a_criterion_used_twice_in_an_expression() -> None:
    expression = targeting(SE_ADULT, and_(ref("se"), not_(not_(ref("se")))))
    assert admits(expression, {"country": "SE"})
    assert not admits(expression, {"country": "DK"})


def test_a_segment_without_targeting_admits_everyone() -> None:
    assert admits(None, {})


# -- segment references ---------------------------------------------------------------------


def segment(name: str, segment_targeting: dict[str, Any] | None = None) -> dict[str, Any]:
    return builders.segment(name, targeting=segment_targeting or None)


SWEDEN = segment("segments/sweden", targeting({"c": attribute("country", eq(s("SE")))}, ref("c")))


def by_reference(target: str) -> dict[str, Any]:
    return targeting({"r": in_segment(target)}, ref("r"))


def test_a_segment_criterion_matches_when_the_referenced_segment_does() -> None:
    doc = snapshot(by_reference("segments/sweden"), other_segments=[SWEDEN])
    assert resolve(doc, {"country": "SE"}).reason is Reason.MATCH
    assert resolve(doc, {"country": "NO"}).reason is Reason.NO_SEGMENT_MATCH


def test_segment_references_nest_several_levels_deep() -> None:
    middle = segment("segments/middle", by_reference("segments/sweden"))
    doc = snapshot(by_reference("segments/middle"), other_segments=[middle, SWEDEN])
    assert resolve(doc, {"country": "SE"}).reason is Reason.MATCH
    assert resolve(doc, {"country": "DK"}).reason is Reason.NO_SEGMENT_MATCH


def test_a_segment_criterion_combines_with_attribute_criteria() -> None:
    combined = targeting(
        {
            "r": {"segment": {"segment": "segments/sweden"}},
            "adult": attribute("age", between(startInclusive=n(18))),
        },
        and_(ref("r"), not_(ref("adult"))),
    )
    doc = snapshot(combined, other_segments=[SWEDEN])
    assert resolve(doc, {"country": "SE", "age": 12}).reason is Reason.MATCH
    assert resolve(doc, {"country": "SE", "age": 40}).reason is Reason.NO_SEGMENT_MATCH


def test_a_referenced_segment_brings_its_allocation_along() -> None:
    # segments/sweden admits no bucket at all (an empty bitset): referencing it admits nobody
    doc = snapshot(
        by_reference("segments/sweden"), other_segments=[SWEDEN], bitsets={"segments/sweden": []}
    )
    assert resolve(doc, {"country": "SE"}).reason is Reason.NO_SEGMENT_MATCH


def test_a_diamond_of_references_resolves() -> None:
    leaf = segment("segments/leaf", targeting({"c": attribute("country", eq(s("SE")))}, ref("c")))
    child = segment("segments/child", by_reference("segments/leaf"))
    parent = targeting(
        {
            "a": {"segment": {"segment": "segments/child"}},
            "b": {"segment": {"segment": "segments/leaf"}},
        },
        and_(ref("a"), ref("b")),
    )
    doc = snapshot(parent, other_segments=[leaf, child])
    assert resolve(doc, {"country": "SE"}).reason is Reason.MATCH
    assert resolve(doc, {"country": "NO"}).reason is Reason.NO_SEGMENT_MATCH


def test_a_reference_cycle_is_rejected_in_strict_mode() -> None:
    a = segment("segments/a", by_reference("segments/b"))
    b_ = segment("segments/b", by_reference("segments/a"))
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot(by_reference("segments/a"), other_segments=[a, b_]))


def test_a_reference_cycle_skips_the_rule_in_lenient_mode() -> None:
    a = segment("segments/a", by_reference("segments/b"))
    b_ = segment("segments/b", by_reference("segments/a"))
    doc = snapshot(by_reference("segments/a"), other_segments=[a, b_], fallback_rule=True)
    resolution = resolve(doc, {"country": "SE"}, strict=False)
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"


def test_a_reference_to_an_unknown_segment_is_rejected_in_strict_mode() -> None:
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot(by_reference("segments/nowhere")))


# -- missing attributes and unrecognised rules ----------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        eq(s("SE")),
        eq(n(1)),
        eq(b(False)),
        one_of(s("SE")),
        between(startInclusive=n(0)),
        starts_with(""),
        contains(""),
    ],
    ids=[
        "eq-string",
        "eq-number",
        "eq-bool",
        "set",
        "range",
        "starts-with-empty",
        "contains-empty",
    ],
)
def test_a_missing_attribute_matches_no_value_rule(rule: dict[str, Any]) -> None:
    assert not rule_admits("absent", rule, {"present": "SE"})


def test_an_attribute_criterion_without_a_rule_is_rejected_in_strict_mode() -> None:
    doc = snapshot(targeting({"c": {"attribute": {"attributeName": "country"}}}, ref("c")))
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(doc)


def test_an_attribute_criterion_without_a_rule_skips_the_rule_in_lenient_mode() -> None:
    doc = snapshot(
        targeting({"c": {"attribute": {"attributeName": "country"}}}, ref("c")), fallback_rule=True
    )
    resolution = resolve(doc, {"country": "SE"}, strict=False)
    assert resolution.reason is Reason.MATCH
    assert resolution.variant == "fallback"


def test_an_unrecognised_rule_under_not_still_skips_the_rule() -> None:
    doc = snapshot(
        targeting({"c": {"attribute": {"attributeName": "country"}}}, not_(ref("c"))),
        fallback_rule=True,
    )
    assert resolve(doc, {"country": "SE"}, strict=False).variant == "fallback"


def test_an_any_rule_without_an_inner_rule_skips_the_rule_in_lenient_mode() -> None:
    doc = snapshot(
        targeting({"c": attribute("tags", {"anyRule": {"rule": {}}})}, ref("c")), fallback_rule=True
    )
    assert resolve(doc, {"tags": ["a"]}, strict=False).variant == "fallback"
