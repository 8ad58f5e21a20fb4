"""``FanoutSink``: one stream of exposures and metric events to several sinks, each on its
own."""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Iterable

from ..process.ratelimit import RateLimitedLog
from .base import ExposureSink, SinkStats
from .events import MetricEvent
from .exposure import Exposure

__all__ = ["FanoutSink"]

logger = logging.getLogger("flagstone.sinks")


class FanoutSink:
    """Emits every exposure to each of ``sinks``, and every metric event to each of them
    that takes events (``emit_event``).

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

    def emit_event(self, event: MetricEvent) -> None:
        for sink in self.sinks:
            emit_event = getattr(sink, "emit_event", None)
            if emit_event is None:
                continue
            try:
                emit_event(event)
            except Exception:
                self.errors += 1
                self._log.warning(
                    "emit-event", "sink %r raised from emit_event", sink, exc_info=True
                )

    def flush(self, timeout: float | None = None) -> bool:
        """Flush each sink within one shared ``timeout``; ``True`` if all report everything
        delivered."""
        return flush_all(self.sinks, timeout, self._log)

    def close(self, timeout: float | None = None) -> None:
        """Close every sink, even if one fails, within one shared ``timeout`` (``None``: each
        sink's own default)."""
        close_all(self.sinks, timeout, self._log)

    def _begin_close(self) -> None:
        for sink in self.sinks:
            begin_close(sink)

    def stats(self) -> list[SinkStats | None]:
        """Each sink's ``stats()`` in order (``None`` for a sink without one)."""
        result: list[SinkStats | None] = []
        for sink in self.sinks:
            stats = getattr(sink, "stats", None)
            result.append(stats() if callable(stats) else None)
        return result


def begin_close(sink: ExposureSink) -> None:
    """Tell ``sink`` to start closing without waiting, if it can (``BatchingSink`` can): so
    that several sinks drain at the same time."""
    begin = getattr(sink, "_begin_close", None)
    if callable(begin):
        with contextlib.suppress(Exception):  # close() reports what fails
            begin()


def close_all(sinks: Iterable[ExposureSink], timeout: float | None, log: RateLimitedLog) -> bool:
    """Close sinks within one shared ``timeout``: each is told to begin closing, then closed
    with what is left of the time (a sink whose ``close`` takes ``timeout`` gets it; any other
    is flushed within it first). ``False`` if one failed to close."""
    sinks = list(sinks)
    deadline = None if timeout is None else time.monotonic() + timeout
    for sink in sinks:
        begin_close(sink)
    closed = True
    for sink in sinks:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        takes_timeout = _close_takes_timeout(sink)
        if not takes_timeout:
            try:
                sink.flush(remaining)
            except Exception:
                log.warning("flush", "sink %r failed to flush", sink, exc_info=True)
        try:
            if takes_timeout:
                sink.close(timeout=remaining)  # type: ignore[call-arg]
            else:
                sink.close()
        except Exception:
            closed = False
            log.warning("close", "sink %r failed to close", sink, exc_info=True)
    return closed


def _close_takes_timeout(sink: ExposureSink) -> bool:
    try:
        return "timeout" in inspect.signature(sink.close).parameters
    except (TypeError, ValueError):
        return False


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
