"""Exposures recorded in ``multiprocessing`` workers that never close their client.

Usage: FLAGSTONE_TEST_OUT_DIR=DIR FLAGSTONE_TEST_CLIENT=CLIENT \
       multiprocessing_exposures.py START_METHOD SHAPE

(The environment, not the arguments, because spawned workers build their client while they
import this module.)

SHAPE is how the workers run and end:
  "pool"       ``Pool(2)``, ``map``, then ``close()`` and ``join()``: workers leave normally
  "with-pool"  ``with Pool(2):`` and ``map``: the pool ends with ``terminate()``, which sends
               SIGTERM to the workers; ``flagstone.install_signal_handlers()`` runs first
               (in the parent for "fork", which the workers inherit; as the pool's
               ``initializer`` otherwise)
  "process"    two ``Process`` children, each running one task, then ``join()``
CLIENT is where the workers' client comes from:
  "module"     built when this module is imported: inherited by forked workers, built anew
               by spawned ones while they import this module (before their bootstrap)
  "task"       built by the first task a worker runs

Each task evaluates ten distinct units; each client writes through
``BatchingSink(JsonlSink(DIR/exposures-{pid}.jsonl), max_latency=60)``, so nothing
reaches a file before the worker's exit unless the exit delivers it. Nobody calls
``close()`` or ``flush()``. The report: how many exposures the tasks produced.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

from scriptlib import context, report
from tests.sinkdata import SNAPSHOT

import flagstone
from flagstone.sinks import BatchingSink, JsonlSink

UNITS_PER_TASK = 10
TASKS = 20
OUT_DIR = os.environ["FLAGSTONE_TEST_OUT_DIR"]


def build_client() -> flagstone.Client:
    sink = BatchingSink(JsonlSink(os.path.join(OUT_DIR, "exposures-{pid}.jsonl")), max_latency=60)
    return flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])


CLIENT: Any = build_client() if os.environ["FLAGSTONE_TEST_CLIENT"] == "module" else None


def task(number: int) -> int:
    global CLIENT
    if CLIENT is None:
        CLIENT = build_client()
    for unit in range(UNITS_PER_TASK):
        CLIENT.evaluate("checkout", context(f"t{number}-u{unit}"))
    return UNITS_PER_TASK


def main() -> None:
    method, shape = sys.argv[1], sys.argv[2]
    ctx = multiprocessing.get_context(method)
    produced = 0
    if shape == "pool":
        pool = ctx.Pool(2)
        produced = sum(pool.map(task, range(TASKS), chunksize=1))
        pool.close()
        pool.join()
    elif shape == "with-pool":
        initializer = None
        if method == "fork":
            flagstone.install_signal_handlers()
        else:
            initializer = flagstone.install_signal_handlers
        with ctx.Pool(2, initializer=initializer) as pool:
            produced = sum(pool.map(task, range(TASKS), chunksize=1))
        # ``terminate()`` has sent SIGTERM and joined the workers by now
    else:
        children = [ctx.Process(target=task, args=(number,)) for number in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        produced = UNITS_PER_TASK * len(children)
        assert all(child.exitcode == 0 for child in children), [c.exitcode for c in children]
    report(produced=produced, tasks=TASKS if shape != "process" else 2)


if __name__ == "__main__":
    main()
