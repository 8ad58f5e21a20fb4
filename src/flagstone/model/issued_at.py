"""A snapshot's ``issuedAt``: when its publisher issued it, so that a client can refuse an
older document (a rollback) even when it is validly signed.

``issuedAt`` is a top-level RFC 3339 timestamp with a time zone (``2026-12-01T10:00:00.000001Z``).
Whoever publishes a new version gives it an ``issuedAt`` strictly later than the previous
one: :func:`next_issued_at` does (the current time, or one microsecond after the previous
value when the clock is behind it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from ..semantics.scalars import parse_timestamp_ns

__all__ = ["format_issued_at", "issued_at_ns", "next_issued_at", "valid_issued_at"]

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_MICROSECOND_NS = 1_000


def issued_at_ns(text: str) -> int | None:
    """Nanoseconds since the epoch for an RFC 3339 date-time with a time zone (``Z`` or an
    offset); ``None`` for anything else (a date alone, a naive time, garbage)."""
    if not isinstance(text, str) or _RFC3339.fullmatch(text) is None:
        return None
    return parse_timestamp_ns(text)


def format_issued_at(ns: int) -> str:
    """``ns`` (since the epoch) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds,
    truncated)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def next_issued_at(after: Iterable[str | None] = (), *, now_ns: int | None = None) -> str:
    """An ``issuedAt`` strictly later than every valid timestamp in ``after``: the current
    time (``now_ns``, default ``time.time_ns()``), or one microsecond after the latest of
    ``after`` when the clock is not past it. (Truncated to microseconds, one microsecond
    after any value is still later than it.)"""
    now = time.time_ns() if now_ns is None else now_ns
    latest = max((ns for ns in map(_ns_or_none, after) if ns is not None), default=None)
    if latest is not None and now < latest + _MICROSECOND_NS:
        now = latest + _MICROSECOND_NS
    return format_issued_at(now)


def _ns_or_none(text: str | None) -> int | None:
    return issued_at_ns(text) if text is not None else None


def valid_issued_at(value: str | None) -> str | None:
    """The validator of the snapshot's ``issuedAt`` field: an RFC 3339 date-time with a time
    zone (``ValueError`` otherwise)."""
    if value is not None and issued_at_ns(value) is None:
        raise ValueError(
            f"{value!r} is not an RFC 3339 date-time with a time zone "
            "(e.g. 2026-12-01T10:00:00.000001Z)"
        )
    return value
