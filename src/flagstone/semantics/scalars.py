"""Typed scalar values shared by validation and targeting: timestamps, semantic versions,
numbers and booleans written as strings.

Targeting compares a context attribute with a rule's value in the rule's type. These
functions turn raw JSON values into comparable Python values, returning ``None`` when a value
cannot be read in that type (a criterion then simply does not match). Validation uses the
same parsers so that a rule value that could never be read is reported when the snapshot
loads.
"""

from __future__ import annotations

import calendar
import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = [
    "VersionKey",
    "number_from",
    "parse_semver",
    "parse_timestamp_ns",
    "timestamp_ns_from",
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


def timestamp_ns_from(value: Any) -> int | None:
    """A context value read as a timestamp, in nanoseconds since the epoch.

    Strings are parsed with :func:`parse_timestamp_ns`. Numbers are epoch times whose unit
    follows from their size: below 1e11 seconds, below 1e14 milliseconds, below 1e17
    microseconds, else nanoseconds (1e11 seconds is the year 5138, 1e11 ms is 1973).
    """
    if value.__class__ is str:
        return parse_timestamp_ns(value)
    if value.__class__ is int or value.__class__ is float:
        if value.__class__ is float and not math.isfinite(value):
            return None
        magnitude = abs(value)
        if magnitude < 1e11:
            factor = _NS
        elif magnitude < 1e14:
            factor = 1_000_000
        elif magnitude < 1e17:
            factor = 1_000
        else:
            factor = 1
        if isinstance(value, int) or value.is_integer():
            return int(value) * factor
        # exact decimal arithmetic: value * factor in floating point is off by up to 256 ns
        return int((Decimal(repr(value)) * factor).to_integral_value(ROUND_HALF_EVEN))
    return None


VersionKey = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]

_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_MAX_VERSION_LENGTH = 256


def parse_semver(text: str) -> VersionKey | None:
    """A sort key with Semantic Versioning 2.0 precedence, or ``None`` if ``text`` is not a
    version (or longer than 256 characters). Minor and patch may be left out (``"10"`` and
    ``"10.2"`` read as ``10.0.0`` and ``10.2.0``); build metadata is ignored; a pre-release
    sorts before its release.

    >>> parse_semver("2.0.0-rc.1") < parse_semver("2.0.0") < parse_semver("10.0")
    True
    """
    if len(text) > _MAX_VERSION_LENGTH:
        return None
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor or 0), int(patch or 0), 1, ())
    parts = pre.split(".")
    if any(part.isdigit() and len(part) > 1 and part[0] == "0" for part in parts):
        return None  # numeric identifiers must not include leading zeroes
    identifiers = tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)
    return (int(major), int(minor or 0), int(patch or 0), 0, identifiers)


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
