"""Append-only files written through the raw file descriptor.

Sinks write whole batches with ``os.write`` on a descriptor opened with ``O_APPEND``: no
user-space buffer holds records that a forked child could write a second time, and several
processes appending to one file do not interleave inside a batch on local file systems.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["AppendFile", "fsync_directory"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class AppendFile:
    """An open file that bytes are appended to; tracks its size and when it was opened."""

    __slots__ = ("fd", "opened_at", "path", "size")

    def __init__(self, path: str, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.fd = os.open(path, _FLAGS, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.opened_at = timer()

    def write(self, data: bytes) -> None:
        """Append all of ``data`` (``os.write`` may take it in parts)."""
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            self.size += written
            view = view[written:]

    def fsync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def fsync_directory(path: str) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be
    opened, e.g. on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
