"""``Client.from_file(path, watch=True)``: a watched snapshot file.

A background thread stats the file every ``poll_interval``; a changed, complete, valid (and,
with ``signing_key``, signed) version is swapped in and announced to ``on_update``
listeners; anything else (invalid JSON, a half-written file, an invalid snapshot, a stale
signature, a deleted file) is refused, shows in ``status()``, and the last good snapshot
keeps serving. Snapshot versions "A", "B", … differ in every flag (``livelib``).

To know what the watcher did without timing it, ``CheckLog`` wraps the updater's ``check``
and records ``status()`` after every check, on the watcher thread itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.sources import SourceStatus, sign_snapshot
from tests.live_scripts.livelib import (
    CONTEXT,
    PATIENCE,
    VersionEvents,
    answers,
    document,
    eventually,
    expected_answers,
    write_atomically,
)
from tests.sinkdata import SNAPSHOT

POLL = 0.05
KEY = b"file-watch-test-key"


def signed_document(version: str) -> tuple[bytes, str]:
    """Snapshot ``version`` as its publisher signs it: issued A first, then B (a signing
    client refuses an older one), and its signature."""
    issued_at = f"2026-01-01T00:00:{ord(version) - ord('A') + 1:02d}Z"
    return sign_snapshot(document(version), KEY, issued_at=issued_at)


THREAD_NAME = "flagstone-snapshots"


class CheckLog:
    """The status after every check of a client's watcher thread."""

    def __init__(self, client: flagstone.Client) -> None:
        updater = client._updater
        assert updater is not None
        self._updater = updater
        self._check = updater.check
        self._changed = threading.Condition()
        self.statuses: list[SourceStatus] = []
        updater.check = self._checked  # the thread looks ``check`` up for every check

    def _checked(self, client: flagstone.Client) -> bool:
        try:
            return self._check(client)
        finally:
            with self._changed:
                self.statuses.append(self._updater.status())
                self._changed.notify_all()

    def mark(self) -> int:
        """A position in the log: ``after(mark)`` are the checks completed since."""
        with self._changed:
            return len(self.statuses)

    def after(self, mark: int) -> list[SourceStatus]:
        with self._changed:
            return self.statuses[mark:]

    def wait_checks(self, mark: int, count: int = 2) -> list[SourceStatus]:
        """The statuses of the first ``count`` checks completed after ``mark``. Two checks
        make sure one of them started after whatever the test did before taking the mark."""
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.statuses) >= mark + count, PATIENCE)
            assert done, f"the watcher did not check {count} times: {self.statuses[mark:]}"
            return self.statuses[mark : mark + count]

    def wait_for(self, predicate: Callable[[SourceStatus], bool], mark: int = 0) -> SourceStatus:
        """The first status after ``mark`` that satisfies ``predicate``."""

        def found() -> SourceStatus | None:
            return next((status for status in self.statuses[mark:] if predicate(status)), None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, PATIENCE), (
                f"no check after #{mark} got there: {self.statuses[mark:]}"
            )
            status = found()
            assert status is not None
            return status


class Watched:
    """A watched snapshot file and its client (with a ``CheckLog`` and ``VersionEvents``)."""

    def __init__(self, path: Path, client: flagstone.Client) -> None:
        self.path = path
        self.client = client
        self.checks = CheckLog(client)
        self.updates = VersionEvents(client)

    def serves(self, version: str) -> bool:
        """Whether the client answers exactly as the snapshot ``version`` does."""
        return answers(self.client.evaluate_all(CONTEXT)) == expected_answers(version)


@pytest.fixture
def watch(tmp_path, clients) -> Callable[..., Watched]:
    """``watch(**options)``: the file ``flags.json`` holding snapshot A, watched every
    ``POLL`` seconds by a new client built with ``options``."""

    def make(*, signed: bool = False, **options: Any) -> Watched:
        path = tmp_path / "flags.json"
        path.write_bytes(document("A"))
        if signed:
            body, signature = signed_document("A")
            path.write_bytes(body)
            Path(f"{path}.sig").write_text(signature)
            options["signing_key"] = KEY
        client = flagstone.Client.from_file(path, watch=True, poll_interval=POLL, **options)
        clients.append(client)
        return Watched(path, client)

    return make


def snapshot_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


# -- a new version ------------------------------------------------------------------------


def test_watched_client_starts_with_the_file_and_reports_it(watch):
    watched = watch()

    status = watched.client.status()

    assert watched.serves("A")
    assert status.ready
    assert status.source == str(watched.path)
    assert status.snapshot_version == "A"
    assert status.loaded_from == "file"
    assert status.updates == 1
    assert status.failures == 0
    assert status.last_error is None


def test_changed_file_is_swapped_in_and_announced(watch):
    watched = watch()
    mark = watched.checks.mark()

    write_atomically(watched.path, document("B"))

    assert watched.updates.wait_for("B"), watched.client.status()
    status = watched.checks.wait_for(lambda status: status.snapshot_version == "B", mark)
    assert watched.serves("B")
    assert watched.updates.versions == ["B"]
    assert status.updates == 2
    assert status.loaded_from == "file"
    assert status.last_update is not None
    assert status.failures == 0


def test_each_successive_change_is_swapped_in(watch):
    watched = watch()

    for version in ("B", "C", "D"):
        write_atomically(watched.path, document(version))
        assert watched.updates.wait_for(version), watched.client.status()

    assert watched.updates.versions == ["B", "C", "D"]
    assert watched.serves("D")
    assert eventually(lambda: watched.client.status().updates == 4), watched.client.status()


def test_touching_the_file_without_changing_it_is_no_update(watch):
    watched = watch()
    before = watched.checks.wait_checks(0, 1)[-1]  # a first check has found nothing new
    mark = watched.checks.mark()

    stamp = os.stat(watched.path).st_mtime_ns + 5_000_000_000
    os.utime(watched.path, ns=(stamp, stamp))
    after = watched.checks.wait_checks(mark)[-1]

    assert watched.updates.versions == []
    assert after.updates == before.updates == 1
    assert after.last_update == before.last_update
    assert after.failures == 0
    assert after.last_success is not None and before.last_success is not None
    assert after.last_success > before.last_success
    assert watched.serves("A")


def test_a_listener_that_raises_does_not_keep_the_new_snapshot_out(watch):
    watched = watch()

    def fail(version: str) -> None:
        raise RuntimeError(f"listener failed on {version}")

    watched.client.on_update(fail)
    later = VersionEvents(watched.client)  # registered after the one that raises
    write_atomically(watched.path, document("B"))

    assert later.wait_for("B"), watched.client.status()
    assert watched.serves("B")
    assert watched.checks.wait_for(lambda status: status.snapshot_version == "B").failures == 0


def test_a_removed_listener_is_not_called_again(watch):
    watched = watch()
    removed: list[str] = []
    remove = watched.client.on_update(removed.append)
    write_atomically(watched.path, document("B"))
    assert watched.updates.wait_for("B")

    remove()
    write_atomically(watched.path, document("C"))

    assert watched.updates.wait_for("C")
    assert removed == ["B"]


# -- refused versions ---------------------------------------------------------------------


def test_invalid_json_is_refused_and_shown_in_status(watch):
    watched = watch()
    mark = watched.checks.mark()

    write_atomically(watched.path, b'{"version": "B", "flags": ')

    status = watched.checks.wait_for(lambda status: status.failures >= 1, mark)
    assert status.consecutive_failures == 1
    assert status.last_error is not None and "JSON" in status.last_error
    assert status.last_error_at is not None
    assert status.snapshot_version == "A"
    assert status.updates == 1
    assert watched.serves("A")
    assert watched.updates.versions == []


def test_valid_version_after_an_invalid_one_recovers(watch):
    watched = watch()
    write_atomically(watched.path, b"not json at all")
    failed = watched.checks.wait_for(lambda status: status.failures >= 1)

    write_atomically(watched.path, document("B"))

    assert watched.updates.wait_for("B"), watched.client.status()
    status = watched.checks.wait_for(lambda status: status.snapshot_version == "B")
    assert watched.serves("B")
    assert status.consecutive_failures == 0
    assert status.failures == 1
    assert status.last_error == failed.last_error  # kept after the recovery
    assert status.updates == 2


def test_half_written_file_is_never_served(watch):
    watched = watch()
    mark = watched.checks.mark()
    new = document("B")
    half = len(new) // 2

    with open(watched.path, "wb") as file:  # in place, as a plain editor save does
        file.write(new[:half])
    torn = watched.checks.wait_for(lambda status: status.failures >= 1, mark)

    assert torn.snapshot_version == "A"
    assert watched.serves("A")
    assert watched.updates.versions == []

    with open(watched.path, "ab") as file:
        file.write(new[half:])

    assert watched.updates.wait_for("B"), watched.client.status()
    assert watched.serves("B")
    assert watched.updates.versions == ["B"]


def test_invalid_snapshot_is_refused_with_its_problems(watch):
    watched = watch()
    mark = watched.checks.mark()

    write_atomically(watched.path, document("B", segment="segments/nobody"))

    status = watched.checks.wait_for(lambda status: status.failures >= 1, mark)
    assert status.last_error is not None and "segments/nobody" in status.last_error
    assert status.snapshot_version == "A"
    assert watched.serves("A")
    assert watched.updates.versions == []


def test_lenient_client_accepts_what_a_strict_one_refuses(watch):
    watched = watch(strict=False)

    write_atomically(watched.path, document("B", segment="segments/nobody"))

    assert watched.updates.wait_for("B"), watched.client.status()
    assert watched.client.snapshot_version == "B"


def test_change_that_does_not_match_the_pinned_digest_is_refused(watch):
    pinned = hashlib.sha256(document("A")).hexdigest()
    watched = watch(expected_sha256=pinned)
    mark = watched.checks.mark()

    write_atomically(watched.path, document("B"))

    status = watched.checks.wait_for(lambda status: status.failures >= 1, mark)
    assert status.last_error is not None and "sha256" in status.last_error
    assert watched.serves("A")


# -- the file goes away -------------------------------------------------------------------


def test_deleted_file_is_a_failure_and_the_last_snapshot_keeps_serving(watch):
    watched = watch()
    mark = watched.checks.mark()

    os.unlink(watched.path)

    status = watched.checks.wait_for(lambda status: status.consecutive_failures >= 1, mark)
    assert status.last_error is not None and "FileNotFoundError" in status.last_error
    assert status.snapshot_version == "A"
    assert watched.serves("A")


def test_recreated_file_recovers(watch):
    watched = watch()
    os.unlink(watched.path)
    watched.checks.wait_for(lambda status: status.consecutive_failures >= 1)

    write_atomically(watched.path, document("B"))

    assert watched.updates.wait_for("B"), watched.client.status()
    status = watched.checks.wait_for(lambda status: status.snapshot_version == "B")
    assert status.consecutive_failures == 0
    assert status.failures >= 1
    assert watched.serves("B")


# -- signed files -------------------------------------------------------------------------


def test_signed_file_is_served_and_a_signed_change_swapped_in(watch):
    watched = watch(signed=True)
    assert watched.serves("A")

    body, signature = signed_document("B")
    write_atomically(Path(f"{watched.path}.sig"), signature.encode())
    write_atomically(watched.path, body)

    assert watched.updates.wait_for("B"), watched.client.status()
    assert watched.serves("B")


def test_change_whose_signature_is_stale_is_refused(watch):
    watched = watch(signed=True)
    mark = watched.checks.mark()

    write_atomically(watched.path, signed_document("B")[0])  # A's signature still beside it

    status = watched.checks.wait_for(lambda status: status.failures >= 1, mark)
    assert status.last_error is not None and "signature" in status.last_error
    assert watched.serves("A")
    assert watched.updates.versions == []


def test_signed_client_refuses_an_unsigned_file_at_start(tmp_path):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))

    with pytest.raises(flagstone.ConfigError, match="not signed"):
        flagstone.Client.from_file(path, watch=True, poll_interval=POLL, signing_key=KEY)


def test_signature_written_after_its_document_is_accepted(watch):
    watched = watch(signed=True)
    body, signature = signed_document("B")
    write_atomically(watched.path, body)
    watched.checks.wait_for(lambda status: status.failures >= 1)

    write_atomically(Path(f"{watched.path}.sig"), signature.encode())
    mark = watched.checks.mark()
    watched.checks.wait_checks(mark, 3)

    assert watched.client.snapshot_version == "B"


# -- status consistency -------------------------------------------------------------------


def test_file_that_stays_invalid_keeps_showing_as_failing(watch):
    watched = watch()
    write_atomically(watched.path, b"not json at all")
    watched.checks.wait_for(lambda status: status.failures >= 1)

    mark = watched.checks.mark()
    later = watched.checks.wait_checks(mark, 2)[-1]

    assert later.consecutive_failures >= 1, later


def test_status_inside_an_update_listener_shows_the_new_version(watch):
    watched = watch()
    seen: list[tuple[str, SourceStatus]] = []
    watched.client.on_update(lambda version: seen.append((version, watched.client.status())))

    write_atomically(watched.path, document("B"))
    assert watched.updates.wait_for("B")

    (version, status), *_ = seen
    assert status.snapshot_version == version == "B"
    assert status.updates == 2


# -- the watcher thread -------------------------------------------------------------------


def test_without_watch_no_watcher_thread_starts(tmp_path, clients):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    threads_before = snapshot_threads()

    client = flagstone.Client.from_file(path)
    clients.append(client)

    assert client._updater is None
    assert snapshot_threads() == threads_before
    assert client.status().ready


def test_watch_runs_one_named_daemon_thread(watch):
    watched = watch()

    thread = watched.client._updater._thread

    assert thread is not None and thread.is_alive()
    assert thread.name == THREAD_NAME
    assert thread.daemon


def test_close_stops_the_watcher_thread(watch):
    watched = watch()
    thread = watched.client._updater._thread

    watched.client.close()
    thread.join(PATIENCE)

    assert not thread.is_alive()
    assert watched.serves("A")  # evaluation still works after close


def test_an_unwatched_file_client_reports_its_file_as_the_source(tmp_path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(SNAPSHOT))
    status = flagstone.Client.from_file(path).status()
    assert (status.ready, status.source, status.loaded_from, status.snapshot_version) == (
        True,
        str(path),
        "file",
        SNAPSHOT["version"],
    )


def test_a_dict_client_reports_a_static_source() -> None:
    status = flagstone.Client.from_dict(SNAPSHOT).status()
    assert (status.ready, status.source, status.loaded_from) == (True, "static", None)
