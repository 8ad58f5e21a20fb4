"""What the live-snapshot tests and the scripts beside this module share: two snapshot
versions that differ in every flag, atomic and torn file writes, and waiting helpers.

The tests import it as ``tests.live_scripts.livelib``; the scripts here run as
``python tests/live_scripts/<name>.py`` (so this directory is on ``sys.path``), import it as
``livelib`` and end by printing one JSON report line.

Every snapshot is built so that its outcome is certain without hashing: each flag has one
rule whose one assignment covers every bucket, in a segment that admits every unit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import flagstone

if __package__ in (None, ""):  # run as a script (python tests/live_scripts/x.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests import builders as b

EVERYONE = "segments/everyone"
FLAG_IDS = ("alpha", "beta", "gamma", "delta", "epsilon")
CONTEXT: dict[str, Any] = {"user": {"id": "user-1"}}
PATIENCE = 30.0  # seconds to wait for a background thread before calling it a failure
THREAD_NAME = "flagstone-snapshots"  # the updater thread of a live client


def variant_of(flag_id: str, version: str) -> str:
    """The variant every unit gets for ``flag_id`` in the snapshot ``version`` (see
    :func:`snapshot`): it differs between any two versions for every flag."""
    return f"{flag_id}-{version}"


def snapshot(
    version: str, *, flag_ids: tuple[str, ...] = FLAG_IDS, segment: str = EVERYONE
) -> dict[str, Any]:
    """A snapshot with top-level ``version`` in which every unit gets, for each flag,
    ``variant_of(flag, version)``. ``segment`` names the segment the rules use (the snapshot
    defines only ``segments/everyone``, so another name makes a strictly invalid snapshot).
    """
    flags = [
        b.flag(
            flag_id,
            {variant_of(flag_id, version): {"version": version, "flag": flag_id}},
            [
                b.everyone_gets(
                    f"flags/{flag_id}/rules/everyone",
                    variant_of(flag_id, version),
                    bucket_count=10,
                    assignment_id="all",
                    segment=segment,
                    selector="user.id",
                )
            ],
        )
        for flag_id in flag_ids
    ]
    return b.snapshot(*flags, segments=[b.segment(EVERYONE)], version=version)


def document(version: str, **options: Any) -> bytes:
    """:func:`snapshot` as the JSON bytes of a snapshot file."""
    return json.dumps(snapshot(version, **options), indent=1).encode()


def expected_answers(version: str, flag_ids: tuple[str, ...] = FLAG_IDS) -> dict[str, Any]:
    """What ``answers(client.evaluate_all(CONTEXT))`` is for the snapshot ``version``."""
    return {f"flags/{flag_id}": (variant_of(flag_id, version), version) for flag_id in flag_ids}


def answers(results: Mapping[str, flagstone.Resolution]) -> dict[str, Any]:
    """``{flag: (variant, snapshot_version)}`` of an ``evaluate_all`` result."""
    return {flag: (result.variant, result.snapshot_version) for flag, result in results.items()}


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` the way a careful publisher does: a temporary file in
    the same directory, renamed over it (a reader sees the old file or the new one)."""
    path = os.fspath(path)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def eventually(predicate: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Whether ``predicate()`` holds within ``timeout`` seconds (checked every 10 ms), for
    waiting on a background thread."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


class VersionEvents:
    """Records every version ``client.on_update`` reports; ``event(version)`` is set once
    that version has been reported."""

    def __init__(self, client: flagstone.Client) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}
        self.versions: list[str] = []
        self.remove = client.on_update(self._updated)

    def _updated(self, version: str) -> None:
        with self._lock:
            self.versions.append(version)
        self.event(version).set()

    def event(self, version: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(version, threading.Event())

    def wait_for(self, version: str, timeout: float = PATIENCE) -> bool:
        return self.event(version).wait(timeout)


def updater_threads() -> list[str]:
    """The names of this process's live updater threads."""
    return [
        thread.name
        for thread in threading.enumerate()
        if thread.name == THREAD_NAME and thread.is_alive()
    ]


def wait_for_child(pid: int, timeout: float) -> int | None:
    """The child's exit code (negative: killed by that signal), or ``None`` if it hung (it
    is then killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None
