"""The exposure event and the record it becomes.

On the request thread an exposure is only ``Exposure(resolution, applied_at)``: a reference
and a float. Everything else (the resolve id, time formatting, deduplication, the record
dict, serialisation) happens where the exposure is delivered, in the sink.

The record is flat and JSON-ready; ``schema_version`` lets downstream tables evolve::

    {"schema_version": 1, "resolve_id": "3f2b…", "apply_time": "2026-11-23T14:36:01.123Z",
     "flag": "flags/checkout", "variant": "new-checkout", "reason": "RESOLVE_REASON_MATCH",
     "rule": "workflows/abtest/instances/checkout-test/rule", "segment": "segments/…",
     "assignment_id": "new-checkout", "targeting_key": "user-1",
     "targeting_key_selector": "targeting_key", "fallthrough": [], "abtest": "workflows/…",
     "override": false, "snapshot_version": "2026-11-23.1"}

No context attributes are recorded (they may hold personal data).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from ..resolution import Outcome, Resolution

__all__ = [
    "DEDUP_TTL_SECONDS",
    "SCHEMA_VERSION",
    "Exposure",
    "format_time",
    "record_template",
]

SCHEMA_VERSION = 1
DEDUP_TTL_SECONDS = 120.0

_encode = json.JSONEncoder(separators=(",", ":")).encode


class Exposure:
    """One exposure as handed to ``ExposureSink.emit``: the resolution the user saw and when
    (``applied_at``, seconds since the epoch)."""

    __slots__ = ("_resolve_id", "applied_at", "resolution")

    def __init__(
        self, resolution: Resolution, applied_at: float, resolve_id: str | None = None
    ) -> None:
        self.resolution = resolution
        self.applied_at = applied_at
        self._resolve_id = resolve_id

    @property
    def resolve_id(self) -> str:
        """Identifies the evaluation (shared by the flags of one ``evaluate_all``); made when
        first asked for, so the request thread never pays for it."""
        if self._resolve_id is None:
            self._resolve_id = uuid.uuid4().hex
        return self._resolve_id

    def dedup_key(self) -> tuple[Any, ...]:
        """What makes two exposures "the same" for deduplication (as Confidence): flag,
        variant, rule, assignment id, override marker, targeting key, fallthroughs."""
        r = self.resolution
        return (record_template(r._outcome)[0], r._unit, r._fallthrough)

    def to_record(self) -> dict[str, Any]:
        """The flat, JSON-ready exposure record (see the module docstring)."""
        r = self.resolution
        record = record_template(r._outcome)[1].copy()
        record["resolve_id"] = self.resolve_id
        record["apply_time"] = format_time(self.applied_at)
        record["targeting_key"] = r._unit
        record["fallthrough"] = [item._asdict() for item in r._fallthrough]
        return record

    def __repr__(self) -> str:
        return f"Exposure({self.resolution!r}, applied_at={self.applied_at!r})"


def format_time(epoch_seconds: float) -> str:
    """UTC, RFC 3339 with milliseconds: ``2026-11-23T14:36:01.123Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_HEAD_FIELDS = ("flag", "variant", "reason", "rule", "segment", "assignment_id")
_TAIL_FIELDS = ("targeting_key_selector", "fallthrough", "abtest", "override", "snapshot_version")


def record_template(
    outcome: Outcome,
) -> tuple[tuple[Any, ...], dict[str, Any], str, str]:
    """The unit-independent parts of an outcome's exposure records, built once and kept on
    the outcome: the outcome's part of the dedup key, the record dict to copy (in field
    order, per-exposure fields ``None``), and the JSON before and after the targeting key
    (for records without fallthroughs)."""
    cached = outcome._exposure_template
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    key = (outcome.flag, outcome.variant, outcome.rule, outcome.assignment_id, outcome.override)
    base: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
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
