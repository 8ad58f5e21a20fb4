"""``BatchingSink``: exposures leave the request thread at the cost of a queue append.

The request thread only appends the ``Exposure`` to a bounded deque (no lock, no I/O, no
formatting). A worker thread takes batches (up to ``max_batch``, or what has waited
``max_latency``), builds the records (dedup, ids, times, JSON) and writes them to the inner
``BatchWriter``, retrying failures with exponential backoff and jitter. Without a spool, a
batch that still fails is dropped and counted.

With a spool, memory holds at most the batch being written and about ``spill_interval``
(0.1 s) of traffic: the write runs on a helper thread (a ``Courier``), and while it fails or
is slow the worker writes the batch ahead to the spool and then moves the queue there
every ``spill_interval``, behind it. Spooled records are replayed in order, before anything
newer, once the destination works again (and by the next process that uses the directory);
a batch written ahead whose retry succeeds is marked delivered in the spool, so replay skips
it (a crash in between delivers it twice: at least once). Every exposure is accounted for in
``stats()``: ``emitted == delivered + deduplicated + dropped + queued + in_spool``.

Metric events (``emit_event``) take the same path in a lane of their own, made with the
first event: an ``_EventLane`` (a ``BatchingSink`` with its own bounded queue, worker,
counters and, under ``<spool_dir>/events``, spool) that writes to the same ``inner``, one
write at a time with the exposures' (a shared lock). So a burst of events fills only the
events' queue, and its drop policy applies to events only; ``stats()`` adds both kinds up
and splits them in ``by_kind``.

Fork: the child starts with an empty queue, fresh counters and no worker (one starts on its
first exposure); the parent keeps delivering what it had queued. Exit: sinks nobody closed
are closed (flushed) at interpreter exit and at the end of a ``multiprocessing`` child,
within ``close_timeout`` (see ``flagstone.process.hooks``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

from ..errors import PartialDelivery, SinkError
from ..process.hooks import close_at_exit, register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from ..process.threads import start_quietly
from .base import BatchWriter, Counters, KindStats, SinkStats, sink_stats
from .courier import Courier
from .events import EventRecordBuilder, MetricEvent
from .exposure import DEDUP_TTL_SECONDS, Exposure
from .records import EVENT, EXPOSURE, RecordBatch, RecordBuilder
from .retry import RetryPolicy
from .spool import Spool, Ticket

__all__ = ["BatchingSink", "OnFull"]

logger = logging.getLogger("flagstone.sinks")

OnFull = Literal["drop_oldest", "drop_newest", "block"]

_POLICIES = ("drop_oldest", "drop_newest", "block")


class _Builder(Protocol):
    """What turns the items of a queue into a ``RecordBatch`` (``RecordBuilder`` for
    exposures, ``EventRecordBuilder`` for events)."""

    @property
    def deduplicated(self) -> int: ...

    def build(self, items: Any, /) -> RecordBatch: ...

    def fresh(self) -> _Builder: ...


_CHECK = 0.01
"""Seconds between the worker's looks at the queue while it waits for the destination."""


class _Flight:
    """The batch the worker is delivering, and how far it got."""

    __slots__ = ("accounted", "ahead_from", "batch", "deduplicated", "sent", "taken", "ticket")

    def __init__(self, batch: RecordBatch, taken: int, deduplicated: int) -> None:
        self.batch = batch
        self.taken = taken  # exposures that left the queue for it (repeats included)
        self.deduplicated = deduplicated
        self.sent = 0  # records delivered so far
        self.ticket: Ticket | None = None  # its undelivered rest, written ahead to the spool
        self.ahead_from = 0  # ``sent`` when it was written ahead
        self.accounted = False  # counted as spooled (no longer only in memory)


class BatchingSink:
    """Delivers exposures and metric events to ``inner`` in batches, from a worker thread.

    ``max_batch``
        most records per ``write_batch`` call (default 500).
    ``max_latency``
        longest an exposure waits for its batch to fill, in seconds (default 1.0).
    ``queue_size``
        most exposures waiting in memory (default 100 000); past it ``on_full`` decides:
        ``"drop_oldest"`` (default), ``"drop_newest"``, or ``"block"`` (the request thread
        waits at most ``block_timeout`` seconds for room, then drops the new one).
    ``event_queue_size``, ``event_on_full``
        the same for metric events (``Client.track``), which wait in a queue of their own
        (default: ``queue_size`` and ``on_full``): a burst of events never pushes exposures
        out, nor the other way round. Events have their own worker thread too, started with
        the first event, and, with a spool, their own spool in ``<spool_dir>/events``
        (bounded by ``spool_max_bytes`` as well); both write to ``inner`` one batch at a
        time. Events are never deduplicated.
    ``retry``
        a ``RetryPolicy`` (default: 5 attempts, backoff from 0.1 s doubling to 10 s, jitter).
    ``spool_dir``
        where exposures wait on disk (JSON Lines) while the destination fails or is slow:
        a batch that exhausted its retries, and, while a write fails or is slow, the queue
        (every ``spill_interval``, behind the batch being tried, written ahead). Replayed in
        order, before newer batches, and by the next process started with the same
        directory. Without it, a batch that exhausted its retries is dropped and counted.
    ``spill_interval``
        with a spool, how long exposures may wait only in memory while the destination fails
        or a write is slow (0.1 s).
    ``spool_fsync``, ``spool_max_bytes``
        fsync every spool write (default on); bound on this process's spool (1 GiB).
    ``replay_interval``
        how often an idle sink looks for segments left by processes that died (30 s).
    ``close_timeout``
        how long ``close()`` (and the exit hook) takes at most (5 s): delivery goes on until
        ``close_grace`` before the end, then retries stop and what is left is spooled or
        dropped as ``shutdown``.
    ``close_grace``
        the part of a close's time kept for spooling or dropping what is left (0.5 s, at
        most half the time).
    ``dedup``, ``dedup_ttl``, ``dedup_maxsize``
        drop repeats of an exposure within 120 s (Confidence's rule).
    """

    _noun = "exposures"
    """What this sink's queue holds, for thread names and log messages."""

    def __init__(
        self,
        inner: BatchWriter,
        *,
        max_batch: int = 500,
        max_latency: float = 1.0,
        queue_size: int = 100_000,
        on_full: OnFull = "drop_oldest",
        block_timeout: float = 0.1,
        retry: RetryPolicy | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_fsync: bool = True,
        spool_max_bytes: int = 1 << 30,
        replay_interval: float = 30.0,
        close_timeout: float = 5.0,
        close_grace: float = 0.5,
        spill_interval: float = 0.1,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
        event_queue_size: int | None = None,
        event_on_full: OnFull | None = None,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(getattr(inner, "write_batch", None)):
            raise TypeError(
                f"inner must have write_batch(batch) (a BatchWriter such as JsonlSink, "
                f"HttpSink, LoggingSink, CallbackSink or MemorySink), not {type(inner).__name__}"
            )
        event_queue_size = queue_size if event_queue_size is None else event_queue_size
        event_on_full = on_full if event_on_full is None else event_on_full
        if max_batch < 1 or queue_size < 1 or event_queue_size < 1:
            raise ValueError("max_batch, queue_size and event_queue_size must be positive")
        if min(max_latency, block_timeout, close_timeout, close_grace) < 0:
            raise ValueError(
                "max_latency, block_timeout, close_timeout and close_grace must be >= 0"
            )
        if replay_interval <= 0 or spill_interval <= 0:
            raise ValueError("replay_interval and spill_interval must be positive")
        if on_full not in _POLICIES or event_on_full not in _POLICIES:
            raise ValueError(
                'on_full and event_on_full must be "drop_oldest", "drop_newest" or "block"'
            )
        self.inner = inner
        self.max_batch = max_batch
        self.max_latency = max_latency
        self.queue_size = queue_size
        self.on_full: OnFull = on_full
        self.block_timeout = block_timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.close_timeout = close_timeout
        self.close_grace = close_grace
        self.spill_interval = spill_interval
        self.replay_interval = replay_interval
        self._builder: _Builder = RecordBuilder.with_dedup(dedup, dedup_ttl, dedup_maxsize)
        self._rng = rng or random.Random()
        self._timer = timer
        self._log = RateLimitedLog(logger)
        self._spool = (
            Spool(spool_dir, fsync=spool_fsync, max_bytes=spool_max_bytes, kind=EXPOSURE)
            if spool_dir is not None
            else None
        )
        self._closed = False
        self._inner_closed = False
        self._owner = self
        self._write_lock = threading.Lock()  # one write to ``inner`` at a time, either kind
        self.event_queue_size = event_queue_size
        self.event_on_full: OnFull = event_on_full
        self._events_spool_dir = (
            os.path.join(os.fspath(spool_dir), "events") if spool_dir is not None else None
        )
        self._spool_options = (spool_fsync, spool_max_bytes)
        self._events: _EventLane | None = None
        self._lane_lock = threading.Lock()
        self._fresh_state()
        register_fork_hooks(self)
        close_at_exit(self)
        with self._lock:
            self._start_worker()  # at once, so an earlier process's spool is replayed
        if self._events_spool_dir is not None and _has_segments(self._events_spool_dir):
            self._event_lane()  # an earlier process left events in the spool: replay them

    def _fresh_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by emit, flush and close for an idle worker
        self._not_full = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[Any] = deque()  # Exposure, or MetricEvent in the events lane
        self._counters = Counters()
        self._rejected = 0  # exposures emitted that never entered the queue (all dropped)
        self._accepting = False  # open, with a worker: emit may take its fast path
        self._idle = False  # the worker waits on an empty queue: wake it on an exposure
        self._filling = False  # the worker waits for a batch to fill: wake it when full
        self._left = 0  # exposures that left the queue (taken, spilled or dropped), in order
        self._inflight_start = 0  # the sequence number of the batch being delivered
        self._inflight = 0  # its exposures, while they are only in memory
        self._working = False  # the worker is still delivering it (flush waits for that)
        self._drops_reported = 0  # drops a flush has already answered False for
        # (time.monotonic(), exposures that had entered the queue by then), sampled while the
        # worker is busy: how long what waits in the queue has waited
        self._samples: deque[tuple[float, int]] = deque()
        self._spill_paused = False  # the spool refused a spill: the queue stays in memory
        self._courier = (
            Courier(self._owner._write_inner, f"flagstone-{self._noun}-courier")
            if self._spool is not None
            else None
        )
        self._flush_waiters: list[list[int | bool]] = []
        self._thread: threading.Thread | None = None
        self._abort = threading.Event()
        self._builder = self._builder.fresh()
        self._replay_due = 0.0  # when to look at the spool next (monotonic)
        self._replay_failures = 0
        self._final_replay_done = False

    # -- the request side -------------------------------------------------------------------

    def emit(self, exposure: Exposure) -> None:
        """Queue the exposure (O(1), no lock on the common path); never raises, never waits
        unless ``on_full="block"``."""
        try:
            queue = self._queue
            if self._accepting and len(queue) < self.queue_size:
                queue.append(exposure)  # atomic; the worker and the counters read it
                if self._idle:  # the worker waits on an empty queue
                    self._idle = False
                    self._wake.set()
                elif self._filling and len(queue) >= self.max_batch:  # a batch is full
                    self._filling = False
                    self._wake.set()
                return
            with self._lock:
                self._emit_slowly(exposure)
        except Exception:  # pragma: no cover - defensive: emit must never raise
            logger.exception("unexpected error in BatchingSink.emit")

    def emit_event(self, event: MetricEvent) -> None:
        """Queue a metric event in the events' own queue (as ``emit``: O(1), never raises,
        never waits unless ``event_on_full="block"``)."""
        try:
            lane = self._events
            if lane is None:
                lane = self._event_lane()
            lane.emit(event)  # type: ignore[arg-type]
        except Exception:  # pragma: no cover - defensive: emit_event must never raise
            logger.exception("unexpected error in BatchingSink.emit_event")

    def _event_lane(self) -> _EventLane:
        """The events' lane, made on first use (closed at once if this sink is)."""
        with self._lane_lock:
            lane = self._events
            if lane is None:
                lane = self._events = _EventLane(self)
                if self._closed:
                    lane._begin_close()
            return lane

    def _write_inner(self, batch: RecordBatch) -> None:
        """Every write to ``inner``, of either kind: one at a time."""
        with self._write_lock:
            self.inner.write_batch(batch)

    def _emit_slowly(self, exposure: Any) -> None:
        """``emit`` when the sink is closed, the queue full or the worker not started
        (holding the lock)."""
        if self._closed:
            self._reject("closed")
            return
        if self._thread is None and not self._start_worker():
            self._reject("no_worker")
            return
        queue = self._queue
        if len(queue) >= self.queue_size and not self._make_room():
            return
        queue.append(exposure)
        self._wake.set()

    def _make_room(self) -> bool:
        """The queue is full: apply ``on_full``. Holding the lock; ``True`` if there is room.
        (Threads racing through ``emit``'s unlocked check may overfill the queue by one
        exposure each; the oldest go then.)"""
        if self.on_full == "drop_oldest":
            queue = self._queue
            while len(queue) >= self.queue_size:
                queue.popleft()
                self._lose(self._left, self._left + 1, "queue_full")
                self._left += 1
            return True
        if self.on_full == "drop_newest":
            self._reject("queue_full")
            return False
        deadline = self._timer() + self.block_timeout
        while len(self._queue) >= self.queue_size:
            remaining = deadline - self._timer()
            if self._closed:
                self._reject("closed")
                return False
            if remaining <= 0:
                self._reject("block_timeout")
                return False
            self._not_full.wait(remaining)
        return True

    def _reject(self, reason: str) -> None:
        """Count an exposure that never entered the queue as dropped (holding the lock)."""
        self._rejected += 1
        position = self._left + len(self._queue)
        self._lose(position, position + 1, reason)

    def _lose(self, start: int, stop: int, reason: str, count: int = 1) -> None:
        """Count ``count`` exposures among sequence numbers ``start..stop-1`` as dropped.
        Holding the lock."""
        self._counters.drop(reason, count)
        self._mark_undelivered(start, stop)
        self._log.warning(
            reason,
            "BatchingSink dropped %s (%s); dropped so far: %s",
            self._noun,
            reason,
            self._counters.dropped_by_reason,
        )

    def _mark_undelivered(self, start: int, stop: int) -> None:
        for waiter in self._flush_waiters:
            if start < waiter[1] and stop > waiter[0]:
                waiter[2] = False

    # -- flush, close, stats ----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every exposure and event queued before the call has been handled;
        ``True`` if all of them were delivered (or were repeats), nothing was dropped since
        the previous flush, and none of this process's records wait in the spool. ``False``
        on timeout (``None``: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        lanes: list[BatchingSink] = [self]
        lane = self._events
        if lane is not None:
            lanes.append(lane)
        waiters = [(part, part._flush_register()) for part in lanes]
        delivered = True
        for part, waiter in waiters:
            delivered = part._flush_wait(waiter, deadline) and delivered
        flush_inner = getattr(self.inner, "flush", None)
        if delivered and callable(flush_inner):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                delivered = bool(flush_inner(remaining))
            except Exception:
                self._log.warning("flush", "the inner sink failed to flush", exc_info=True)
                return False
        return delivered

    def _flush_register(self) -> list[int | bool]:
        """Note what a flush waits for (what is queued now) and wake the worker."""
        with self._lock:
            target = self._left + len(self._queue)
            start = self._inflight_start if self._working else self._left
            waiter: list[int | bool] = [start, target, True]
            self._flush_waiters.append(waiter)
            self._wake.set()
            return waiter

    def _flush_wait(self, waiter: list[int | bool], deadline: float | None) -> bool:
        """Wait (until ``deadline``) for what ``waiter`` covers; whether it was all
        delivered, nothing dropped since the previous flush and nothing waits in the spool."""
        target = waiter[1]
        with self._lock:
            handled = False
            try:
                while self._left < target or (self._working and self._inflight_start < target):
                    worker_gone = self._thread is None or not self._thread.is_alive()
                    if worker_gone and (self._closed or not self._start_worker()):
                        break
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._settled.wait(remaining)
                else:
                    handled = True
            finally:
                self._flush_waiters.remove(waiter)
                dropped = sum(self._counters.dropped_by_reason.values())
                fresh_drops = dropped != self._drops_reported
                self._drops_reported = dropped
            return handled and bool(waiter[2]) and not fresh_drops and self._counters.in_spool == 0

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, stop the workers and close the inner sink, all within
        ``timeout`` seconds (default ``close_timeout``). Delivery goes on until
        ``close_grace`` before the end; then retries stop and what is left is spooled or
        dropped as ``shutdown``. If the inner sink is stuck in a write even then, ``close``
        returns anyway (what waits behind that write is dropped as ``shutdown``) and a later
        ``close`` finishes the job. Exposures and events emitted afterwards are dropped and
        counted. Idempotent."""
        timeout = self.close_timeout if timeout is None else max(0.0, timeout)
        deadline = time.monotonic() + timeout
        self._begin_close()
        lane = self._events
        settled = self._stop_worker(deadline, timeout)
        if lane is not None:
            settled = lane._stop_worker(deadline, timeout) and settled
        if not settled:
            return
        if lane is not None:
            lane._release()
        with self._lock:
            self._sweep("closed")
            if self._inner_closed:
                return
            self._inner_closed = True
        self._release()
        try:
            self.inner.close()
        except Exception:
            self._log.warning("close", "the inner sink failed to close", exc_info=True)

    def _stop_worker(self, deadline: float, timeout: float) -> bool:
        """Wait for the worker to deliver what is left and stop (retries stop
        ``close_grace`` before ``deadline``); ``False`` if it is stuck in a write even at
        the deadline (what waits behind it is then counted as ``shutdown``)."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        grace = min(self.close_grace, timeout / 2)
        thread.join(max(0.0, deadline - grace - time.monotonic()))
        if thread.is_alive():
            self._abort.set()  # stop retrying: spool or drop what is left
            thread.join(max(0.0, deadline - time.monotonic()))
        if not thread.is_alive():
            return True
        with self._lock:
            stuck = self._inflight
            self._sweep("shutdown")
        self._log.warning(
            "stuck",
            "BatchingSink: the inner sink is still busy after %.1f s; "
            "%d %s in that write are not delivered yet",
            timeout,
            stuck,
            self._noun,
        )
        return False

    def _release(self) -> None:
        """The worker is gone: let the courier's thread end and close the spool."""
        with self._lock:
            self._sweep("closed")
        if self._courier is not None:
            self._courier.stop()
        if self._spool is not None:
            self._spool.close()

    def _begin_close(self) -> None:
        """Stop accepting exposures and events and tell the workers to deliver what is left,
        without waiting (``close`` waits)."""
        with self._lock:
            self._closed = True
            self._accepting = False
            self._wake.set()
            self._not_full.notify_all()
        with self._lane_lock:
            lane = self._events
        if lane is not None:
            lane._begin_close()

    def stats(self) -> SinkStats:
        """Counters (see ``SinkStats``): exposures and events, in total and ``by_kind``."""
        lane = self._events
        events = lane._kind_stats() if lane is not None else Counters().snapshot()
        return sink_stats(self._kind_stats(), events)

    def _kind_stats(self) -> KindStats:
        """The counters of this queue's kind."""
        with self._lock:
            if self._closed and not self._worker_running():
                self._sweep("closed")
            waiting = len(self._queue)
            snapshot = self._counters.snapshot()
            snapshot["emitted"] = self._left + waiting + self._rejected
            snapshot["queued"] = waiting + self._inflight
            return snapshot

    def _worker_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _sweep(self, reason: str) -> None:
        """Count what waits in the queue as dropped for ``reason`` (holding the lock): what
        raced ``close`` in after the worker's last look, or what waits behind a stuck write."""
        queue = self._queue
        while queue:
            queue.popleft()
            self._lose(self._left, self._left + 1, reason)
            self._left += 1

    def __enter__(self) -> BatchingSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BatchingSink({self.inner!r})"

    # -- process lifecycle ------------------------------------------------------------------

    def _before_fork(self) -> None:
        self._lock.acquire()  # nobody else is then inside emit, flush or the worker's step

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        # The queue and the spool segment are the parent's, which still delivers them; the
        # child starts empty and gets a worker with its first exposure. (The events' lane, a
        # sink of its own for the fork hooks, does the same for itself.)
        self._fresh_state()
        self._write_lock = threading.Lock()
        self._lane_lock = threading.Lock()
        if self._spool is not None:
            self._spool.reset_after_fork()

    def _close_at_exit(self, timeout: float | None = None) -> None:
        self.close(timeout)

    # -- the worker -------------------------------------------------------------------------

    def _start_worker(self) -> bool:
        """Start the worker thread (holding the lock); ``False`` if that is impossible (e.g.
        at interpreter shutdown)."""
        thread = threading.Thread(target=self._run, name=f"flagstone-{self._noun}", daemon=True)
        try:
            start_quietly(thread)
        except RuntimeError:
            self._log.warning("thread", "BatchingSink could not start its worker thread")
            return False
        self._thread = thread
        self._accepting = not self._closed
        return True

    def _run(self) -> None:
        while True:
            items = self._take()
            if items is None:
                return
            try:
                self._process(items)
            except Exception:  # pragma: no cover - a bug must not kill the worker
                logger.exception("BatchingSink: unexpected error while delivering")
                with self._lock:
                    if self._working:
                        self._settle(len(items), dropped=self._inflight, reason="internal_error")

    def _take(self) -> list[Any] | None:
        """The next batch: ``None`` to stop, ``[]`` to look at the spool only. Waits (without
        the lock) until a batch is full, ``max_latency`` (``spill_interval`` while records
        wait in the spool) has passed since the worker saw the queue non-empty, or a flush or
        close asks for what there is."""
        queue = self._queue
        deadline: float | None = None if not queue else 0.0  # a backlog goes out at once
        wake = self._wake
        while True:
            size = len(queue)
            if size >= self.max_batch or (size and (self._closed or self._flush_waiters)):
                break
            now = self._timer()
            wait: float | None
            if size:
                if deadline is None:
                    latency = self.max_latency
                    if self._counters.in_spool:  # new records go to the spool: soon
                        latency = min(latency, self.spill_interval)
                    deadline = now + latency
                wait = deadline - now
                if wait <= 0:
                    break
            else:
                self._samples.clear()  # the worker caught up
                if self._closed:
                    if (
                        self._spool is not None
                        and not self._final_replay_done
                        and not self._abort.is_set()
                    ):
                        self._final_replay_done = True
                        return []  # one last look at the spool (e.g. an earlier process's)
                    return None
                deadline = None
                wait = self._spool_wait(now)
                if wait is not None and wait <= 0:
                    return []
            # Say what would wake us, then look once more: whatever an emit, flush or close
            # did before its wake-up call that this clear() may erase, the second look sees.
            if size:
                self._filling = True
            else:
                self._idle = True
            wake.clear()
            if len(queue) == size and not self._closed and not (size and self._flush_waiters):
                wake.wait(wait)
            self._idle = self._filling = False
        with self._lock:
            count = min(len(queue), self.max_batch)
            items = [queue.popleft() for _ in range(count)]
            self._inflight_start = self._left
            self._inflight = count
            self._working = True
            self._left += count
            if self.on_full == "block":
                self._not_full.notify_all()
        return items

    def _spool_wait(self, now: float) -> float | None:
        if self._spool is None:
            return None
        return self._replay_due - now

    def _process(self, items: list[Any]) -> None:
        batch = self._builder.build(items)
        deduplicated = len(items) - len(batch)
        spool = self._spool
        if spool is not None and (not items or self._counters.in_spool):
            if not items or self._timer() >= self._replay_due:
                self._replay(spool)
            if self._counters.in_spool and batch:
                self._to_spool(spool, batch, len(items), deduplicated)
                return
        if not items:
            return
        if not batch:
            with self._lock:
                self._settle(len(items), deduplicated=deduplicated)
            return
        flight = _Flight(batch, len(items), deduplicated)
        self._deliver(flight)
        self._land(flight)

    def _deliver(self, flight: _Flight) -> None:
        """Write the flight's batch, retrying with backoff, until it is delivered, the
        attempts are used up or the sink is closing; ``flight.sent`` says how far it got."""
        batch = flight.batch
        backoffs = self.retry.backoffs(self._rng)
        while not self._abort.is_set():
            error = self._write(batch.tail(flight.sent) if flight.sent else batch, flight)
            if error is None:
                flight.sent = len(batch)
                return
            if isinstance(error, PartialDelivery):
                flight.sent += max(0, min(error.delivered, len(batch) - flight.sent))
                if flight.sent == len(batch):
                    return
                self._log.warning("deliver", "the inner sink delivered part of a batch: %s", error)
            else:
                self._log.warning(
                    "deliver", "the inner sink failed to deliver a batch", exc_info=error
                )
            delay = next(backoffs, None)
            if delay is None:
                return
            with self._lock:
                self._counters.retried += 1
            if self._pause(delay, flight):
                return

    def _write(self, batch: RecordBatch, flight: _Flight | None) -> BaseException | None:
        """One write of ``batch`` to the inner sink: ``None`` if it went through, else what it
        raised. With a spool the write runs on the courier, and while it lasts the worker
        looks at the queue every ``_CHECK`` seconds (``_check_spill``)."""
        courier = self._courier
        if courier is None:
            try:
                self.inner.write_batch(batch)
            except Exception as failure:
                return failure
            return None
        if not courier.send(batch):
            return SinkError("an earlier write to the inner sink never returned")
        while True:
            done, error = courier.wait(min(_CHECK, self.spill_interval))
            if done:
                return error
            self._check_spill(flight)
            if self._abort.is_set():
                return SinkError("closing: the write to the inner sink is left behind")

    def _pause(self, delay: float, flight: _Flight) -> bool:
        """Wait ``delay`` seconds before a retry, spilling meanwhile; ``True`` if the sink is
        closing and retries must stop."""
        if self._spool is None:
            return self._abort.wait(delay)
        end = time.monotonic() + delay
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            if self._abort.wait(min(remaining, _CHECK, self.spill_interval)):
                return True
            self._check_spill(flight)

    def _check_spill(self, flight: _Flight | None) -> None:
        """While the worker waits for the destination (a write in progress, the pause before
        a retry; in a replay too): if exposures have waited in the queue for
        ``spill_interval`` or more — the destination fails, or is slower than the traffic —
        move the queue to the spool, behind the flight's batch (written ahead first, so that
        order is kept). Memory then holds no more than that batch and about
        ``spill_interval`` of traffic. (A worker that falls behind while the destination
        answers at once — the process itself is the bottleneck — keeps its queue in memory:
        the spool would only add work.)"""
        spool = self._spool
        if spool is None or self._spill_paused:
            return
        now = time.monotonic()
        samples = self._samples
        samples.append((now, self._left + len(self._queue)))
        horizon = now - self.spill_interval
        while len(samples) > 1 and samples[1][0] <= horizon:
            samples.popleft()
        sampled_at, entered = samples[0]
        if sampled_at > horizon or entered <= self._left:
            return  # nothing in the queue has waited that long
        if flight is not None and flight.ticket is None and not self._write_ahead(spool, flight):
            return
        with self._lock:
            queue = self._queue
            count = len(queue)
            items = [queue.popleft() for _ in range(count)]
            start = self._left
            self._left += count
            if self.on_full == "block":
                self._not_full.notify_all()
        samples.clear()
        batch = self._builder.build(items)
        if not self._store(spool, batch, start, count, count - len(batch)):
            self._spill_paused = True  # until the spool takes a write again

    def _write_ahead(self, spool: Spool, flight: _Flight) -> bool:
        """Put the flight's undelivered rest at the head of a new spool segment while it is
        still being tried; from then on it counts as spooled."""
        rest = flight.batch.tail(flight.sent)
        try:
            flight.ticket = spool.write_ahead(rest)
        except OSError:
            self._log.warning("spool", "BatchingSink could not write to the spool", exc_info=True)
            self._spill_paused = True
            return False
        flight.ahead_from = flight.sent
        flight.accounted = True
        self._first_in_spool()
        with self._lock:
            counters = self._counters
            counters.delivered += flight.sent
            counters.deduplicated += flight.deduplicated
            counters.spooled += len(rest)
            counters.in_spool += len(rest)
            self._inflight = 0
        return True

    def _land(self, flight: _Flight) -> None:
        """The attempts for the flight are over: count where its records ended up."""
        batch, sent, spool = flight.batch, flight.sent, self._spool
        if flight.ticket is not None:
            assert spool is not None
            after = sent - flight.ahead_from  # delivered after it was written ahead
            recorded = spool.settle(flight.ticket, after)
            with self._lock:
                if after and recorded:
                    self._counters.in_spool -= after
                    self._counters.delivered += after
                if sent < len(batch) or not recorded:
                    start = self._inflight_start
                    self._mark_undelivered(start, start + flight.taken)
                self._settle(flight.taken)
            return
        if sent == len(batch):
            with self._lock:
                self._settle(flight.taken, delivered=sent, deduplicated=flight.deduplicated)
            return
        rest = batch.tail(sent)
        if spool is not None:
            self._to_spool(spool, rest, flight.taken, flight.deduplicated, delivered=sent)
            return
        with self._lock:
            self._settle(
                flight.taken,
                delivered=sent,
                deduplicated=flight.deduplicated,
                dropped=len(rest),
                reason="shutdown" if self._abort.is_set() else "delivery_failed",
            )

    def _to_spool(
        self,
        spool: Spool,
        rest: RecordBatch,
        taken: int,
        deduplicated: int,
        delivered: int = 0,
    ) -> None:
        """Spool the in-flight batch's ``rest`` (or drop it if the spool fails) and settle."""
        with self._lock:
            start = self._inflight_start
        self._store(spool, rest, start, taken, deduplicated, delivered)
        with self._lock:
            self._settle(taken)

    def _store(
        self,
        spool: Spool,
        batch: RecordBatch,
        start: int,
        taken: int,
        deduplicated: int,
        delivered: int = 0,
    ) -> bool:
        """Append ``batch``, built from the ``taken`` exposures from sequence number
        ``start`` on, to the spool and count it (as dropped if the spool fails)."""
        try:
            spool.append(batch)
        except OSError:
            self._log.warning("spool", "BatchingSink could not write to the spool", exc_info=True)
            with self._lock:
                self._account(
                    start,
                    taken,
                    delivered=delivered,
                    deduplicated=deduplicated,
                    dropped=len(batch),
                    reason="spool_failed",
                )
            return False
        self._spill_paused = False
        self._first_in_spool()
        with self._lock:
            self._account(
                start, taken, delivered=delivered, deduplicated=deduplicated, spooled=len(batch)
            )
        self._log.warning(
            "spooled",
            "BatchingSink: the inner sink is failing or slow; %s go to the spool in %s",
            self._noun,
            spool.directory,
        )
        return True

    def _first_in_spool(self) -> None:
        """Records are about to enter the spool: if it held none of ours, replay soon."""
        if not self._counters.in_spool:
            self._replay_failures = 0
            self._replay_due = self._timer() + self.retry.backoff(0, self._rng)

    def _replay(self, spool: Spool) -> None:
        moved = 0

        def progress(own: int, foreign: int, lost: int) -> None:
            nonlocal moved
            moved += own + foreign
            with self._lock:
                counters = self._counters
                counters.delivered += own
                counters.in_spool -= own + lost
                counters.replayed += own + foreign
                counters.drop("spool_unreadable", lost)

        try:
            complete = spool.replay(self._replay_write, self.max_batch, progress)
        except Exception:  # the spool unreadable, or a bug: retry later, never spin
            self._log.warning("replay", "BatchingSink could not replay the spool", exc_info=True)
            complete = False
        now = self._timer()
        if complete:
            self._spill_paused = False
            self._replay_failures = 0
            # Records spilled while the replay ran are in a newer segment: replay them next.
            self._replay_due = now if spool.own_records else now + self.replay_interval
        else:
            if moved:  # it got somewhere before failing: the destination works, at times
                self._replay_failures = 0
            self._replay_due = now + self.retry.backoff(self._replay_failures, self._rng)
            self._replay_failures += 1
        with self._lock:
            self._settled.notify_all()

    def _replay_write(self, batch: RecordBatch) -> None:
        """How replay delivers a chunk: like any write, spilling the queue while it lasts."""
        error = self._write(batch, None)
        if error is not None:
            raise error

    def _account(
        self,
        start: int,
        taken: int,
        *,
        delivered: int = 0,
        deduplicated: int = 0,
        spooled: int = 0,
        dropped: int = 0,
        reason: str = "",
    ) -> None:
        """Count what became of the ``taken`` exposures from sequence number ``start`` on
        (holding the lock)."""
        counters = self._counters
        counters.delivered += delivered
        counters.deduplicated += deduplicated
        counters.spooled += spooled
        counters.in_spool += spooled
        if dropped:
            self._lose(start, start + taken, reason, dropped)
        elif spooled:
            self._mark_undelivered(start, start + taken)
        self._settled.notify_all()

    def _settle(
        self,
        taken: int,
        *,
        delivered: int = 0,
        deduplicated: int = 0,
        spooled: int = 0,
        dropped: int = 0,
        reason: str = "",
    ) -> None:
        """The in-flight batch is done (holding the lock)."""
        self._account(
            self._inflight_start,
            taken,
            delivered=delivered,
            deduplicated=deduplicated,
            spooled=spooled,
            dropped=dropped,
            reason=reason,
        )
        self._inflight = 0
        self._working = False


def _has_segments(directory: str) -> bool:
    """Whether ``directory`` holds spool segments (without creating it)."""
    try:
        with os.scandir(directory) as entries:
            return any(entry.name.endswith(".jsonl") for entry in entries)
    except OSError:
        return False


class _EventLane(BatchingSink):
    """The metric events of a ``BatchingSink``: the same machinery over a queue, worker,
    counters and spool of their own, with the owner's settings (``event_queue_size``,
    ``event_on_full``), writing to the owner's ``inner`` through its write lock, without
    deduplication. The owner closes it (and ``inner``); it has no exit hook of its own."""

    _noun = "events"

    def __init__(self, owner: BatchingSink) -> None:  # the owner's settings, not __init__'s
        self.inner = owner.inner
        self.max_batch = owner.max_batch
        self.max_latency = owner.max_latency
        self.queue_size = owner.event_queue_size
        self.on_full = owner.event_on_full
        self.block_timeout = owner.block_timeout
        self.retry = owner.retry
        self.close_timeout = owner.close_timeout
        self.close_grace = owner.close_grace
        self.spill_interval = owner.spill_interval
        self.replay_interval = owner.replay_interval
        self.event_queue_size = owner.event_queue_size
        self.event_on_full = owner.event_on_full
        self._builder = EventRecordBuilder()
        self._rng = owner._rng
        self._timer = owner._timer
        self._log = RateLimitedLog(logger)
        self._spool = None
        if owner._events_spool_dir is not None:
            fsync, max_bytes = owner._spool_options
            try:
                self._spool = Spool(
                    owner._events_spool_dir, fsync=fsync, max_bytes=max_bytes, kind=EVENT
                )
            except OSError:
                self._log.warning(
                    "spool",
                    "BatchingSink could not make the events' spool %s; events are delivered "
                    "without one",
                    owner._events_spool_dir,
                    exc_info=True,
                )
        self._events_spool_dir = None
        self._spool_options = owner._spool_options
        self._closed = False
        self._inner_closed = True  # ``inner`` is the owner's to close
        self._owner = owner
        self._write_lock = owner._write_lock  # not used: writes go through the owner's
        self._events = None
        self._lane_lock = threading.Lock()
        self._fresh_state()
        register_fork_hooks(self)
        with self._lock:
            self._start_worker()  # at once, so an earlier process's spooled events are replayed

    def __repr__(self) -> str:
        return f"_EventLane({self.inner!r})"
