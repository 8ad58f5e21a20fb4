"""What the scripts in this directory share. They run as ``python tests/scripts/<name>.py``
(so this directory is on ``sys.path``) and end by printing one JSON report line to stdout."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import flagstone
from flagstone.sinks import Exposure, RecordBatch, RetryPolicy, SinkError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
from tests.sinkdata import SNAPSHOT

# Retries that cost next to no time.
QUICK_RETRY = RetryPolicy(attempts=2, initial_backoff=0.001, max_backoff=0.01)


def make_client(sinks: Any = ()) -> flagstone.Client:
    return flagstone.Client.from_dict(SNAPSHOT, sinks=sinks)


def context(unit: str) -> dict[str, Any]:
    return {"user": {"id": unit}}


def exposure(client: flagstone.Client, unit: str) -> Exposure:
    """A fresh exposure of ``unit`` (distinct units are never deduplicated)."""
    return Exposure(client.evaluate("checkout", context(unit), apply=False), time.time())


class FailingWriter:
    """A ``BatchWriter`` whose destination is down for good."""

    def write_batch(self, batch: RecordBatch) -> None:
        raise SinkError("the destination is down")

    def close(self) -> None:
        pass


class ParentGate:
    """Holds ``write_batch`` calls made in the parent process (the one that created the
    gate) while armed, until released; calls in a forked child pass straight through."""

    def __init__(self) -> None:
        self.parent_pid = os.getpid()
        self.armed = False
        self.entered = threading.Event()
        self.released = threading.Event()

    def pass_through(self) -> None:
        if os.getpid() == self.parent_pid and self.armed:
            self.entered.set()
            if not self.released.wait(60):
                raise SinkError("the gate was never released")


def wait_for_exit(pid: int, timeout: float) -> int | str:
    """The exit code of child ``pid`` (``-N`` if killed by signal N), or ``"timeout"`` (the
    child is then killed)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.01)  # polling a child's exit: there is nothing to wait on


def exposure_threads() -> list[str]:
    """Names of live ``BatchingSink`` worker threads."""
    return [t.name for t in threading.enumerate() if t.name == "flagstone-exposures"]


def report(**facts: Any) -> None:
    """Print the script's report (one JSON line, the last of stdout)."""
    sys.stdout.write(json.dumps(facts) + "\n")
    sys.stdout.flush()
