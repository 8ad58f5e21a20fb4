"""``FileSource``: a snapshot file, noticed cheaply and never read half-written.

Each poll is one ``stat``; only when modification time, size or inode differ from those of the
document being served (its ``etag`` is that stamp) is the file read, and the read counts only
if a second ``stat`` afterwards shows the same file (an editor still writing gets another
look at the next poll). A touch without a change reads the same bytes, which the updater
recognises by their digest. A refused version is not the one being served, so it is read (and
refused) again at every poll until it changes, and a ``.sig`` sidecar written after its
document is picked up. The first read, with nothing served yet, is tried a few times for a
stable file and then taken as it is.
"""

from __future__ import annotations

import os

from .base import SourceDocument

__all__ = ["FileSource", "read_signature"]

_FIRST_READ_ATTEMPTS = 3
"""Reads before the first document is taken as it is (later polls just look again)."""


class FileSource:
    """The snapshot in the file at ``path`` (and its signature in ``<path>.sig``)."""

    kind = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.name = self.path

    def poll(
        self, current: SourceDocument | None, *, need_signature: bool
    ) -> SourceDocument | None:
        """The file's content if its stamp differs from ``current``'s; ``None`` if not, or
        if it changed while being read. Raises ``OSError`` if it cannot be read."""
        stamp: str | None = None
        for _ in range(_FIRST_READ_ATTEMPTS):
            stamp = self._stamp()
            if current is not None and current.etag == stamp:
                return None
            with open(self.path, "rb") as file:
                body = file.read()
            if self._stamp() == stamp:
                break
            if current is not None:
                return None  # still being written: look again next time
        else:
            # Nothing is served yet and the file keeps changing: take this read (a torn one
            # fails to parse) and read it again at the next poll.
            stamp = None
        signature = read_signature(self.path) if need_signature else None
        return SourceDocument(body, signature, etag=stamp)

    def close(self) -> None:
        """Nothing to release."""

    def _stamp(self) -> str:
        status = os.stat(self.path)
        return f"{status.st_mtime_ns}-{status.st_size}-{status.st_ino}"

    def __repr__(self) -> str:
        return f"FileSource({self.path!r})"


def read_signature(path: str) -> str | None:
    """The signature in ``<path>.sig``, or ``None`` if there is no such file."""
    try:
        with open(path + ".sig", encoding="ascii", errors="replace") as file:
            return file.read(4096).strip()
    except FileNotFoundError:
        return None
