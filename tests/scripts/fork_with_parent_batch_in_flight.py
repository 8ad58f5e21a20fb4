"""Fork while the parent's exposures are queued and in flight.

Usage: fork_with_parent_batch_in_flight.py OUT_PATH PARENT_UNITS CHILD_UNITS {fork,multiprocessing}

The parent writes through ``BatchingSink(JsonlSink(OUT_PATH))``: a first exposure is
delivered (so the parent's file is open), then the destination holds every write of the
parent process (not of a child) while PARENT_UNITS - 1 more exposures "p-1", "p-2", … are
emitted; once the parent's worker is held inside a write, the script forks (``os.fork`` or a
``multiprocessing`` "fork" process). The child emits CHILD_UNITS exposures "c-0", "c-1", …
through the inherited client, closes it and exits; its report goes to OUT_PATH.child.json.
The parent then releases its destination, closes its client and reports.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys

from scriptlib import (
    QUICK_RETRY,
    ParentGate,
    context,
    exposure_threads,
    make_client,
    report,
    wait_for_exit,
)

from flagstone.sinks import BatchingSink, JsonlSink, RecordBatch


class GatedJsonlSink(JsonlSink):
    def __init__(self, path: str, gate: ParentGate) -> None:
        super().__init__(path)
        self.gate = gate

    def write_batch(self, batch: RecordBatch) -> None:
        self.gate.pass_through()
        super().write_batch(batch)


def child_main(client, sink: BatchingSink, child_units: int, report_path: str) -> None:
    facts = {"pid": os.getpid(), "stats_at_start": sink.stats()}
    for unit in range(child_units):
        client.evaluate("checkout", context(f"c-{unit}"))
    facts["flushed"] = sink.flush(30)
    client.close(30)
    facts["stats_after_close"] = sink.stats()
    facts["threads_after_close"] = exposure_threads()
    with open(report_path, "w", encoding="utf-8") as file:
        json.dump(facts, file)


def main() -> None:
    out_path, parent_units, child_units, mode = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    report_path = out_path + ".child.json"
    gate = ParentGate()
    sink = BatchingSink(GatedJsonlSink(out_path, gate), retry=QUICK_RETRY, max_latency=0.001)
    client = make_client(sinks=[sink])
    client.evaluate("checkout", context("p-0"))
    first_flushed = sink.flush(30)
    gate.armed = True
    for unit in range(1, parent_units):
        client.evaluate("checkout", context(f"p-{unit}"))
    held = gate.entered.wait(30)
    stats_before_fork = sink.stats()
    if mode == "fork":
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                child_main(client, sink, child_units, report_path)
                status = 0
            finally:
                os._exit(status)
        child_status = wait_for_exit(pid, 60)
    else:
        process = multiprocessing.get_context("fork").Process(
            target=child_main, args=(client, sink, child_units, report_path)
        )
        process.start()
        process.join(60)
        if process.is_alive():
            process.kill()
            process.join()
            child_status = "timeout"
        else:
            child_status = process.exitcode
    gate.released.set()
    client.close(30)
    try:
        with open(report_path, encoding="utf-8") as file:
            child = json.load(file)
    except OSError:
        child = None
    report(
        first_flushed=first_flushed,
        held=held,
        stats_before_fork=stats_before_fork,
        child_status=child_status,
        child=child,
        parent_pid=os.getpid(),
        parent_stats=sink.stats(),
        parent_threads_after_close=exposure_threads(),
    )


if __name__ == "__main__":
    main()
