"""Metric events through every sink and the delivery machinery, and into the pipeline.

- ``BatchingSink`` keeps events and exposures in separate queues: a burst of one kind never
  pushes the other out, for every drop policy, and ``stats()`` counts each kind apart
  (``by_kind``) with the invariant ``emitted == delivered + deduplicated + dropped + queued +
  in_spool`` per kind and in total.
- Events go through the spool while the destination fails, and the next sink on the same
  directory replays what a closed one left, without a new event.
- ``HttpSink`` (over ``MockTransport``) posts events under ``"events"``, exposures under
  ``"exposures"``; ``LoggingSink``, ``CallbackSink``, ``FanoutSink``, ``MemorySink`` take
  events too.
- The pipeline reads the JSONL file a real client wrote (exposures with an allow-listed
  ``country`` and events in one file) and gives the per-variant sums that plain loops over
  the simulation's own log give, overall, per country (a breakdown) and filtered.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.errors import SinkError
from flagstone.sinks import (
    BatchingSink,
    CallbackSink,
    FanoutSink,
    HttpSink,
    JsonlSink,
    LoggingSink,
    MemorySink,
    RecordBatch,
    RetryPolicy,
)
from flagstone.transport import MockTransport, Request, Response
from tests.sinkdata import SNAPSHOT, assert_accounted

WAIT = 30.0
FAST_RETRY = RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.005)


def client_for(*sinks: Any, **options: Any) -> flagstone.Client:
    return flagstone.Client.from_dict(
        SNAPSHOT, sinks=list(sinks), event_unit_selector="user.id", **options
    )


def ctx(unit: str) -> dict[str, Any]:
    return {"user": {"id": unit}}


def assert_accounted_by_kind(stats: Any) -> None:
    assert_accounted(stats)
    for kind in ("exposure", "event"):
        assert_accounted(stats["by_kind"][kind])
    for key in ("emitted", "delivered", "deduplicated", "dropped", "queued", "in_spool"):
        assert stats[key] == sum(stats["by_kind"][k][key] for k in ("exposure", "event")), key
    assert stats["by_kind"]["event"]["deduplicated"] == 0


class Gate(MemorySink):
    """A destination that holds every write until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write_batch(self, batch: RecordBatch) -> None:
        self.entered.set()
        self.release.wait(WAIT)
        super().write_batch(batch)


# -- separate budgets ------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
def test_a_burst_of_events_never_pushes_exposures_out(policy: str) -> None:
    gate = Gate()
    sink = BatchingSink(
        gate,
        queue_size=20,
        event_queue_size=20,
        on_full=policy,  # type: ignore[arg-type]
        block_timeout=0.001,
        max_batch=10,
        max_latency=0.01,
    )
    client = client_for(sink)
    client.evaluate("checkout", ctx("first"))
    assert gate.entered.wait(WAIT)  # the worker is stuck in its first write
    for index in range(20):  # the exposures' queue, filled to its budget
        client.evaluate("checkout", ctx(f"x{index}"))
    for index in range(300):  # a burst of events, far past theirs
        client.track("click", ctx(f"x{index % 20}"), value=index)
    during = sink.stats()
    assert during["by_kind"]["exposure"]["dropped"] == 0
    assert during["by_kind"]["event"]["dropped"] > 0
    gate.release.set()
    assert sink.flush(WAIT) is False  # events were dropped: reported
    stats = sink.stats()
    assert_accounted_by_kind(stats)
    exposures, events = stats["by_kind"]["exposure"], stats["by_kind"]["event"]
    assert (exposures["emitted"], exposures["delivered"], exposures["dropped"]) == (21, 21, 0)
    assert events["emitted"] == 300 and events["dropped"] == 300 - events["delivered"]
    reason = "block_timeout" if policy == "block" else "queue_full"
    assert set(events["dropped_by_reason"]) == {reason}
    assert exposures["dropped_by_reason"] == {}
    assert len(gate.events) == 21 and len(gate.tracked) == events["delivered"]
    delivered_values = [record["value"] for record in gate.tracked]
    if policy == "drop_oldest":  # the newest events survive
        assert delivered_values[-1] == 299
    else:  # the oldest survive, the newest were refused
        assert 299 not in delivered_values
    client.close()


def test_a_burst_of_exposures_never_pushes_events_out() -> None:
    gate = Gate()
    sink = BatchingSink(gate, queue_size=10, event_queue_size=30, max_batch=5, max_latency=0.01)
    client = client_for(sink)
    client.track("visit", ctx("first"))
    assert gate.entered.wait(WAIT)
    for index in range(30):
        client.track("click", ctx(f"u{index}"))
    for index in range(200):
        client.evaluate("checkout", ctx(f"burst-{index}"))
    gate.release.set()
    sink.flush(WAIT)
    stats = sink.stats()
    assert_accounted_by_kind(stats)
    assert stats["by_kind"]["event"]["dropped"] == 0
    assert stats["by_kind"]["event"]["delivered"] == 31
    assert stats["by_kind"]["exposure"]["dropped_by_reason"]["queue_full"] > 0
    client.close()


def test_events_are_not_deduplicated_where_exposures_are() -> None:
    inner = MemorySink()
    sink = BatchingSink(inner)
    client = client_for(sink)
    for _ in range(3):
        client.evaluate("checkout", ctx("same"))
        client.track("click", ctx("same"))
    assert sink.flush(WAIT)
    stats = sink.stats()
    assert_accounted_by_kind(stats)
    assert (len(inner.events), len(inner.tracked)) == (1, 3)
    assert stats["by_kind"]["exposure"]["deduplicated"] == 2
    assert len({record["event_id"] for record in inner.tracked}) == 3
    client.close()


def test_the_events_lane_starts_with_the_first_event() -> None:
    before = set(threading.enumerate())
    sink = BatchingSink(MemorySink())
    client = client_for(sink)
    client.evaluate("checkout", ctx("u"))
    sink.flush(WAIT)
    started = set(threading.enumerate()) - before
    assert [t.name for t in started] == ["flagstone-exposures"]
    client.track("click", ctx("u"))
    started = set(threading.enumerate()) - before
    assert sorted(t.name for t in started) == ["flagstone-events", "flagstone-exposures"]
    client.close()
    for thread in started:
        thread.join(WAIT)
        assert not thread.is_alive(), thread.name


def test_close_delivers_both_kinds_and_later_events_are_counted_as_closed() -> None:
    inner = MemorySink()
    sink = BatchingSink(inner, max_latency=60)
    client = client_for(sink)
    client.evaluate("checkout", ctx("u"))
    client.track("click", ctx("u"))
    sink.close(timeout=WAIT)
    assert (len(inner.events), len(inner.tracked)) == (1, 1)
    sink.emit_event(client_event("late"))
    stats = sink.stats()
    assert stats["by_kind"]["event"]["dropped_by_reason"] == {"closed": 1}
    assert_accounted_by_kind(stats)
    client.close()


def client_event(unit: str) -> Any:
    """A ``MetricEvent`` as ``Client.track`` makes it."""
    captured = MemorySink()
    captured_events: list[Any] = []
    captured.emit_event = captured_events.append  # type: ignore[method-assign]
    client = client_for(captured)
    client.track("click", ctx(unit))
    client.close()
    return captured_events[0]


# -- the spool -------------------------------------------------------------------------------


class Flaky:
    """A JSONL destination that fails while ``down``."""

    def __init__(self, path: Path) -> None:
        self.file = JsonlSink(path)
        self.down = True

    def write_batch(self, batch: RecordBatch) -> None:
        if self.down:
            raise SinkError("down")
        self.file.write_batch(batch)

    def close(self) -> None:
        self.file.close()


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_events_wait_in_their_own_spool_while_the_destination_fails(tmp_path: Path) -> None:
    out, spool = tmp_path / "records.jsonl", tmp_path / "spool"
    destination = Flaky(out)
    sink = BatchingSink(
        destination, spool_dir=spool, spool_fsync=False, retry=FAST_RETRY, max_latency=0.01
    )
    client = client_for(sink)
    for index in range(40):
        client.evaluate("checkout", ctx(f"u{index}"))
        client.track("click", ctx(f"u{index}"), value=index)
    deadline = time.monotonic() + WAIT
    while sink.stats()["by_kind"]["event"]["in_spool"] < 40:
        assert time.monotonic() < deadline, sink.stats()
        time.sleep(0.01)
    assert list((spool / "events").glob("*.jsonl"))  # the events' spool of their own
    destination.down = False  # the spool is replayed (flush waits for the queue only)
    deadline = time.monotonic() + WAIT
    while sink.stats()["in_spool"]:
        assert time.monotonic() < deadline, sink.stats()
        time.sleep(0.01)
    assert sink.flush(WAIT)
    stats = sink.stats()
    assert_accounted_by_kind(stats)
    assert stats["by_kind"]["event"]["delivered"] == 40
    assert stats["by_kind"]["event"]["spooled"] == 40
    written = lines(out)
    assert sorted(r["value"] for r in written if r["type"] == "event") == list(range(40))
    assert len([r for r in written if r["type"] == "exposure"]) == 40
    client.close()


def test_the_next_sink_on_the_directory_replays_the_events_left_behind(tmp_path: Path) -> None:
    out, spool = tmp_path / "records.jsonl", tmp_path / "spool"
    first = BatchingSink(
        Flaky(tmp_path / "never.jsonl"),
        spool_dir=spool,
        spool_fsync=False,
        retry=FAST_RETRY,
        max_latency=0.01,
    )
    client = client_for(first)
    for index in range(25):
        client.track("purchase", ctx(f"u{index}"), value=index + 0.5)
    client.close(timeout=2)
    left = first.stats()["by_kind"]["event"]
    assert left["in_spool"] == 25 and left["dropped"] == 0
    # a new process on the same directory: it replays without any event of its own
    second = BatchingSink(JsonlSink(out), spool_dir=spool, spool_fsync=False)
    deadline = time.monotonic() + WAIT
    while len(lines(out)) < 25:
        assert time.monotonic() < deadline, second.stats()
        time.sleep(0.01)
    assert sorted(r["value"] for r in lines(out)) == [i + 0.5 for i in range(25)]
    assert second.stats()["by_kind"]["event"]["replayed"] == 25
    second.close()
    assert list((spool / "events").glob("*.jsonl")) == []


# -- every sink takes events -----------------------------------------------------------------


def test_http_sink_posts_events_under_events_and_exposures_under_exposures() -> None:
    posted: list[tuple[dict[str, str], dict[str, Any]]] = []

    def collector(request: Request) -> Response:
        body = request.body
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        posted.append((dict(request.headers), json.loads(body)))
        return Response(200)

    http = HttpSink("https://collector.test/records", transport=MockTransport(collector))
    sink = BatchingSink(http, max_latency=0.01)
    client = client_for(sink, event_properties=("currency",))
    client.evaluate("checkout", ctx("u1"))
    client.track("purchase", ctx("u1"), value=3.5, properties={"currency": "SEK"})
    assert sink.flush(WAIT)
    client.close()
    bodies = {tuple(sorted(set(body) - {"batch_id"})): body for _, body in posted}
    assert set(bodies) == {("exposures",), ("events",)}
    (event,) = bodies[("events",)]["events"]
    assert (event["type"], event["event"], event["unit"], event["value"]) == (
        "event",
        "purchase",
        "u1",
        3.5,
    )
    assert event["properties"] == {"currency": "SEK"}
    (exposure,) = bodies[("exposures",)]["exposures"]
    assert (exposure["type"], exposure["targeting_key"]) == ("exposure", "u1")
    for headers, body in posted:
        assert headers["Idempotency-Key"] == body["batch_id"]


def test_http_sink_sends_both_keys_for_a_batch_of_both_kinds() -> None:
    posted: list[dict[str, Any]] = []

    def collector(request: Request) -> Response:
        posted.append(json.loads(request.body))
        return Response(200)

    http = HttpSink("https://collector.test/r", gzip=False, transport=MockTransport(collector))
    exposure = {"schema_version": 1, "type": "exposure", "resolve_id": "a"}
    event = {"schema_version": 1, "type": "event", "event_id": "b"}
    old = {"schema_version": 1, "resolve_id": "c"}  # no type: an exposure
    http.write_batch(RecordBatch([exposure, event, old]))
    http.write_batch(RecordBatch([event]))
    http.close()
    assert posted[0]["exposures"] == [exposure, old] and posted[0]["events"] == [event]
    assert "exposures" not in posted[1] and posted[1]["events"] == [event]


def test_http_sink_on_its_own_posts_one_event_per_request_and_counts_failures() -> None:
    answers = iter([Response(200), Response(503)])
    http = HttpSink(
        "https://collector.test/r", transport=MockTransport(lambda request: next(answers))
    )
    client = client_for(http)
    client.track("click", ctx("a"))
    client.track("click", ctx("b"))
    stats = http.stats()["by_kind"]["event"]
    assert (stats["emitted"], stats["delivered"], stats["dropped_by_reason"]) == (
        2,
        1,
        {"delivery_failed": 1},
    )
    assert client.stats()["events_dropped"] == 1
    client.close()


def test_logging_sink_attaches_events_as_metric_event(caplog: pytest.LogCaptureFixture) -> None:
    sink = LoggingSink("test.records")
    client = client_for(sink)
    with caplog.at_level(logging.INFO, logger="test.records"):
        client.evaluate("checkout", ctx("u"))
        client.track("click", ctx("u"))
    exposure, event = caplog.records
    assert exposure.exposure["type"] == "exposure"  # type: ignore[attr-defined]
    assert event.metric_event["type"] == "event"  # type: ignore[attr-defined]
    assert json.loads(event.getMessage()) == event.metric_event  # type: ignore[attr-defined]
    client.close()


@pytest.mark.parametrize("wrap", [False, True], ids=["direct", "batching"])
def test_callback_and_jsonl_sinks_take_events(tmp_path: Path, wrap: bool) -> None:
    received: list[dict[str, Any]] = []
    path = tmp_path / "records.jsonl"

    def maybe(sink: Any) -> Any:
        return BatchingSink(sink) if wrap else sink

    client = client_for(maybe(CallbackSink(received.append)), maybe(JsonlSink(path)))
    client.evaluate("checkout", ctx("u"))
    client.track("click", ctx("u"), value=2)
    client.close()
    assert sorted(r["type"] for r in received) == ["event", "exposure"]
    assert sorted(r["type"] for r in lines(path)) == ["event", "exposure"]


def test_fanout_gives_events_to_each_sink_that_takes_them() -> None:
    class Raising(MemorySink):
        def emit_event(self, event: Any) -> None:
            raise RuntimeError("broken")

    class ExposuresOnly:
        def emit(self, exposure: Any) -> None:
            pass

        def flush(self, timeout: float | None = None) -> bool:
            return True

        def close(self) -> None:
            pass

    first, last = MemorySink(), MemorySink()
    fanout = FanoutSink([first, Raising(), ExposuresOnly(), last])
    client = client_for(fanout)
    client.track("click", ctx("u"))
    assert (len(first.tracked), len(last.tracked), fanout.errors) == (1, 1, 1)
    client.close()


def test_memory_sink_keeps_kinds_apart_and_in_order() -> None:
    sink = MemorySink()
    client = client_for(sink)
    client.track("a", ctx("u"))
    client.evaluate("checkout", ctx("u"))
    client.track("b", ctx("u"))
    assert [r.get("event") or r["type"] for r in sink.records] == ["a", "exposure", "b"]
    assert [r["event"] for r in sink.tracked] == ["a", "b"]
    assert len(sink.events) == len(sink) == 1
    stats = sink.stats()
    assert_accounted_by_kind(stats)
    assert (stats["by_kind"]["event"]["delivered"], stats["by_kind"]["exposure"]["delivered"]) == (
        2,
        1,
    )
    client.close()


# -- the pipeline reads what a real client wrote ---------------------------------------------


def test_the_pipeline_reads_a_real_clients_jsonl_with_a_breakdown_and_a_filter(
    tmp_path: Path,
) -> None:
    pytest.importorskip("duckdb")
    from flagstone.analysis import aggregate
    from flagstone.formats import parse_snapshot
    from tests.pipelinedata import FLAG, TEST, snapshot_document

    metrics = [
        {"name": "metrics/buyers", "event": "purchase", "aggregation": "CONVERSION"},
        {"name": "metrics/revenue", "event": "purchase", "aggregation": "SUM"},
        {"name": "metrics/clicks", "event": "click", "aggregation": "COUNT"},
    ]
    sweden = {
        "displayName": "Sweden",
        "filter": {
            "criteria": {
                "se": {
                    "attribute": {
                        "attributeName": "country",
                        "eqRule": {"value": {"stringValue": "SE"}},
                    }
                }
            },
            "expression": {"ref": "se"},
        },
    }
    document = snapshot_document(metrics=metrics, filters=[sweden])
    path = tmp_path / "records.jsonl"
    client = flagstone.Client.from_dict(
        document,
        sinks=[BatchingSink(JsonlSink(path))],
        exposure_context=("country",),
        event_properties=("currency",),
    )
    rng = random.Random(12)
    countries = {f"user-{i}": rng.choice(["SE", "NO", "DK"]) for i in range(300)}
    variant_of: dict[str, str] = {}
    log: dict[str, list[tuple[str, float | None]]] = {}  # unit -> (event, value), as tracked
    for unit, country in countries.items():
        context = {"targeting_key": unit, "country": country, "email": f"{unit}@example.com"}
        resolution = client.evaluate(FLAG, context)
        variant_of[unit] = str(resolution.variant).rsplit("/", 1)[-1]
        if rng.random() < 0.3:
            client.evaluate(FLAG, context)  # a repeat: counted once
        for _ in range(rng.choice([0, 0, 1, 2])):
            value = round(rng.uniform(1, 50), 2)
            client.track("purchase", context, value=value, properties={"currency": "SEK"})
            log.setdefault(unit, []).append(("purchase", value))
        for _ in range(rng.choice([0, 1, 3])):
            client.track("click", context)
            log.setdefault(unit, []).append(("click", None))
    client.track("purchase", {"targeting_key": "never-exposed"}, value=1000.0)  # ignored
    client.track("purchase", {"country": "SE"}, value=1.0)  # no unit: not recorded
    client.close()
    at = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert "@example.com" not in path.read_text(encoding="utf-8")

    def plain(keep: Callable[[str], bool]) -> dict[str, dict[str, dict[str, float]]]:
        """Per metric, per variant: n, sum and sum of squares, from the simulation's log."""
        sums: dict[str, dict[str, dict[str, float]]] = {m["name"]: {} for m in metrics}
        for unit, variant in variant_of.items():
            if not keep(unit):
                continue
            done = log.get(unit, [])
            values = {
                "metrics/buyers": float(any(name == "purchase" for name, _ in done)),
                "metrics/revenue": sum(v for name, v in done if name == "purchase" and v),
                "metrics/clicks": float(sum(name == "click" for name, _ in done)),
            }
            for metric, value in values.items():
                group = sums[metric].setdefault(variant, {"n": 0, "sum": 0.0, "sum_sq": 0.0})
                group["n"] += 1
                group["sum"] += value
                group["sum_sq"] += value * value
        return sums

    def check(stats: dict[str, Any], expected: dict[str, dict[str, dict[str, float]]]) -> None:
        got = {m["id"]: m["groups"] for m in stats["metrics"]}
        assert set(got) == set(expected)
        for metric, groups in expected.items():
            assert set(got[metric]) == set(groups), metric
            for variant, sums in groups.items():
                assert got[metric][variant]["n"] == sums["n"], (metric, variant)
                assert got[metric][variant]["sum"] == pytest.approx(sums["sum"]), metric
                if metric != "metrics/buyers":  # conversions are 0/1: no sum_sq
                    assert got[metric][variant]["sum_sq"] == pytest.approx(sums["sum_sq"])

    snapshot = parse_snapshot(document)
    result = aggregate(snapshot, TEST, str(path), str(path), at=at, breakdown="country")
    assert result.malformed.total == 0
    assert dict(result.units) == {
        v: list(variant_of.values()).count(v) for v in set(variant_of.values())
    }
    check(result.stats, plain(lambda unit: True))
    assert result.breakdown is not None and set(result.breakdown) == {"SE", "NO", "DK"}
    for country, part in result.breakdown.items():
        check(part.stats, plain(lambda unit, c=country: countries[unit] == c))
    filtered = aggregate(snapshot, TEST, str(path), str(path), at=at, filters="Sweden")
    check(filtered.stats, plain(lambda unit: countries[unit] == "SE"))


# -- fork ------------------------------------------------------------------------------------


def test_a_forked_child_delivers_its_own_events_and_the_parent_its_own_once(
    tmp_path: Path,
) -> None:
    """In its own interpreter (``tests/scripts/fork_with_events.py``): pytest's threads must
    not be in a forking process."""
    from tests.scripted import run_script

    output = tmp_path / "records.jsonl"
    run = run_script(
        Path(__file__).resolve().parent / "scripts" / "fork_with_events.py",
        output,
        tmp_path / "spool",
    )
    assert run.report["child_status"] == 0, run.details
    parent = run.report["parent_events"]
    assert (parent["emitted"], parent["delivered"], parent["dropped"]) == (30, 30, 0)
    events = [r for r in lines(output) if r["type"] == "event"]
    units = sorted(r["unit"] for r in events)
    assert units == sorted([f"p-{i}" for i in range(30)] + [f"c-{i}" for i in range(20)])
    assert len([r for r in lines(output) if r["type"] == "exposure"]) == 5
