"""``MemorySink``: keeps exposures in memory, for tests and examples."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from ..process.hooks import register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from .base import Counters, SinkStats
from .exposure import DEDUP_TTL_SECONDS, Exposure
from .records import RecordBatch, RecordBuilder

__all__ = ["MemorySink"]

logger = logging.getLogger("flagstone.sinks")


class MemorySink:
    """Collects exposures in memory.

    ``emit`` only appends to a queue, so recording costs the request almost nothing; the
    records (deduplicated within the 120 s window by their own apply times, as every sink
    does) are built when ``events`` or ``exposures`` is read. As the inner sink of a
    ``BatchingSink`` it collects the batches' records (``events``; ``exposures`` holds only
    what was emitted to it directly).
    """

    def __init__(
        self,
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        self._builder = RecordBuilder.with_dedup(dedup, dedup_ttl, dedup_maxsize)
        self._pending: deque[Exposure] = deque()
        self._log = RateLimitedLog(logger)
        self._reset()
        register_fork_hooks(self)

    def _reset(self) -> None:
        self._builder = self._builder.fresh()
        self._lock = threading.Lock()
        self._pending.clear()
        self._exposures: list[Exposure] = []
        self._records: list[dict[str, Any]] = []
        self._counters = Counters()
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

    def write_batch(self, batch: RecordBatch) -> None:
        """Keep the records of a batch built elsewhere (a ``BatchingSink``'s)."""
        with self._lock:
            self._records.extend(batch.records)

    def _drain(self) -> None:
        with self._lock:
            pending = self._pending
            counters = self._counters
            while pending:
                exposure = pending.popleft()
                counters.emitted += 1
                batch = self._builder.build((exposure,))
                if batch:
                    counters.delivered += 1
                    self._exposures.append(exposure)
                    self._records.extend(batch.records)
                else:
                    counters.deduplicated += 1

    @property
    def events(self) -> list[dict[str, Any]]:
        """The exposure records so far, oldest first (a copy)."""
        self._drain()
        with self._lock:
            return list(self._records)

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
        """``True`` unless an exposure was dropped (emitted after ``close``) since the
        previous flush."""
        self._drain()
        with self._lock:
            dropped = sum(self._counters.dropped_by_reason.values())
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
            return self._counters.snapshot()

    def _after_fork_in_child(self) -> None:
        self._reset()

    def __len__(self) -> int:
        return len(self.events)
