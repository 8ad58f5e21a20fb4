"""``CallbackSink``: hand each exposure record to a function of yours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS

__all__ = ["CallbackSink"]


class CallbackSink(RecordSink):
    """Calls ``callback(record)`` for each (deduplicated) exposure, on the thread that
    emitted it. An exception from the callback is counted as ``failed`` and logged at a
    limited rate; it never reaches the request."""

    def __init__(
        self,
        callback: Callable[[dict[str, Any]], object],
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self._callback = callback

    def _deliver(self, record: dict[str, Any]) -> None:
        self._callback(record)
