"""``BatchingSink`` and ``RetryPolicy``: exposures leave the request thread as a queue append
and reach the destination once each, in order, in bounded batches, through failures,
overflow, shutdown and interpreter exit; every exposure stays accounted for in ``stats()``.

The destinations are in-test ``BatchWriter`` doubles (one records batches, one always
raises, one blocks on a ``threading.Event``, one fails N times then recovers, one accepts
part of a batch and raises ``PartialDelivery``). Tests synchronise on events, ``flush``
results and joins, never on sleeps, and assert no timings. Every scenario ends with
``assert_accounted``: ``emitted == delivered + deduplicated + dropped + queued + in_spool``.
"""

from __future__ import annotations

import functools
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.sinks import (
    BatchingSink,
    Exposure,
    JsonlSink,
    PartialDelivery,
    RecordBatch,
    RetryPolicy,
    SinkError,
)
from tests.sinkdata import SNAPSHOT, assert_accounted
from tests.writers import PATIENCE, BlockingWriter, FailingWriter, RecordingWriter

T0 = datetime(2026, 11, 23, 14, 36, 1, tzinfo=timezone.utc).timestamp()
WORKER_NAME = "flagstone-exposures"
FAST_RETRY = RetryPolicy(attempts=4, initial_backoff=0.001, max_backoff=0.01)
NEVER = 3600.0  # a max_latency that never elapses in a test: batches leave on flush/close/full


# -- exposures ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _client() -> flagstone.Client:
    return flagstone.Client.from_dict(SNAPSHOT)


@functools.cache
def _resolution(unit: str) -> flagstone.Resolution:
    return _client().evaluate("checkout", {"user": {"id": unit}}, apply=False)


def unit(index: int) -> str:
    return f"user-{index}"


def exposures(count: int, *, start: int = 0, applied_at: float = T0) -> list[Exposure]:
    """Fresh exposures of distinct units ``user-<start>`` …, apply times a few ms apart."""
    return [
        Exposure(_resolution(unit(index)), applied_at + index * 0.0037)
        for index in range(start, start + count)
    ]


def units_of(items: list[Exposure]) -> list[str]:
    return [item.resolution._unit for item in items]


# -- BatchWriter doubles -----------------------------------------------------------------------


class FlakyWriter(RecordingWriter):
    """Fails the first ``failures`` calls, then accepts everything."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write_batch(self, batch: RecordBatch) -> None:
        with self.lock:
            self.calls += 1
            failing = self.calls <= self.failures
        if failing:
            raise SinkError(f"failure {self.calls} of {self.failures}")
        self.accept(batch)


class PartialWriter(RecordingWriter):
    """The first call accepts the first ``accepted`` records and raises ``PartialDelivery``;
    later calls accept everything, or raise ``SinkError`` with ``then_fail``."""

    def __init__(self, accepted: int, *, then_fail: bool = False) -> None:
        super().__init__()
        self.accepted = accepted
        self.then_fail = then_fail
        self.attempted: list[list[str]] = []

    def write_batch(self, batch: RecordBatch) -> None:
        with self.lock:
            self.calls += 1
            call = self.calls
            self.attempted.append([record["targeting_key"] for record in batch.records])
        if call == 1:
            self.accept(RecordBatch(batch.records[: self.accepted]))
            raise PartialDelivery("the collector took part of the batch", delivered=self.accepted)
        if self.then_fail:
            raise SinkError("the collector is down")
        self.accept(batch)


class NotAWriter:
    def emit(self, exposure: Exposure) -> None:
        pass

    def close(self) -> None:
        pass


# -- fixtures ----------------------------------------------------------------------------------


def worker_threads(since: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread.name == WORKER_NAME and thread not in since and thread.is_alive()
    ]


@pytest.fixture
def threads_before() -> set[threading.Thread]:
    return set(threading.enumerate())


@pytest.fixture(autouse=True)
def no_worker_left_running(threads_before: set[threading.Thread]) -> Iterator[list[BatchingSink]]:
    """Each test closes the sinks it starts: no worker thread it created outlives it. (Yields
    the list of sinks ``make_sink`` made, closed here only to clean up after a failure.)"""
    made: list[BatchingSink] = []
    yield made
    leftover = worker_threads(threads_before)
    for blocker in BlockingWriter.instances:
        blocker.release.set()
    BlockingWriter.instances.clear()
    for sink in made:
        sink.close(timeout=PATIENCE)
    assert not leftover, f"worker threads still running after the test: {leftover}"


class WorkerWatch:
    """A ``timer`` for a ``BatchingSink`` that notices the worker consulting it: the worker
    does so, holding the sink's lock, on its way to wait for exposures."""

    def __init__(self, timer: Callable[[], float] = time.monotonic) -> None:
        self.timer = timer
        self.worker_waiting = threading.Event()

    def __call__(self) -> float:
        if threading.current_thread().name == WORKER_NAME:
            self.worker_waiting.set()
        return self.timer()


@pytest.fixture
def make_sink(no_worker_left_running: list[BatchingSink]) -> Callable[..., BatchingSink]:
    """``BatchingSink(inner, retry=FAST_RETRY, **options)``, returned once its worker waits
    for exposures, so the first batch, like every later one, fills for ``max_latency``
    (rather than leaving at once with whatever was queued when the worker started)."""

    def make(inner: Any, **options: Any) -> BatchingSink:
        options.setdefault("retry", FAST_RETRY)
        watch = WorkerWatch(options.pop("timer", time.monotonic))
        sink = BatchingSink(inner, timer=watch, **options)
        no_worker_left_running.append(sink)
        assert watch.worker_waiting.wait(PATIENCE)
        return sink

    return make


def emit_all(sink: BatchingSink, items: list[Exposure]) -> None:
    for item in items:
        sink.emit(item)


def start_blocked_write(sink: BatchingSink, blocker: BlockingWriter, first: Exposure) -> None:
    """Emit ``first`` and make the worker take it alone into the blocked ``write_batch``."""
    sink.emit(first)
    assert sink.flush(0.05) is False  # asks the worker for the batch; cannot complete
    assert blocker.entered.wait(PATIENCE)


# -- delivery ----------------------------------------------------------------------------------


def test_every_exposure_arrives_once_in_emit_order_in_batches_of_at_most_max_batch(
    make_sink,
) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_batch=7, max_latency=NEVER)
    items = exposures(100)

    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True
    assert writer.units == units_of(items)
    assert all(1 <= len(batch) <= 7 for batch in writer.batches)
    stats = sink.stats()
    assert (stats["emitted"], stats["delivered"], stats["queued"]) == (100, 100, 0)
    sink.close()
    assert_accounted(sink.stats())


def test_everything_emitted_before_flush_is_delivered_when_it_returns_true(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)  # nothing leaves unless asked
    items = exposures(25)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    assert writer.units == units_of(items)
    sink.close()
    assert_accounted(sink.stats())


def test_flush_with_nothing_emitted_returns_true(make_sink) -> None:
    sink = make_sink(RecordingWriter())

    assert sink.flush(PATIENCE) is True

    sink.close()
    assert_accounted(sink.stats())


def test_records_equal_the_reference_records_of_the_exposures(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    items = exposures(40, applied_at=T0 + 0.0004)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    def without_id(record: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in record.items() if key != "resolve_id"}

    records = writer.records
    assert [without_id(record) for record in records] == [
        without_id(item.to_record()) for item in items
    ]
    assert [list(record) for record in records] == [list(item.to_record()) for item in items]
    sink.close()
    assert_accounted(sink.stats())


def test_each_record_carries_its_exposures_resolve_id(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    given = Exposure(_resolution("user-given"), T0, resolve_id="ab" * 16)
    items = [*exposures(10), given]
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    ids = [record["resolve_id"] for record in writer.records]
    assert ids == [item.resolve_id for item in items]
    assert ids[-1] == "ab" * 16
    assert all(re.fullmatch(r"[0-9a-f]{32}", resolve_id) for resolve_id in ids)
    assert len(set(ids)) == len(ids)
    sink.close()
    assert_accounted(sink.stats())


def test_lines_are_the_compact_json_of_the_records(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    emit_all(sink, exposures(40))

    assert sink.flush(PATIENCE) is True

    for records, lines in zip(writer.batches, writer.line_batches, strict=True):
        assert lines == [json.dumps(record, separators=(",", ":")) for record in records]
    sink.close()
    assert_accounted(sink.stats())


# -- the request thread is never held up -------------------------------------------------------


def test_emit_returns_at_once_while_the_destination_is_blocked(make_sink) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER)
    first, *rest = exposures(10_001)
    start_blocked_write(sink, blocker, first)

    emit_all(sink, rest)  # on this thread: each call must return while the write is stuck

    assert not blocker.release.is_set()
    assert blocker.writing == 1
    assert sink.flush(0.05) is False
    stats = sink.stats()
    assert (stats["emitted"], stats["queued"], stats["delivered"]) == (10_001, 10_001, 0)
    assert_accounted(stats)

    blocker.release.set()
    assert sink.flush(PATIENCE) is True
    assert blocker.units == units_of([first, *rest])
    assert all(len(batch) <= 500 for batch in blocker.batches)
    sink.close()
    assert_accounted(sink.stats())


# -- retries and failures ----------------------------------------------------------------------


def test_a_destination_that_fails_fewer_times_than_the_attempts_gets_everything_once(
    make_sink,
) -> None:
    failures = FAST_RETRY.attempts - 1
    writer = FlakyWriter(failures)
    sink = make_sink(writer, max_batch=10, max_latency=NEVER)
    items = exposures(35)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    assert writer.units == units_of(items)
    stats = sink.stats()
    assert stats["dropped"] == 0
    assert stats["retried"] == failures
    assert stats["delivered"] == 35
    sink.close()
    assert_accounted(sink.stats())


def test_a_batch_the_destination_always_refuses_is_tried_attempts_times_then_dropped(
    make_sink,
) -> None:
    writer = FailingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    items = exposures(10)
    emit_all(sink, items)  # one batch: nothing leaves before the flush

    assert sink.flush(PATIENCE) is False

    assert writer.attempted == [units_of(items)] * FAST_RETRY.attempts
    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"delivery_failed": 10}
    assert stats["delivered"] == 0
    assert stats["retried"] == FAST_RETRY.attempts - 1
    sink.close()
    assert_accounted(sink.stats())


def test_emit_never_raises_and_every_refused_exposure_is_counted_as_delivery_failed(
    make_sink,
) -> None:
    writer = FailingWriter()
    sink = make_sink(writer, max_batch=8, max_latency=0.001)
    items = exposures(50)

    emit_all(sink, items)

    assert sink.flush(PATIENCE) is False
    stats = sink.stats()
    assert stats["emitted"] == 50
    assert stats["dropped_by_reason"] == {"delivery_failed": 50}
    assert stats["delivered"] == 0
    batches = writer.calls // FAST_RETRY.attempts
    assert writer.calls == batches * FAST_RETRY.attempts
    assert stats["retried"] == batches * (FAST_RETRY.attempts - 1)
    sink.close()
    assert_accounted(sink.stats())


def test_a_policy_of_one_attempt_never_retries(make_sink) -> None:
    writer = FailingWriter()
    sink = make_sink(writer, max_latency=NEVER, retry=RetryPolicy(attempts=1))
    emit_all(sink, exposures(5))

    assert sink.flush(PATIENCE) is False

    assert writer.calls == 1
    stats = sink.stats()
    assert stats["retried"] == 0
    assert stats["dropped_by_reason"] == {"delivery_failed": 5}
    sink.close()
    assert_accounted(sink.stats())


def test_after_a_partial_delivery_only_the_rest_is_retried(make_sink) -> None:
    writer = PartialWriter(accepted=3)
    sink = make_sink(writer, max_latency=NEVER)
    items = exposures(10)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    assert writer.attempted == [units_of(items), units_of(items[3:])]
    assert writer.units == units_of(items)  # each record once
    stats = sink.stats()
    assert (stats["delivered"], stats["retried"], stats["dropped"]) == (10, 1, 0)
    sink.close()
    assert_accounted(sink.stats())


def test_after_a_partial_delivery_only_the_undelivered_rest_is_dropped(make_sink) -> None:
    writer = PartialWriter(accepted=4, then_fail=True)
    sink = make_sink(writer, max_latency=NEVER)
    items = exposures(10)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is False

    assert writer.attempted == [units_of(items)] + [units_of(items[4:])] * (FAST_RETRY.attempts - 1)
    assert writer.units == units_of(items[:4])
    stats = sink.stats()
    assert stats["delivered"] == 4
    assert stats["dropped_by_reason"] == {"delivery_failed": 6}
    sink.close()
    assert_accounted(sink.stats())


class WholeBatchPartialWriter(RecordingWriter):
    """Accepts every batch; the first call still raises ``PartialDelivery`` saying all its
    records got through."""

    def write_batch(self, batch: RecordBatch) -> None:
        super().write_batch(batch)
        if self.calls == 1:
            raise PartialDelivery("took everything, then failed", delivered=len(batch))


def test_a_partial_delivery_of_the_whole_batch_is_not_retried(make_sink) -> None:
    writer = WholeBatchPartialWriter()
    items = exposures(5)
    with make_sink(writer, max_latency=NEVER) as sink:
        emit_all(sink, items)

        assert sink.flush(PATIENCE) is True

        assert writer.units == units_of(items)
        assert [len(batch) for batch in writer.batches] == [5]
        assert sink.stats()["retried"] == 0
    assert_accounted(sink.stats())


# -- a full queue ------------------------------------------------------------------------------


def test_drop_oldest_keeps_the_newest_exposures(make_sink) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER, queue_size=3, on_full="drop_oldest")
    items = exposures(7)
    start_blocked_write(sink, blocker, items[0])

    emit_all(sink, items[1:])

    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"queue_full": 3}
    assert stats["queued"] == 4  # three waiting, one being written
    assert_accounted(stats)
    blocker.release.set()
    assert sink.flush(PATIENCE) is False  # it reports the drops…
    assert sink.flush(PATIENCE) is True  # …once
    assert blocker.units == units_of([items[0], *items[4:]])
    sink.close()
    assert_accounted(sink.stats())


def test_drop_newest_keeps_the_oldest_exposures(make_sink) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER, queue_size=3, on_full="drop_newest")
    items = exposures(7)
    start_blocked_write(sink, blocker, items[0])

    emit_all(sink, items[1:])

    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"queue_full": 3}
    assert_accounted(stats)
    blocker.release.set()
    assert sink.flush(PATIENCE) is False  # it reports the drops…
    assert sink.flush(PATIENCE) is True  # …once
    assert blocker.units == units_of(items[:4])
    sink.close()
    assert_accounted(sink.stats())


def test_block_drops_the_new_exposure_when_no_room_is_made_within_block_timeout(
    make_sink,
) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER, queue_size=1, on_full="block", block_timeout=0.001)
    items = exposures(4)
    start_blocked_write(sink, blocker, items[0])
    sink.emit(items[1])  # fills the queue

    emit_all(sink, items[2:])  # each waits block_timeout, then gives up

    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"block_timeout": 2}
    assert_accounted(stats)
    blocker.release.set()
    assert sink.flush(PATIENCE) is False  # it reports the drops…
    assert sink.flush(PATIENCE) is True  # …once
    assert blocker.units == units_of(items[:2])
    sink.close()
    assert_accounted(sink.stats())


def test_block_lets_a_waiting_emit_through_as_soon_as_room_is_made(make_sink) -> None:
    blocker = BlockingWriter()
    emitter: list[threading.Thread] = []
    waiting = threading.Event()  # the emitter is inside emit, waiting for room
    finished = threading.Event()

    def timer() -> float:
        if emitter and threading.current_thread() is emitter[0]:
            waiting.set()
        return time.monotonic()

    sink = make_sink(
        blocker,
        max_latency=NEVER,
        queue_size=1,
        on_full="block",
        block_timeout=4 * PATIENCE,
        timer=timer,
    )
    items = exposures(3)
    start_blocked_write(sink, blocker, items[0])
    sink.emit(items[1])  # fills the queue

    def emit_last() -> None:
        sink.emit(items[2])
        finished.set()

    emitter.append(threading.Thread(target=emit_last))
    emitter[0].start()
    assert waiting.wait(PATIENCE)
    assert not finished.is_set()  # the queue is full and the destination stuck: still waiting

    blocker.release.set()  # the worker takes the queued exposure: room for one
    emitter[0].join(PATIENCE)

    assert finished.is_set()
    assert sink.flush(PATIENCE) is True
    assert blocker.units == units_of(items)
    assert sink.stats()["dropped"] == 0
    sink.close()
    assert_accounted(sink.stats())


# -- deduplication -----------------------------------------------------------------------------


def test_repeats_within_the_window_are_counted_as_deduplicated_not_delivered(
    make_sink,
) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    resolution = _resolution("user-repeat")
    repeats = [Exposure(resolution, T0 + offset) for offset in (0.0, 1.0, 60.0, 119.9)]
    emit_all(sink, [*repeats, *exposures(3)])

    assert sink.flush(PATIENCE) is True

    assert writer.units == ["user-repeat", "user-0", "user-1", "user-2"]
    stats = sink.stats()
    assert (stats["delivered"], stats["deduplicated"]) == (4, 3)
    sink.close()
    assert_accounted(sink.stats())


def test_a_repeat_after_the_window_is_delivered_again(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    resolution = _resolution("user-repeat")
    emit_all(sink, [Exposure(resolution, T0), Exposure(resolution, T0 + 121.0)])

    assert sink.flush(PATIENCE) is True

    assert writer.units == ["user-repeat", "user-repeat"]
    assert sink.stats()["deduplicated"] == 0
    sink.close()
    assert_accounted(sink.stats())


def test_without_dedup_every_repeat_is_delivered(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER, dedup=False)
    resolution = _resolution("user-repeat")
    emit_all(sink, [Exposure(resolution, T0) for _ in range(5)])

    assert sink.flush(PATIENCE) is True

    assert writer.units == ["user-repeat"] * 5
    stats = sink.stats()
    assert (stats["delivered"], stats["deduplicated"]) == (5, 0)
    sink.close()
    assert_accounted(sink.stats())


# -- close -------------------------------------------------------------------------------------


def test_close_delivers_what_is_queued_and_closes_the_destination(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    items = exposures(30)
    emit_all(sink, items)

    sink.close()

    assert writer.units == units_of(items)
    assert writer.close_calls == 1
    stats = sink.stats()
    assert (stats["delivered"], stats["queued"]) == (30, 0)
    assert_accounted(stats)


def test_exposures_emitted_after_close_are_dropped_as_closed(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer)
    sink.close()

    emit_all(sink, exposures(3))

    assert writer.records == []
    stats = sink.stats()
    assert stats["emitted"] == 3
    assert stats["dropped_by_reason"] == {"closed": 3}
    assert_accounted(stats)


def test_close_is_idempotent(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    emit_all(sink, exposures(5))
    sink.close()

    sink.close()

    assert writer.close_calls == 1
    assert sink.stats()["delivered"] == 5
    assert_accounted(sink.stats())


def test_close_gives_up_on_a_failing_destination_after_close_timeout(make_sink) -> None:
    writer = FailingWriter()
    patient = RetryPolicy(attempts=5, initial_backoff=NEVER, max_backoff=NEVER, jitter=0)
    sink = make_sink(writer, max_latency=NEVER, retry=patient, close_timeout=0.01)
    emit_all(sink, exposures(20))

    sink.close()  # the first failure would wait an hour for its retry

    assert writer.closed
    stats = sink.stats()
    assert stats["dropped"] == 20
    assert set(stats["dropped_by_reason"]) <= {"shutdown", "delivery_failed"}
    assert (stats["queued"], stats["delivered"]) == (0, 0)
    assert_accounted(stats)


def test_close_returns_while_the_destination_is_blocked_forever(make_sink, threads_before) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER, close_timeout=0.01)
    items = exposures(5)
    start_blocked_write(sink, blocker, items[0])
    emit_all(sink, items[1:])

    sink.close()  # returns although the write never finishes

    assert not blocker.release.is_set()
    assert blocker.writing == 1
    stats = sink.stats()
    assert stats["delivered"] == 0
    assert_accounted(stats)
    # let the stuck worker finish so that no thread outlives the test
    blocker.release.set()
    for thread in worker_threads(threads_before):
        thread.join(PATIENCE)
        assert not thread.is_alive()
    assert_accounted(sink.stats())


def test_closing_again_after_a_stuck_close_closes_the_destination(
    make_sink, threads_before
) -> None:
    blocker = BlockingWriter()
    sink = make_sink(blocker, max_latency=NEVER, close_timeout=0.01)
    start_blocked_write(sink, blocker, exposures(1)[0])
    sink.close()  # gives up: the write is stuck
    blocker.release.set()
    for thread in worker_threads(threads_before):
        thread.join(PATIENCE)

    sink.close()

    assert blocker.closed
    assert_accounted(sink.stats())


# -- flush -------------------------------------------------------------------------------------


def test_flush_is_false_when_an_exposure_queued_before_it_was_dropped(make_sink) -> None:
    writer = FlakyWriter(failures=FAST_RETRY.attempts)  # exactly the first batch fails
    sink = make_sink(writer, max_latency=NEVER)
    emit_all(sink, exposures(3))

    assert sink.flush(PATIENCE) is False

    assert sink.stats()["dropped_by_reason"] == {"delivery_failed": 3}
    sink.close()
    assert_accounted(sink.stats())


def test_a_later_flush_is_true_again_when_the_later_exposures_are_all_delivered(
    make_sink,
) -> None:
    writer = FlakyWriter(failures=FAST_RETRY.attempts)
    sink = make_sink(writer, max_latency=NEVER)
    emit_all(sink, exposures(3))
    assert sink.flush(PATIENCE) is False
    later = exposures(4, start=3)
    emit_all(sink, later)

    assert sink.flush(PATIENCE) is True

    assert writer.units == units_of(later)
    sink.close()
    assert_accounted(sink.stats())


# -- interpreter exit --------------------------------------------------------------------------


def test_an_unclosed_sink_delivers_its_queue_when_the_interpreter_exits(tmp_path: Path) -> None:
    path = tmp_path / "exposures.jsonl"
    script = f"""
import json, sys
import flagstone
from flagstone.sinks import BatchingSink, JsonlSink
SNAPSHOT = json.loads({json.dumps(SNAPSHOT)!r})
sink = BatchingSink(JsonlSink(sys.argv[1]), max_latency=60)
client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
for index in range(1000):
    client.evaluate("checkout", {{"user": {{"id": f"user-{{index}}"}}}})
"""

    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], timeout=60, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    lines = path.read_text().splitlines()
    assert len(lines) == 1000
    assert {json.loads(line)["targeting_key"] for line in lines} == {
        unit(index) for index in range(1000)
    }


# -- the client --------------------------------------------------------------------------------


def evaluate_for(client: flagstone.Client, count: int) -> None:
    for index in range(count):
        client.evaluate("checkout", {"user": {"id": unit(index)}})


def test_client_close_delivers_everything_queued_in_its_batching_sink(make_sink) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate_for(client, 50)

    client.close()

    assert writer.units == [unit(index) for index in range(50)]
    assert writer.closed
    assert_accounted(sink.stats())


def test_client_flush_returns_true_once_its_batching_sink_delivered_everything(
    make_sink,
) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=NEVER)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate_for(client, 50)

    assert client.flush(PATIENCE) is True

    assert writer.units == [unit(index) for index in range(50)]
    client.close()
    assert_accounted(sink.stats())


def test_a_jsonl_file_behind_a_batching_sink_gets_the_reference_lines(make_sink, tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = make_sink(JsonlSink(path), max_latency=NEVER)
    items = exposures(20)
    emit_all(sink, items)

    assert sink.flush(PATIENCE) is True

    lines = path.read_text().splitlines()
    assert lines == [json.dumps(item.to_record(), separators=(",", ":")) for item in items]
    sink.close()
    assert_accounted(sink.stats())


# -- RetryPolicy -------------------------------------------------------------------------------


def test_backoff_grows_by_the_multiplier_up_to_max_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.5, multiplier=3.0, max_backoff=10.0, jitter=0)

    waits = [policy.backoff(retry) for retry in range(6)]

    assert waits == pytest.approx([0.5, 1.5, 4.5, 10.0, 10.0, 10.0])


def test_backoff_of_a_huge_retry_number_is_max_backoff() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=10.0, jitter=0)

    assert policy.backoff(100_000) == 10.0


def test_jittered_backoffs_lie_between_the_shortened_and_the_full_wait() -> None:
    policy = RetryPolicy(initial_backoff=0.1, multiplier=2.0, max_backoff=5.0, jitter=0.3)
    rng = random.Random(1234)

    for retry in range(12):
        ceiling = min(5.0, 0.1 * 2.0**retry)
        for _ in range(50):
            wait = policy.backoff(retry, rng)
            assert (1 - 0.3) * ceiling <= wait <= ceiling


def test_jitter_actually_varies_the_waits() -> None:
    policy = RetryPolicy(initial_backoff=1.0, jitter=0.5)
    rng = random.Random(99)

    assert len({policy.backoff(0, rng) for _ in range(20)}) > 1


def test_the_same_seed_gives_the_same_backoffs() -> None:
    policy = RetryPolicy(attempts=8, jitter=0.5)

    assert list(policy.backoffs(random.Random(7))) == list(policy.backoffs(random.Random(7)))


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_backoffs_are_the_waits_between_attempts(attempts: int) -> None:
    policy = RetryPolicy(attempts=attempts, initial_backoff=0.2, max_backoff=1.0, jitter=0)

    assert list(policy.backoffs()) == [policy.backoff(retry) for retry in range(attempts - 1)]


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"initial_backoff": -0.1},
        {"max_backoff": -1.0},
        {"multiplier": 0.5},
        {"jitter": -0.1},
        {"jitter": 1.5},
    ],
    ids=repr,
)
def test_retry_policy_rejects_invalid_arguments(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**options)


# -- constructor validation --------------------------------------------------------------------


def test_an_inner_sink_without_write_batch_is_a_type_error(threads_before) -> None:
    with pytest.raises(TypeError, match="write_batch"):
        BatchingSink(NotAWriter())  # type: ignore[arg-type]

    assert worker_threads(threads_before) == []


@pytest.mark.parametrize(
    "options",
    [
        {"on_full": "drop_everything"},
        {"max_batch": 0},
        {"queue_size": 0},
        {"max_latency": -1.0},
        {"block_timeout": -1.0},
        {"close_timeout": -1.0},
    ],
    ids=repr,
)
def test_invalid_batching_options_are_a_value_error(options, threads_before) -> None:
    with pytest.raises(ValueError):
        BatchingSink(RecordingWriter(), **options)

    assert worker_threads(threads_before) == []


# -- many request threads ----------------------------------------------------------------------


@pytest.mark.parametrize("max_latency", [0.0, 0.002, NEVER])
def test_exposures_from_many_threads_are_each_delivered_once(make_sink, max_latency) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=max_latency, max_batch=64)
    threads = 8
    per_thread = 1_000
    start = threading.Barrier(threads)

    def produce(offset: int) -> None:
        items = exposures(per_thread, start=offset * per_thread)
        start.wait()
        for index, item in enumerate(items):
            sink.emit(item)
            if index % 250 == 0:
                sink.flush(0)  # flushes racing the emits and the worker

    workers = [threading.Thread(target=produce, args=(offset,)) for offset in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(PATIENCE)

    assert sink.flush(PATIENCE) is True
    assert sorted(writer.units) == sorted(unit(index) for index in range(threads * per_thread))
    stats = sink.stats()
    assert (stats["emitted"], stats["delivered"], stats["dropped"]) == (8_000, 8_000, 0)
    assert_accounted(stats)
    sink.close()


def test_an_idle_worker_wakes_for_a_single_exposure_without_waiting_for_a_timeout(
    make_sink,
) -> None:
    writer = RecordingWriter()
    sink = make_sink(writer, max_latency=0.0)
    for index in range(200):  # each one alone in the queue of an idle worker
        sink.emit(exposures(1, start=index)[0])
        assert sink.flush(PATIENCE) is True
    assert writer.units == [unit(index) for index in range(200)]
    sink.close()


def test_close_wakes_an_idle_worker_at_once(make_sink) -> None:
    sink = make_sink(RecordingWriter(), max_latency=NEVER)
    sink.close(timeout=PATIENCE)
    assert sink._thread is not None and not sink._thread.is_alive()
