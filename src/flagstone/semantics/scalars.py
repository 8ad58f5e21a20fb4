"""Typed scalar values shared by validation and targeting: timestamps, versions, numbers
and booleans written as strings, read as Confidence's resolver (its ``value.rs``) reads them.

Targeting compares a context attribute with a rule's value in the rule's type. These
functions turn raw JSON values into comparable Python values, returning ``None`` when a value
cannot be read in that type (a criterion then simply does not match); the exception is a
version, which Confidence never fails to read: text that is not one compares as
``(0, 0, 0, 0)``. Validation uses the same parsers, so a rule value that could never be read
is reported (a version that only compares as zero, warned about) when the snapshot loads.
"""

from __future__ import annotations

import calendar
import math
import re
from typing import Any

__all__ = [
    "ZERO_VERSION",
    "VersionKey",
    "number_from",
    "parse_timestamp_ns",
    "parse_version",
    "timestamp_ns_from",
    "version_key",
]

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|z|[+-][0-9]{2}:?[0-9]{2})?)?"
)

_NS = 1_000_000_000


def parse_timestamp_ns(text: str) -> int | None:
    """Nanoseconds since the Unix epoch for an RFC 3339 timestamp, a naive
    ``YYYY-MM-DD[T ]HH:MM:SS[.fraction]`` (read as UTC) or a date ``YYYY-MM-DD`` (midnight
    UTC); ``None`` when ``text`` is none of those.

    >>> parse_timestamp_ns("2022-11-17T15:16:17.118Z")
    1668698177118000000
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        seconds = calendar.timegm(
            (
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                0,
                0,
                0,
            )
        )
    except (ValueError, OverflowError):
        return None
    if not (
        1 <= int(month) <= 12
        and 1 <= int(day) <= 31
        and int(hour or 0) <= 23
        and int(minute or 0) <= 59
        and int(second or 0) <= 60
    ):
        return None
    if calendar.monthrange(int(year), int(month))[1] < int(day):
        return None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        offset_hours, offset_minutes = int(digits[:2]), int(digits[2:])
        if offset_hours > 23 or offset_minutes > 59:
            return None
        seconds -= sign * (offset_hours * 3600 + offset_minutes * 60)
    nanos = int((fraction or "").ljust(9, "0")) if fraction else 0
    return seconds * _NS + nanos


_MILLISECONDS_FROM = 10**12
"""Confidence reads an epoch number as milliseconds from this magnitude on, as seconds below
it (10^12 seconds is the year 33658; 10^12 milliseconds is September 2001)."""


def timestamp_ns_from(value: Any) -> int | None:
    """A context value read as a timestamp, in nanoseconds since the epoch, as Confidence's
    resolver reads it.

    Strings are parsed with :func:`parse_timestamp_ns`. A number (``int`` or ``float``, never
    a ``bool``) is truncated toward zero to a whole number ``n``, then read as epoch
    milliseconds when ``|n| >= 10**12`` and as epoch seconds otherwise. NaN and infinities
    are no timestamp, nor is anything else.

    >>> timestamp_ns_from(1686830400.5) == parse_timestamp_ns("2023-06-15T12:00:00Z")
    True
    """
    cls = value.__class__
    if cls is str:
        return parse_timestamp_ns(value)
    if cls is int:
        whole: int = value
    elif cls is float:
        if not math.isfinite(value):
            return None
        whole = int(value)  # truncates toward zero
    else:
        return None
    if -_MILLISECONDS_FROM < whole < _MILLISECONDS_FROM:
        return whole * _NS
    return whole * 1_000_000


VersionKey = tuple[int, int, int, int]
"""A version as Confidence compares it: ``(major, minor, patch, fourth)``."""

ZERO_VERSION: VersionKey = (0, 0, 0, 0)
"""What every text that is not a version compares as."""

_VERSION = re.compile(r"([0-9]{1,10})\.([0-9]{1,10})(?:\.([0-9]{1,10}))?(?:\.([0-9]{1,10}))?")


def parse_version(text: str) -> VersionKey | None:
    """``text`` as the 4-tuple Confidence's resolver compares, or ``None`` if it is not a
    version (Confidence then compares it as ``(0, 0, 0, 0)``: see :func:`version_key`).

    Everything from the first ``-`` on is dropped; what remains must be 2, 3 or 4 parts
    separated by ``.``, each 1 to 10 ASCII digits (leading zeros allowed; no sign, no
    space). Missing parts are 0, except that a 3-part version whose last part has more than
    3 digits reads that part as the fourth: ``"1.2.3456"`` is ``(1, 2, 0, 3456)``.

    >>> parse_version("3.0.0.1"), parse_version("2.0.0-rc.1"), parse_version("v2.0.0")
    ((3, 0, 0, 1), (2, 0, 0, 0), None)
    """
    match = _VERSION.fullmatch(text.partition("-")[0])
    if match is None:
        return None
    major, minor, third, fourth = match.groups()
    if fourth is None:
        if third is None:
            return (int(major), int(minor), 0, 0)
        if len(third) > 3:
            return (int(major), int(minor), 0, int(third))
        return (int(major), int(minor), int(third), 0)
    return (int(major), int(minor), int(third), int(fourth))


def version_key(text: str) -> VersionKey:
    """The 4-tuple Confidence orders ``text`` by: :func:`parse_version`, or ``(0, 0, 0, 0)``
    for text that is not a version (never an error).

    >>> version_key("10.0") > version_key("9.9.9.9") > version_key("banana") == (0, 0, 0, 0)
    True
    """
    return parse_version(text) or ZERO_VERSION


def number_from(value: Any) -> float | None:
    """A context value read as a number (a double, as in Confidence, where contexts are
    JSON): floats as they are, ints as the nearest double (±inf beyond its range), decimal
    strings parsed; booleans are not numbers; ``None`` otherwise."""
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[no-any-return]
    if cls is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if cls is str:
        if "_" in value or value != value.strip() or not value.isascii():
            return None
        try:
            return float(value)
        except ValueError:
            return None
    return None
