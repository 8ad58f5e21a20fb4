"""``flagstone.semantics.scalars``: reading timestamps, versions and numbers for targeting.

Expected epoch values are computed here with ``datetime`` arithmetic, independently of the
module under test; expected versions are the 4-tuples of the rule Confidence's resolver
follows, as issue 13 and DESIGN.md state it (property tests against an implementation of
that statement are in ``test_confidence_values.py``).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone.semantics.scalars import (
    ZERO_VERSION,
    number_from,
    parse_timestamp_ns,
    parse_version,
    timestamp_ns_from,
    version_key,
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


def test_an_integer_below_10_to_the_12_is_epoch_seconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS) == epoch_ns(RELEASE)


def test_an_integer_from_10_to_the_12_is_epoch_milliseconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS * 1_000 + 118) == epoch_ns(RELEASE, 118_000_000)


@pytest.mark.parametrize(
    ("value", "unit_ns"),
    [
        (10**12 - 1, NS),
        (10**12, 1_000_000),
        (-(10**12) + 1, NS),
        (-(10**12), 1_000_000),
        (RELEASE_SECONDS * 1_000_000, 1_000_000),  # microseconds are read as milliseconds
    ],
    ids=["below 1e12 s", "1e12 ms", "above -1e12 s", "-1e12 ms", "a microsecond-size number"],
)
def test_the_unit_of_an_epoch_number_is_seconds_below_10_to_the_12(
    value: int, unit_ns: int
) -> None:
    assert timestamp_ns_from(value) == value * unit_ns


def test_a_negative_epoch_number_is_before_1970() -> None:
    assert timestamp_ns_from(-86_400) == -86_400 * NS


def test_a_float_with_a_fraction_is_truncated_to_whole_seconds() -> None:
    # the example: 1686830400.5 is 2023-06-15T12:00:00Z
    assert timestamp_ns_from(1686830400.5) == epoch_ns(utc(2023, 6, 15, 12))


def test_a_float_of_millisecond_size_is_truncated_to_whole_milliseconds() -> None:
    assert timestamp_ns_from(RELEASE_SECONDS * 1_000 + 118.9) == epoch_ns(RELEASE, 118_000_000)


@pytest.mark.parametrize(
    ("value", "whole_seconds"),
    [(-1.5, -1), (-0.9, 0), (-86_399.999, -86_399)],
)
def test_a_negative_fraction_is_truncated_toward_zero(value: float, whole_seconds: int) -> None:
    assert timestamp_ns_from(value) == whole_seconds * NS


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_no_timestamp(value: float) -> None:
    assert timestamp_ns_from(value) is None


@pytest.mark.parametrize("value", [True, False, None, [RELEASE_SECONDS], {"t": 1}, b"2022-11-17"])
def test_values_that_are_neither_strings_nor_numbers_are_no_timestamp(value: Any) -> None:
    assert timestamp_ns_from(value) is None


def test_a_decimal_string_is_not_an_epoch_number() -> None:
    assert timestamp_ns_from(str(RELEASE_SECONDS)) is None


@pytest.mark.parametrize("value", [10**400, -(10**400), 1e308], ids=["huge", "negative", "float"])
def test_an_epoch_number_beyond_any_date_is_read_without_error(value: float) -> None:
    # JSON numbers have no size limit; by the rule such a number is milliseconds
    assert timestamp_ns_from(value) == int(value) * 1_000_000


# -- parse_version / version_key: Confidence's 4-tuples ---------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1.2", (1, 2, 0, 0)),
        ("1.2.3", (1, 2, 3, 0)),
        ("1.2.3.4", (1, 2, 3, 4)),
        ("3.0.0.1", (3, 0, 0, 1)),
        ("1.2.345", (1, 2, 345, 0)),
        ("1.2.3456", (1, 2, 0, 3456)),  # a 3-part last part of > 3 digits is the fourth
        ("1.2345", (1, 2345, 0, 0)),
        ("1.2.3.4567", (1, 2, 3, 4567)),
        ("1.2.3456.7", (1, 2, 3456, 7)),
        ("2.0.0-rc.1", (2, 0, 0, 0)),  # everything from the first "-" is dropped
        ("2.0.0-rc-1", (2, 0, 0, 0)),
        ("2.0.0-", (2, 0, 0, 0)),
        ("2.0.0-+x y", (2, 0, 0, 0)),
        ("01.002.0003", (1, 2, 0, 3)),  # leading zeros are digits like any other
        ("9999999999.0", (9_999_999_999, 0, 0, 0)),
        ("0.0", (0, 0, 0, 0)),
    ],
)
def test_a_version_reads_as_its_4_tuple(text: str, key: tuple[int, int, int, int]) -> None:
    assert parse_version(text) == key
    assert version_key(text) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "10",
        "1.2.3.4.5",
        "v2.0.0",
        "12345678901.0.0",
        "1.2.3+build.5",
        "+1.2.3",
        "1.+2.3",
        "-1.2.3",
        "1..2",
        "1.2.",
        ".1.2",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "1. 2.3",
        "1.2\u0663",
        "\u0661.2.3",
        "1.2.x",
        "1_000.2",
        "banana",
    ],
)
def test_text_that_is_not_a_version_compares_as_zero(text: str) -> None:
    assert parse_version(text) is None
    assert version_key(text) == ZERO_VERSION == (0, 0, 0, 0)


def test_versions_order_as_tuples() -> None:
    order = ["banana", "0.0.1", "0.9", "1.0.0.0", "1.0.0.1", "1.0.1", "1.2.0.9999", "1.2.1"]
    keys = [version_key(text) for text in order]
    assert keys == sorted(keys)
    assert version_key("1.0") == version_key("1.0.0") == version_key("1.0.0.0")


def test_a_3_part_version_with_a_long_last_part_sorts_before_a_short_one() -> None:
    # the consequence of reading 1.2.1000 as (1, 2, 0, 1000): it is below 1.2.1
    assert version_key("1.2.1000") < version_key("1.2.1") < version_key("1.2.999")


@pytest.mark.parametrize("text", ["1" * 5000, "1.0.0-" + "1" * 5000, "1." * 3000])
def test_a_version_with_thousands_of_characters_is_read_without_error(text: str) -> None:
    version_key(text)


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
