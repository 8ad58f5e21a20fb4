"""The sink protocol and the shared machinery of record-writing sinks.

A sink has three methods: ``emit(exposure)`` (never raises into the caller), ``flush(timeout)``
(returns whether everything emitted so far was delivered) and ``close()``. Record-writing
sinks deduplicate (Confidence's 120 s window), build the record, hand it to ``_deliver`` and
count what happened; a failure is counted and logged at a limited rate, never raised.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol, runtime_checkable

from ..ratelimit import RateLimitedLog
from .exposure import DEDUP_TTL_SECONDS, Deduplicator, Exposure

__all__ = ["ExposureSink", "RecordSink"]

logger = logging.getLogger("flagstone.sinks")


@runtime_checkable
class ExposureSink(Protocol):
    """Where exposures go. ``emit`` runs on the request thread: it must be quick and must
    not raise."""

    def emit(self, exposure: Exposure) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...


class RecordSink:
    """Base of sinks that turn each exposure into a record dict and deliver it at once.

    Subclasses implement ``_deliver(record)``. ``stats()`` reports ``emitted``,
    ``delivered``, ``deduplicated`` and ``failed``; every emitted exposure is in exactly one
    of the last three.
    """

    def __init__(
        self,
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        self._dedup = Deduplicator(dedup_ttl, dedup_maxsize) if dedup else None
        self._lock = threading.Lock()
        self._log = RateLimitedLog(logger)
        self._emitted = 0
        self._delivered = 0
        self._failed = 0
        self._closed = False

    def emit(self, exposure: Exposure) -> None:
        try:
            with self._lock:
                self._emitted += 1
                if self._closed:
                    self._failed += 1
                    self._log.warning(
                        "closed", "%s is closed; exposure dropped", type(self).__name__
                    )
                    return
                if self._dedup is not None and not self._dedup.first_seen(exposure):
                    return
                try:
                    self._deliver(exposure.to_record())
                except Exception:
                    self._failed += 1
                    self._log.warning(
                        "deliver",
                        "%s failed to deliver an exposure",
                        type(self).__name__,
                        exc_info=True,
                    )
                    return
                self._delivered += 1
        except Exception:  # pragma: no cover - defensive: emit must never raise
            logger.exception("unexpected error in %s.emit", type(self).__name__)

    def _deliver(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def stats(self) -> dict[str, int]:
        """Counters: ``emitted == delivered + deduplicated + failed``."""
        with self._lock:
            return {
                "emitted": self._emitted,
                "delivered": self._delivered,
                "deduplicated": self._dedup.dropped if self._dedup is not None else 0,
                "failed": self._failed,
            }

    def __enter__(self) -> RecordSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
