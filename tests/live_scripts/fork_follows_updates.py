"""A live client forked: the child keeps its snapshot fresh on its own.

Usage: ``fork_follows_updates.py url|file WORKDIR``. The parent writes snapshot A to
``WORKDIR/flags.json`` and builds a live client for it: ``url`` serves the file from an
in-process ``flagstone.sources.server`` server (on a thread, port 0) to
``Client.from_url``; ``file``
watches it with ``Client.from_file(watch=True)``. Once the client serves A the parent forks.
The child reports its status and threads, then tells the parent to go on; only then does
the parent replace the file with snapshot B, so the child can only get B through an updater
thread of its own. Both wait for B; the child exits 0 if it got it. The parent waits for the
child (killing it if it hangs) and prints one JSON report line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Any

import livelib

import flagstone
from flagstone.sources.server import SnapshotServer, make_server

# Python 3.12+ warns about forking a process that has threads; forking one is the point.
warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=Warning)


def status_fields(client: flagstone.Client) -> dict[str, Any]:
    return dataclasses.asdict(client.status())


def child(client: flagstone.Client, go: int) -> dict[str, Any]:
    """What the child sees; ``saw_new`` tells whether snapshot B reached it."""
    report: dict[str, Any] = {
        "pid": os.getpid(),
        "status_at_start": status_fields(client),
        "version_at_start": client.snapshot_version,
        "answers_a_at_start": livelib.answers(client.evaluate_all(livelib.CONTEXT))
        == livelib.expected_answers("A"),
        "updater_threads": livelib.updater_threads(),
    }
    updates = livelib.VersionEvents(client)
    os.write(go, b"go")  # the parent writes B only now
    os.close(go)
    report["saw_new"] = updates.wait_for("B")
    report["updates_seen"] = list(updates.versions)
    report["answers_b"] = livelib.answers(
        client.evaluate_all(livelib.CONTEXT)
    ) == livelib.expected_answers("B")
    livelib.eventually(lambda: client.status().snapshot_version == "B")
    report["status_after_update"] = status_fields(client)
    thread = client._updater._thread if client._updater is not None else None
    client.close()
    if thread is not None:
        thread.join(livelib.PATIENCE)
    report["updater_stopped_by_close"] = thread is not None and not thread.is_alive()
    return report


def main() -> None:
    mode, workdir = sys.argv[1], Path(sys.argv[2])
    path = workdir / "flags.json"
    path.write_bytes(livelib.document("A"))
    server = None
    if mode == "url":
        server = make_server(SnapshotServer(str(path)), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, name="server", daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/flags.json"
        client = flagstone.Client.from_url(url, refresh_interval=0.05)
    elif mode == "file":
        client = flagstone.Client.from_file(path, watch=True, poll_interval=0.05)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    ready = client.wait_until_ready(livelib.PATIENCE)
    parent_threads = livelib.updater_threads()
    parent_updates = livelib.VersionEvents(client)
    status_before_fork = status_fields(client)
    go_read, go_write = os.pipe()
    report_read, report_write = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child
        os.close(go_read)
        os.close(report_read)
        code = 4
        try:
            report = child(client, go_write)
            code = 0 if report["saw_new"] else 3
        except BaseException:
            report = {"error": traceback.format_exc()}
        finally:
            os.write(report_write, json.dumps(report).encode())
            os.close(report_write)
            os._exit(code)

    os.close(go_write)
    os.close(report_write)
    child_went_on = bool(select.select([go_read], [], [], livelib.PATIENCE)[0])
    os.close(go_read)
    livelib.write_atomically(path, livelib.document("B"))
    parent_saw_new = parent_updates.wait_for("B")
    parent_answers_b = livelib.answers(
        client.evaluate_all(livelib.CONTEXT)
    ) == livelib.expected_answers("B")
    child_exit = livelib.wait_for_child(pid, livelib.PATIENCE * 2)
    with os.fdopen(report_read, "rb") as pipe:
        child_report = json.loads(pipe.read() or b"null")
    client.close()
    if server is not None:
        server.shutdown()
        server.server_close()
    print(
        json.dumps(
            {
                "mode": mode,
                "ready_before_fork": ready,
                "parent_updater_threads": parent_threads,
                "status_before_fork": status_before_fork,
                "child_went_on": child_went_on,
                "parent_saw_new": parent_saw_new,
                "parent_answers_b": parent_answers_b,
                "parent_pid": os.getpid(),
                "child_exit": child_exit,
                "child": child_report,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
