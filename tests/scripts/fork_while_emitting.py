"""Fork again and again while another thread emits exposures in a tight loop.

Usage: fork_while_emitting.py OUT_DIR FORKS CHILD_UNITS

A thread of the parent evaluates (and so emits) without pause through a client whose
``BatchingSink`` writes to OUT_DIR/{pid}.jsonl. Meanwhile the main thread forks FORKS
children one after the other; each emits CHILD_UNITS exposures "c<k>-0", "c<k>-1", …,
flushes (``flush(10)`` must return ``True``), checks that its own file holds exactly its
records, closes and exits 0 (1 when a check failed). A child that does not exit within a
minute is killed and reported as "timeout". At the end the parent emits "parent-final"
and flushes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from scriptlib import QUICK_RETRY, context, make_client, report, wait_for_exit

from flagstone.sinks import BatchingSink, JsonlSink


def main() -> None:
    out_dir, forks, child_units = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    sink = BatchingSink(JsonlSink(out_dir / "{pid}.jsonl"), retry=QUICK_RETRY, max_latency=0.001)
    client = make_client(sinks=[sink])
    stop = threading.Event()
    emitting = threading.Event()

    def emit_without_pause() -> None:
        emitted = 0
        while not stop.is_set():
            # one unit: the repeats are deduplicated, so the parent's file stays small
            client.evaluate("checkout", context("parent"))
            emitted += 1
            if emitted == 1000:
                emitting.set()

    emitter = threading.Thread(target=emit_without_pause, name="emitter")
    emitter.start()
    started = emitting.wait(30)
    statuses: list[int | str] = []
    for k in range(forks):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                units = [f"c{k}-{unit}" for unit in range(child_units)]
                for unit in units:
                    client.evaluate("checkout", context(unit))
                flushed = sink.flush(10)
                path = out_dir / f"{os.getpid()}.jsonl"
                lines = path.read_text(encoding="ascii").splitlines() if path.exists() else []
                written = [json.loads(line)["targeting_key"] for line in lines]
                client.close(10)
                if flushed and written == units:
                    status = 0
                else:
                    sys.stderr.write(f"child {k}: flushed={flushed} wrote {written}\n")
            finally:
                os._exit(status)
        statuses.append(wait_for_exit(pid, 60))
    stop.set()
    emitter.join(30)
    client.evaluate("checkout", context("parent-final"))
    final_flushed = sink.flush(30)
    client.close(30)
    report(
        started=started,
        statuses=statuses,
        final_flushed=final_flushed,
        parent_file=str(out_dir / f"{os.getpid()}.jsonl"),
    )


if __name__ == "__main__":
    main()
