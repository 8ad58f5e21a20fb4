"""Exposures queued in memory when SIGTERM arrives.

Usage: sigterm_exposures.py OUT MODE COUNT [SPOOL_DIR]

A client records COUNT exposures of distinct units ("u-0", …) through
``BatchingSink(JsonlSink(OUT), max_latency=60)`` (so they are still queued), the script
prints "ready" and its main thread blocks on an event without a timeout, as a server's does,
until a signal ends the process. MODE:

  "none"          no handler: the default action
  "handler"       ``flagstone.install_signal_handlers(deadline=2)``
  "previous"      the application's own SIGTERM handler (it writes OUT.previous and exits
                  with status 7), then ``install_signal_handlers``, which must chain to it
  "hanging"       ``install_signal_handlers(deadline=0.5)``, and a destination whose writes
                  never return instead of the JSONL file
  "hanging-spool" the same with ``spool_dir=SPOOL_DIR``: what the hanging destination never
                  took must be in the spool
  "elsewhere"     ``install_signal_handlers(deadline=2)``; after "ready" the script sends
                  itself SIGTERM, delivered to another thread, while its main thread waits on
                  a ``multiprocessing`` lock: the signal cannot interrupt that wait
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from scriptlib import context
from tests.sinkdata import SNAPSHOT

import flagstone
from flagstone.sinks import BatchingSink, JsonlSink, RecordBatch


class HangingWriter:
    def write_batch(self, batch: RecordBatch) -> None:
        threading.Event().wait()

    def close(self) -> None:
        pass


def main() -> None:
    out, mode, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if mode == "previous":

        def previous(signum: int, frame: FrameType | None) -> None:
            Path(f"{out}.previous").write_text(str(signum))
            os._exit(7)

        signal.signal(signal.SIGTERM, previous)
    if mode.startswith("hanging"):
        spool = {"spool_dir": sys.argv[4]} if mode == "hanging-spool" else {}
        sink = BatchingSink(HangingWriter(), max_latency=60, **spool)  # type: ignore[arg-type]
    else:
        sink = BatchingSink(JsonlSink(out), max_latency=60)
    if mode != "none":
        flagstone.install_signal_handlers(deadline=0.5 if mode.startswith("hanging") else 2.0)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    for unit in range(count):
        client.evaluate("checkout", context(f"u-{unit}"))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if mode == "elsewhere":
        lock = multiprocessing.Lock()
        lock.acquire()
        threading.Thread(target=signal_this_thread, daemon=True).start()
        lock.acquire()  # never returns: only a handler can end the process
    threading.Event().wait()  # until a signal ends the process


def signal_this_thread() -> None:
    """SIGTERM to the process, delivered to this thread (as the kernel may pick any thread
    that does not block it), once the main thread is waiting on its lock."""
    time.sleep(0.3)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)


if __name__ == "__main__":
    main()
