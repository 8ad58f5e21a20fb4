"""Noticing that a snapshot file changed, cheaply, and never reading half of a write.

Each poll is one ``stat``; only when modification time, size or inode changed is the file
read, and the read counts only if a second ``stat`` afterwards shows the same file (an
editor still writing gets another look at the next poll). A content hash then tells a real
change from a touch.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["FileWatcher"]


class FileWatcher:
    """Watches ``path``; ``read_if_changed()`` returns new content or ``None``.

    A read is remembered only once it is accepted (``accept``): a file that was refused
    (invalid, or its signature sidecar not written yet) is read again at every check, so it
    keeps showing as failing and a sidecar written after its document is picked up.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None  # of the accepted content
        self._read_stamp: tuple[int, int, int] | None = None  # of the last read
        self._digest: str | None = None

    def accept(self, body: bytes) -> None:
        """``body`` is now being served (compare future content to it)."""
        self._digest = hashlib.sha256(body).hexdigest()
        self._stamp = self._read_stamp

    def read_if_changed(self) -> bytes | None:
        """The file's content if it differs from what was accepted and is stable; raises
        ``OSError`` if it cannot be read."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        with open(self.path, "rb") as file:
            body = file.read()
        if self._stat() != stamp:
            return None  # still being written: look again next time
        self._read_stamp = stamp
        if hashlib.sha256(body).hexdigest() == self._digest:
            self._stamp = stamp  # touched, not changed
            return None
        return body

    def read_signature(self) -> str | None:
        try:
            with open(self.path + ".sig", encoding="ascii", errors="replace") as file:
                return file.read(4096).strip()
        except FileNotFoundError:
            return None

    def _stat(self) -> tuple[int, int, int]:
        status = os.stat(self.path)
        return (status.st_mtime_ns, status.st_size, status.st_ino)
