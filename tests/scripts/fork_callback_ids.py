"""Resolve ids of a standalone ``CallbackSink`` on both sides of a fork.

Usage: fork_callback_ids.py OUTPUT

The parent records one exposure (its sink draws a pool of random bytes for resolve ids),
then forks. The child records 20 exposures ("c-0" …) and exits; then the parent records 20
("p-0" …). Each callback appends the record's JSON line to OUTPUT (``os.write`` on an
``O_APPEND`` descriptor opened in the process that writes). Reports the child's exit status.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from scriptlib import context, make_client, report, wait_for_exit

from flagstone.sinks import CallbackSink


def main() -> None:
    output = sys.argv[1]

    def append(record: dict[str, Any]) -> None:
        fd = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)

    client = make_client([CallbackSink(append)])
    client.evaluate("checkout", context("before"))
    pid = os.fork()
    if pid == 0:
        try:
            for index in range(20):
                client.evaluate("checkout", context(f"c-{index}"))
        finally:
            os._exit(0)
    child = wait_for_exit(pid, 60)
    for index in range(20):
        client.evaluate("checkout", context(f"p-{index}"))
    client.close()
    report(child_status=child)


if __name__ == "__main__":
    main()
