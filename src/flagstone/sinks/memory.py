"""``MemorySink``: keeps exposures in memory, for tests and examples."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .exposure import DEDUP_TTL_SECONDS, Deduplicator, Exposure

__all__ = ["MemorySink"]


class MemorySink:
    """Collects exposures in memory.

    ``emit`` only appends to a queue, so recording costs the request almost nothing; the
    records (deduplicated within the 120 s window by their own apply times, as every sink
    does) are built when ``events`` or ``exposures`` is read.
    """

    def __init__(
        self,
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        self._pending: deque[Exposure] = deque()
        self._dedup_settings = (dedup_ttl, dedup_maxsize) if dedup else None
        self._dedup = Deduplicator(dedup_ttl, dedup_maxsize) if dedup else None
        self._lock = threading.Lock()
        self._exposures: list[Exposure] = []
        self._records: list[dict[str, Any]] = []
        self._closed = False
        self._dropped_closed = 0

    def emit(self, exposure: Exposure) -> None:
        if self._closed:
            self._dropped_closed += 1
            return
        self._pending.append(exposure)

    def _drain(self) -> None:
        with self._lock:
            pending = self._pending
            while pending:
                exposure = pending.popleft()
                if self._dedup is None or self._dedup.first_seen(exposure):
                    self._exposures.append(exposure)
                    self._records.append(exposure.to_record())

    @property
    def events(self) -> list[dict[str, Any]]:
        """The exposure records so far, oldest first (a copy)."""
        self._drain()
        with self._lock:
            return list(self._records)

    @property
    def exposures(self) -> list[Exposure]:
        """The deduplicated ``Exposure`` objects so far, oldest first (a copy)."""
        self._drain()
        with self._lock:
            return list(self._exposures)

    def clear(self) -> None:
        """Forget everything recorded (the deduplication window included)."""
        with self._lock:
            self._pending.clear()
            self._exposures.clear()
            self._records.clear()
            if self._dedup_settings is not None:
                self._dedup = Deduplicator(*self._dedup_settings)

    def flush(self, timeout: float | None = None) -> bool:
        self._drain()
        return True

    def close(self) -> None:
        self._drain()
        self._closed = True

    def stats(self) -> dict[str, int]:
        """Counters: ``emitted == delivered + deduplicated + failed`` (``failed`` counts
        exposures emitted after ``close``)."""
        self._drain()
        with self._lock:
            delivered = len(self._records)
            deduplicated = self._dedup.dropped if self._dedup is not None else 0
        return {
            "emitted": delivered + deduplicated + self._dropped_closed,
            "delivered": delivered,
            "deduplicated": deduplicated,
            "failed": self._dropped_closed,
        }

    def __len__(self) -> int:
        return len(self.events)
