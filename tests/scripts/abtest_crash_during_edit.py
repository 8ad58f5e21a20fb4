"""Run one ``abtest`` edit and kill this process with SIGKILL at a given point of writing.

Usage: abtest_crash_during_edit.py POINT ARGUMENT...

ARGUMENTs are those of ``python -m flagstone abtest``. POINT is where the process dies:

``mid-write``
    half of the new text is in the temporary file;
``before-fsync``
    all of it is written, not yet fsynced;
``before-rename``
    it is fsynced, the rename has not happened;
``after-rename``
    the temporary file has replaced the document, the directory is not yet fsynced.

The script never ends by itself: if the edit finishes without reaching POINT, it exits with
status 3 (the test then fails on that status rather than on a file it did not expect).
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from typing import Any

from flagstone.cli.abtest import main as abtest

POINTS = ("mid-write", "before-fsync", "before-rename", "after-rename")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class HalfWriter:
    """A binary file that writes half of what it is given, flushes it, and dies."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        die()
        return len(data)  # pragma: no cover - never reached

    def __enter__(self) -> HalfWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def arm(point: str) -> None:
    real_fdopen, real_fsync = os.fdopen, os.fsync

    if point == "mid-write":

        def fdopen(descriptor: int, *args: Any, **kwargs: Any) -> Any:
            return HalfWriter(real_fdopen(descriptor, *args, **kwargs))

        os.fdopen = fdopen  # type: ignore[assignment]
    elif point == "before-fsync":

        def fsync_file(descriptor: int) -> None:
            if stat.S_ISREG(os.fstat(descriptor).st_mode):
                die()
            real_fsync(descriptor)

        os.fsync = fsync_file  # type: ignore[assignment]
    elif point == "before-rename":

        def replace(source: Any, destination: Any) -> None:
            die()

        os.replace = replace  # type: ignore[assignment]
    elif point == "after-rename":

        def fsync_directory(descriptor: int) -> None:
            if stat.S_ISDIR(os.fstat(descriptor).st_mode):
                die()
            real_fsync(descriptor)

        os.fsync = fsync_directory  # type: ignore[assignment]
    else:
        raise SystemExit(f"POINT is one of {', '.join(POINTS)}, not {point!r}")


def main() -> None:
    point, arguments = sys.argv[1], sys.argv[2:]
    arm(point)
    abtest(arguments)
    sys.exit(3)


if __name__ == "__main__":
    main()
