"""A closed live client forked: the child does not bring its updater back to life.

Usage: ``fork_closed_client.py WORKDIR``. The parent watches ``WORKDIR/flags.json`` (snapshot
A) with ``Client.from_file(watch=True)``, closes the client, and forks. The child reports
the updater threads it has and what it serves; the parent waits for it (killing it if it
hangs) and prints one JSON report line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
import warnings
from pathlib import Path

import livelib

import flagstone

warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=Warning)


def main() -> None:
    path = Path(sys.argv[1]) / "flags.json"
    path.write_bytes(livelib.document("A"))
    client = flagstone.Client.from_file(path, watch=True, poll_interval=0.05)
    assert client._updater is not None
    thread = client._updater._thread
    assert thread is not None
    client.close()
    thread.join(livelib.PATIENCE)
    report_read, report_write = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child
        os.close(report_read)
        code = 4
        try:
            report = {
                "updater_threads": livelib.updater_threads(),
                "threads": [thread.name for thread in threading.enumerate()],
                "answers_a": livelib.answers(client.evaluate_all(livelib.CONTEXT))
                == livelib.expected_answers("A"),
            }
            code = 0
        except BaseException:
            report = {"error": traceback.format_exc()}
        finally:
            os.write(report_write, json.dumps(report).encode())
            os.close(report_write)
            os._exit(code)

    os.close(report_write)
    child_exit = livelib.wait_for_child(pid, livelib.PATIENCE)
    with os.fdopen(report_read, "rb") as pipe:
        child_report = json.loads(pipe.read() or b"null")
    print(
        json.dumps(
            {
                "parent_updater_stopped": not thread.is_alive(),
                "parent_updater_threads": livelib.updater_threads(),
                "child_exit": child_exit,
                "child": child_report,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
