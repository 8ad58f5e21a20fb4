"""``JsonlSink``: one JSON object per line, appended to a file, with rotation and an fsync
policy."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS
from .files import AppendFile, fsync_directory
from .records import RecordBatch

__all__ = ["JsonlSink"]

FsyncPolicy = Literal["never", "always"] | float


class JsonlSink(RecordSink):
    """Appends each exposure and metric-event record to ``path`` as one line of compact
    ASCII JSON (their ``"type"`` tells them apart; the aggregation reads both from one file).

    ``path`` may contain ``{pid}`` (one file per process, e.g. under gunicorn). Options:

    ``max_bytes``
        rotate before a write would take the file past this size;
    ``rotate_every``
        rotate when the file has been open this many seconds;
    ``keep``
        how many rotated files to keep (oldest deleted first; default all). A rotated file
        is named ``<stem>.<UTC time>.<suffix>``, e.g. ``exposures.20261123T143601.123Z.jsonl``;
    ``fsync``
        ``"never"`` (the operating system decides; survives a crash of the process, not of
        the machine), ``"always"`` (after every write) or a number of seconds (at most that
        long between fsyncs, and on ``flush``/``close``); with either, a new or rotated
        file's directory entry is fsynced too.

    Each write is one ``os.write`` of whole lines on a descriptor opened for appending, so
    nothing sits in a user-space buffer. On its own, ``emit`` writes on the request thread;
    wrap the sink in ``BatchingSink`` to write batches from a worker thread instead.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        rotate_every: float | None = None,
        keep: int | None = None,
        fsync: FsyncPolicy = "never",
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
        clock: Callable[[], float] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        if rotate_every is not None and rotate_every <= 0:
            raise ValueError("rotate_every must be positive")
        if keep is not None and keep < 0:
            raise ValueError("keep must be >= 0")
        if not (
            fsync in ("never", "always")
            or (isinstance(fsync, (int, float)) and not isinstance(fsync, bool) and fsync >= 0)
        ):
            raise ValueError('fsync must be "never", "always" or a number of seconds')
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self.path_template = os.fspath(path)
        self.max_bytes = max_bytes
        self.rotate_every = rotate_every
        self.keep = keep
        self.fsync = fsync
        self._clock = clock
        self._timer = timer
        self._file: AppendFile | None = None
        self._last_fsync = timer()
        self._unsynced = False

    @property
    def path(self) -> str:
        """The file being written (``{pid}`` filled in)."""
        return self.path_template.replace("{pid}", str(os.getpid()))

    def _write(self, batch: RecordBatch) -> None:
        data = batch.jsonl()
        if not data:
            return
        file = self._file
        if file is None:
            file = self._open()
        if self._should_rotate(file, len(data)):
            self._rotate(file)
            file = self._open()
        file.write(data)
        self._unsynced = True
        fsync = self.fsync
        if fsync == "always" or (
            fsync != "never" and self._timer() - self._last_fsync >= float(fsync)
        ):
            self._sync(file)

    def _open(self) -> AppendFile:
        file = self._file = AppendFile(self.path, timer=self._timer)
        if self.fsync != "never" and file.size == 0:
            fsync_directory(os.path.dirname(os.path.abspath(file.path)))
        return file

    def _should_rotate(self, file: AppendFile, incoming: int) -> bool:
        if file.size == 0:
            return False
        if self.max_bytes is not None and file.size + incoming > self.max_bytes:
            return True
        return self.rotate_every is not None and self._timer() - file.opened_at >= (
            self.rotate_every
        )

    def _rotate(self, file: AppendFile) -> None:
        if self.fsync != "never" and self._unsynced:
            self._sync(file)
        file.close()
        self._file = None
        current = Path(file.path)
        now = (self._clock or time.time)()
        stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
        taken = [
            serial for other_stamp, serial, _ in self._rotated(current) if other_stamp == stamp
        ]
        serial = max(taken) + 1 if taken else 0
        suffix = f"-{serial}" if serial else ""
        os.replace(current, current.with_name(f"{current.stem}.{stamp}{suffix}{current.suffix}"))
        if self.fsync != "never":
            fsync_directory(str(current.parent))
        if self.keep is not None:
            self._prune(current)

    def _rotated(self, current: Path) -> list[tuple[str, int, Path]]:
        """The rotated files of ``current``, oldest first, as ``(stamp, serial, path)``."""
        pattern = re.compile(
            re.escape(current.stem)
            + r"\.(\d{8}T\d{6}\.\d{3}Z)(?:-(\d+))?"
            + re.escape(current.suffix)
        )
        found = []
        for candidate in current.parent.iterdir():
            match = pattern.fullmatch(candidate.name)
            if match:
                found.append((match.group(1), int(match.group(2) or 0), candidate))
        return sorted(found)

    def _prune(self, current: Path) -> None:
        rotated = self._rotated(current)
        excess = len(rotated) - (self.keep or 0)
        for _, _, old in rotated[: max(excess, 0)]:
            try:
                old.unlink()
            except OSError:
                self._log.warning("prune", "JsonlSink could not delete %s", old, exc_info=True)

    def _sync(self, file: AppendFile) -> None:
        file.fsync()
        self._last_fsync = self._timer()
        self._unsynced = False

    def flush(self, timeout: float | None = None) -> bool:
        """Lines are written as they come; with an fsync policy other than ``"never"``,
        also fsync now. ``False`` if that fails, or if an exposure was dropped since the
        previous flush."""
        delivered = not self._fresh_drops()
        with self._lock:
            file = self._file
            if file is None or self.fsync == "never" or not self._unsynced:
                return delivered
            try:
                self._sync(file)
            except OSError:
                self._log.warning("flush", "JsonlSink could not fsync %s", file.path, exc_info=True)
                return False
        return delivered

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if self.fsync != "never" and self._unsynced:
                self._sync(file)
        except OSError:
            self._log.warning("close", "JsonlSink could not fsync %s", file.path, exc_info=True)
        finally:
            file.close()

    def _reset_after_fork(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # the child's copy of the descriptor; the parent keeps its own
