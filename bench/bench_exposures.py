"""What does recording exposures cost? Measurements, printed, never asserted.

    python bench/bench_exposures.py            # full run
    python bench/bench_exposures.py --quick    # fewer repetitions, a 5 s paced run

0. **Issue 15's goal 5, side by side** (summarised again at the end, with the load
   average): request-thread CPU per *fresh* exposure (every user new, as the peers' harness
   measures it: median over interleaved rounds of the difference to a client without sinks)
   for a standalone ``CallbackSink(list.append)`` and for ``BatchingSink(JsonlSink)``;
   sustained throughput: 200 000 exposures of distinct units through ``evaluate`` as fast
   as one thread can call it (``on_full="block"``, so the request thread waits rather than
   drops when the worker falls behind), then ``flush``: exposures per second from the first
   call until the last line is in the JSONL file (checked: one line per exposure, none
   dropped); and 100 000 fresh exposures/s from 4 threads (25 000/s each, paced every
   10 ms) for 20 s (5 s with ``--quick``) with the default settings: delivered, dropped,
   deepest queue.
1. **Request thread.** ``evaluate`` on a 50/50 A/B test (every call is an exposure) without a
   sink and with ``BatchingSink(JsonlSink(file))``, in the same run, alternating, best of
   runs over the same 4 096 users (the worker drops the repeats; the request thread's work
   is that of a fresh exposure). Reported as CPU time of the calling thread
   (``time.thread_time``: what the request thread itself spends, excluding waits for the
   GIL held by the worker) and as wall time (which also absorbs the worker's share of the
   one interpreter lock while both run). Then ``client.track`` (a metric event: checks, one
   object, a queue append) through the same sink, with a value, and with a value and one
   allow-listed property: ns per call, beside what recording an exposure added to
   ``evaluate``.
2. **The delivery side alone**, for exposures and for event records: records built
   (dedup, ids, times, JSON) and written per second, no request thread.
3. **multiprocessing workers** (``--pool``, fork only). Two ways for ``with Pool():``, which
   ends with ``terminate()`` (SIGTERM), to keep the workers' exposures: the signal handler
   (``install_signal_handlers``: nothing per task, the closing at ``terminate()``), timed as
   the ``with`` block's exit with and without it; or a ``client.flush()`` after every task,
   timed per task of ten exposures.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_evaluate import ab_snapshot

import flagstone
from flagstone.sinks import BatchingSink, CallbackSink, Exposure, JsonlSink, MetricEvent
from flagstone.sinks.events import EventRecordBuilder
from flagstone.sinks.records import Deduplicator, RecordBuilder

USERS = 4096


def per_call(
    evaluate: Callable[..., Any], contexts: list[dict[str, Any]], clock: Callable[[], float]
) -> float:
    """Seconds per ``evaluate("checkout", context)`` over ``contexts``."""
    gc.disable()
    try:
        start = clock()
        for context in contexts:
            evaluate("checkout", context)
        return (clock() - start) / len(contexts)
    finally:
        gc.enable()


def request_thread_cost(repeats: int, directory: Path) -> None:
    document = ab_snapshot(targeting=False, proportion=None)
    bare = flagstone.Client.from_dict(document)
    sink = BatchingSink(JsonlSink(directory / "request-thread.jsonl"))
    recording = flagstone.Client.from_dict(document, sinks=[sink])
    contexts = [{"targeting_key": f"user-{index}"} for index in range(USERS)]
    assert recording.evaluate("checkout", contexts[0]).should_apply
    exposure_cost = 0.0
    for clock_name, clock in (("CPU", time.thread_time), ("wall", time.perf_counter)):
        without: list[float] = []
        with_sink: list[float] = []
        for _ in range(repeats):
            without.append(per_call(bare.evaluate, contexts, clock))
            with_sink.append(per_call(recording.evaluate, contexts, clock))
            sink.flush(30)  # keep the queue from filling; not timed
        best_without, best_with = min(without), min(with_sink)
        print(
            f"  {clock_name:4s} time: no sink {best_without * 1e9:7.0f} ns, "
            f"BatchingSink(JsonlSink) {best_with * 1e9:7.0f} ns, "
            f"added {(best_with - best_without) * 1e9:6.0f} ns per exposure "
            f"(x{best_with / best_without:.2f})"
        )
        if clock_name == "CPU":
            exposure_cost = best_with - best_without
    track_cost(repeats, contexts, exposure_cost, directory)
    recording.close()
    stats = sink.stats()
    print(
        f"  sink: emitted {stats['emitted']}, delivered {stats['delivered']}, "
        f"deduplicated {stats['deduplicated']}, dropped {stats['dropped']}"
    )


def fresh_exposure_cost(rounds: int, count: int) -> dict[str, float]:
    """ns of request-thread CPU a *fresh* exposure adds to ``evaluate`` (every round's users
    are new, so nothing is deduplicated), for a standalone ``CallbackSink(list.append)`` and
    for ``BatchingSink(JsonlSink)``: median over rounds of the difference to a client with
    no sink, the two timed back to back, in alternating order (the peers' harness's way)."""
    document = ab_snapshot(targeting=False, proportion=None)
    bare = flagstone.Client.from_dict(document)
    collected: list[Any] = []
    handle, path = tempfile.mkstemp(suffix=".jsonl", prefix="bench-fresh-")
    os.close(handle)
    batching = BatchingSink(JsonlSink(path))
    recording = {
        "CallbackSink": flagstone.Client.from_dict(
            document, sinks=[CallbackSink(collected.append)]
        ),
        "BatchingSink(JsonlSink)": flagstone.Client.from_dict(document, sinks=[batching]),
    }
    results: dict[str, float] = {}
    for label, client in recording.items():
        added: list[float] = []
        for index in range(rounds):
            contexts = [{"targeting_key": f"{label[0]}{index}-{n}"} for n in range(count)]
            pair = [bare, client] if index % 2 else [client, bare]
            times = {}
            gc.collect()
            for target in pair:
                times[id(target)] = per_call(target.evaluate, contexts, time.thread_time)
            added.append(times[id(client)] - times[id(bare)])
            batching.flush(30)  # not timed: keep the queue from growing
            collected.clear()
        results[label] = statistics.median(added) * 1e9
        print(
            f"  {label}: +{results[label]:,.0f} ns CPU per fresh exposure on the request "
            f"thread (median of {rounds} rounds of {count:,}; rounds "
            f"{min(added) * 1e9:,.0f}..{max(added) * 1e9:,.0f})"
        )
        client.close()
    os.unlink(path)
    return results


def per_track(
    track: Callable[..., Any],
    contexts: list[dict[str, Any]],
    clock: Callable[[], float],
    **options: Any,
) -> float:
    """Seconds per ``track("purchase", context, **options)`` over ``contexts``."""
    gc.disable()
    try:
        start = clock()
        for context in contexts:
            track("purchase", context, **options)
        return (clock() - start) / len(contexts)
    finally:
        gc.enable()


def track_cost(
    repeats: int, contexts: list[dict[str, Any]], exposure_cost: float, directory: Path
) -> None:
    """``client.track`` through ``BatchingSink(JsonlSink)``: the request thread's cost of a
    metric event, next to what an exposure added to ``evaluate`` (CPU time)."""
    document = ab_snapshot(targeting=False, proportion=None)
    sink = BatchingSink(JsonlSink(directory / "track.jsonl"))
    client = flagstone.Client.from_dict(document, sinks=[sink], event_properties=("currency",))
    variants = [
        ("value", {"value": 12.5}),
        ("value + 1 property", {"value": 12.5, "properties": {"currency": "SEK"}}),
    ]
    for clock_name, clock in (("CPU", time.thread_time), ("wall", time.perf_counter)):
        for label, options in variants:
            runs = []
            for _ in range(repeats):
                runs.append(per_track(client.track, contexts, clock, **options))
                sink.flush(30)  # keep the queue from filling; not timed
            print(
                f"  {clock_name:4s} time: track ({label}) {min(runs) * 1e9:6.0f} ns per event "
                f"(an exposure added {exposure_cost * 1e9:.0f} ns CPU to evaluate)"
            )
    client.close()
    stats = sink.stats()["by_kind"]["event"]
    rejected = client.stats()["events_rejected"]
    print(
        f"  events: emitted {stats['emitted']}, delivered {stats['delivered']}, "
        f"dropped {stats['dropped']}, rejected {rejected}"
    )


def throughput(count: int, directory: Path) -> float:
    """As fast as one thread can evaluate, with ``on_full="block"`` so that nothing is
    dropped: the rate is what the delivery side sustains while the request thread runs."""
    document = ab_snapshot(targeting=False, proportion=None)
    path = directory / "throughput.jsonl"
    sink = BatchingSink(JsonlSink(path), on_full="block", block_timeout=30)
    client = flagstone.Client.from_dict(document, sinks=[sink])
    contexts = [{"targeting_key": f"unit-{index}"} for index in range(count)]
    evaluate = client.evaluate
    start = time.perf_counter()
    for context in contexts:
        evaluate("checkout", context)
    delivered = sink.flush(120)
    elapsed = time.perf_counter() - start
    client.close()
    report(f"  max: {count} exposures", count, elapsed, delivered, path, sink)
    return count / elapsed


def paced(rate: int, seconds: float, threads: int, directory: Path) -> dict[str, Any]:
    """``rate`` fresh exposures per second in all from ``threads`` threads for ``seconds``,
    with the default settings (a 100 000 queue dropping the oldest when full), each thread
    evaluating its share every 10 ms: what is delivered, dropped, how deep the queue got."""
    document = ab_snapshot(targeting=False, proportion=None)
    path = directory / "paced.jsonl"
    sink = BatchingSink(JsonlSink(path))
    client = flagstone.Client.from_dict(document, sinks=[sink])
    per_thread = rate // threads
    slice_size = per_thread // 100  # every 10 ms
    count = int(per_thread * seconds) // slice_size * slice_size
    deepest = [0]
    late = [0.0]

    def produce(number: int) -> None:
        evaluate = client.evaluate
        start = time.perf_counter()
        for offset in range(0, count, slice_size):
            for index in range(offset, offset + slice_size):
                evaluate("checkout", {"targeting_key": f"paced-{number}-{index}"})
            ahead = start + (offset + slice_size) / per_thread - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            else:
                late[0] = max(late[0], -ahead)

    def watch(stop: threading.Event) -> None:
        while not stop.wait(0.01):
            deepest[0] = max(deepest[0], sink.stats()["queued"])

    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(stop,))
    producers = [threading.Thread(target=produce, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    watcher.start()
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    produced_in = time.perf_counter() - start
    stop.set()
    watcher.join()
    delivered = sink.flush(120)
    elapsed = time.perf_counter() - start
    client.close()
    total = count * threads
    report(
        f"  paced at {rate:,}/s from {threads} threads for {seconds:.0f} s",
        total,
        elapsed,
        delivered,
        path,
        sink,
    )
    stats = sink.stats()
    print(
        f"    produced in {produced_in:.2f} s ({total / produced_in:,.0f}/s; a thread at most "
        f"{late[0] * 1e3:.0f} ms behind its pace), deepest queue seen: {deepest[0]:,} "
        f"(queue_size {sink.queue_size:,})"
    )
    return {
        "emitted": stats["emitted"],
        "delivered": stats["delivered"],
        "dropped": stats["dropped"],
        "deepest": deepest[0],
        "rate": total / produced_in,
    }


def report(
    label: str, count: int, elapsed: float, delivered: bool, path: Path, sink: BatchingSink
) -> None:
    with open(path, "rb") as file:
        lines = sum(1 for _ in file)
    stats = sink.stats()
    print(
        f"{label}: all in the file after {elapsed:.2f} s => {count / elapsed:,.0f} exposures/s; "
        f"flush {'ok' if delivered else 'FAILED'}, {lines:,} lines, dropped {stats['dropped']}"
    )


def delivery_side(count: int, directory: Path) -> None:
    """Records built (dedup, ids, times, JSON) and written per second, no request thread."""
    document = ab_snapshot(targeting=False, proportion=None)
    client = flagstone.Client.from_dict(document)
    resolutions = [
        client.evaluate("checkout", {"targeting_key": f"alone-{index}"}, apply=False)
        for index in range(count)
    ]
    now = time.time()
    exposures = [Exposure(resolution, now) for resolution in resolutions]
    writer = JsonlSink(directory / "delivery-only.jsonl")
    builder = RecordBuilder(Deduplicator())
    start = time.perf_counter()
    for offset in range(0, len(exposures), 500):
        writer.write_batch(builder.build(exposures[offset : offset + 500]))
    elapsed = time.perf_counter() - start
    writer.close()
    print(
        f"  delivery side alone (dedup, records, JSON, write): "
        f"{elapsed / count * 1e9:,.0f} ns per record => {count / elapsed:,.0f} records/s"
    )


def delivery_side_events(count: int, directory: Path) -> None:
    """Event records built (ids, times, JSON) and written per second, no request thread."""
    now = time.time()
    events = [
        MetricEvent("purchase", f"alone-{index}", "targeting_key", 12.5, {}, now, "v1")
        for index in range(count)
    ]
    writer = JsonlSink(directory / "delivery-events.jsonl")
    builder = EventRecordBuilder()
    start = time.perf_counter()
    for offset in range(0, len(events), 500):
        writer.write_batch(builder.build(events[offset : offset + 500]))
    elapsed = time.perf_counter() - start
    writer.close()
    print(
        f"  delivery side alone for events (ids, records, JSON, write): "
        f"{elapsed / count * 1e9:,.0f} ns per record => {count / elapsed:,.0f} records/s"
    )


POOL_TASKS = 200
POOL_UNITS = 10
_pool_client: Any = None


def _pool_task(number: int) -> int:
    for unit in range(POOL_UNITS):
        _pool_client.evaluate("checkout", {"targeting_key": f"pool-{number}-{unit}"})
    return POOL_UNITS


def pool_shutdown(directory: Path) -> None:
    """``with Pool(2): map(...)`` over forked workers that share the parent's client: how
    long the block's exit (``terminate()``) takes, and how many exposures reach the files,
    without and with ``install_signal_handlers``."""
    import multiprocessing
    import signal

    global _pool_client
    document = ab_snapshot(targeting=False, proportion=None)
    for handler in (False, True):
        out = directory / f"pool-{handler}"
        out.mkdir()
        sink = BatchingSink(JsonlSink(out / "exposures-{pid}.jsonl"), max_latency=60)
        _pool_client = flagstone.Client.from_dict(document, sinks=[sink])
        uninstall = flagstone.install_signal_handlers() if handler else None
        ctx = multiprocessing.get_context("fork")
        exits = []
        for _ in range(5):
            with ctx.Pool(2) as pool:
                produced = sum(pool.map(_pool_task, range(POOL_TASKS), chunksize=1))
                start = time.perf_counter()
            exits.append(time.perf_counter() - start)
        if uninstall is not None:
            uninstall()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        written = sum(len(path.read_bytes().splitlines()) for path in out.iterdir())
        print(
            f"  with Pool(2), {'with' if handler else 'without'} the handler: exit "
            f"{min(exits) * 1e3:.1f}-{max(exits) * 1e3:.1f} ms; "
            f"{written:,} of {5 * produced:,} exposures written"
        )
        _pool_client.close()


def flush_per_task(tasks: int, directory: Path) -> None:
    """What a ``client.flush()`` after every task of ten exposures costs that task."""
    document = ab_snapshot(targeting=False, proportion=None)
    sink = BatchingSink(JsonlSink(directory / "flush-per-task.jsonl"))
    client = flagstone.Client.from_dict(document, sinks=[sink])
    timings = {}
    for flush in (False, True, False, True):
        start = time.perf_counter()
        for number in range(tasks):
            for unit in range(POOL_UNITS):
                client.evaluate("checkout", {"targeting_key": f"t{flush}-{number}-{unit}"})
            if flush:
                client.flush()
        elapsed = (time.perf_counter() - start) / tasks
        timings[flush] = min(timings.get(flush, elapsed), elapsed)
        client.flush()
    client.close()
    added = timings[True] - timings[False]
    print(
        f"  flush after every task of {POOL_UNITS}: {timings[False] * 1e6:.0f} -> "
        f"{timings[True] * 1e6:.0f} us per task (+{added * 1e6:.0f} us, "
        f"+{added / POOL_UNITS * 1e6:.1f} us per exposure)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--pool", action="store_true", help="only the multiprocessing part")
    arguments = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        if arguments.pool:
            print("3. multiprocessing workers: with Pool() ends with terminate() (SIGTERM)")
            pool_shutdown(directory)
            flush_per_task(2000, directory)
            return
        quick = arguments.quick
        print("0. issue 15, goal 5 (load average {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))
        fresh = fresh_exposure_cost(11 if quick else 21, 2000)
        rate = throughput(50_000 if quick else 200_000, directory)
        run = paced(100_000, 5 if quick else 20, 4, directory)
        print("1. evaluate with and without BatchingSink(JsonlSink), best of runs over 4096 users")
        request_thread_cost(5 if quick else 25, directory)
        print("2. the delivery side alone")
        delivery_side(50_000 if quick else 200_000, directory)
        delivery_side_events(50_000 if quick else 200_000, directory)
        print(f"goal 5 (load average now {os.getloadavg()[0]:.2f}):")
        for label, cost in fresh.items():
            print(f"  {label}: +{cost:,.0f} ns per fresh exposure on the request thread")
        print(f"  delivered to JSONL by one thread flat out: {rate:,.0f} exposures/s")
        print(
            f"  100,000/s from 4 threads ({run['rate']:,.0f}/s achieved): "
            f"emitted {run['emitted']:,}, delivered {run['delivered']:,}, "
            f"dropped {run['dropped']:,}, deepest queue {run['deepest']:,}"
        )


if __name__ == "__main__":
    main()
