"""Drops are loud: an exposure lost for any reason is counted in ``stats()``, logged at
WARNING (at most once a minute per kind), and makes the next ``flush()`` return ``False``;
``close(timeout)`` keeps to its timeout whatever the destination does.

Each kind of drop is produced on purpose: a full queue (a destination held inside a write),
a destination that refuses everything (a sink on its own, and a ``BatchingSink`` without a
spool), a client used after ``close``, a sink whose ``emit`` raises. Timings are only
asserted as upper bounds with the half-second margin the README promises.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

import flagstone
from flagstone.sinks import BatchingSink, CallbackSink, Exposure, MemorySink, RetryPolicy
from tests.sinkdata import SNAPSHOT, assert_accounted
from tests.writers import PATIENCE, BlockingWriter, FailingWriter

QUICK = RetryPolicy(attempts=2, initial_backoff=0.001, max_backoff=0.001)


def evaluate(client: flagstone.Client, first: int, count: int) -> None:
    for unit in range(first, first + count):
        client.evaluate("checkout", {"user": {"id": f"u-{unit}"}})


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and text in record.getMessage()
    ]


@pytest.fixture
def held() -> Any:
    """A destination held inside its first write until the test ends."""
    writer = BlockingWriter()
    yield writer
    writer.release.set()
    BlockingWriter.instances.clear()


# -- a full queue ----------------------------------------------------------------------------


def test_a_full_queue_makes_client_flush_false_counts_and_logs_once(caplog, held) -> None:
    sink = BatchingSink(held, queue_size=10, max_latency=0.001, retry=QUICK)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 1)
    assert held.entered.wait(PATIENCE)  # "u-0" is in a write that waits
    evaluate(client, 1, 1000)  # 10 fit in the queue; 990 of the oldest are dropped

    held.release.set()
    assert client.flush(PATIENCE) is False  # it returned True after a drop
    assert client.flush(PATIENCE) is True  # the drop is reported once; nothing new since

    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"queue_full": 990}
    assert_accounted(stats)
    assert client.stats()["exposures_dropped"] == 990
    assert len(warnings_about(caplog, "queue_full")) == 1  # 990 drops, one line a minute
    client.close()


# -- a failing destination -------------------------------------------------------------------


def test_a_failed_delivery_makes_flush_false_counts_and_logs(caplog) -> None:
    def refuse(record: dict[str, Any]) -> None:
        raise OSError("the destination is down")

    sink = CallbackSink(refuse)  # on its own: writes on the calling thread
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 5)
    assert client.flush() is False  # RecordSink.flush answered True
    assert client.flush() is True
    assert sink.stats()["dropped_by_reason"] == {"delivery_failed": 5}
    assert client.stats()["exposures_dropped"] == 5
    assert len(warnings_about(caplog, "failed to deliver")) == 1
    client.close()


def test_a_batch_refused_to_the_end_without_a_spool_makes_flush_false() -> None:
    sink = BatchingSink(FailingWriter(), retry=QUICK, max_latency=0.001)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 5)
    assert client.flush(PATIENCE) is False
    assert client.stats()["exposures_dropped"] == 5
    client.close(timeout=1.0)


# -- the client --------------------------------------------------------------------------------


def test_exposures_after_close_are_counted_logged_and_make_flush_false(caplog) -> None:
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[MemorySink()])
    client.close()
    evaluate(client, 0, 100)
    assert client.flush() is False
    assert client.flush() is True
    stats = client.stats()
    assert (stats["dropped_closed"], stats["exposures_dropped"]) == (100, 100)
    assert len(warnings_about(caplog, "the client is closed")) == 1


class RaisingSink:
    def emit(self, exposure: Exposure) -> None:
        raise RuntimeError("broken")

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


def test_a_sink_whose_emit_raises_loses_the_exposure_loudly(caplog) -> None:
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[RaisingSink()])
    evaluate(client, 0, 3)
    assert client.flush() is False
    assert client.stats()["exposures_dropped"] == 3
    assert len(warnings_about(caplog, "raised from emit")) == 1
    client.close()


# -- close keeps to its timeout --------------------------------------------------------------


def closing_time(client: flagstone.Client, timeout: float) -> float:
    start = time.monotonic()
    client.close(timeout=timeout)
    return time.monotonic() - start


def test_close_with_a_destination_that_always_fails_keeps_to_its_timeout() -> None:
    # The default retry policy (five attempts, up to 10 s apart) and close_timeout (5 s):
    # close(timeout=0.5) used to flush for 0.5 s, then close the sink for 5 + 1 s more.
    sink = BatchingSink(FailingWriter(), max_latency=60)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 50)
    took = closing_time(client, 0.5)
    assert took < 0.5 + 0.5, took
    stats = sink.stats()
    assert stats["dropped"] == 50 and set(stats["dropped_by_reason"]) <= {
        "shutdown",
        "delivery_failed",
    }
    assert_accounted(stats)


def test_close_with_a_destination_that_hangs_keeps_to_its_timeout(held) -> None:
    sink = BatchingSink(held, max_latency=0.001)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 1)
    assert held.entered.wait(PATIENCE)
    evaluate(client, 1, 20)  # behind the write that hangs
    took = closing_time(client, 0.5)
    assert took < 0.5 + 0.5, took
    stats = sink.stats()
    assert stats["dropped_by_reason"] == {"shutdown": 20}  # counted, not silently left
    assert stats["queued"] == 1  # the one inside the write, which may still go through
    assert_accounted(stats)


def test_the_close_grace_is_part_of_the_timeout(held) -> None:
    # close() used to wait its timeout, then a fixed second more after stopping retries.
    sink = BatchingSink(held, max_latency=0.001, close_grace=0.05)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate(client, 0, 1)
    assert held.entered.wait(PATIENCE)
    start = time.monotonic()
    sink.close(timeout=0.2)
    assert time.monotonic() - start < 0.2 + 0.15


def test_sinks_of_one_client_drain_at_the_same_time() -> None:
    # Two destinations that take 0.5 s per write: closed one after the other, they would
    # need 1 s; close() tells both sinks to deliver at once.
    delivered: list[int] = []

    def deliver_slowly(records: list[dict[str, Any]]) -> None:
        time.sleep(0.5)  # a slow collector
        delivered.append(len(records))

    sinks = [
        BatchingSink(CallbackSink(deliver_slowly, batch=True), max_latency=60) for _ in range(2)
    ]
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=sinks)
    evaluate(client, 0, 3)
    took = closing_time(client, 5.0)
    assert delivered == [3, 3]
    assert took < 0.9, took
