"""Safe edits of a snapshot file (``flagstone.abtests.storage``): one editor at a time under a
sidecar ``flock``, the snapshot validated before anything is written, then a temporary file,
fsync and an atomic rename. ``edit_document`` writes the whole document; ``patch_document``
keeps the bytes of what did not change.

The expected bytes are written out here by hand (indent 2, non-ASCII as is, a trailing
newline), not produced by the module.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from flagstone import ConfigError
from flagstone.abtests.storage import (
    DocumentLockTimeout,
    edit_document,
    lock_path,
    patch_document,
    read_document,
)

ORIGINAL = b'{"version": "v1", "flags": {}}'


def snapshot_file(tmp_path: Path, content: bytes = ORIGINAL) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_bytes(content)
    return path


def set_version(version: str) -> Any:
    def change(document: dict[str, Any]) -> str:
        document["version"] = version
        return f"set {version}"

    return change


def break_flags(document: dict[str, Any]) -> None:
    document["flags"] = 5  # not a collection of flags: parse_snapshot refuses it


def accept_anything(document: dict[str, Any]) -> None:
    """A validator for tests about the file, not the snapshot."""


def leftovers(tmp_path: Path) -> list[str]:
    """Files in the directory besides the document and its lock."""
    return sorted(
        name for name in os.listdir(tmp_path) if name not in ("snapshot.json", "snapshot.json.lock")
    )


# -- what an edit writes ---------------------------------------------------------------------


def test_an_edit_writes_the_changed_document_with_an_indent_of_two_and_a_trailing_newline(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)

    edit_document(path, set_version("v2"))

    assert path.read_bytes() == b'{\n  "version": "v2",\n  "flags": {}\n}\n'


def test_an_edit_keeps_the_key_order_and_writes_non_ascii_text_as_it_is(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, '{"flags": {}, "version": "v1", "note": "Målö"}'.encode())

    edit_document(path, set_version("v2"), validate=accept_anything)

    expected = '{\n  "flags": {},\n  "version": "v2",\n  "note": "Målö"\n}\n'.encode()
    assert path.read_bytes() == expected


def test_an_edit_returns_what_the_change_returned(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)

    assert edit_document(path, set_version("v2")) == "set v2"


def test_the_file_is_replaced_by_a_rename_so_an_open_reader_keeps_the_whole_old_document(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)
    with path.open("rb") as reader:
        edit_document(path, set_version("v2"))
        assert reader.read() == ORIGINAL
    assert json.loads(path.read_bytes())["version"] == "v2"


def test_the_new_text_is_fsynced_before_the_rename_and_the_directory_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = snapshot_file(tmp_path)
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        kind = "directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(descriptor)

    def replace(source: Any, destination: Any) -> None:
        events.append("replace")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)

    edit_document(path, set_version("v2"))

    assert events == ["fsync file", "replace", "fsync directory"]


def test_the_document_keeps_its_permission_bits(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    path.chmod(0o640)

    edit_document(path, set_version("v2"))

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_document_the_change_left_as_it_was_is_not_rewritten(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, b'{\n  "version": "v1",\n  "flags": {}\n}\n')
    inode = path.stat().st_ino

    edit_document(path, set_version("v1"))

    assert path.stat().st_ino == inode


def test_a_symbolic_link_stays_a_link_and_the_file_it_names_is_edited(tmp_path: Path) -> None:
    target = snapshot_file(tmp_path)
    link = tmp_path / "current.json"
    link.symlink_to(target.name)

    edit_document(link, set_version("v2"))

    assert link.is_symlink()
    assert json.loads(target.read_bytes())["version"] == "v2"


# -- refused and failed edits write nothing -------------------------------------------------


def test_an_edit_that_makes_the_snapshot_invalid_is_refused_and_the_file_is_byte_identical(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)

    with pytest.raises(ConfigError) as refused:
        edit_document(path, break_flags)

    assert [problem.path for problem in refused.value.problems] == ["$.flags"]
    assert path.read_bytes() == ORIGINAL
    assert leftovers(tmp_path) == []


def test_a_given_validator_replaces_the_default_one_and_sees_the_edited_document(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)
    seen: list[dict[str, Any]] = []

    def refuse(document: dict[str, Any]) -> None:
        seen.append(json.loads(json.dumps(document)))
        raise ConfigError("refused by the caller")

    with pytest.raises(ConfigError, match="refused by the caller"):
        edit_document(path, set_version("v2"), validate=refuse)

    assert seen == [{"version": "v2", "flags": {}}]
    assert path.read_bytes() == ORIGINAL


def test_a_change_that_raises_writes_nothing_and_its_exception_propagates(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)

    def fail(document: dict[str, Any]) -> None:
        document["version"] = "half-done"
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        edit_document(path, fail)

    assert path.read_bytes() == ORIGINAL


def test_a_document_that_is_no_longer_json_is_refused(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)

    def not_a_number(document: dict[str, Any]) -> None:
        document["version"] = float("nan")

    with pytest.raises(ConfigError, match="not JSON"):
        edit_document(path, not_a_number)

    assert path.read_bytes() == ORIGINAL


def test_a_failed_rename_leaves_the_document_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = snapshot_file(tmp_path)

    def refuse(source: Any, destination: Any) -> None:
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(os, "replace", refuse)

    with pytest.raises(PermissionError):
        edit_document(path, set_version("v2"))

    assert path.read_bytes() == ORIGINAL
    assert leftovers(tmp_path) == []


def test_a_file_that_is_not_json_is_refused_before_the_change_runs(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, b"{not json")
    calls: list[dict[str, Any]] = []

    with pytest.raises(ConfigError, match="not valid JSON"):
        edit_document(path, calls.append)

    assert calls == []
    assert path.read_bytes() == b"{not json"


def test_a_missing_file_is_an_os_error_and_leaves_no_lock_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    with pytest.raises(FileNotFoundError):
        edit_document(path, set_version("v2"))

    assert os.listdir(tmp_path) == []


# -- temporary files of a crashed editor ------------------------------------------------------


def test_a_temporary_file_left_by_a_crashed_editor_is_not_read_as_the_document(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)
    (tmp_path / ".snapshot.json.flagstone-deadbeef.tmp").write_bytes(b'{"version": "torn')

    assert read_document(path) == {"version": "v1", "flags": {}}


def test_the_next_editor_removes_the_temporary_files_of_crashed_editors(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    (tmp_path / ".snapshot.json.flagstone-deadbeef.tmp").write_bytes(b'{"version": "torn')
    (tmp_path / ".snapshot.json.backup.tmp").write_bytes(b"a user's own file")

    edit_document(path, set_version("v2"))

    assert leftovers(tmp_path) == [".snapshot.json.backup.tmp"]


# -- patches: only what changed is rewritten --------------------------------------------------

HAND_FORMATTED = b"""{"version": "v1",
 "flags": {"flags/a": {"name":"flags/a"}},
 "abtests": [ {"name": "workflows/abtest/instances/one"},
              {"name": "workflows/abtest/instances/two"} ]}
"""


def patch_version(version: Any) -> Any:
    def edit(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {**document, "version": version}, f"set {version}"

    return edit


def test_a_patch_rewrites_only_what_changed(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)

    def rename_second(document: dict[str, Any]) -> tuple[dict[str, Any], None]:
        tests = list(document["abtests"])
        tests[1] = {"name": "workflows/abtest/instances/two", "state": "live"}
        return {**document, "abtests": tests}, None

    patch_document(path, rename_second)

    # the test and the version ("v1" → "v2": an edit that changes the document is a new one)
    assert path.read_bytes() == HAND_FORMATTED.replace(
        b'{"name": "workflows/abtest/instances/two"}',
        b'{"name": "workflows/abtest/instances/two", "state": "live"}',
    ).replace(b'"v1"', b'"v2"')


def test_a_patch_replaces_a_top_level_scalar_and_returns_what_the_edit_returned(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)

    assert patch_document(path, patch_version("v2")) == "set v2"

    assert path.read_bytes() == HAND_FORMATTED.replace(b'"v1"', b'"v2"')


def test_a_patch_that_changes_nothing_leaves_the_file_alone(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)
    inode = path.stat().st_ino

    patch_document(path, lambda document: (document, None))
    patch_document(path, lambda document: (dict(document), None))

    assert path.stat().st_ino == inode
    assert path.read_bytes() == HAND_FORMATTED


def test_a_patch_is_fsynced_renamed_and_keeps_the_permission_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)
    path.chmod(0o640)
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append(
            "fsync " + ("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        )
        real_fsync(descriptor)

    def replace(source: Any, destination: Any) -> None:
        events.append("replace")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)

    patch_document(path, patch_version("v2"))

    assert events == ["fsync file", "replace", "fsync directory"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_patch_whose_edit_raises_writes_nothing(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)

    def refuse(document: dict[str, Any]) -> tuple[dict[str, Any], None]:
        raise ConfigError("refused by the edit")

    with pytest.raises(ConfigError, match="refused by the edit"):
        patch_document(path, refuse)

    assert path.read_bytes() == HAND_FORMATTED
    assert leftovers(tmp_path) == []


def test_a_patch_to_a_document_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)

    with pytest.raises(ConfigError, match="not JSON"):
        patch_document(path, patch_version(float("nan")))

    assert path.read_bytes() == HAND_FORMATTED


@pytest.mark.parametrize(
    "content",
    [
        b'\xef\xbb\xbf{"version": "v1", "flags": {}}',  # a byte-order mark
        b'{"version": "v0", "version": "v1", "flags": {}}',  # a repeated key
    ],
)
def test_a_file_a_patch_cannot_splice_is_written_whole(tmp_path: Path, content: bytes) -> None:
    path = snapshot_file(tmp_path, content)

    patch_document(path, patch_version("v2"))

    assert path.read_bytes() == b'{\n  "version": "v2",\n  "flags": {}\n}\n'


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]"])
def test_a_patch_of_a_file_that_is_not_a_json_object_is_refused_before_the_edit_runs(
    tmp_path: Path, content: bytes
) -> None:
    path = snapshot_file(tmp_path, content)
    calls: list[dict[str, Any]] = []

    def edit(document: dict[str, Any]) -> tuple[dict[str, Any], None]:
        calls.append(document)
        return document, None

    with pytest.raises(ConfigError):
        patch_document(path, edit)

    assert calls == []
    assert path.read_bytes() == content


def test_a_patch_removes_the_temporary_files_of_crashed_editors(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)
    (tmp_path / ".snapshot.json.flagstone-deadbeef.tmp").write_bytes(b'{"version": "torn')

    patch_document(path, patch_version("v2"))

    assert leftovers(tmp_path) == []


def test_a_patch_waits_for_the_lock_like_any_edit(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, HAND_FORMATTED)
    with lock_path(path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(DocumentLockTimeout):
            patch_document(path, patch_version("v2"), lock_timeout=0.05)

    assert path.read_bytes() == HAND_FORMATTED


# -- reading ----------------------------------------------------------------------------------


def test_read_document_decodes_the_json_object(tmp_path: Path) -> None:
    assert read_document(snapshot_file(tmp_path)) == {"version": "v1", "flags": {}}


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe{"])
def test_read_document_refuses_what_is_not_a_json_object(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ConfigError):
        read_document(snapshot_file(tmp_path, content))


def test_read_document_of_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_document(tmp_path / "missing.json")


# -- the lock ---------------------------------------------------------------------------------


def test_the_lock_is_a_sidecar_file_beside_the_document(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)

    edit_document(path, set_version("v2"))

    assert lock_path(path) == tmp_path / "snapshot.json.lock"
    assert lock_path(path).exists()


def test_a_second_editor_cannot_take_the_lock_while_an_edit_is_in_progress(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)
    inside, release = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def slow_change(document: dict[str, Any]) -> None:
        inside.set()
        assert release.wait(30)
        document["version"] = "first"

    def first_editor() -> None:
        try:
            edit_document(path, slow_change)
            outcome.append(None)
        except BaseException as error:  # pragma: no cover - reported below
            outcome.append(error)

    first = threading.Thread(target=first_editor)
    first.start()
    try:
        assert inside.wait(30)
        with pytest.raises(DocumentLockTimeout) as timed_out:
            edit_document(path, set_version("second"), lock_timeout=0)
    finally:
        release.set()
        first.join(30)

    assert outcome == [None]
    assert str(path) in str(timed_out.value)
    assert json.loads(path.read_bytes())["version"] == "first"


def test_an_editor_that_waits_for_the_lock_sees_the_edit_made_before_it(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    inside, release = threading.Event(), threading.Event()
    seen: list[Any] = []

    def first_change(document: dict[str, Any]) -> None:
        inside.set()
        assert release.wait(30)
        document["version"] = "first"

    def second_change(document: dict[str, Any]) -> None:
        seen.append(document["version"])
        document["version"] = "second"

    first = threading.Thread(target=edit_document, args=(path, first_change))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=edit_document, args=(path, second_change))
    second.start()
    release.set()
    first.join(30)
    second.join(30)

    assert seen == ["first"]
    assert read_document(path) == {"version": "second", "flags": {}}


def test_another_process_holding_the_lock_keeps_an_editor_out_until_it_lets_go(
    tmp_path: Path,
) -> None:
    path = snapshot_file(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys\n"
            f"lock = open({str(lock_path(path))!r}, 'a')\n"
            "fcntl.flock(lock, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DocumentLockTimeout):
            edit_document(path, set_version("v2"), lock_timeout=0)
        assert path.read_bytes() == ORIGINAL
        holder.stdin.close()
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:  # pragma: no cover - only when an assertion failed
            holder.kill()
            holder.wait()
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()

    edit_document(path, set_version("v2"), lock_timeout=0)
    assert read_document(path)["version"] == "v2"


def test_the_lock_is_released_after_a_refused_edit(tmp_path: Path) -> None:
    path = snapshot_file(tmp_path)
    with pytest.raises(ConfigError):
        edit_document(path, break_flags)

    with lock_path(path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise BlockingIOError
        fcntl.flock(lock, fcntl.LOCK_UN)
