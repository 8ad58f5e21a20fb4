"""``FanoutSink``: one exposure stream to several sinks, each on its own.

A sink that raises does not keep the exposure from the others (and is counted in
``errors``); a stuck ``BatchingSink`` does not hold up another one; ``flush`` is ``True``
only if every sink delivered, within one shared deadline; ``close`` closes every sink even
if one fails; ``stats`` lists each sink's counters. Destinations are in-test doubles;
tests synchronise on events and ``flush`` results, never on sleeps.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import flagstone
from flagstone.sinks import (
    BatchingSink,
    Exposure,
    FanoutSink,
    MemorySink,
    RetryPolicy,
)
from tests.sinkdata import SNAPSHOT, assert_accounted
from tests.writers import PATIENCE, BlockingWriter, FailingWriter, RecordingWriter

T0 = 1_795_444_561.0  # 2026-11-23T14:36:01Z
WORKER_NAME = "flagstone-exposures"
FAST_RETRY = RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.01)
NEVER = 3600.0  # a max_latency that never elapses in a test


@functools.lru_cache(maxsize=1)
def _client() -> flagstone.Client:
    return flagstone.Client.from_dict(SNAPSHOT)


def exposures(count: int) -> list[Exposure]:
    """Fresh exposures of distinct units ``user-0`` …"""
    client = _client()
    return [
        Exposure(client.evaluate("checkout", {"user": {"id": f"user-{i}"}}, apply=False), T0 + i)
        for i in range(count)
    ]


def units_of(items: list[Exposure]) -> list[str]:
    return [item.resolution._unit for item in items]


# -- doubles -----------------------------------------------------------------------------------


class RaisingSink:
    """An ``ExposureSink`` whose every method raises."""

    def __init__(self) -> None:
        self.emit_calls = 0
        self.flush_calls = 0
        self.close_calls = 0

    def emit(self, exposure: Exposure) -> None:
        self.emit_calls += 1
        raise RuntimeError("emit is broken")

    def flush(self, timeout: float | None = None) -> bool:
        self.flush_calls += 1
        raise RuntimeError("flush is broken")

    def close(self) -> None:
        self.close_calls += 1
        raise RuntimeError("close is broken")


class SpySink:
    """An ``ExposureSink`` (without ``stats``) that remembers what it was asked to do."""

    def __init__(self, flushed: bool = True) -> None:
        self.flushed = flushed
        self.emitted: list[Exposure] = []
        self.flush_timeouts: list[float | None] = []
        self.close_calls = 0

    def emit(self, exposure: Exposure) -> None:
        self.emitted.append(exposure)

    def flush(self, timeout: float | None = None) -> bool:
        self.flush_timeouts.append(timeout)
        return self.flushed

    def close(self) -> None:
        self.close_calls += 1


def batching(inner: Any, **options: Any) -> BatchingSink:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("max_latency", NEVER)
    return BatchingSink(inner, **options)


@pytest.fixture(autouse=True)
def no_worker_left_running() -> Iterator[None]:
    """Each test closes the sinks it starts: no worker thread it created outlives it."""
    before = set(threading.enumerate())
    yield
    leftover = [
        thread
        for thread in threading.enumerate()
        if thread.name == WORKER_NAME and thread not in before and thread.is_alive()
    ]
    for blocker in BlockingWriter.instances:  # clean up after a failed test
        blocker.release.set()
    BlockingWriter.instances.clear()
    assert not leftover, f"worker threads still running after the test: {leftover}"


# -- emit --------------------------------------------------------------------------------------


def test_a_sink_that_raises_does_not_keep_the_exposure_from_the_others() -> None:
    memory, spy = MemorySink(), SpySink()
    fanout = FanoutSink([RaisingSink(), memory, RaisingSink(), spy])
    items = exposures(3)

    for item in items:
        fanout.emit(item)  # must not raise

    assert [record["targeting_key"] for record in memory.events] == units_of(items)
    assert spy.emitted == items


def test_errors_counts_every_emit_that_raised() -> None:
    first, second = RaisingSink(), RaisingSink()
    fanout = FanoutSink([first, MemorySink(), second])

    for item in exposures(3):
        fanout.emit(item)

    assert (first.emit_calls, second.emit_calls) == (3, 3)
    assert fanout.errors == 6


def test_a_blocked_batching_sink_does_not_hold_up_another() -> None:
    blocker, writer = BlockingWriter(), RecordingWriter()
    stuck, healthy = batching(blocker), batching(writer)
    fanout = FanoutSink([stuck, healthy])
    first, *rest = exposures(10)
    fanout.emit(first)
    assert stuck.flush(0.05) is False  # sends the batch into the write that never ends
    assert blocker.entered.wait(PATIENCE)

    for item in rest:
        fanout.emit(item)

    assert healthy.flush(PATIENCE) is True
    assert writer.units == units_of([first, *rest])
    assert not blocker.release.is_set()
    assert blocker.writing == 1
    assert fanout.flush(0.05) is False
    blocker.release.set()
    assert fanout.flush(PATIENCE) is True
    assert blocker.units == units_of([first, *rest])
    fanout.close()
    for stats in fanout.stats():
        assert stats is not None
        assert_accounted(stats)


# -- flush -------------------------------------------------------------------------------------


def test_flush_is_true_when_every_sink_delivered_everything() -> None:
    writer = RecordingWriter()
    fanout = FanoutSink([MemorySink(), batching(writer), SpySink(flushed=True)])
    items = exposures(5)
    for item in items:
        fanout.emit(item)

    assert fanout.flush(PATIENCE) is True

    assert writer.units == units_of(items)
    fanout.close()


def test_flush_is_false_when_any_sink_failed_to_deliver() -> None:
    failing = batching(FailingWriter())
    fanout = FanoutSink([MemorySink(), failing, SpySink(flushed=True)])
    for item in exposures(5):
        fanout.emit(item)

    assert fanout.flush(PATIENCE) is False

    assert failing.stats()["dropped_by_reason"] == {"delivery_failed": 5}
    fanout.close()
    assert_accounted(failing.stats())


def test_flush_is_false_when_a_sink_raises_and_the_others_are_still_flushed() -> None:
    after = SpySink(flushed=True)
    fanout = FanoutSink([RaisingSink(), after])

    assert fanout.flush(PATIENCE) is False

    assert len(after.flush_timeouts) == 1


def test_flush_shares_one_deadline_across_the_sinks() -> None:
    spies = [SpySink(), SpySink(), SpySink()]
    fanout = FanoutSink(spies)

    assert fanout.flush(PATIENCE) is True

    timeouts = [spy.flush_timeouts[0] for spy in spies]
    assert all(timeout is not None and 0 <= timeout <= PATIENCE for timeout in timeouts)
    assert timeouts == sorted(timeouts, reverse=True)  # each gets what is left


def test_flush_without_a_timeout_lets_every_sink_wait_as_long_as_it_takes() -> None:
    spies = [SpySink(), SpySink()]

    assert FanoutSink(spies).flush() is True

    assert [spy.flush_timeouts for spy in spies] == [[None], [None]]


# -- close and stats ---------------------------------------------------------------------------


def test_close_closes_every_sink_even_if_one_raises() -> None:
    raising, spy, writer = RaisingSink(), SpySink(), RecordingWriter()
    queued = batching(writer)
    fanout = FanoutSink([raising, spy, queued])
    items = exposures(4)
    for item in items:
        fanout.emit(item)

    fanout.close()  # must not raise

    assert (raising.close_calls, spy.close_calls, writer.close_calls) == (1, 1, 1)
    assert writer.units == units_of(items)  # the batching sink delivered before closing


def test_stats_lists_each_sinks_stats_in_order() -> None:
    memory, queued, spy = MemorySink(), batching(RecordingWriter()), SpySink()
    fanout = FanoutSink([queued, memory, spy])
    for item in exposures(6):
        fanout.emit(item)
    assert fanout.flush(PATIENCE) is True

    stats = fanout.stats()

    assert stats == [queued.stats(), memory.stats(), None]
    assert [entry["emitted"] for entry in stats[:2] if entry is not None] == [6, 6]
    assert [entry["delivered"] for entry in stats[:2] if entry is not None] == [6, 6]
    fanout.close()
    for entry in fanout.stats()[:2]:
        assert entry is not None
        assert_accounted(entry)


def test_a_client_with_a_fanout_sink_reaches_every_sink() -> None:
    first, second = RecordingWriter(), RecordingWriter()
    fanout = FanoutSink([batching(first), batching(second)])
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[fanout])
    for index in range(20):
        client.evaluate("checkout", {"user": {"id": f"user-{index}"}})

    client.close()

    expected = [f"user-{index}" for index in range(20)]
    assert first.units == expected
    assert second.units == expected
    assert (first.close_calls, second.close_calls) == (1, 1)
