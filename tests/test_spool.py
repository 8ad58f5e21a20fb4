"""The spool: batches a destination refused, kept on disk and replayed in order, exactly once.

Two levels. ``BatchingSink(..., spool_dir=...)`` in front of a destination that can be
switched down and up (``Destination``): what was refused after all retries is spooled and
counted, is delivered first and in order once the destination is back, survives the sink
(a new sink on the directory replays it) and survives a ``SIGKILL`` of the process writing
it (scripts in ``tests/scripts/``). And ``flagstone.sinks.spool.Spool`` on its own: chunked
replay, progress kept across failed and partial deliveries, torn and invalid lines skipped,
segments locked by a live writer left alone, the size bound.

Waiting is always on an event (``Destination.wait_for``, ``flush`` with a generous timeout,
``close`` joining the worker). Where a test needs "the replay is due" to be decided by the
test, the sink runs on a ``ManualClock``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
from flagstone.sinks.spool import Spool, SpoolFull
from tests.sinkdata import SNAPSHOT, assert_accounted

SCRIPTS = Path(__file__).resolve().parent / "scripts"
WAIT = 30.0  # generous bound for anything awaited; never reached when things work
ATTEMPTS = 4
QUICK = RetryPolicy(attempts=ATTEMPTS, initial_backoff=0.001, max_backoff=0.01)

CLIENT = flagstone.Client.from_dict(SNAPSHOT)


def exposure(unit: str) -> Exposure:
    """A fresh exposure of ``unit``; distinct units are never deduplicated."""
    return Exposure(CLIENT.evaluate("checkout", {"user": {"id": unit}}, apply=False), time.time())


def units(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}" for n in range(count)]


class Destination:
    """A ``BatchWriter`` that is up or down (``up``); keeps the targeting keys it received,
    in order, and lets a test wait until it has received some number of them."""

    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.keys: list[str] = []
        self.closed = False
        self._received = threading.Condition()

    def write_batch(self, batch: RecordBatch) -> None:
        with self._received:
            if not self.up:
                raise SinkError("the destination is down")
            self.keys.extend(record["targeting_key"] for record in batch.records)
            self._received.notify_all()

    def wait_for(self, count: int) -> bool:
        with self._received:
            return self._received.wait_for(lambda: len(self.keys) >= count, WAIT)

    def close(self) -> None:
        self.closed = True


class HeldDestination(Destination):
    """A ``Destination`` whose writes wait, while ``held``, until ``release`` is set; counts
    the writes it was asked for (``attempts``) and says when the first one began
    (``entered``)."""

    def __init__(self, *, up: bool = True, held: bool = True) -> None:
        super().__init__(up=up)
        self.held = held
        self.release = threading.Event()
        self.entered = threading.Event()
        self.attempts = 0

    def write_batch(self, batch: RecordBatch) -> None:
        self.attempts += 1
        self.entered.set()
        if self.held and not self.release.wait(WAIT):
            raise SinkError("never released")
        super().write_batch(batch)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (a state inside the sink's worker, which signals nothing) until it
    holds; fail after ``WAIT``."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)


class ManualClock:
    """A monotonic timer that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def make_sink(spool_dir: Path) -> Iterator[Callable[..., BatchingSink]]:
    """Build ``BatchingSink(destination, spool_dir=spool_dir)`` with quick retries and
    replays; every sink built is closed at the end of the test."""
    sinks: list[BatchingSink] = []

    def make(destination: Destination, **options: Any) -> BatchingSink:
        settings: dict[str, Any] = {
            "spool_dir": spool_dir,
            "spool_fsync": False,
            "retry": QUICK,
            "max_latency": 0.001,
            "replay_interval": 0.05,
        }
        settings.update(options)
        sink = BatchingSink(destination, **settings)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close(timeout=WAIT)


def emit(sink: BatchingSink, keys: list[str]) -> None:
    for key in keys:
        sink.emit(exposure(key))


def segments(directory: Path) -> list[Path]:
    """Spool segment files, oldest first."""
    return sorted(directory.glob("*.jsonl"))


def spooled_lines(directory: Path) -> list[str]:
    return [line for path in segments(directory) for line in path.read_text().splitlines()]


def spool_while_down(make_sink: Callable[..., BatchingSink], keys: list[str], **options: Any):
    """A sink whose destination is down, with ``keys`` emitted and spooled."""
    destination = Destination(up=False)
    sink = make_sink(destination, **options)
    emit(sink, keys)
    assert sink.flush(WAIT) is False  # handled, but not delivered
    return sink, destination


# -- a destination that stays down -----------------------------------------------------------


def test_a_batch_refused_after_all_retries_is_written_to_a_segment_as_json_lines(
    make_sink, spool_dir
) -> None:
    spool_while_down(make_sink, units("a", 5))
    records = [json.loads(line) for line in spooled_lines(spool_dir)]
    assert [(r["flag"], r["targeting_key"]) for r in records] == [
        ("flags/checkout", key) for key in units("a", 5)
    ]


def test_spooled_lines_are_compact_json(make_sink, spool_dir) -> None:
    spool_while_down(make_sink, units("a", 3))
    for line in spooled_lines(spool_dir):
        assert line == json.dumps(json.loads(line), separators=(",", ":"))


def test_spooled_exposures_are_counted_as_spooled_and_in_spool_not_dropped(make_sink) -> None:
    sink, _ = spool_while_down(make_sink, units("a", 5))
    stats = sink.stats()
    assert {key: stats[key] for key in ("spooled", "in_spool", "delivered", "dropped")} == {
        "spooled": 5,
        "in_spool": 5,
        "delivered": 0,
        "dropped": 0,
    }
    assert_accounted(stats)


def test_a_batch_is_spooled_only_after_its_retries(make_sink) -> None:
    sink, _ = spool_while_down(make_sink, units("a", 5))
    assert sink.stats()["retried"] >= ATTEMPTS - 1


def test_flush_is_false_while_records_of_this_process_wait_in_the_spool(make_sink) -> None:
    sink, _ = spool_while_down(make_sink, units("a", 2))
    assert sink.flush(WAIT) is False


def test_without_a_spool_dir_a_refused_batch_is_dropped_and_nothing_is_written(
    tmp_path,
) -> None:
    sink = BatchingSink(Destination(up=False), retry=QUICK, max_latency=0.001)
    try:
        emit(sink, units("a", 3))
        assert sink.flush(WAIT) is False
        stats = sink.stats()
    finally:
        sink.close(timeout=WAIT)
    assert (stats["dropped_by_reason"], stats["spooled"]) == ({"delivery_failed": 3}, 0)
    assert list(tmp_path.iterdir()) == []


# -- a destination that fails or is slow: the queue goes to the spool meanwhile ----------------
#
# With a spool, no more than the batch being written and about ``spill_interval`` of traffic
# may be only in memory: what waits behind a slow or failing write is spooled while the write
# is still being tried, behind a copy of that batch written ahead (so order is kept).


def test_while_a_write_hangs_what_waits_behind_it_moves_to_the_spool_in_order(
    make_sink, spool_dir
) -> None:
    destination = HeldDestination()
    sink = make_sink(destination, spill_interval=0.02)
    emit(sink, ["a0"])
    assert destination.entered.wait(WAIT)  # "a0" is in a write that hangs
    emit(sink, units("b", 20))

    wait_until(lambda: sink.stats()["in_spool"] == 21, "the queue spilled")

    stats = sink.stats()
    assert (stats["queued"], stats["delivered"], stats["spooled"]) == (0, 0, 21)
    assert_accounted(stats)
    assert [json.loads(line)["targeting_key"] for line in spooled_lines(spool_dir)] == [
        "a0",
        *units("b", 20),
    ]
    destination.release.set()  # "a0" goes through after all: the spool must not resend it
    assert destination.wait_for(21), destination.keys
    sink.close(timeout=WAIT)
    assert destination.keys == ["a0", *units("b", 20)]
    stats = sink.stats()
    assert (stats["delivered"], stats["in_spool"], stats["replayed"]) == (21, 0, 20)
    assert_accounted(stats)


def test_while_a_failed_write_waits_for_its_retry_the_queue_moves_to_the_spool(
    make_sink, spool_dir
) -> None:
    destination = HeldDestination(up=False, held=False)
    patient = RetryPolicy(attempts=2, initial_backoff=0.5, jitter=0)
    sink = make_sink(destination, spill_interval=0.02, retry=patient)
    emit(sink, ["a0"])
    assert destination.entered.wait(WAIT)  # the first attempt failed, or is failing
    emit(sink, units("b", 10))

    wait_until(lambda: sink.stats()["in_spool"] == 11, "the queue spilled")
    assert destination.attempts == 1  # still waiting for its retry, with nothing in memory
    assert sink.stats()["queued"] == 0

    assert sink.flush(WAIT) is False  # the retry fails too: "a0" is already in the spool
    assert len(spooled_lines(spool_dir)) == 11  # (not written a second time)
    destination.up = True
    emit(sink, ["c0"])
    assert destination.wait_for(12), destination.keys
    sink.close(timeout=WAIT)
    assert destination.keys == ["a0", *units("b", 10), "c0"]
    assert_accounted(sink.stats())


# -- the destination comes back ----------------------------------------------------------------


def test_after_recovery_spooled_records_arrive_first_in_order_then_new_ones(make_sink) -> None:
    sink, destination = spool_while_down(make_sink, units("a", 5))
    destination.up = True
    emit(sink, units("b", 5))
    assert destination.wait_for(10), destination.keys
    sink.close(timeout=WAIT)
    assert destination.keys == units("a", 5) + units("b", 5)


def test_after_recovery_every_record_is_delivered_once_and_in_spool_returns_to_zero(
    make_sink,
) -> None:
    sink, destination = spool_while_down(make_sink, units("a", 5))
    destination.up = True
    emit(sink, units("b", 5))
    assert destination.wait_for(10), destination.keys
    sink.close(timeout=WAIT)  # joins the worker: its replay is complete
    stats = sink.stats()
    assert {key: stats[key] for key in ("delivered", "in_spool", "dropped", "queued")} == {
        "delivered": 10,
        "in_spool": 0,
        "dropped": 0,
        "queued": 0,
    }
    assert stats["replayed"] == stats["spooled"] >= 5
    assert_accounted(stats)


def test_a_replayed_segment_and_its_offset_file_are_deleted(make_sink, spool_dir) -> None:
    sink, destination = spool_while_down(make_sink, units("a", 5))
    destination.up = True
    emit(sink, units("b", 5))
    assert destination.wait_for(10), destination.keys
    sink.close(timeout=WAIT)
    assert sorted(path.name for path in spool_dir.iterdir()) == []


def test_flush_is_true_again_once_the_spool_is_replayed(make_sink) -> None:
    sink, destination = spool_while_down(make_sink, units("a", 5))
    destination.up = True
    emit(sink, units("b", 5))
    assert destination.wait_for(10), destination.keys
    emit(sink, ["c0"])  # handled after the replay that delivered the last of the spool
    assert sink.flush(WAIT) is True


def test_batches_emitted_while_the_destination_is_down_queue_behind_the_spooled_ones(
    make_sink,
) -> None:
    sink, destination = spool_while_down(make_sink, units("a", 4))
    emit(sink, units("b", 4))
    assert sink.flush(WAIT) is False
    assert sink.stats()["in_spool"] == 8
    destination.up = True
    emit(sink, units("c", 4))
    assert destination.wait_for(12), destination.keys
    sink.close(timeout=WAIT)
    assert destination.keys == units("a", 4) + units("b", 4) + units("c", 4)


def test_a_spooled_batch_is_replayed_once_the_retry_backoff_is_over(make_sink, spool_dir) -> None:
    # Not only after the (long) idle replay interval: a record spooled in an outage must
    # not wait the replay interval once the destination is back. The clock is manual so
    # that "the backoff is over" and "the interval is not" are certain; a segment left by
    # an earlier process makes the start-up replay observable.
    earlier = Spool(spool_dir, fsync=False)
    earlier.append(RecordBatch([exposure("earlier").to_record()]))
    earlier.close()
    clock = ManualClock()
    destination = Destination(up=True)
    sink = make_sink(destination, replay_interval=3600.0, timer=clock)
    assert destination.wait_for(1)  # the start-up replay
    destination.up = False
    emit(sink, ["a0"])
    assert sink.flush(WAIT) is False
    destination.up = True
    clock.advance(1.0)  # past every backoff of QUICK, far from the replay interval
    emit(sink, ["b0"])
    assert sink.flush(WAIT) is True
    assert destination.keys == ["earlier", "a0", "b0"]


def test_a_spooled_record_that_cannot_be_read_back_is_dropped_as_spool_unreadable(
    make_sink, spool_dir
) -> None:
    earlier = Spool(spool_dir, fsync=False)
    earlier.append(RecordBatch([exposure("earlier").to_record()]))
    earlier.close()
    clock = ManualClock()  # no replay happens until the clock is advanced
    destination = Destination(up=True)
    sink = make_sink(destination, replay_interval=3600.0, timer=clock)
    assert destination.wait_for(1)  # the start-up replay; its segment is then deleted
    destination.up = False
    emit(sink, units("a", 3))
    assert sink.flush(WAIT) is False
    (segment,) = segments(spool_dir)
    data = segment.read_bytes()
    second_line = data.index(b"\n") + 1
    with open(segment, "r+b") as file:  # "a1" becomes invalid JSON, same length
        file.seek(second_line)
        file.write(b"#")
    destination.up = True
    clock.advance(3601.0)
    emit(sink, ["b0"])
    assert sink.flush(WAIT) is False  # "a1" was dropped meanwhile…
    assert sink.flush(WAIT) is True  # …and only that
    stats = sink.stats()
    assert destination.keys == ["earlier", "a0", "a2", "b0"]
    assert (stats["dropped_by_reason"], stats["in_spool"]) == ({"spool_unreadable": 1}, 0)
    assert_accounted(stats)


def test_a_spool_past_its_max_bytes_drops_the_batch_as_spool_failed(make_sink) -> None:
    sink, _ = spool_while_down(make_sink, units("a", 3), spool_max_bytes=10)
    stats = sink.stats()
    assert (stats["dropped_by_reason"], stats["spooled"], stats["in_spool"]) == (
        {"spool_failed": 3},
        0,
        0,
    )
    assert_accounted(stats)


# -- a new process on the same spool -------------------------------------------------------------


def spool_and_close(make_sink, keys: list[str]) -> None:
    """A sink that spooled ``keys`` (its destination still down) and was closed."""
    sink, _ = spool_while_down(make_sink, keys)
    sink.close(timeout=WAIT)
    assert sink.stats()["in_spool"] == len(keys)


def test_a_new_sink_replays_a_spool_left_by_a_closed_one_on_start_in_order(make_sink) -> None:
    spool_and_close(make_sink, units("a", 6))
    destination = Destination(up=True)
    sink = make_sink(destination)
    assert destination.wait_for(6), destination.keys
    sink.close(timeout=WAIT)
    assert destination.keys == units("a", 6)


def test_a_sink_closed_right_after_it_started_still_replays_an_earlier_spool(
    make_sink,
) -> None:
    spool_and_close(make_sink, units("a", 6))
    destination = Destination(up=True)
    make_sink(destination).close(timeout=WAIT)  # no chance for a start-up replay first
    assert destination.keys == units("a", 6)


def test_records_of_an_earlier_sink_count_as_replayed_not_delivered(make_sink) -> None:
    spool_and_close(make_sink, units("a", 6))
    destination = Destination(up=True)
    sink = make_sink(destination)
    assert destination.wait_for(6), destination.keys
    sink.close(timeout=WAIT)
    stats = sink.stats()
    assert {key: stats[key] for key in ("emitted", "delivered", "replayed", "in_spool")} == {
        "emitted": 0,
        "delivered": 0,
        "replayed": 6,
        "in_spool": 0,
    }


def test_a_third_sink_on_a_replayed_spool_replays_nothing(
    make_sink, spool_dir, monkeypatch
) -> None:
    spool_and_close(make_sink, units("a", 6))
    second = Destination(up=True)
    second_sink = make_sink(second)
    assert second.wait_for(6), second.keys
    second_sink.close(timeout=WAIT)
    assert segments(spool_dir) == []
    replayed = threading.Event()
    original = Spool.replay

    def spy(self: Spool, *args: Any, **kwargs: Any) -> bool:
        try:
            return original(self, *args, **kwargs)
        finally:
            replayed.set()

    monkeypatch.setattr(Spool, "replay", spy)
    third = Destination(up=True)
    sink = make_sink(third)
    assert replayed.wait(WAIT)  # its start-up replay ran
    sink.close(timeout=WAIT)
    assert (third.keys, sink.stats()["replayed"]) == ([], 0)


# -- a process killed while spooling -----------------------------------------------------------


def complete_lines(directory: Path) -> list[bytes]:
    """The complete (newline-terminated) lines of the segments, oldest segment first."""
    lines: list[bytes] = []
    for path in segments(directory):
        data = path.read_bytes()
        lines.extend(data[: data.rfind(b"\n") + 1].splitlines())
    return lines


def identities(lines: list[bytes]) -> list[tuple[str, str]]:
    return [(record["resolve_id"], record["flag"]) for record in map(json.loads, lines)]


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line ``process`` prints, or ``""`` if it prints none within ``timeout``."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if readable else ""


class CountingJsonlSink(JsonlSink):
    """A ``JsonlSink`` that says when it has written ``expected`` records."""

    def __init__(self, path: Path, expected: int) -> None:
        super().__init__(path)
        self.written = 0
        self.expected = expected
        self.reached = threading.Event()
        if expected <= 0:
            self.reached.set()

    def write_batch(self, batch: RecordBatch) -> None:
        super().write_batch(batch)
        self.written += len(batch)
        if self.written >= self.expected:
            self.reached.set()


def replay_spool(spool_dir: Path, out: Path, expected: int) -> dict[str, Any]:
    """What a new process does with the spool a dead one left: a ``BatchingSink`` on it
    replays it into ``JsonlSink(out)`` on start; closed once ``expected`` records reached
    ``out`` (or ``WAIT`` passed)."""
    inner = CountingJsonlSink(out, expected)
    sink = BatchingSink(inner, spool_dir=spool_dir, retry=QUICK, max_batch=100)
    reached = inner.reached.wait(WAIT)
    sink.close()
    return {"reached": reached, "written": inner.written, "stats": sink.stats()}


@pytest.mark.parametrize("ready_records", [1, 500, 3000])
def test_the_spool_of_a_process_killed_mid_stream_is_replayed_once_in_order(
    tmp_path, spool_dir, ready_records
) -> None:
    # The writer spools without end; it is killed at some point after ``ready_records`` records
    # reached the spool, maybe in the middle of a write (leaving a torn last line).
    stderr_path = tmp_path / "writer-stderr.txt"
    with open(stderr_path, "w") as stderr_file:
        writer = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "spool_until_killed.py"),
                str(spool_dir),
                str(ready_records),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        try:
            ready = first_line(writer, 2 * WAIT)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.communicate(timeout=WAIT)
    stderr = stderr_path.read_text()
    assert ready == "ready\n", f"spool_until_killed.py did not get ready\nstderr:\n{stderr}"
    assert writer.returncode == -signal.SIGKILL, stderr
    spooled = identities(complete_lines(spool_dir))
    assert len(spooled) >= ready_records

    out = tmp_path / "replayed.jsonl"
    facts = replay_spool(spool_dir, out, len(spooled))
    assert facts["reached"], facts
    delivered = identities(out.read_bytes().splitlines())
    assert delivered == spooled  # each exactly once, in the order they were spooled
    assert (segments(spool_dir), facts["stats"]["replayed"]) == ([], len(spooled))


CRASH_RATE = 20_000  # exposures per second
CRASH_MAX_BATCH = 500  # the README's production settings, as in the script
CRASH_BOUND = CRASH_MAX_BATCH + CRASH_RATE // 10  # one batch and 0.1 s of traffic


def test_a_process_killed_while_its_collector_flaps_loses_at_most_a_batch_and_a_tenth_of_a_second(
    tmp_path, spool_dir
) -> None:
    # The README's production settings against a collector answering 503 and 200 in turn:
    # each batch needs a retry, the worker falls behind the traffic, and the process is
    # killed. Only what was in memory may be lost: at most the batch being written and about
    # 0.1 s of traffic (the bound is doubled below for a loaded test machine). Before the
    # queue was spilled during retries, everything the worker was behind by was lost.
    delivered_path = tmp_path / "delivered.txt"
    produced_path = tmp_path / "produced"
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "w") as stderr_file:
        writer = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "flapping_collector_until_killed.py"),
                str(spool_dir),
                str(delivered_path),
                str(produced_path),
                str(CRASH_RATE),
                "1.5",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        try:
            ready = first_line(writer, 2 * WAIT)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.communicate(timeout=WAIT)
    assert ready == "ready\n", stderr_path.read_text()
    produced = struct.unpack("<Q", produced_path.read_bytes())[0]
    before_kill = complete_keys(delivered_path)
    behind = produced - len(set(before_kill))
    assert behind > 2 * 2 * CRASH_BOUND, (produced, behind)  # the worker really was behind

    # A new process on the same spool replays what the dead one left.
    destination = Destination()
    BatchingSink(destination, spool_dir=spool_dir, retry=QUICK).close(timeout=WAIT)
    delivered = set(before_kill) | set(destination.keys)

    expected = {f"u-{n}" for n in range(produced)}
    missing = expected - delivered
    assert len(missing) <= 2 * CRASH_BOUND, (len(missing), produced, behind)
    assert delivered <= expected | {f"u-{produced}"}  # (one more may have been emitted)
    assert segments(spool_dir) == []


def complete_keys(path: Path) -> list[str]:
    """The keys in the complete lines of a file a killed process was appending to."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode("ascii").split()


# -- Spool on its own ----------------------------------------------------------------------------


def numbers(start: int, stop: int) -> RecordBatch:
    return RecordBatch([{"n": n} for n in range(start, stop)])


class Replay:
    """A ``deliver`` for ``Spool.replay`` that records each batch's ``n`` values, failing as
    told: ``fail_on`` (call number, 1-based) -> an exception to raise on that call."""

    def __init__(self, fail_on: dict[int, Exception] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.progress: list[tuple[int, int, int]] = []
        self.calls = 0
        self.fail_on = fail_on or {}

    def deliver(self, batch: RecordBatch) -> None:
        self.calls += 1
        failure = self.fail_on.get(self.calls)
        if isinstance(failure, PartialDelivery):
            self.batches.append([record["n"] for record in batch.records[: failure.delivered]])
        if failure is not None:
            raise failure
        self.batches.append([record["n"] for record in batch.records])

    def on_progress(self, own: int, foreign: int, lost: int) -> None:
        self.progress.append((own, foreign, lost))

    def __call__(self, spool: Spool, chunk: int) -> bool:
        return spool.replay(self.deliver, chunk, self.on_progress)

    @property
    def delivered(self) -> list[int]:
        return [n for batch in self.batches for n in batch]


def test_spool_replay_delivers_appended_records_in_order_in_chunks_of_at_most_chunk(
    spool_dir,
) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 7))
    spool.append(numbers(7, 10))
    replay = Replay()
    assert replay(spool, 3) is True
    assert replay.batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_spool_replay_reports_each_chunk_as_own_records_of_this_spool(spool_dir) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 5))
    replay = Replay()
    replay(spool, 2)
    assert (replay.progress, spool.own_records) == ([(2, 0, 0), (2, 0, 0), (1, 0, 0)], 0)


def test_spool_replay_reports_records_another_spool_wrote_as_foreign(spool_dir) -> None:
    writer = Spool(spool_dir, fsync=False)
    writer.append(numbers(0, 5))
    writer.close()
    replay = Replay()
    replay(Spool(spool_dir, fsync=False), 5)
    assert replay.progress == [(0, 5, 0)]


def test_spool_replay_goes_oldest_segment_first(spool_dir) -> None:
    for start in (0, 3, 6):
        writer = Spool(spool_dir, fsync=False)
        writer.append(numbers(start, start + 3))
        writer.close()
    replay = Replay()
    assert replay(Spool(spool_dir, fsync=False), 100) is True
    assert replay.delivered == list(range(9))


def test_spool_replay_deletes_a_delivered_segment_and_its_offset_file(spool_dir) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 5))
    assert Replay(fail_on={2: SinkError("down")})(spool, 2) is False
    assert Replay()(spool, 2) is True
    assert list(spool_dir.iterdir()) == []


def test_spool_replay_returns_false_when_deliver_raises_and_keeps_the_segment(
    spool_dir,
) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 6))
    replay = Replay(fail_on={2: SinkError("down")})
    assert replay(spool, 2) is False
    (segment,) = segments(spool_dir)
    assert Path(str(segment) + ".offset").is_file()
    assert (replay.delivered, replay.progress) == ([0, 1], [(2, 0, 0)])


def test_spool_replay_after_a_failure_continues_after_the_last_delivered_chunk(
    spool_dir,
) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 6))
    first = Replay(fail_on={2: SinkError("down")})
    first(spool, 2)
    second = Replay()
    assert second(spool, 2) is True
    assert (first.delivered, second.batches) == ([0, 1], [[2, 3], [4, 5]])


def test_spool_progress_survives_the_spool_object(spool_dir) -> None:
    writer = Spool(spool_dir, fsync=False)
    writer.append(numbers(0, 6))
    writer.close()
    Replay(fail_on={3: SinkError("down")})(Spool(spool_dir, fsync=False), 2)
    later = Replay()
    assert later(Spool(spool_dir, fsync=False), 2) is True
    assert later.delivered == [4, 5]


def test_spool_replay_after_a_partial_delivery_resends_only_the_rest_of_the_chunk(
    spool_dir,
) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 8))
    first = Replay(fail_on={1: PartialDelivery("half", delivered=3)})
    assert first(spool, 5) is False
    second = Replay()
    assert second(spool, 5) is True
    assert (first.delivered, second.delivered) == ([0, 1, 2], [3, 4, 5, 6, 7])


def test_spool_counts_a_partial_delivery_as_progress(spool_dir) -> None:
    spool = Spool(spool_dir, fsync=False)
    spool.append(numbers(0, 8))
    first = Replay(fail_on={1: PartialDelivery("half", delivered=3)})
    first(spool, 5)
    assert (first.progress, spool.own_records) == ([(3, 0, 0)], 5)


def test_spool_replay_skips_a_torn_last_line_and_delivers_the_rest(spool_dir) -> None:
    writer = Spool(spool_dir, fsync=False)
    writer.append(numbers(0, 4))
    writer.close()
    (segment,) = segments(spool_dir)
    with open(segment, "ab") as file:  # its writer died in the middle of a line
        file.write(b'{"n":4,"tor')
    reader = Spool(spool_dir, fsync=False)
    replay = Replay()
    assert replay(reader, 10) is True
    assert (replay.delivered, reader.skipped_lines, segments(spool_dir)) == ([0, 1, 2, 3], 1, [])


@pytest.mark.parametrize(
    "bad_line",
    [b"not json", b"[1, 2]", b'"a string"', b'{"n": "\xff"}', b""],
    ids=["not-json", "array", "string", "not-ascii", "empty"],
)
def test_spool_replay_skips_a_line_that_is_not_a_json_object(spool_dir, bad_line) -> None:
    writer = Spool(spool_dir, fsync=False)
    writer.append(numbers(0, 2))
    writer.close()
    (segment,) = segments(spool_dir)
    with open(segment, "ab") as file:
        file.write(bad_line + b"\n" + numbers(2, 4).jsonl())
    reader = Spool(spool_dir, fsync=False)
    replay = Replay()
    assert replay(reader, 10) is True
    assert (replay.delivered, reader.skipped_lines) == ([0, 1, 2, 3], 1)


def test_spool_replay_leaves_a_segment_another_spool_of_this_process_writes(spool_dir) -> None:
    writer = Spool(spool_dir, fsync=False)
    writer.append(numbers(0, 3))  # its segment stays open, and locked
    replay = Replay()
    assert replay(Spool(spool_dir, fsync=False), 10) is True
    assert (replay.calls, len(segments(spool_dir))) == (0, 1)
    writer.close()
    assert replay(Spool(spool_dir, fsync=False), 10) is True
    assert replay.delivered == [0, 1, 2]


def test_spool_replay_leaves_a_segment_a_live_process_holds_until_it_lets_go(spool_dir) -> None:
    holder = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "hold_spool_segment.py"), str(spool_dir), "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        held = first_line(holder, WAIT)
        replay = Replay()
        while_held = replay(Spool(spool_dir, fsync=False), 10)
        calls_while_held = replay.calls
    finally:
        _, stderr = holder.communicate(timeout=WAIT)  # closes its stdin: it lets go
    assert holder.returncode == 0 and held, f"hold_spool_segment.py failed\nstderr:\n{stderr}"
    assert [path.name for path in segments(spool_dir)] == json.loads(held)["segments"]
    assert (while_held, calls_while_held) == (True, 0)
    assert replay(Spool(spool_dir, fsync=False), 10) is True
    assert replay.delivered == [0, 1, 2]


def test_spool_append_past_max_bytes_raises_spool_full_and_writes_nothing(spool_dir) -> None:
    batch = numbers(0, 10)
    spool = Spool(spool_dir, fsync=False, max_bytes=len(batch.jsonl()) - 1)
    with pytest.raises(SpoolFull) as raised:
        spool.append(batch)
    assert isinstance(raised.value, OSError)
    assert (spooled_lines(spool_dir), spool.own_records) == ([], 0)


def test_spool_append_up_to_max_bytes_is_accepted(spool_dir) -> None:
    batch = numbers(0, 10)
    spool = Spool(spool_dir, fsync=False, max_bytes=len(batch.jsonl()))
    spool.append(batch)
    assert spool.own_records == 10


def test_spool_room_is_given_back_when_its_records_are_replayed(spool_dir) -> None:
    batch = numbers(0, 10)
    spool = Spool(spool_dir, fsync=False, max_bytes=len(batch.jsonl()))
    spool.append(batch)
    assert Replay()(spool, 3) is True
    spool.append(batch)  # the spool is empty again
    assert spool.own_records == 10


def test_spool_room_is_given_back_when_a_replay_completes_after_an_interruption(
    spool_dir,
) -> None:
    batch = numbers(0, 10)
    spool = Spool(spool_dir, fsync=False, max_bytes=len(batch.jsonl()))
    spool.append(batch)
    assert Replay(fail_on={2: SinkError("down")})(spool, 3) is False
    assert Replay()(spool, 3) is True
    assert list(spool_dir.iterdir()) == []
    spool.append(batch)  # the spool is empty again
    assert spool.own_records == 10


def test_spool_counts_its_records_another_spool_replayed_as_done(spool_dir) -> None:
    mine = Spool(spool_dir, fsync=False)
    mine.append(numbers(0, 4))
    mine.close()  # lets go of its segment, which another process then replays
    Replay()(Spool(spool_dir, fsync=False), 10)
    replay = Replay()
    assert replay(mine, 10) is True
    assert (replay.calls, replay.progress, mine.own_records) == (0, [(4, 0, 0)], 0)


def test_spool_room_is_given_back_when_another_spool_replayed_its_records(spool_dir) -> None:
    batch = numbers(0, 10)
    mine = Spool(spool_dir, fsync=False, max_bytes=len(batch.jsonl()))
    mine.append(batch)
    mine.close()
    Replay()(Spool(spool_dir, fsync=False), 10)
    assert Replay()(mine, 10) is True
    mine.append(batch)  # the spool is empty again
    assert mine.own_records == 10


def test_spool_replay_of_an_empty_or_missing_directory_is_complete(tmp_path) -> None:
    spool = Spool(tmp_path / "spool", fsync=False)
    os.rmdir(tmp_path / "spool")
    assert Replay()(spool, 10) is True
