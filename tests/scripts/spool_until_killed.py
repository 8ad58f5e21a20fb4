"""Spool exposures until killed.

Usage: spool_until_killed.py SPOOL_DIR READY_RECORDS

A ``BatchingSink`` whose destination is always down spools every batch to SPOOL_DIR. The
script emits distinct units ("u-0", "u-1", …) without end, prints "ready" once at least
READY_RECORDS records are in the spool, and goes on until it is killed (it gives up by
itself after a minute, exit status 3, so a forgotten one does not run forever).
"""

from __future__ import annotations

import sys
import time

from scriptlib import QUICK_RETRY, FailingWriter, exposure, make_client

from flagstone.sinks import BatchingSink


def main() -> None:
    spool_dir, ready_records = sys.argv[1], int(sys.argv[2])
    sink = BatchingSink(
        FailingWriter(),
        spool_dir=spool_dir,
        spool_fsync=False,
        retry=QUICK_RETRY,
        max_batch=50,
        max_latency=0.001,
        queue_size=1000,
        on_full="block",
        block_timeout=5.0,
    )
    client = make_client()
    ready = False
    give_up = time.monotonic() + 60
    unit = 0
    while True:
        sink.emit(exposure(client, f"u-{unit}"))
        unit += 1
        if unit % 50 == 0:
            if not ready and sink.stats()["spooled"] >= ready_records:
                ready = True
                sys.stdout.write("ready\n")
                sys.stdout.flush()
            if time.monotonic() > give_up:
                sys.exit(3)


if __name__ == "__main__":
    main()
