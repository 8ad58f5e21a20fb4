"""``MemorySink``: keeps exposures and metric events in memory, for tests and examples."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from ..process.hooks import register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from .base import Counters, SinkStats, sink_stats
from .events import EventRecordBuilder, MetricEvent
from .exposure import DEDUP_TTL_SECONDS, Exposure
from .records import EVENT, RecordBatch, RecordBuilder

__all__ = ["MemorySink"]

logger = logging.getLogger("flagstone.sinks")


class MemorySink:
    """Collects exposures and metric events in memory.

    ``emit`` and ``emit_event`` only append to a queue, so recording costs the request
    almost nothing; the records (exposures deduplicated within the 120 s window by their own
    apply times, as every sink does; events never) are built when they are read:

    ``events``
        the exposure records (the name predates metric events; kept for compatibility);
    ``tracked``
        the metric-event records (``Client.track``);
    ``records``
        both, in the order they were recorded;
    ``exposures``
        the deduplicated ``Exposure`` objects.

    As the inner sink of a ``BatchingSink`` it collects the batches' records (sorted by
    their ``type``; ``exposures`` holds only what was emitted to it directly).
    """

    def __init__(
        self,
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        self._builder = RecordBuilder.with_dedup(dedup, dedup_ttl, dedup_maxsize)
        self._event_builder = EventRecordBuilder()
        self._pending: deque[Exposure | MetricEvent] = deque()
        self._log = RateLimitedLog(logger)
        self._reset()
        register_fork_hooks(self)

    def _reset(self) -> None:
        self._builder = self._builder.fresh()
        self._lock = threading.Lock()
        self._pending.clear()
        self._exposures: list[Exposure] = []
        self._records: list[dict[str, Any]] = []  # exposure records
        self._tracked: list[dict[str, Any]] = []  # event records
        self._all: list[dict[str, Any]] = []  # both, in order
        self._counters = Counters()
        self._event_counters = Counters()
        self._drops_reported = 0
        self._closed = False

    def emit(self, exposure: Exposure) -> None:
        if self._closed:
            with self._lock:
                self._counters.emitted += 1
                self._counters.drop("closed")
            self._log.warning("closed", "MemorySink is closed; exposure dropped")
            return
        self._pending.append(exposure)

    def emit_event(self, event: MetricEvent) -> None:
        if self._closed:
            with self._lock:
                self._event_counters.emitted += 1
                self._event_counters.drop("closed")
            self._log.warning("closed-event", "MemorySink is closed; event dropped")
            return
        self._pending.append(event)

    def write_batch(self, batch: RecordBatch) -> None:
        """Keep the records of a batch built elsewhere (a ``BatchingSink``'s)."""
        with self._lock:
            for record, kind in zip(batch.records, batch.kinds(), strict=True):
                (self._tracked if kind == EVENT else self._records).append(record)
                self._all.append(record)

    def _drain(self) -> None:
        with self._lock:
            pending = self._pending
            counters = self._counters
            while pending:
                item = pending.popleft()
                if item.__class__ is MetricEvent:
                    assert isinstance(item, MetricEvent)
                    self._event_counters.emitted += 1
                    self._event_counters.delivered += 1
                    records = self._event_builder.build((item,)).records
                    self._tracked.extend(records)
                    self._all.extend(records)
                    continue
                assert isinstance(item, Exposure)
                counters.emitted += 1
                record = self._builder.record(item)
                if record is not None:
                    counters.delivered += 1
                    self._exposures.append(item)
                    self._records.append(record)
                    self._all.append(record)
                else:
                    counters.deduplicated += 1

    @property
    def events(self) -> list[dict[str, Any]]:
        """The exposure records so far, oldest first (a copy). (Metric events are in
        ``tracked``; the name is older than them.)"""
        self._drain()
        with self._lock:
            return list(self._records)

    @property
    def tracked(self) -> list[dict[str, Any]]:
        """The metric-event records so far (``Client.track``), oldest first (a copy)."""
        self._drain()
        with self._lock:
            return list(self._tracked)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far, exposures and metric events, in the order recorded (a
        copy)."""
        self._drain()
        with self._lock:
            return list(self._all)

    @property
    def exposures(self) -> list[Exposure]:
        """The deduplicated ``Exposure`` objects emitted so far, oldest first (a copy)."""
        self._drain()
        with self._lock:
            return list(self._exposures)

    def clear(self) -> None:
        """Forget everything recorded (the deduplication window and counters included)."""
        with self._lock:
            closed = self._closed
            self._reset()
            self._closed = closed

    def flush(self, timeout: float | None = None) -> bool:
        """``True`` unless a record was dropped (emitted after ``close``) since the previous
        flush."""
        self._drain()
        with self._lock:
            dropped = sum(self._counters.dropped_by_reason.values()) + sum(
                self._event_counters.dropped_by_reason.values()
            )
            fresh = dropped != self._drops_reported
            self._drops_reported = dropped
        return not fresh

    def close(self) -> None:
        self._drain()
        self._closed = True

    def stats(self) -> SinkStats:
        """Counters (see ``SinkStats``)."""
        self._drain()
        with self._lock:
            return sink_stats(self._counters.snapshot(), self._event_counters.snapshot())

    def _after_fork_in_child(self) -> None:
        self._reset()

    def __len__(self) -> int:
        """How many exposure records it holds (``len(sink.events)``)."""
        return len(self.events)
