"""``FanoutSink``: one exposure stream to several sinks, each on its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from ..process.ratelimit import RateLimitedLog
from .base import ExposureSink, SinkStats
from .exposure import Exposure

__all__ = ["FanoutSink"]

logger = logging.getLogger("flagstone.sinks")


class FanoutSink:
    """Emits every exposure to each of ``sinks``.

    A sink that raises is logged (rate-limited) and skipped; the others still get the
    exposure. For a slow or failing destination not to hold up the others, give each its own
    ``BatchingSink`` (own queue, worker, retries and spool)::

        FanoutSink([BatchingSink(HttpSink(url)), BatchingSink(JsonlSink("exposures.jsonl"))])

    (``Client(sinks=[…])`` fans out the same way; ``FanoutSink`` makes the group one sink.)
    """

    def __init__(self, sinks: Iterable[ExposureSink]) -> None:
        self.sinks: tuple[ExposureSink, ...] = tuple(sinks)
        self._log = RateLimitedLog(logger)
        self.errors = 0

    def emit(self, exposure: Exposure) -> None:
        for sink in self.sinks:
            try:
                sink.emit(exposure)
            except Exception:
                self.errors += 1
                self._log.warning("emit", "sink %r raised from emit", sink, exc_info=True)

    def flush(self, timeout: float | None = None) -> bool:
        """Flush each sink within one shared ``timeout``; ``True`` if all report everything
        delivered."""
        return flush_all(self.sinks, timeout, self._log)

    def close(self) -> None:
        """Close every sink, even if one fails."""
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                self._log.warning("close", "sink %r failed to close", sink, exc_info=True)

    def stats(self) -> list[SinkStats | None]:
        """Each sink's ``stats()`` in order (``None`` for a sink without one)."""
        result: list[SinkStats | None] = []
        for sink in self.sinks:
            stats = getattr(sink, "stats", None)
            result.append(stats() if callable(stats) else None)
        return result


def flush_all(sinks: Iterable[ExposureSink], timeout: float | None, log: RateLimitedLog) -> bool:
    """Flush sinks one after the other within one deadline; a sink that raises counts as
    not flushed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delivered = True
    for sink in sinks:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            delivered = bool(sink.flush(remaining)) and delivered
        except Exception:
            delivered = False
            log.warning("flush", "sink %r failed to flush", sink, exc_info=True)
    return delivered
