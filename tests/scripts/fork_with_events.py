"""Fork while the parent holds metric events (and exposures) in its ``BatchingSink``.

Usage: fork_with_events.py OUTPUT SPOOL_DIR

The parent tracks 30 events ("p-0" …) and evaluates for 5 units, all held in the queues
(``max_latency`` is long), then forks. The child tracks 20 events ("c-0" …), closes its
client and exits 0. The parent closes its own after the child is done. Both write to
OUTPUT. Reports the child's exit status and both processes' event counters.
"""

from __future__ import annotations

import os
import sys

from scriptlib import context, report, wait_for_exit

import flagstone
from flagstone.sinks import BatchingSink, JsonlSink

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tests.sinkdata import SNAPSHOT


def main() -> None:
    output, spool = sys.argv[1], sys.argv[2]
    sink = BatchingSink(JsonlSink(output), max_latency=60, spool_dir=spool, spool_fsync=False)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink], event_unit_selector="user.id")
    for index in range(30):
        client.track("parent", context(f"p-{index}"), value=index)
    for index in range(5):
        client.evaluate("checkout", context(f"p-{index}"))
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            start = sink.stats()["by_kind"]["event"]
            for index in range(20):
                client.track("child", context(f"c-{index}"), value=index)
            client.close()
            after = sink.stats()["by_kind"]["event"]
            ok = start["emitted"] == 0 and after["emitted"] == after["delivered"] == 20
            status = 0 if ok else 3
            if not ok:
                sys.stderr.write(f"child counters: {start} {after}\n")
        finally:
            os._exit(status)
    child = wait_for_exit(pid, 60)
    client.close()
    report(child_status=child, parent_events=sink.stats()["by_kind"]["event"])


if __name__ == "__main__":
    main()
