"""``BatchingSink``: exposures leave the request thread at the cost of a queue append.

The request thread only appends the ``Exposure`` to a bounded deque under a short lock (no
I/O, no formatting). A worker thread takes batches (up to ``max_batch``, or what has waited
``max_latency``), builds the records (dedup, ids, times, JSON) and writes them to the inner
``BatchWriter``, retrying failures with exponential backoff and jitter. A batch that still
fails goes to the spool when one is configured (replayed, in order, before anything newer
once the destination works again, and by the next process that uses the directory);
otherwise it is dropped and counted. Every exposure is accounted for in ``stats()``:
``emitted == delivered + deduplicated + dropped + queued + in_spool``.

Fork: the child starts with an empty queue, fresh counters and no worker (one starts on its
first exposure); the parent keeps delivering what it had queued. Exit: sinks nobody closed
are closed (flushed) by an ``atexit`` hook, within ``close_timeout``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from ..errors import PartialDelivery
from ..process.hooks import close_at_exit, register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from .base import BatchWriter, Counters, SinkStats
from .exposure import DEDUP_TTL_SECONDS, Exposure
from .records import RecordBatch, RecordBuilder
from .retry import RetryPolicy
from .spool import Spool

__all__ = ["BatchingSink", "OnFull"]

logger = logging.getLogger("flagstone.sinks")

OnFull = Literal["drop_oldest", "drop_newest", "block"]


class BatchingSink:
    """Delivers exposures to ``inner`` in batches, from a worker thread.

    ``max_batch``
        most records per ``write_batch`` call (default 500).
    ``max_latency``
        longest an exposure waits for its batch to fill, in seconds (default 1.0).
    ``queue_size``
        most exposures waiting in memory (default 100 000); past it ``on_full`` decides:
        ``"drop_oldest"`` (default), ``"drop_newest"``, or ``"block"`` (the request thread
        waits at most ``block_timeout`` seconds for room, then drops the new one).
    ``retry``
        a ``RetryPolicy`` (default: 5 attempts, backoff from 0.1 s doubling to 10 s, jitter).
    ``spool_dir``
        where batches that exhausted their retries are kept (JSON Lines) until they can be
        delivered; replayed in order, before newer batches, and by the next process started
        with the same directory. Without it, such batches are dropped and counted.
    ``spool_fsync``, ``spool_max_bytes``
        fsync every spool write (default on); bound on this process's spool (1 GiB).
    ``replay_interval``
        how often an idle sink looks for segments left by processes that died (30 s).
    ``close_timeout``
        how long ``close()`` (and the exit hook) waits for delivery (5 s); after that,
        retries stop and what is left is spooled or dropped as ``shutdown``.
    ``dedup``, ``dedup_ttl``, ``dedup_maxsize``
        drop repeats of an exposure within 120 s (Confidence's rule).
    """

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
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(getattr(inner, "write_batch", None)):
            raise TypeError(
                f"inner must have write_batch(batch) (a BatchWriter such as JsonlSink, "
                f"HttpSink, LoggingSink, CallbackSink or MemorySink), not {type(inner).__name__}"
            )
        if max_batch < 1 or queue_size < 1:
            raise ValueError("max_batch and queue_size must be positive")
        if max_latency < 0 or block_timeout < 0 or close_timeout < 0 or replay_interval <= 0:
            raise ValueError("max_latency, block_timeout and close_timeout must be >= 0")
        if on_full not in ("drop_oldest", "drop_newest", "block"):
            raise ValueError('on_full must be "drop_oldest", "drop_newest" or "block"')
        self.inner = inner
        self.max_batch = max_batch
        self.max_latency = max_latency
        self.queue_size = queue_size
        self.on_full: OnFull = on_full
        self.block_timeout = block_timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.close_timeout = close_timeout
        self.replay_interval = replay_interval
        self._builder = RecordBuilder.with_dedup(dedup, dedup_ttl, dedup_maxsize)
        self._rng = rng or random.Random()
        self._timer = timer
        self._log = RateLimitedLog(logger)
        self._spool = (
            Spool(spool_dir, fsync=spool_fsync, max_bytes=spool_max_bytes)
            if spool_dir is not None
            else None
        )
        self._closed = False
        self._inner_closed = False
        self._fresh_state()
        register_fork_hooks(self)
        close_at_exit(self)
        with self._lock:
            self._start_worker()  # at once, so an earlier process's spool is replayed

    def _fresh_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by emit, flush and close for an idle worker
        self._not_full = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[Exposure] = deque()
        self._counters = Counters()
        self._rejected = 0  # exposures emitted that never entered the queue (all dropped)
        self._accepting = False  # open, with a worker: emit may take its fast path
        self._idle = False  # the worker waits on an empty queue: wake it on an exposure
        self._filling = False  # the worker waits for a batch to fill: wake it when full
        self._left = 0  # exposures that left the queue (taken or dropped), in order
        self._inflight_start = 0
        self._inflight = 0
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

    def _emit_slowly(self, exposure: Exposure) -> None:
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
            "BatchingSink dropped exposures (%s); dropped so far: %s",
            reason,
            self._counters.dropped_by_reason,
        )

    def _mark_undelivered(self, start: int, stop: int) -> None:
        for waiter in self._flush_waiters:
            if start < waiter[1] and stop > waiter[0]:
                waiter[2] = False

    # -- flush, close, stats ----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every exposure queued before the call has been handled; ``True`` if all
        of them were delivered (or were repeats) and none of this process's records wait in
        the spool. ``False`` on timeout (``None``: wait as long as it takes)."""
        deadline = None if timeout is None else self._timer() + timeout
        with self._lock:
            target = self._left + len(self._queue)
            start = self._inflight_start if self._inflight else self._left
            waiter: list[int | bool] = [start, target, True]
            self._flush_waiters.append(waiter)
            try:
                self._wake.set()
                while self._left < target or (self._inflight and self._inflight_start < target):
                    worker_gone = self._thread is None or not self._thread.is_alive()
                    if worker_gone and (self._closed or not self._start_worker()):
                        return False
                    remaining = None if deadline is None else deadline - self._timer()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._settled.wait(remaining)
                delivered = bool(waiter[2]) and self._counters.in_spool == 0
            finally:
                self._flush_waiters.remove(waiter)
        flush_inner = getattr(self.inner, "flush", None)
        if delivered and callable(flush_inner):
            remaining = None if deadline is None else max(0.0, deadline - self._timer())
            try:
                delivered = bool(flush_inner(remaining))
            except Exception:
                self._log.warning("flush", "the inner sink failed to flush", exc_info=True)
                return False
        return delivered

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued (within ``timeout``, default ``close_timeout``), stop the
        worker and close the inner sink. Past the timeout retries stop, and the worker gets up
        to one more second to spool or drop what is left; if the inner sink is stuck in a
        write even then, ``close`` returns anyway and a later ``close`` finishes the job.
        Exposures emitted afterwards are dropped and counted. Idempotent."""
        timeout = self.close_timeout if timeout is None else timeout
        with self._lock:
            self._closed = True
            self._accepting = False
            self._wake.set()
            self._not_full.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self._abort.set()  # stop retrying: spool or drop what is left
                thread.join(1.0)
            if thread.is_alive():
                self._log.warning(
                    "stuck",
                    "BatchingSink: the inner sink is still busy after %.1f s; "
                    "%d exposures not delivered",
                    timeout,
                    len(self._queue) + self._inflight,
                )
                return
        with self._lock:
            self._sweep_after_close()
            if self._inner_closed:
                return
            self._inner_closed = True
        try:
            self.inner.close()
        except Exception:
            self._log.warning("close", "the inner sink failed to close", exc_info=True)
        if self._spool is not None:
            self._spool.close()

    def stats(self) -> SinkStats:
        """Counters (see ``SinkStats``)."""
        with self._lock:
            if self._closed and not self._worker_running():
                self._sweep_after_close()
            waiting = len(self._queue)
            snapshot = self._counters.snapshot()
            snapshot["emitted"] = self._left + waiting + self._rejected
            snapshot["queued"] = waiting + self._inflight
            return snapshot

    def _worker_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _sweep_after_close(self) -> None:
        """Exposures that raced ``close`` into the queue after the worker's last look: count
        them as dropped (holding the lock)."""
        queue = self._queue
        while queue:
            queue.popleft()
            self._lose(self._left, self._left + 1, "closed")
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
        # child starts empty and gets a worker with its first exposure.
        self._fresh_state()
        if self._spool is not None:
            self._spool.reset_after_fork()

    def _close_at_exit(self) -> None:
        self.close()

    # -- the worker -------------------------------------------------------------------------

    def _start_worker(self) -> bool:
        """Start the worker thread (holding the lock); ``False`` if that is impossible (e.g.
        at interpreter shutdown)."""
        thread = threading.Thread(target=self._run, name="flagstone-exposures", daemon=True)
        try:
            thread.start()
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
                    self._settle(len(items), dropped=self._inflight, reason="internal_error")

    def _take(self) -> list[Exposure] | None:
        """The next batch: ``None`` to stop, ``[]`` to look at the spool only. Waits (without
        the lock) until a batch is full, ``max_latency`` has passed since the worker saw the
        queue non-empty, or a flush or close asks for what there is."""
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
                    deadline = now + self.max_latency
                wait = deadline - now
                if wait <= 0:
                    break
            else:
                if self._closed:
                    if self._spool is not None and not self._final_replay_done:
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
            self._left += count
            if self.on_full == "block":
                self._not_full.notify_all()
        return items

    def _spool_wait(self, now: float) -> float | None:
        if self._spool is None:
            return None
        return self._replay_due - now

    def _process(self, items: list[Exposure]) -> None:
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
        sent = self._deliver(batch) if batch else 0
        if sent == len(batch):
            with self._lock:
                self._settle(len(items), delivered=sent, deduplicated=deduplicated)
            return
        rest = batch.tail(sent)
        if spool is not None:
            self._to_spool(spool, rest, len(items), deduplicated, delivered=sent)
            return
        with self._lock:
            self._settle(
                len(items),
                delivered=sent,
                deduplicated=deduplicated,
                dropped=len(rest),
                reason="shutdown" if self._abort.is_set() else "delivery_failed",
            )

    def _deliver(self, batch: RecordBatch) -> int:
        """Write ``batch`` with retries; how many of its records got through."""
        sent = 0
        backoffs = self.retry.backoffs(self._rng)
        while True:
            try:
                self.inner.write_batch(batch.tail(sent) if sent else batch)
                return len(batch)
            except PartialDelivery as partial:
                sent += max(0, min(partial.delivered, len(batch) - sent))
                if sent == len(batch):
                    return sent
                self._log.warning(
                    "deliver", "the inner sink delivered part of a batch: %s", partial
                )
            except Exception:
                self._log.warning(
                    "deliver", "the inner sink failed to deliver a batch", exc_info=True
                )
            delay = next(backoffs, None)
            if delay is None or self._abort.is_set():
                return sent
            with self._lock:
                self._counters.retried += 1
            if self._abort.wait(delay):
                return sent

    def _to_spool(
        self,
        spool: Spool,
        rest: RecordBatch,
        taken: int,
        deduplicated: int,
        delivered: int = 0,
    ) -> None:
        try:
            spool.append(rest)
        except OSError:
            self._log.warning("spool", "BatchingSink could not write to the spool", exc_info=True)
            with self._lock:
                self._settle(
                    taken,
                    delivered=delivered,
                    deduplicated=deduplicated,
                    dropped=len(rest),
                    reason="spool_failed",
                )
            return
        if not self._counters.in_spool:  # the first batch of an outage: replay it soon
            self._replay_failures = 0
            self._replay_due = self._timer() + self.retry.backoff(0, self._rng)
        with self._lock:
            self._settle(taken, delivered=delivered, deduplicated=deduplicated, spooled=len(rest))
        self._log.warning(
            "spooled",
            "BatchingSink: the inner sink is failing; batches go to the spool in %s",
            spool.directory,
        )

    def _replay(self, spool: Spool) -> None:
        def progress(own: int, foreign: int, lost: int) -> None:
            with self._lock:
                counters = self._counters
                counters.delivered += own
                counters.in_spool -= own + lost
                counters.replayed += own + foreign
                counters.drop("spool_unreadable", lost)

        try:
            complete = spool.replay(self.inner.write_batch, self.max_batch, progress)
        except Exception:  # the spool unreadable, or a bug: retry later, never spin
            self._log.warning("replay", "BatchingSink could not replay the spool", exc_info=True)
            complete = False
        now = self._timer()
        if complete:
            self._replay_failures = 0
            self._replay_due = now + self.replay_interval
        else:
            self._replay_due = now + self.retry.backoff(self._replay_failures, self._rng)
            self._replay_failures += 1
        with self._lock:
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
        counters = self._counters
        counters.delivered += delivered
        counters.deduplicated += deduplicated
        counters.spooled += spooled
        counters.in_spool += spooled
        start = self._inflight_start
        if dropped:
            self._lose(start, start + taken, reason, dropped)
        elif spooled:
            self._mark_undelivered(start, start + taken)
        self._inflight = 0
        self._settled.notify_all()
