"""The sink protocols, the counters every sink reports, and the base of record-writing sinks.

Three small protocols:

``ExposureSink``
    what a ``Client`` talks to: ``emit(exposure)`` on the request thread (never raises),
    ``flush(timeout)`` (whether everything emitted so far was delivered, and nothing dropped
    since the previous flush) and ``close()`` (a sink whose ``close`` takes a ``timeout``
    keyword gets the client's remaining time; any other is flushed within it first).
``EventSink``
    a sink that also takes metric events (``Client.track``): ``emit_event(event)``, on the
    request thread, never raises. Every built-in sink is one; a sink without
    ``emit_event`` receives exposures only.
``BatchWriter``
    what ``BatchingSink`` delivers to from its worker thread: ``write_batch(batch)`` writes a
    ``RecordBatch`` or raises (``PartialDelivery`` when only a prefix got through), and
    ``close()``.

``RecordSink`` is all three: its ``emit`` deduplicates, builds the record and calls its own
``write_batch`` at once, on the calling thread, counting failures instead of raising (and
``emit_event`` does the same for an event, without deduplication).
Wrap it in a ``BatchingSink`` to move that work off the request thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, TypedDict, runtime_checkable

from ..errors import PartialDelivery
from ..process.hooks import register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from .events import EventRecordBuilder, MetricEvent
from .exposure import DEDUP_TTL_SECONDS, Exposure
from .records import EVENT, EXPOSURE, RecordBatch, RecordBuilder

__all__ = [
    "BatchWriter",
    "Counters",
    "EventSink",
    "ExposureSink",
    "KindStats",
    "RecordSink",
    "SinkStats",
    "sink_stats",
]

logger = logging.getLogger("flagstone.sinks")


@runtime_checkable
class ExposureSink(Protocol):
    """Where exposures go. ``emit`` runs on the request thread: it must be quick and must
    not raise."""

    def emit(self, exposure: Exposure) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class EventSink(Protocol):
    """A sink that takes metric events too. ``emit_event`` runs on the request thread: it
    must be quick and must not raise."""

    def emit_event(self, event: MetricEvent) -> None: ...


@runtime_checkable
class BatchWriter(Protocol):
    """A destination ``BatchingSink`` can deliver batches to (from its worker thread).

    ``write_batch`` delivers every record of the batch or raises; raising
    ``PartialDelivery(delivered=n)`` says the first ``n`` records got through, so a retry
    sends only the rest.
    """

    def write_batch(self, batch: RecordBatch) -> None: ...

    def close(self) -> None: ...


class KindStats(TypedDict):
    """The counters of one kind of record (``SinkStats["by_kind"]``), with the same
    invariant: ``emitted == delivered + deduplicated + dropped + queued + in_spool``."""

    emitted: int
    """Records of this kind handed to the sink (``emit``, ``emit_event``)."""
    delivered: int
    deduplicated: int
    """Always 0 for events: they are never deduplicated."""
    dropped: int
    dropped_by_reason: dict[str, int]
    queued: int
    in_spool: int
    retried: int
    spooled: int
    replayed: int


class SinkStats(TypedDict):
    """What ``stats()`` of every built-in sink returns.

    ``emitted == delivered + deduplicated + dropped + queued + in_spool`` at all times
    (``queued`` and ``in_spool`` are 0 for sinks that deliver at once). The totals count
    exposures and metric events together; ``by_kind`` splits every counter between
    ``"exposure"`` and ``"event"`` (each with the same invariant; the totals are their sums).
    """

    emitted: int
    """Records handed to ``emit`` (exposures) and ``emit_event`` (metric events)."""
    delivered: int
    """Of those, delivered to the destination (at once, after retries or from the spool)."""
    deduplicated: int
    """Dropped on purpose: the same exposure was recorded less than 120 s before."""
    dropped: int
    """Lost: counted by reason in ``dropped_by_reason``."""
    dropped_by_reason: dict[str, int]
    """``queue_full``, ``block_timeout``, ``closed``, ``delivery_failed``, ``spool_failed``,
    ``spool_unreadable``, ``shutdown``, ``no_worker``, ``internal_error`` (only reasons that
    occurred)."""
    queued: int
    """In memory, waiting or being delivered."""
    in_spool: int
    """Written to the spool, waiting to be replayed."""
    retried: int
    """Delivery attempts repeated after a failure."""
    spooled: int
    """Exposures ever written to the spool."""
    replayed: int
    """Records delivered from the spool, this process's or an earlier one's."""
    by_kind: dict[str, KindStats]
    """The same counters for ``"exposure"`` and ``"event"`` records apart."""


def sink_stats(exposures: KindStats, events: KindStats) -> SinkStats:
    """The ``SinkStats`` of a sink whose exposures and events were counted apart: totals
    and ``by_kind``."""
    reasons = dict(exposures["dropped_by_reason"])
    for reason, count in events["dropped_by_reason"].items():
        reasons[reason] = reasons.get(reason, 0) + count
    return {
        "emitted": exposures["emitted"] + events["emitted"],
        "delivered": exposures["delivered"] + events["delivered"],
        "deduplicated": exposures["deduplicated"] + events["deduplicated"],
        "dropped": exposures["dropped"] + events["dropped"],
        "dropped_by_reason": reasons,
        "queued": exposures["queued"] + events["queued"],
        "in_spool": exposures["in_spool"] + events["in_spool"],
        "retried": exposures["retried"] + events["retried"],
        "spooled": exposures["spooled"] + events["spooled"],
        "replayed": exposures["replayed"] + events["replayed"],
        "by_kind": {EXPOSURE: exposures, EVENT: events},
    }


class Counters:
    """The counters behind ``KindStats`` (one per kind of record). Not thread-safe: the
    owner's lock guards it."""

    __slots__ = (
        "deduplicated",
        "delivered",
        "dropped_by_reason",
        "emitted",
        "in_spool",
        "replayed",
        "retried",
        "spooled",
    )

    def __init__(self) -> None:
        self.emitted = 0
        self.delivered = 0
        self.deduplicated = 0
        self.dropped_by_reason: dict[str, int] = {}
        self.in_spool = 0
        self.retried = 0
        self.spooled = 0
        self.replayed = 0

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped_by_reason[reason] = self.dropped_by_reason.get(reason, 0) + count

    def snapshot(self) -> KindStats:
        return {
            "emitted": self.emitted,
            "delivered": self.delivered,
            "deduplicated": self.deduplicated,
            "dropped": sum(self.dropped_by_reason.values()),
            "dropped_by_reason": dict(self.dropped_by_reason),
            "queued": 0,  # sinks with a queue fill this in
            "in_spool": self.in_spool,
            "retried": self.retried,
            "spooled": self.spooled,
            "replayed": self.replayed,
        }


class RecordSink:
    """Base of sinks that write records: ``emit`` delivers at once, on the calling thread;
    ``write_batch`` is what a ``BatchingSink`` calls from its worker.

    Subclasses implement ``_write(batch)`` (raise on failure) and may override ``_close()``
    and ``_reset_after_fork()``.
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
        self._lock = threading.Lock()
        self._log = RateLimitedLog(logger)
        self._counters = Counters()
        self._event_counters = Counters()
        self._drops_reported = 0
        self._closed = False
        register_fork_hooks(self)

    # -- ExposureSink -----------------------------------------------------------------------

    def emit(self, exposure: Exposure) -> None:
        """Deduplicate, build the record and write it now. Never raises."""
        try:
            with self._lock:
                counters = self._counters
                counters.emitted += 1
                if self._closed:
                    self._drop_closed(counters, "closed", "exposure")
                    return
                try:
                    if not self._write_exposure(exposure):
                        counters.deduplicated += 1
                        return
                except Exception:
                    counters.drop("delivery_failed")
                    self._log.warning(
                        "deliver",
                        "%s failed to deliver an exposure, which is dropped (dropped so far: %s)",
                        type(self).__name__,
                        counters.dropped_by_reason,
                        exc_info=True,
                    )
                    return
                counters.delivered += 1
        except Exception:  # pragma: no cover - defensive: emit must never raise
            logger.exception("unexpected error in %s.emit", type(self).__name__)

    def _drop_closed(self, counters: Counters, key: str, what: str) -> None:
        """Count and report (rate-limited under ``key``) an exposure or event that came
        after :meth:`close` (holding the lock)."""
        counters.drop("closed")
        self._log.warning(
            key,
            "%s is closed; %s dropped (dropped so far: %s)",
            type(self).__name__,
            what,
            counters.dropped_by_reason,
        )

    def _write_exposure(self, exposure: Exposure) -> bool:
        """Write one exposure now (holding the lock): ``False`` if it is a repeat, raises if
        the write fails. Sinks that want record dicts rather than JSON lines override it
        with ``self._builder.record(exposure)``."""
        batch = self._builder.build((exposure,))
        if not batch:
            return False
        self._write(batch)
        return True

    def emit_event(self, event: MetricEvent) -> None:
        """Build the event's record and write it now (no deduplication). Never raises."""
        try:
            with self._lock:
                counters = self._event_counters
                counters.emitted += 1
                if self._closed:
                    self._drop_closed(counters, "closed-event", "event")
                    return
                try:
                    self._write(self._event_builder.build((event,)))
                except Exception:
                    counters.drop("delivery_failed")
                    self._log.warning(
                        "deliver-event",
                        "%s failed to deliver an event, which is dropped (dropped so far: %s)",
                        type(self).__name__,
                        counters.dropped_by_reason,
                        exc_info=True,
                    )
                    return
                counters.delivered += 1
        except Exception:  # pragma: no cover - defensive: emit_event must never raise
            logger.exception("unexpected error in %s.emit_event", type(self).__name__)

    def flush(self, timeout: float | None = None) -> bool:
        """Everything ``emit`` accepted is already written: ``True`` unless an exposure was
        dropped since the previous flush (subclasses with buffers extend it)."""
        return not self._fresh_drops()

    def _fresh_drops(self) -> bool:
        """Whether records were dropped since the previous call (which then reports them)."""
        with self._lock:
            dropped = sum(self._counters.dropped_by_reason.values()) + sum(
                self._event_counters.dropped_by_reason.values()
            )
            fresh = dropped != self._drops_reported
            self._drops_reported = dropped
            return fresh

    # -- BatchWriter ------------------------------------------------------------------------

    def write_batch(self, batch: RecordBatch) -> None:
        """Write a batch built elsewhere (by a ``BatchingSink``); raises on failure."""
        with self._lock:
            if self._closed:
                raise PartialDelivery(f"{type(self).__name__} is closed", delivered=0)
            self._write(batch)

    def _write(self, batch: RecordBatch) -> None:
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting exposures and release what the sink holds. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close()

    def _close(self) -> None:
        """Release files, connections… (called once, holding the lock)."""

    def stats(self) -> SinkStats:
        """Counters (see ``SinkStats``)."""
        with self._lock:
            return sink_stats(self._counters.snapshot(), self._event_counters.snapshot())

    def _after_fork_in_child(self) -> None:
        # Another thread of the parent may have held the lock at the fork: the child starts
        # with a new one, fresh counters and none of the parent's open resources.
        self._lock = threading.Lock()
        self._counters = Counters()
        self._event_counters = Counters()
        self._drops_reported = 0
        self._builder = self._builder.fresh()
        self._reset_after_fork()

    def _reset_after_fork(self) -> None:
        """Forget (without closing cleanly) what belongs to the parent process."""

    def __enter__(self) -> RecordSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
