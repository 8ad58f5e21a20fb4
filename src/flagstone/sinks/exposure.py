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

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cachetools import TTLCache

from ..resolution import Resolution

__all__ = [
    "DEDUP_TTL_SECONDS",
    "SCHEMA_VERSION",
    "Deduplicator",
    "Exposure",
    "format_time",
]

SCHEMA_VERSION = 1
DEDUP_TTL_SECONDS = 120.0


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
        variant, rule, assignment id, targeting key, override marker, fallthroughs."""
        r = self.resolution
        return (
            r.flag,
            r.variant,
            r.rule,
            r.assignment_id,
            r.targeting_key,
            r.override,
            r.fallthrough,
        )

    def to_record(self) -> dict[str, Any]:
        """The flat, JSON-ready exposure record (see the module docstring)."""
        r = self.resolution
        return {
            "schema_version": SCHEMA_VERSION,
            "resolve_id": self.resolve_id,
            "apply_time": format_time(self.applied_at),
            "flag": r.flag,
            "variant": r.variant,
            "reason": r.reason.value,
            "rule": r.rule,
            "segment": r.segment,
            "assignment_id": r.assignment_id,
            "targeting_key": r.targeting_key,
            "targeting_key_selector": r.targeting_key_selector,
            "fallthrough": [item._asdict() for item in r.fallthrough],
            "abtest": r.abtest,
            "override": r.override,
            "snapshot_version": r.snapshot_version,
        }

    def __repr__(self) -> str:
        return f"Exposure({self.resolution!r}, applied_at={self.applied_at!r})"


def format_time(epoch_seconds: float) -> str:
    """UTC, RFC 3339 with milliseconds: ``2026-11-23T14:36:01.123Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Deduplicator:
    """Drops an exposure seen within ``ttl`` seconds before (by the exposures' own apply
    times), remembering at most ``maxsize`` distinct exposures (a ``cachetools.TTLCache``).
    Thread-safe; counts what it drops."""

    def __init__(self, ttl: float = DEDUP_TTL_SECONDS, maxsize: int = 100_000) -> None:
        self._now = 0.0
        timer: Callable[[], float] = lambda: self._now  # noqa: E731
        self._seen: TTLCache[tuple[Any, ...], bool] = TTLCache(
            maxsize=maxsize, ttl=ttl, timer=timer
        )
        self._lock = threading.Lock()
        self.dropped = 0

    def first_seen(self, exposure: Exposure) -> bool:
        """``True`` the first time an exposure is seen in the window (and remember it)."""
        key = exposure.dedup_key()
        with self._lock:
            if exposure.applied_at > self._now:
                self._now = exposure.applied_at
            if key in self._seen:
                self.dropped += 1
                return False
            self._seen[key] = True
            return True
