"""Exposures at a steady rate through the README's production settings to a collector that
answers 503 and 200 in turn, until killed.

Usage: flapping_collector_until_killed.py SPOOL_DIR DELIVERED PRODUCED RATE READY_AFTER

``BatchingSink(HttpSink(…, transport=MockTransport(collector)), max_batch=500,
max_latency=1.0, queue_size=100_000, on_full="drop_oldest", retry=RetryPolicy(attempts=5,
initial_backoff=0.1, max_backoff=10, jitter=0.5), spool_dir=SPOOL_DIR)``: the README's
settings. The collector answers every other POST with 503; on a 200 it appends the targeting
keys it received to DELIVERED (one ``os.write`` per batch). The script evaluates units
"u-0", "u-1", … at RATE per second, keeping in PRODUCED (an 8-byte file it maps into memory)
how many it has evaluated so far, prints "ready" after READY_AFTER seconds and goes on until
it is killed (it gives up by itself after a minute, exit status 3).
"""

from __future__ import annotations

import gzip
import json
import mmap
import os
import struct
import sys
import threading
import time

from scriptlib import context
from tests.sinkdata import SNAPSHOT

import flagstone
from flagstone.sinks import BatchingSink, HttpSink, RetryPolicy
from flagstone.transport import MockTransport, Request, Response


class FlappingCollector:
    """Answers 503 and 200 in turn; writes the keys of every accepted batch to a file."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.calls += 1
            if self.calls % 2:
                return Response(503)
        body = request.body
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        keys = [record["targeting_key"] for record in json.loads(body)["exposures"]]
        os.write(self.fd, ("\n".join(keys) + "\n").encode("ascii"))
        return Response(200)


def main() -> None:
    spool_dir, delivered, produced_path = sys.argv[1], sys.argv[2], sys.argv[3]
    rate, ready_after = int(sys.argv[4]), float(sys.argv[5])
    with open(produced_path, "wb") as file:
        file.write(bytes(8))
    with open(produced_path, "r+b") as file:
        produced = mmap.mmap(file.fileno(), 8)
    sink = BatchingSink(
        HttpSink(
            "https://collector.test/exposures",
            timeout=(3, 10),
            deadline=30,
            transport=MockTransport(FlappingCollector(delivered)),
        ),
        max_batch=500,
        max_latency=1.0,
        queue_size=100_000,
        on_full="drop_oldest",
        retry=RetryPolicy(attempts=5, initial_backoff=0.1, max_backoff=10, jitter=0.5),
        spool_dir=spool_dir,
    )
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    evaluate = client.evaluate
    per_slice = max(1, rate // 100)  # every 10 ms
    start = time.monotonic()
    ready = False
    unit = 0
    while True:
        for _ in range(per_slice):
            evaluate("checkout", context(f"u-{unit}"))
            unit += 1
            struct.pack_into("<Q", produced, 0, unit)
        now = time.monotonic()
        if not ready and now - start >= ready_after:
            ready = True
            sys.stdout.write("ready\n")
            sys.stdout.flush()
        if now - start > 60:
            sys.exit(3)
        ahead = start + unit / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


if __name__ == "__main__":
    main()
