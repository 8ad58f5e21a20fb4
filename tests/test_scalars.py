"""``flagstone.semantics.scalars``: reading timestamps, semantic versions and numbers for targeting.

Expected epoch values are computed here with ``datetime`` arithmetic, independently of the
module under test; version precedence follows semver.org 2.0.0, section 11, whose examples
are quoted as they are written there.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone.semantics.scalars import (
    number_from,
    parse_semver,
    parse_timestamp_ns,
    timestamp_ns_from,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NS = 1_000_000_000


def epoch_ns(moment: datetime, nanos: int = 0) -> int:
    """Nanoseconds since the epoch of an aware ``moment`` (whole seconds) plus ``nanos``."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000 + nanos


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


# -- parse_timestamp_ns: RFC 3339 --------------------------------------------------------------


def test_a_utc_timestamp_with_z_is_read() -> None:
    assert parse_timestamp_ns("2022-11-17T15:16:17Z") == epoch_ns(utc(2022, 11, 17, 15, 16, 17))


def test_a_lowercase_t_and_z_are_accepted_as_rfc_3339_allows() -> None:
    assert parse_timestamp_ns("2022-11-17t15:16:17z") == epoch_ns(utc(2022, 11, 17, 15, 16, 17))


def test_a_space_may_separate_date_and_time_as_rfc_3339_notes() -> None:
    assert parse_timestamp_ns("2022-11-17 15:16:17Z") == epoch_ns(utc(2022, 11, 17, 15, 16, 17))


def test_a_positive_offset_is_ahead_of_utc() -> None:
    moment = datetime(2022, 11, 17, 15, 16, 17, tzinfo=timezone(timedelta(hours=2)))
    assert parse_timestamp_ns("2022-11-17T15:16:17+02:00") == epoch_ns(moment)


def test_a_negative_offset_with_minutes_is_behind_utc() -> None:
    moment = datetime(2022, 11, 17, 15, 16, 17, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    assert parse_timestamp_ns("2022-11-17T15:16:17-05:30") == epoch_ns(moment)


def test_an_offset_that_crosses_midnight_moves_the_date() -> None:
    assert parse_timestamp_ns("2022-11-17T23:30:00-01:00") == epoch_ns(utc(2022, 11, 18, 0, 30, 0))


def test_offset_zero_written_either_way_is_utc() -> None:
    assert (
        parse_timestamp_ns("2022-11-17T15:16:17+00:00")
        == parse_timestamp_ns("2022-11-17T15:16:17-00:00")
        == epoch_ns(utc(2022, 11, 17, 15, 16, 17))
    )


@pytest.mark.parametrize(
    ("fraction", "nanos"),
    [
        ("1", 100_000_000),
        ("118", 118_000_000),
        ("000001", 1_000),
        ("123456789", 123_456_789),
        ("000000001", 1),
    ],
)
def test_a_fraction_of_a_second_is_read_to_the_nanosecond(fraction: str, nanos: int) -> None:
    text = f"2022-11-17T15:16:17.{fraction}Z"
    assert parse_timestamp_ns(text) == epoch_ns(utc(2022, 11, 17, 15, 16, 17), nanos)


def test_a_fraction_counts_from_the_offset_adjusted_second() -> None:
    moment = datetime(2022, 11, 17, 15, 16, 17, tzinfo=timezone(timedelta(hours=1)))
    assert parse_timestamp_ns("2022-11-17T15:16:17.25+01:00") == epoch_ns(moment, 250_000_000)


def test_a_timestamp_before_the_epoch_is_negative() -> None:
    assert parse_timestamp_ns("1969-12-31T23:59:59Z") == -NS


def test_a_fraction_before_the_epoch_still_adds_to_the_second() -> None:
    assert parse_timestamp_ns("1969-12-31T23:59:59.5Z") == -NS // 2


def test_the_epoch_is_zero() -> None:
    assert parse_timestamp_ns("1970-01-01T00:00:00Z") == 0


def test_a_naive_timestamp_is_read_as_utc() -> None:
    assert parse_timestamp_ns("2022-11-17T15:16:17") == epoch_ns(utc(2022, 11, 17, 15, 16, 17))


def test_a_naive_timestamp_keeps_its_fraction() -> None:
    assert parse_timestamp_ns("2022-11-17T15:16:17.5") == epoch_ns(
        utc(2022, 11, 17, 15, 16, 17), 500_000_000
    )


def test_a_date_is_midnight_utc() -> None:
    assert parse_timestamp_ns("2022-11-17") == epoch_ns(utc(2022, 11, 17))


@pytest.mark.parametrize("day", ["2024-02-29", "2000-02-29"])
def test_the_29th_of_february_of_a_leap_year_is_a_date(day: str) -> None:
    midnight = datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc)
    expected = epoch_ns(midnight)
    assert parse_timestamp_ns(day) == expected


def _rfc_3339(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` with a four-digit year (strftime's %Y is not padded everywhere)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_any_datetime_written_in_rfc_3339_reads_back_exactly(moment: datetime) -> None:
    text = _rfc_3339(moment) + f".{moment.microsecond:06d}Z"
    aware = moment.replace(tzinfo=timezone.utc)
    assert parse_timestamp_ns(text) == epoch_ns(aware)


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_any_offset_is_subtracted_to_reach_utc(moment: datetime, offset_minutes: int) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = _rfc_3339(moment) + f"{sign}{hours:02d}:{minutes:02d}"
    aware = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert parse_timestamp_ns(text) == epoch_ns(aware)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a timestamp",
        "2022-11-17T",
        "2022-11-17T15:16Z",
        "2022-11-17T15:16:17.Z",
        "2022-11-17T15:16:17ZZ",
        "2022-11-17T15:16:17+02",
        "22-11-17",
        "2022/11/17",
        "2022-1-17",
        "2022-11-17X15:16:17Z",
        " 2022-11-17T15:16:17Z",
        "2022-11-17T15:16:17Z ",
        "2022-13-01",
        "2022-00-10",
        "2022-11-00",
        "2022-11-31",
        "2023-02-29",
        "1900-02-29",
        "2022-11-17T24:00:00Z",
        "2022-11-17T15:60:00Z",
        "2022-11-17T15:16:61Z",
    ],
)
def test_text_that_is_not_an_rfc_3339_timestamp_or_date_is_none(text: str) -> None:
    assert parse_timestamp_ns(text) is None


@pytest.mark.parametrize("offset", ["+24:00", "-25:00", "+99:99", "+01:60"])
def test_an_offset_outside_rfc_3339_hour_and_minute_ranges_is_none(offset: str) -> None:
    # RFC 3339 5.6: time-numoffset = ("+" / "-") time-hour ":" time-minute, hour 00-23,
    # minute 00-59.
    assert parse_timestamp_ns(f"2022-11-17T15:16:17{offset}") is None


@pytest.mark.parametrize(
    "text",
    [
        "\uff12\uff10\uff12\uff12-11-17",  # fullwidth digits for the year
        "2022-11-17T15:16:1\u0667Z",  # an Arabic-Indic seven in the seconds
    ],
)
def test_digits_other_than_ascii_do_not_make_a_timestamp(text: str) -> None:
    # RFC 3339 uses the ABNF DIGIT rule: %x30-39 only.
    assert parse_timestamp_ns(text) is None


# -- timestamp_ns_from: context values ---------------------------------------------------------

RELEASE = utc(2022, 11, 17, 15, 16, 17)
RELEASE_SECONDS = int((RELEASE - EPOCH).total_seconds())


def test_a_string_is_read_as_an_rfc_3339_timestamp() -> None:
    assert timestamp_ns_from("2022-11-17T15:16:17Z") == epoch_ns(RELEASE)


def test_a_string_that_is_no_timestamp_is_none() -> None:
    assert timestamp_ns_from("yesterday") is None


def test_a_small_integer_is_epoch_seconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS) == epoch_ns(RELEASE)


def test_a_larger_integer_is_epoch_milliseconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS * 1_000 + 118) == epoch_ns(RELEASE, 118_000_000)


def test_a_still_larger_integer_is_epoch_microseconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS * 1_000_000 + 7) == epoch_ns(RELEASE, 7_000)


def test_an_integer_of_nanosecond_size_is_epoch_nanoseconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS * NS + 9) == epoch_ns(RELEASE, 9)


@pytest.mark.parametrize(
    ("value", "unit_ns"),
    [
        (10**11 - 1, NS),
        (10**11, 1_000_000),
        (10**14 - 1, 1_000_000),
        (10**14, 1_000),
        (10**17 - 1, 1_000),
        (10**17, 1),
    ],
    ids=["below 1e11 s", "1e11 ms", "below 1e14 ms", "1e14 us", "below 1e17 us", "1e17 ns"],
)
def test_the_unit_of_an_epoch_number_follows_from_its_size(value: int, unit_ns: int) -> None:
    assert timestamp_ns_from(value) == value * unit_ns


def test_a_negative_epoch_number_is_before_1970() -> None:
    assert timestamp_ns_from(-86_400) == -86_400 * NS


def test_the_unit_of_a_negative_epoch_number_follows_from_its_magnitude() -> None:
    assert timestamp_ns_from(-(10**12)) == -(10**12) * 1_000_000


def test_a_float_with_a_fraction_is_epoch_seconds_to_the_fraction() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS + 0.5) == epoch_ns(RELEASE, 500_000_000)


def test_a_float_of_millisecond_size_is_epoch_milliseconds() -> None:
    assert timestamp_ns_from(float(RELEASE_SECONDS * 1_000)) == epoch_ns(RELEASE)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_no_timestamp(value: float) -> None:
    assert timestamp_ns_from(value) is None


@pytest.mark.parametrize("value", [True, False, None, [RELEASE_SECONDS], {"t": 1}, b"2022-11-17"])
def test_values_that_are_neither_strings_nor_numbers_are_no_timestamp(value: Any) -> None:
    assert timestamp_ns_from(value) is None


@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["huge", "hugely negative"])
def test_an_epoch_integer_beyond_float_range_is_read_without_error(value: int) -> None:
    # JSON integers have no size limit; by the size rule such a number is nanoseconds.
    assert timestamp_ns_from(value) in (None, value)


# -- parse_semver: Semantic Versioning 2.0.0 ---------------------------------------------------

# semver.org, 11.4: "Example: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta <
# 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0."
PRERELEASE_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]
# semver.org, 11.2: "Example: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1."
RELEASE_CHAIN = ["1.0.0", "2.0.0", "2.1.0", "2.1.1"]


def _key(text: str) -> Any:
    key = parse_semver(text)
    assert key is not None, f"{text!r} should be a version"
    return key


@pytest.mark.parametrize(
    ("lower", "higher"),
    list(pairwise(RELEASE_CHAIN)),
    ids=[f"{a} < {b}" for a, b in pairwise(RELEASE_CHAIN)],
)
def test_major_minor_and_patch_order_releases(lower: str, higher: str) -> None:
    assert _key(lower) < _key(higher)


@pytest.mark.parametrize(
    ("lower", "higher"),
    list(pairwise(PRERELEASE_CHAIN)),
    ids=[f"{a} < {b}" for a, b in pairwise(PRERELEASE_CHAIN)],
)
def test_pre_releases_follow_the_semver_org_precedence_example(lower: str, higher: str) -> None:
    assert _key(lower) < _key(higher)


def test_sorting_by_the_key_reproduces_the_semver_org_example() -> None:
    assert sorted(reversed(PRERELEASE_CHAIN), key=_key) == PRERELEASE_CHAIN


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("1.9.0", "1.10.0"), ("9.0.0", "10.0.0"), ("1.0.9", "1.0.10")],
)
def test_version_numbers_compare_numerically_not_as_text(lower: str, higher: str) -> None:
    assert _key(lower) < _key(higher)


def test_a_pre_release_sorts_before_its_release() -> None:
    assert _key("2.0.0-rc.1") < _key("2.0.0")


def test_a_pre_release_sorts_after_the_previous_release() -> None:
    assert _key("1.9.9") < _key("2.0.0-alpha")


def test_numeric_pre_release_identifiers_compare_numerically() -> None:
    assert _key("1.0.0-rc.9") < _key("1.0.0-rc.10")


def test_numeric_pre_release_identifiers_sort_before_alphanumeric_ones() -> None:
    assert _key("1.0.0-999") < _key("1.0.0-alpha")


def test_alphanumeric_identifiers_compare_in_ascii_order() -> None:
    # semver.org 11.4.1: "compared lexically in ASCII sort order"; uppercase comes first.
    assert _key("1.0.0-Beta") < _key("1.0.0-alpha")


def test_an_identifier_with_a_digit_and_a_letter_is_alphanumeric() -> None:
    assert _key("1.0.0-99") < _key("1.0.0-1a")


def test_more_pre_release_fields_sort_after_a_prefix_of_them() -> None:
    assert _key("1.0.0-alpha.1") < _key("1.0.0-alpha.1.0")


def test_hyphens_are_allowed_in_pre_release_identifiers() -> None:
    assert parse_semver("1.0.0-x-y-z.--") is not None


@pytest.mark.parametrize(
    ("with_build", "without"),
    [
        ("1.0.0+20130313144700", "1.0.0"),
        ("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"),
        ("1.0.0+21AF26D3----117B344092BD", "1.0.0"),
    ],
)
def test_build_metadata_is_ignored_for_precedence(with_build: str, without: str) -> None:
    assert _key(with_build) == _key(without)


@pytest.mark.parametrize(("short", "full"), [("10", "10.0.0"), ("10.2", "10.2.0")])
def test_missing_minor_and_patch_read_as_zero(short: str, full: str) -> None:
    assert _key(short) == _key(full)


def test_numbers_beyond_64_bits_keep_their_order() -> None:
    assert _key("1.0.18446744073709551616") < _key("1.0.18446744073709551617")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v1.0.0",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-alpha..1",
        "1.0.0-alpha_1",
        "01.0.0",
        "1.02.0",
        "1.0.03",
        "1.0.0.0",
        "1..0",
        "a.b.c",
        "-1.0.0",
        " 1.0.0",
        "1.0.0 ",
        "1.0.0-alpha+",
    ],
)
def test_text_that_is_not_a_semantic_version_is_none(text: str) -> None:
    assert parse_semver(text) is None


def test_a_numeric_pre_release_identifier_with_a_leading_zero_is_none() -> None:
    # semver.org, 9: "Numeric identifiers MUST NOT include leading zeroes."
    assert parse_semver("1.0.0-01") is None


def test_digits_other_than_ascii_do_not_make_a_version() -> None:
    # semver.org's BNF: <digit> ::= "0" | <positive digit>, <positive digit> ::= "1" | ... | "9".
    assert parse_semver("1\u0662.0.0") is None  # "1" then an Arabic-Indic two


@pytest.mark.parametrize(
    "text", ["1" * 5000, "1.0.0-" + "1" * 5000], ids=["huge major", "huge pre-release"]
)
def test_a_version_with_thousands_of_digits_is_read_without_error(text: str) -> None:
    # Python refuses int() of strings beyond 4300 digits; that must not escape as an error.
    parse_semver(text)


# -- number_from -------------------------------------------------------------------------------


def test_an_integer_is_read_as_that_number() -> None:
    assert number_from(42) == 42.0


def test_a_float_is_read_as_itself() -> None:
    assert number_from(-1.25) == -1.25


@pytest.mark.parametrize(
    ("text", "number"),
    [("42", 42.0), ("-1.5", -1.5), ("1e3", 1000.0), ("0.000001", 1e-6), ("+7", 7.0)],
)
def test_a_decimal_string_is_read_as_its_number(text: str, number: float) -> None:
    assert number_from(text) == number


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(value: bool) -> None:
    assert number_from(value) is None


@pytest.mark.parametrize("text", ["", "abc", "1_000", " 42", "42 ", "4 2", "0x10", "1,5", "--1"])
def test_a_string_that_is_not_a_plain_decimal_is_not_a_number(text: str) -> None:
    assert number_from(text) is None


@pytest.mark.parametrize("value", [None, [1], {"n": 1}, b"1"])
def test_other_values_are_not_numbers(value: Any) -> None:
    assert number_from(value) is None


@pytest.mark.parametrize(
    ("value", "as_float"),
    [(10**400, math.inf), (-(10**400), -math.inf)],
    ids=["huge", "hugely negative"],
)
def test_an_integer_beyond_float_range_is_a_number_without_error(
    value: int, as_float: float
) -> None:
    # JSON integers have no size limit; float(10**400) raises OverflowError.
    assert number_from(value) in (None, as_float)


@given(st.integers(min_value=-(2**53), max_value=2**53))
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_an_integer_and_its_decimal_string_read_as_the_same_number(value: int) -> None:
    assert number_from(value) == number_from(str(value)) == float(value)
