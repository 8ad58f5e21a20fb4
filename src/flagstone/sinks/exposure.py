"""The exposure event and the record it becomes.

On the request thread an exposure is only ``Exposure(resolution, applied_at)``: a reference
and a float (and, when the client records context attributes, the few it was told to).
Everything else (the resolve id, time formatting, deduplication, the record dict,
serialisation) happens where the exposure is delivered, in the sink.

The record is flat and JSON-ready; ``schema_version`` lets downstream tables evolve::

    {"schema_version": 1, "type": "exposure", "resolve_id": "3f2b…",
     "apply_time": "2026-11-23T14:36:01.123Z",
     "flag": "flags/checkout", "variant": "new-checkout", "reason": "RESOLVE_REASON_MATCH",
     "rule": "workflows/abtest/instances/checkout-test/rule", "segment": "segments/…",
     "assignment_id": "new-checkout", "targeting_key": "user-1",
     "targeting_key_selector": "targeting_key", "fallthrough": [], "abtest": "workflows/…",
     "override": false, "snapshot_version": "2026-11-23.1"}

No context attributes are recorded (they may hold personal data) unless the client names
them (``Client(exposure_context=("country", …))``): then a last field ``"context"`` holds
those of them the evaluation context had, ``{"country": "SE"}``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..resolution import Outcome, Resolution

__all__ = [
    "DEDUP_TTL_SECONDS",
    "SCHEMA_VERSION",
    "Exposure",
    "format_time",
    "record_template",
    "split_seconds",
]

SCHEMA_VERSION = 1

DedupKey = str | tuple[Any, ...]
DEDUP_TTL_SECONDS = 120.0

_encode = json.JSONEncoder(separators=(",", ":")).encode


class Exposure:
    """One exposure as handed to ``ExposureSink.emit``: the resolution the user saw and when
    (``applied_at``, seconds since the epoch), and the allow-listed ``context`` attributes
    to record with it (``None``: no ``"context"`` field)."""

    __slots__ = ("_resolve_id", "applied_at", "context", "resolution")

    def __init__(
        self,
        resolution: Resolution,
        applied_at: float,
        resolve_id: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.resolution = resolution
        self.applied_at = applied_at
        self._resolve_id = resolve_id
        self.context = context

    @property
    def resolve_id(self) -> str:
        """Identifies the evaluation (shared by the flags of one ``evaluate_all``); made when
        first asked for, so the request thread never pays for it."""
        if self._resolve_id is None:
            self._resolve_id = uuid.uuid4().hex
        return self._resolve_id

    def dedup_key(self) -> DedupKey:
        """What makes two exposures "the same" for deduplication (as Confidence): flag,
        variant, rule, assignment id, override marker, targeting key, fallthroughs. A string
        in the common case (no fallthroughs): cheap to hash, and no work for the garbage
        collector."""
        r = self.resolution
        prefix = record_template(r._outcome)[0]
        unit = r._unit
        if unit is not None and not r._fallthrough:
            return prefix + unit
        return (prefix, unit, r._fallthrough)

    def to_record(self, apply_time: str | None = None) -> dict[str, Any]:
        """The flat, JSON-ready exposure record (see the module docstring); ``apply_time``
        is ``format_time(self.applied_at)`` unless given already formatted."""
        r = self.resolution
        record = record_template(r._outcome)[1].copy()
        record["resolve_id"] = self.resolve_id
        record["apply_time"] = format_time(self.applied_at) if apply_time is None else apply_time
        record["targeting_key"] = r._unit
        record["fallthrough"] = [item._asdict() for item in r._fallthrough]
        if self.context is not None:
            record["context"] = self.context
        return record

    def __repr__(self) -> str:
        return f"Exposure({self.resolution!r}, applied_at={self.applied_at!r})"


def format_time(epoch_seconds: float) -> str:
    """UTC, RFC 3339 with milliseconds: ``2026-11-23T14:36:01.123Z`` (the time rounded to
    the microsecond, then cut to the millisecond: ``datetime``'s text for it)."""
    second, micros = split_seconds(epoch_seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + MILLISECONDS[micros // 1000]


def split_seconds(epoch_seconds: float) -> tuple[int, int]:
    """Whole seconds and microseconds, as ``datetime.fromtimestamp`` splits them (the
    fraction, exact in floating point, rounded half to even)."""
    second = int(epoch_seconds)
    micros = round((epoch_seconds - second) * 1e6)
    if micros >= 1_000_000:
        return second + 1, micros - 1_000_000
    if micros < 0:
        return second - 1, micros + 1_000_000
    return second, micros


MILLISECONDS = tuple(f".{millis:03d}Z" for millis in range(1000))
"""The fraction and zone suffix of every millisecond, ``.000Z`` … ``.999Z``."""


_HEAD_FIELDS = ("flag", "variant", "reason", "rule", "segment", "assignment_id")
_TAIL_FIELDS = ("targeting_key_selector", "fallthrough", "abtest", "override", "snapshot_version")


def record_template(
    outcome: Outcome,
) -> tuple[str, dict[str, Any], str, str]:
    """The unit-independent parts of an outcome's exposure records, built once and kept on
    the outcome: the outcome's part of the dedup key, the record dict to copy (in field
    order, per-exposure fields ``None``), and the JSON before and after the targeting key
    (for records without fallthroughs)."""
    cached = outcome._exposure_template
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    # A JSON array: no complete one is a prefix of another, so key + unit is unambiguous.
    key = _encode(
        [outcome.flag, outcome.variant, outcome.rule, outcome.assignment_id, outcome.override]
    )
    base: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "type": "exposure",
        "resolve_id": None,
        "apply_time": None,
        "flag": outcome.flag,
        "variant": outcome.variant,
        "reason": outcome.reason.value,
        "rule": outcome.rule,
        "segment": outcome.segment,
        "assignment_id": outcome.assignment_id,
        "targeting_key": None,
        "targeting_key_selector": outcome.targeting_key_selector,
        "fallthrough": [],
        "abtest": outcome.abtest,
        "override": outcome.override,
        "snapshot_version": outcome.snapshot_version,
    }
    head = "".join(f'"{name}":{_encode(base[name])},' for name in _HEAD_FIELDS)
    tail = "".join(f',"{name}":{_encode(base[name])}' for name in _TAIL_FIELDS) + "}"
    base["fallthrough"] = None
    template = (key, base, head, tail)
    outcome._exposure_template = template
    return template
