"""Versions and epoch numbers in targeting, as Confidence's resolver reads them (issue 13).

The rules, as issue 13 and DESIGN.md ("Values as Confidence's value.rs reads them") state
them:

* Versions: a suffix after ``-`` is dropped; 2, 3 or 4 dot-separated numeric parts of at
  most 10 digits are a version; a 3-part version whose last part has more than 3 digits is
  ``(major, minor, 0, part)``; anything else compares as ``(0, 0, 0, 0)``, never an error;
  versions compare as 4-tuples, in rules and in contexts alike, by ``eqRule`` and
  ``setRule`` as by ``rangeRule``.
* A number against a timestamp rule: truncated to an integer, milliseconds when
  ``|n| >= 10**12``, seconds otherwise.

The named tests are the issue's examples, resolved through the public API. The property
tests compare flagstone's resolutions with ``reference_version`` and ``reference_epoch_ns``
below, written here from those statements (by splitting text and with ``fractions``, not
with ``flagstone.semantics.scalars``); rule timestamps are turned into instants with ``datetime``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone import Reason
from tests import builders as b

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DIGITS = "0123456789"


# -- the rules, from their statements --------------------------------------------------------


def reference_version(text: str) -> tuple[int, int, int, int]:
    """The 4-tuple of ``text`` by the statement of the rule."""
    core = text.split("-")[0]
    parts = core.split(".")
    well_formed = 2 <= len(parts) <= 4 and all(
        1 <= len(part) <= 10 and all(char in DIGITS for char in part) for part in parts
    )
    if not well_formed:
        return (0, 0, 0, 0)
    numbers = [int(part) for part in parts]
    if len(parts) == 3 and len(parts[2]) > 3:
        return (numbers[0], numbers[1], 0, numbers[2])
    padded = numbers + [0] * (4 - len(numbers))
    return (padded[0], padded[1], padded[2], padded[3])


def reference_epoch_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch of a context number by the statement of the rule."""
    if type(value) not in (int, float):  # booleans are not numbers
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    whole = int(Fraction(value))  # Fraction's int() truncates toward zero
    if abs(whole) >= 10**12:
        return whole * 1_000_000
    return whole * 1_000_000_000


def instant_ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1_000


# -- snapshots -------------------------------------------------------------------------------


def _flag(name: str, criterion: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rule = b.everyone_gets(f"flags/{name}/rules/r", "on", assignment_id="on", segment=name)
    flag = b.flag(name, {"on": {"on": True}}, [rule])
    segment = b.segment(name, targeting=b.targeting({"c": {"attribute": criterion}}, b.ref("c")))
    return flag, segment


def document_for(criteria: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One flag per ``criteria`` entry (flag name → attribute rule on ``x``)."""
    pairs = [_flag(name, {"attributeName": "x", **rule}) for name, rule in criteria.items()]
    return b.snapshot(
        *(flag for flag, _ in pairs), segments=[segment for _, segment in pairs], layout="list"
    )


def client_for(criteria: dict[str, dict[str, Any]], *, strict: bool = True) -> flagstone.Client:
    return flagstone.Client.from_dict(document_for(criteria), strict=strict)


def matches(client: flagstone.Client, flag: str, value: Any) -> bool:
    resolution = client.evaluate(flag, {"targeting_key": "u", "x": value}, apply=False)
    assert resolution.error is None, resolution.error_message
    assert resolution.reason in (Reason.MATCH, Reason.NO_SEGMENT_MATCH)
    return resolution.reason is Reason.MATCH


def version(text: str) -> dict[str, Any]:
    return {"versionValue": {"version": text}}


def stamp(text: str) -> dict[str, Any]:
    return {"timestampValue": text}


def version_rules(text: str) -> dict[str, dict[str, Any]]:
    return {
        "at-least": {"rangeRule": {"startInclusive": version(text)}},
        "above": {"rangeRule": {"startExclusive": version(text)}},
        "below": {"rangeRule": {"endExclusive": version(text)}},
        "at-most": {"rangeRule": {"endInclusive": version(text)}},
        "is": {"eqRule": {"value": version(text)}},
    }


def timestamp_rules(text: str) -> dict[str, dict[str, Any]]:
    return {
        "at-least": {"rangeRule": {"startInclusive": stamp(text)}},
        "above": {"rangeRule": {"startExclusive": stamp(text)}},
        "below": {"rangeRule": {"endExclusive": stamp(text)}},
        "is": {"eqRule": {"value": stamp(text)}},
    }


# -- the examples --------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_3_0_0_1_is_a_version_in_both_modes_and_orders_after_3_0_0(strict: bool) -> None:
    parsed = flagstone.formats.parse_snapshot(document_for(version_rules("3.0.0.1")), strict=strict)
    assert parsed.warnings == ()
    client = client_for(version_rules("3.0.0.1"), strict=strict)
    assert matches(client, "at-least", "3.0.0.1")
    assert matches(client, "below", "3.0.0")
    assert not matches(client, "below", "3.0.0.1")
    assert matches(client, "above", "3.0.0.2")
    assert matches(client, "above", "3.0.1")


def test_a_pre_release_suffix_after_a_dash_is_dropped() -> None:
    client = client_for(version_rules("2.0.0"))
    assert matches(client, "at-least", "2.0.0-rc.1")
    assert matches(client, "at-most", "2.0.0-rc.1")
    assert not matches(client, "below", "2.0.0-beta")


def test_a_3_part_version_with_a_long_last_part_reads_it_as_the_fourth_component() -> None:
    client = client_for(version_rules("1.2.3456"))  # (1, 2, 0, 3456)
    assert matches(client, "at-least", "1.2.0.3456")
    assert matches(client, "at-most", "1.2.0.3456")
    assert matches(client, "above", "1.2.1")  # (1, 2, 1, 0) > (1, 2, 0, 3456)
    assert matches(client, "below", "1.2.0.3455")


@pytest.mark.parametrize("text", ["v2.0.0", "12345678901.0.0"])
def test_text_that_is_not_a_version_compares_as_zero_in_a_context(text: str) -> None:
    client = client_for(version_rules("0.0.0.1"))
    assert matches(client, "below", text)
    assert not matches(client, "at-least", text)


@pytest.mark.parametrize("text", ["v2.0.0", "12345678901.0.0"])
def test_text_that_is_not_a_version_compares_as_zero_in_a_rule(text: str) -> None:
    client = client_for(version_rules(text))  # loads (with a warning in strict mode)
    assert matches(client, "at-least", "0.0")
    assert matches(client, "at-most", "0.0.0.0")
    assert matches(client, "at-most", "banana")
    assert not matches(client, "at-most", "0.0.0.1")


def test_a_rule_version_that_compares_as_zero_is_a_warning_not_a_refusal() -> None:
    rules = {"at-least": version_rules("v2.0.0")["at-least"]}
    parsed = flagstone.formats.parse_snapshot(document_for(rules))
    assert [warning.path for warning in parsed.warnings] == [
        "$.segments[0].targeting.criteria.c.attribute.rangeRule.startInclusive.versionValue.version"
    ]
    assert flagstone.formats.parse_snapshot(document_for(rules), strict=False).warnings == ()


def test_1686830400_5_is_2023_06_15_at_noon_utc() -> None:
    client = client_for(timestamp_rules("2023-06-15T12:00:00Z"))
    assert matches(client, "is", 1686830400.5)
    assert matches(client, "at-least", 1686830400.5)
    assert not matches(client, "above", 1686830400.999)


def test_a_number_from_10_to_the_12_is_milliseconds() -> None:
    client = client_for(timestamp_rules("2023-06-15T12:00:00.250Z"))
    assert matches(client, "is", 1_686_830_400_250)
    assert matches(client, "is", 1_686_830_400_250.9)  # truncated to whole milliseconds
    assert matches(client, "below", 1_686_830_400_249)


def test_the_unit_changes_at_10_to_the_12() -> None:
    # 10**12 ms is 2001-09-09T01:46:40Z; 10**12 - 1 is seconds, in the year 33658
    client = client_for(timestamp_rules("2001-09-09T01:46:40Z"))
    assert matches(client, "is", 10**12)
    assert matches(client, "above", 10**12 - 1)
    assert matches(client, "below", -(10**12))  # milliseconds: 1938
    assert matches(client, "below", -(10**12) + 1)  # seconds: long before


def test_a_negative_number_is_truncated_toward_zero() -> None:
    client = client_for(timestamp_rules("1969-12-31T23:59:59Z"))  # -1 s
    assert matches(client, "is", -1.9)
    assert not matches(client, "is", -2.0)
    assert matches(client, "above", -0.5)  # 0 s


@pytest.mark.parametrize("value", [True, False, math.nan, math.inf, -math.inf, "1686830400"])
def test_booleans_non_finite_numbers_and_numeric_text_are_no_epoch(value: Any) -> None:
    client = client_for(timestamp_rules("1970-01-01T00:00:00Z"))
    assert not any(matches(client, flag, value) for flag in ("at-least", "below", "is"))


# -- properties against the reference --------------------------------------------------------

_small = st.sampled_from(["0", "1", "2", "10", "99", "100", "999", "1000", "0001", "1234"])
_part = st.one_of(
    # mostly a few distinct parts, so that rule and context often share a prefix; every
    # length boundary (3 and 10 digits) among them
    _small,
    _small,
    _small,
    st.sampled_from(["9999999999", "0000000001", "12345678901", ""]),
    st.text(alphabet=DIGITS, min_size=1, max_size=12),
)
_prefix = st.one_of(st.just(""), st.just(""), st.sampled_from(["v", "+", " ", "-", "0"]))
_suffix = st.one_of(
    st.just(""),
    st.just(""),
    st.sampled_from(["-rc.1", "-", "-1.2", "+build.5", " ", "\n", ".", "x"]),
)


@st.composite
def _parts(draw: st.DrawFn, first: tuple[str, ...] = ()) -> str:
    """A version-like text: ``first`` parts, then more, between a prefix and a suffix."""
    count = draw(st.sampled_from([1, 2, 2, 3, 3, 3, 4, 4, 5]))
    parts = list(first[:count]) + [draw(_part) for _ in range(count - len(first[:count]))]
    return draw(_prefix) + ".".join(parts) + draw(_suffix)


_noise = st.text(alphabet=DIGITS + ".-+v \u0663\u00b2", max_size=16)


_digits = st.one_of(_small, _small, st.text(alphabet=DIGITS, min_size=1, max_size=10))
_version = st.builds(
    lambda parts, suffix: ".".join(parts) + suffix,
    st.lists(_digits, min_size=2, max_size=4),
    st.sampled_from(["", "", "", "-rc.1", "-"]),
)
"""Text the rule reads as a version (and more often than not, one that other draws share
parts with)."""


@st.composite
def _rule_and_contexts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A rule version and contexts that often share some of its leading parts."""
    rule = draw(st.one_of(_version, _version, _parts(), _noise))
    leading = tuple(rule.split("-")[0].split("."))
    contexts = [
        draw(
            st.one_of(
                _parts(first=leading[: draw(st.integers(0, len(leading)))]),
                _version,
                _parts(),
                _noise,
            )
        )
        for _ in range(draw(st.integers(1, 6)))
    ]
    return rule, contexts


def _neighbours(rule: str) -> list[str]:
    """Versions next to ``rule``'s leading parts: each part one up and one down, and every
    part count (2 to 5) with last parts of 1, 3, 4 and 10 digits."""
    parts = rule.split("-")[0].split(".")
    if not all(part.isdigit() and part.isascii() for part in parts):
        return []
    texts = []
    for index, part in enumerate(parts):
        for step in (-1, 1):
            bumped = str(max(int(part) + step, 0)).zfill(len(part))
            texts.append(".".join([*parts[:index], bumped, *parts[index + 1 :]]))
    for keep in range(1, 5):
        for last in ("0", "7", "999", "1000", "0999", "9999999999"):
            texts.append(".".join([*parts[:keep], last]))
    return texts


@given(case=_rule_and_contexts())
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_version_rules_order_as_the_reference(case: tuple[str, list[str]]) -> None:
    rule, contexts = case
    client = client_for(version_rules(rule), strict=False)
    low = reference_version(rule)
    for text in contexts + _neighbours(rule):
        key = reference_version(text)
        assert matches(client, "at-least", text) is (key >= low), (rule, text)
        assert matches(client, "above", text) is (key > low), (rule, text)
        assert matches(client, "below", text) is (key < low), (rule, text)
        assert matches(client, "at-most", text) is (key <= low), (rule, text)
        assert matches(client, "is", text) is (key == low), (rule, text)


def _around(center: int, spread: int = 3) -> st.SearchStrategy[int | float]:
    return st.one_of(
        st.integers(center - spread, center + spread),
        st.floats(center - spread, center + spread),
    )


@st.composite
def _rule_and_numbers(draw: st.DrawFn) -> tuple[datetime, list[Any]]:
    anchor = draw(
        st.sampled_from(
            [
                datetime(2023, 6, 15, 12, tzinfo=timezone.utc),
                datetime(2001, 9, 9, 1, 46, 40, tzinfo=timezone.utc),  # 10**12 ms
                datetime(1938, 4, 24, 22, 13, 20, tzinfo=timezone.utc),  # -(10**12) ms
                datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
            ]
        )
    )
    moment = anchor + timedelta(microseconds=draw(st.integers(-3_000_000, 3_000_000)))
    seconds = (moment - EPOCH) // timedelta(seconds=1)
    millis = (moment - EPOCH) // timedelta(milliseconds=1)
    number = st.one_of(
        _around(seconds),
        _around(millis),
        _around(10**12),
        _around(-(10**12)),
        st.integers(-(10**14), 10**14),
        st.floats(),
        st.booleans(),
    )
    return moment, draw(st.lists(number, min_size=1, max_size=6))


@given(case=_rule_and_numbers())
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
def test_numbers_against_timestamp_rules_read_as_the_reference(
    case: tuple[datetime, list[Any]],
) -> None:
    moment, numbers = case
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client = client_for(timestamp_rules(text))
    bound = instant_ns(moment)
    for number in numbers:
        read = reference_epoch_ns(number)
        if read is None:
            assert not any(matches(client, f, number) for f in ("at-least", "below", "is"))
            continue
        assert matches(client, "at-least", number) is (read >= bound), (text, number)
        assert matches(client, "above", number) is (read > bound), (text, number)
        assert matches(client, "below", number) is (read < bound), (text, number)
        assert matches(client, "is", number) is (read == bound), (text, number)
