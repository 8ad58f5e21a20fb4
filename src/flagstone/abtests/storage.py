"""Safe edits of a snapshot kept in a JSON file: one editor at a time, validated before it is
written, and never half written.

This module owns reading and replacing the file; what an edit changes is the caller's
business (the ``abtest`` command passes the A/B-test lifecycle). Two kinds of edit share the
same guarantees: :func:`patch_document`, which writes back only what changed (the ``abtest``
command's native edits), and :func:`edit_document`, which rewrites the whole document (its
edits of the Experiments-API and Alexa files). Either

1. takes an exclusive lock (``fcntl.flock``) on a sidecar file ``<file>.lock``, waiting up to
   ``lock_timeout`` seconds for another editor to finish (the document itself cannot carry
   the lock: it is replaced by a rename, and a lock on the old inode would not exclude an
   editor that opened the new one). The sidecar is left in place on purpose: removing it
   would let two editors lock two different inodes;
2. reads and decodes the document and lets the edit change it;
3. has the new document validated (:func:`edit_document`: by ``validate``, the whole
   snapshot by default; :func:`patch_document`: by the edit itself, which validates what it
   changed); a refusal writes nothing;
4. writes the new text to a temporary file in the same directory, flushes and fsyncs it,
   gives it the document's permission bits, renames it over the document (``os.replace``,
   atomic) and fsyncs the directory so the rename itself survives a power cut.

A reader therefore sees the previous document or the new one, whole, and needs no lock:
:func:`read_document`. An editor killed at any point leaves the previous document (or, after
the rename, the new one); its temporary file, named ``.<file>.flagstone-<random>.tmp``, is
never read as the document and is removed by the next editor (only a lock holder writes
one, so a temporary file found while holding the lock belongs to a dead editor).

:func:`patch_document` keeps the file's bytes outside what changed: a changed top-level value
or item of a top-level array (``$.abtests[i]``) is written in the file's own indentation and
separators in place of the old one, everything else stays byte for byte (see
:mod:`flagstone.abtests.splice`), and the new text is decoded once to check it is exactly the
new document. :func:`edit_document` writes ``json.dumps(document, indent=2,
ensure_ascii=False)`` plus a newline, keys in the order they were read.

Either edit advances a top-level ``issuedAt`` when the document has one and its bytes change:
to now, or one microsecond after the old value when the clock is not past it. A client with
a signing key refuses a signed document that is not later than the newest it has accepted
(a rollback), so every new version of a signed snapshot must be issued later. Likewise an
explicit top-level ``version`` that the edit left as it was is advanced
(:func:`flagstone.abtests.version.next_version`: ``"2026-11-23.1"`` → ``"2026-11-23.2"``,
``7`` → ``8``), so exposures recorded before and after the edit carry different versions;
without a ``version`` the snapshot's version is a hash of its bytes, and nothing is added.

POSIX only (``fcntl``), and only on file systems where ``flock`` locks are honoured between
processes (local disks; not every network file system). A symbolic link is followed: the
file it points to is edited and the link stays.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError, DocumentLockTimeout, Problem
from ..formats import parse_snapshot
from ..model.issued_at import next_issued_at
from .splice import ScannedText, scan, splice
from .version import next_version

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DocumentLockTimeout",
    "edit_document",
    "encode_document",
    "lock_path",
    "patch_document",
    "read_document",
    "validate_snapshot",
]

T = TypeVar("T")

DEFAULT_LOCK_TIMEOUT = 30.0
"""Seconds :func:`edit_document` waits for another editor before giving up."""

_TEMP_INFIX = ".flagstone-"
_TEMP_SUFFIX = ".tmp"


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar file whose ``flock`` lock guards edits of ``path``: ``<file>.lock`` beside
    the file (after following a symbolic link)."""
    return _lock_of(_target(path))


def encode_document(document: Any) -> bytes:
    """The bytes :func:`edit_document` writes for ``document``: JSON with an indent of 2,
    non-ASCII characters as they are, keys in their order, and a trailing newline. NaN and
    infinities are refused (``ValueError``): they are not JSON."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and decode the JSON object in ``path`` (no lock needed: edits replace the file
    atomically, so a reader sees a whole document).

    Raises ``OSError`` when the file cannot be read and ``ConfigError`` when it is not a JSON
    object.
    """
    return _decode(Path(path).read_bytes(), os.fspath(path))


def validate_snapshot(document: dict[str, Any]) -> None:
    """The default validation of :func:`edit_document`: ``parse_snapshot`` in strict mode
    (raises ``ConfigError`` naming every problem)."""
    parse_snapshot(document)


def edit_document(
    path: str | os.PathLike[str],
    change: Callable[[dict[str, Any]], T],
    *,
    validate: Callable[[dict[str, Any]], None] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> T:
    """Apply ``change`` to the JSON document in ``path`` under an exclusive lock, validate
    the result and replace the file atomically with the whole new document
    (:func:`encode_document`); return what ``change`` returned.

    ``change`` receives the decoded document (a fresh ``dict``, no one else holds it) and
    edits it in place; its return value is passed back. If ``change`` raises, nothing is
    written and the exception propagates. ``validate`` checks the edited document
    (default :func:`validate_snapshot`) and refuses it by raising, typically
    ``ConfigError``; nothing is written then either. A document that ``change`` left as it
    was is validated but not rewritten.

    Raises ``OSError`` when the file cannot be read or written, ``ConfigError`` when it is
    not a JSON object or the edit is refused, and :class:`DocumentLockTimeout` when another
    editor holds the lock for more than ``lock_timeout`` seconds.
    """
    check = validate_snapshot if validate is None else validate

    def edit(original: bytes) -> tuple[bytes, T]:
        document = _decode(original, os.fspath(path))
        issued_before = document.get("issuedAt")
        version_before = document.get("version")
        result = change(document)
        encoded = _encode(document, os.fspath(path))
        if encoded != original:
            stamps = _new_stamps(issued_before, version_before, document)
            if stamps:
                document.update(stamps)
                encoded = _encode(document, os.fspath(path))
        check(document)
        return encoded, result

    return _locked_edit(path, edit, lock_timeout)


def patch_document(
    path: str | os.PathLike[str],
    edit: Callable[[dict[str, Any]], tuple[Mapping[str, Any], T]],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> T:
    """Apply ``edit`` to the JSON document in ``path`` under an exclusive lock and replace the
    file atomically, rewriting only what changed; return the result ``edit`` gave.

    ``edit`` receives the decoded document, which it must not change, and returns ``(new
    document, result)``; it validates the new document itself and refuses it by raising
    (nothing is written; the exception propagates). In the new text every top-level value and
    every item of a top-level array that the new document shares with the old one keeps its
    bytes; the rest is written in the file's style, and the text is checked to decode to
    exactly the new document (should that ever fail, or should the file not allow it, the
    whole document is written as :func:`edit_document` writes it). A new document equal to
    the old one is not written.

    Raises ``OSError`` when the file cannot be read or written, ``ConfigError`` when it is
    not a JSON object or the new document is not JSON, and :class:`DocumentLockTimeout`
    when another editor holds the lock for more than ``lock_timeout`` seconds.
    """
    source = os.fspath(path)

    def change(original: bytes) -> tuple[bytes, T]:
        try:
            scanned = scan(original)
        except ValueError as error:  # UnicodeDecodeError included
            raise ConfigError([Problem("$", f"not valid JSON: {error}")], source=source) from None
        document = scanned.document
        if not isinstance(document, dict):
            raise _not_an_object(document, source)
        new, result = edit(document)
        if new is document:
            return original, result
        encoded = _spliced(scanned, new, source)
        if encoded != original:
            stamps = _new_stamps(document.get("issuedAt"), document.get("version"), new)
            if stamps:
                encoded = _spliced(scanned, {**new, **stamps}, source)
        return encoded, result

    return _locked_edit(path, change, lock_timeout)


def _locked_edit(
    path: str | os.PathLike[str],
    edit: Callable[[bytes], tuple[bytes, T]],
    lock_timeout: float,
) -> T:
    """Under the lock: clean up dead editors' temporary files, read the document, let
    ``edit`` turn its bytes into new bytes, and replace the file if they differ."""
    target = _target(path)
    with _exclusive_lock(target, lock_timeout, os.fspath(path)):
        _remove_stale_temporaries(target)
        original = target.read_bytes()
        encoded, result = edit(original)
        if encoded != original:
            _replace(target, encoded)
        return result


def _spliced(scanned: ScannedText, new: Mapping[str, Any], source: str) -> bytes:
    text = splice(scanned, new)
    return _encode(new, source) if text is None else text.encode("utf-8", "surrogatepass")


def _new_stamps(issued_before: Any, version_before: Any, new: Mapping[str, Any]) -> dict[str, Any]:
    """What a changed document's top level needs besides the edit: an ``issuedAt`` later than
    the old one and the one the edit left (when it has one), and the next ``version`` when
    it has one that the edit left as it was (:func:`~flagstone.abtests.version.next_version`;
    an edit that set a version of its own keeps it)."""
    stamps: dict[str, Any] = {}
    issued_at = new.get("issuedAt")
    if isinstance(issued_at, str):
        before = issued_before if isinstance(issued_before, str) else None
        stamps["issuedAt"] = next_issued_at([before, issued_at])
    version = new.get("version")
    if type(version) is type(version_before) and version == version_before:
        bumped = next_version(version)
        if bumped is not None:
            stamps["version"] = bumped
    return stamps


def _encode(document: Any, source: str) -> bytes:
    try:
        return encode_document(document)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            [Problem("$", f"the edited document is not JSON: {error}")], source=source
        ) from None


def _target(path: str | os.PathLike[str]) -> Path:
    """``path`` with symbolic links followed, so the link survives an edit."""
    return Path(os.path.realpath(os.fspath(path)))


def _lock_of(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


def _decode(raw: bytes, source: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as error:  # UnicodeDecodeError included
        raise ConfigError([Problem("$", f"not valid JSON: {error}")], source=source) from None
    if not isinstance(document, dict):
        raise _not_an_object(document, source)
    return document


def _not_an_object(document: Any, source: str) -> ConfigError:
    return ConfigError(
        [Problem("$", f"a snapshot is a JSON object, not {type(document).__name__}")],
        source=source,
    )


@contextlib.contextmanager
def _exclusive_lock(target: Path, timeout: float, source: str) -> Iterator[None]:
    """Hold ``flock(LOCK_EX)`` on the sidecar lock file; poll (with a growing pause, at most
    50 ms) until ``timeout`` seconds have passed, then raise :class:`DocumentLockTimeout`."""
    lock = _lock_of(target)
    if not target.exists():  # do not leave a lock file beside a document that is not there
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), source)
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:  # another user's lock file: flock works on a read-only one too
        descriptor = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    try:
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DocumentLockTimeout(source, lock, timeout) from None
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}{_TEMP_INFIX}"


def _remove_stale_temporaries(target: Path) -> None:
    """Remove temporary files of editors that died before their rename (called with the
    lock held: a live editor's temporary file exists only while it holds the lock)."""
    prefix = _temporary_prefix(target)
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            if entry.name.startswith(prefix) and entry.name.endswith(_TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _replace(target: Path, encoded: bytes) -> None:
    """Write ``encoded`` to a temporary file beside ``target``, make it durable, give it the
    target's permission bits (and owner, where allowed), rename it over ``target`` and fsync
    the directory."""
    status = target.stat()
    descriptor, temporary = tempfile.mkstemp(
        prefix=_temporary_prefix(target), suffix=_TEMP_SUFFIX, dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(encoded)
            stream.flush()
            if (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
                # only root (or a member of the group) may; otherwise the file becomes ours
                with contextlib.suppress(OSError):
                    os.fchown(stream.fileno(), status.st_uid, status.st_gid)
            # after the chown, which may clear the set-id bits
            os.fchmod(stream.fileno(), stat.S_IMODE(status.st_mode))
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
