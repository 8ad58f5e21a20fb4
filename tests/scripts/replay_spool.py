"""Replay a spool left by an earlier process into a JSONL file.

Usage: replay_spool.py SPOOL_DIR OUT_PATH EXPECTED_RECORDS

Starts a ``BatchingSink(JsonlSink(OUT_PATH), spool_dir=SPOOL_DIR)`` (which replays the
spool on start), waits until EXPECTED_RECORDS records reached the file (at most a minute),
closes the sink and reports its stats.
"""

from __future__ import annotations

import sys
import threading

from scriptlib import QUICK_RETRY, report

from flagstone.sinks import BatchingSink, JsonlSink, RecordBatch


class CountingJsonlSink(JsonlSink):
    """A ``JsonlSink`` that says when it has written ``expected`` records."""

    def __init__(self, path: str, expected: int) -> None:
        super().__init__(path)
        self.written = 0
        self.expected = expected
        self.reached = threading.Event()
        if expected <= 0:
            self.reached.set()

    def write_batch(self, batch: RecordBatch) -> None:
        super().write_batch(batch)
        self.written += len(batch)
        if self.written >= self.expected:
            self.reached.set()


def main() -> None:
    spool_dir, out_path, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    inner = CountingJsonlSink(out_path, expected)
    sink = BatchingSink(inner, spool_dir=spool_dir, retry=QUICK_RETRY, max_batch=100)
    reached = inner.reached.wait(60)
    sink.close()
    report(reached=reached, written=inner.written, stats=sink.stats())


if __name__ == "__main__":
    main()
