"""The spool: batches that could not be delivered, kept on disk and replayed in order.

A spool is a directory of segment files, each JSON Lines, named
``<time_ns>-<pid>-<serial>.jsonl`` so that sorting the names sorts them by age. A process
appends to its own segment while holding an exclusive ``flock`` on it (released by the
kernel when the process dies, even by SIGKILL), so several processes (pre-fork workers, a
restarted process) can share one directory: a segment is replayed only by whoever can lock
it, and a segment whose writer is alive is left alone.

Replay delivers a segment in chunks, oldest first, and after each delivered chunk records
how far it got in ``<segment>.offset`` (written to a temporary file and renamed into place);
a delivered segment is deleted. A process killed while appending leaves a torn last line,
which replay skips (it was never counted as spooled). Delivery is at least once across a
crash *during replay*: a chunk delivered just before the kill, whose offset was not yet
written, is delivered again; ``(resolve_id, flag)`` identifies a record for consumers that
must deduplicate.

A batch whose delivery is still being tried can be written ahead (``write_ahead``): it
becomes the head of a new segment, which is not rotated away, so that records queued
behind it can be spooled after it in order; once the attempts end, ``settle`` records how
many of its records got through after all (replay skips them, as after a replayed chunk).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PartialDelivery, SpoolFull
from .files import AppendFile, fsync_directory
from .records import RecordBatch

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool directory
    fcntl = None  # type: ignore[assignment]

__all__ = ["Spool", "SpoolFull", "Ticket"]

_SUFFIX = ".jsonl"
_OFFSET = ".offset"


@dataclass
class Ticket:
    """A batch written ahead at the head of a segment (see ``Spool.write_ahead``)."""

    segment: str
    """The segment's file name."""
    line_bytes: list[int]
    """Bytes each record takes in it, newline included, in order."""


class Spool:
    """A spool directory (created if missing). Not thread-safe: one worker thread owns it.

    ``fsync``
        fsync every append and offset update (survives power loss, not only a crash).
    ``max_bytes``
        bound on what this process keeps in the spool; beyond it ``append`` raises.
    ``segment_bytes``
        start a new segment past this size, so replay can delete as it goes.
    ``kind``
        the ``kind`` of the batches replay delivers (``"exposure"`` or ``"event"``: what
        the owner spools), ``None`` when it may be either.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: bool = True,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 16 << 20,
        kind: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.kind = kind
        self._active: AppendFile | None = None
        self._own: dict[str, int] = {}  # this process's segments → records still in them
        self._own_size: dict[str, int] = {}  # … → bytes they take on disk
        self._replay_fd = -1  # the segment being replayed (a forked child closes its copy)
        self._serial = 0
        self._pinned: str | None = None  # a segment holding a ticket: not rotated
        self.skipped_lines = 0

    @property
    def own_records(self) -> int:
        """Records this process spooled that are not yet replayed."""
        return sum(self._own.values())

    # -- writing ----------------------------------------------------------------------------

    def append(self, batch: RecordBatch) -> None:
        """Append a batch; raises ``OSError`` (``SpoolFull`` past ``max_bytes``)."""
        data = batch.jsonl()
        if not data:
            return
        if sum(self._own_size.values()) + len(data) > self.max_bytes:
            raise SpoolFull(f"the spool part of this process would exceed {self.max_bytes} bytes")
        active = self._active
        if (
            active is not None
            and active.size >= self.segment_bytes
            and os.path.basename(active.path) != self._pinned
        ):
            self._close_active()
            active = None
        if active is None:
            active = self._open_segment()
        before = active.size
        try:
            active.write(data)
            if self.fsync:
                active.fsync()
        except OSError:
            # None of the batch is spooled rather than a part; should even that fail, the
            # torn tail stays last in its segment, and replay skips it.
            with contextlib.suppress(OSError):
                os.ftruncate(active.fd, before)
            self._close_active()
            raise
        name = os.path.basename(active.path)
        self._own[name] = self._own.get(name, 0) + len(batch)
        self._own_size[name] = self._own_size.get(name, 0) + len(data)

    def write_ahead(self, batch: RecordBatch) -> Ticket:
        """Append ``batch`` as the first records of a new segment while its delivery is
        still being tried; the segment stays this process's (locked, not rotated) until
        ``settle``. Raises ``OSError`` (``SpoolFull``) as ``append`` does."""
        self._close_active()
        self.append(batch)
        assert self._active is not None
        name = os.path.basename(self._active.path)
        self._pinned = name
        return Ticket(name, [len(line) + 1 for line in batch.lines])

    def settle(self, ticket: Ticket, delivered: int) -> bool:
        """The attempts to deliver a ticket's batch are over and its first ``delivered``
        records got through: replay skips them. ``True`` if that is recorded (``False`` if
        the offset could not be written: they will be delivered again)."""
        if self._pinned == ticket.segment:
            self._pinned = None
        delivered = max(0, min(delivered, len(ticket.line_bytes)))
        if not delivered:
            return True
        path = self.directory / ticket.segment
        try:
            self._commit(Path(str(path) + _OFFSET), sum(ticket.line_bytes[:delivered]))
        except OSError:
            return False
        self._own[ticket.segment] = max(0, self._own.get(ticket.segment, 0) - delivered)
        return True

    def _open_segment(self) -> AppendFile:
        self._serial += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._serial:06d}{_SUFFIX}"
        active = AppendFile(str(self.directory / name))
        if fcntl is not None:
            fcntl.flock(active.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if self.fsync:
            fsync_directory(str(self.directory))
        self._active = active
        self._own.setdefault(name, 0)
        return active

    def _close_active(self) -> None:
        active, self._active = self._active, None
        if active is not None:
            active.close()  # closing our only descriptor releases the lock

    # -- replaying --------------------------------------------------------------------------

    def pending_segments(self) -> list[Path]:
        """Segment files in the directory, oldest first (locked ones included)."""
        try:
            names = sorted(
                entry.name
                for entry in os.scandir(self.directory)
                if entry.name.endswith(_SUFFIX) and entry.is_file()
            )
        except OSError:
            return []
        return [self.directory / name for name in names]

    def replay(
        self,
        deliver: Callable[[RecordBatch], None],
        chunk: int,
        on_progress: Callable[[int, int, int], None],
    ) -> bool:
        """Deliver every segment this process can lock, oldest first, ``chunk`` records at
        a time. ``on_progress(own, foreign, lost)`` reports each delivered chunk (records this
        process spooled, records an earlier or other process spooled) and, when a segment of
        this process is done, its records that could not be read back (``lost``). Returns
        ``False`` as soon as ``deliver`` raises (progress so far is kept), ``True`` when
        nothing is left that this process could replay."""
        self._close_active()
        for path in self.pending_segments():
            if not self._replay_segment(path, deliver, chunk, on_progress):
                return False
        for name in [name for name in self._own if not (self.directory / name).exists()]:
            # Replayed (and deleted) by another process sharing the directory, e.g. a forked
            # child: delivered, by someone else. (Were it deleted by hand, it could not be
            # told apart: either way it is no longer this process's to deliver.)
            self._own_size.pop(name, None)
            on_progress(self._own.pop(name), 0, 0)
        return True

    def _replay_segment(
        self,
        path: Path,
        deliver: Callable[[RecordBatch], None],
        chunk: int,
        on_progress: Callable[[int, int, int], None],
    ) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return True  # replayed and deleted by another process meanwhile
        self._replay_fd = fd
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return True  # a live process writes or replays it
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    return True  # deleted (and maybe recreated) after we opened it
            except FileNotFoundError:
                return True
            offset_path = Path(str(path) + _OFFSET)
            offset = _read_offset(offset_path)
            with os.fdopen(os.dup(fd), "rb") as file:
                file.seek(offset)
                data = file.read()
            complete = data.rfind(b"\n") + 1
            if complete < len(data):
                self.skipped_lines += 1  # a torn last line: its writer died mid-append
            lines = data[:complete].split(b"\n")[:-1] if complete else []
            own = path.name in self._own
            position = offset
            for start in range(0, len(lines), chunk):
                part = lines[start : start + chunk]
                texts = [text for text in (_valid(line) for line in part) if text is not None]
                self.skipped_lines += len(part) - len(texts)
                delivered_bytes = sum(len(line) + 1 for line in part)
                try:
                    if texts:
                        deliver(RecordBatch(lines=texts, kind=self.kind))
                except PartialDelivery as partial:
                    done = max(0, min(partial.delivered, len(texts)))
                    if done:
                        position += _bytes_of_first_valid(part, done)
                        self._commit(offset_path, position)
                        self._count(path.name, own, done, on_progress)
                    return False
                except Exception:
                    return False
                position += delivered_bytes
                self._commit(offset_path, position)
                self._count(path.name, own, len(texts), on_progress)
            if own:
                self._own_size.pop(path.name, None)
                lost = self._own.pop(path.name, 0)
                if lost:
                    on_progress(0, 0, lost)
            os.unlink(path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(offset_path)
            return True
        finally:
            self._replay_fd = -1
            os.close(fd)

    def _count(
        self, name: str, own: bool, records: int, on_progress: Callable[[int, int, int], None]
    ) -> None:
        if own:
            self._own[name] = max(0, self._own.get(name, 0) - records)
            on_progress(records, 0, 0)
        else:
            on_progress(0, records, 0)

    def _commit(self, offset_path: Path, position: int) -> None:
        temporary = Path(str(offset_path) + ".tmp")
        with open(temporary, "w", encoding="ascii") as file:
            file.write(str(position))
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, offset_path)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._close_active()

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's segments and lock stay the parent's."""
        self._close_active()  # our copy of the descriptor; the parent's keeps the lock
        if self._replay_fd >= 0:  # forked while the parent's worker was replaying
            with contextlib.suppress(OSError):
                os.close(self._replay_fd)
            self._replay_fd = -1
        self._own = {}
        self._own_size = {}
        self._serial = 0
        self._pinned = None


def _read_offset(path: Path) -> int:
    try:
        return max(0, int(path.read_text(encoding="ascii").strip() or 0))
    except (OSError, ValueError):
        return 0


def _valid(line: bytes) -> str | None:
    """The line as text if it is a JSON object, else ``None`` (skipped)."""
    try:
        text = line.decode("ascii")
        if not isinstance(json.loads(text), dict):
            return None
    except (UnicodeDecodeError, ValueError):
        return None
    return text


def _bytes_of_first_valid(part: list[bytes], count: int) -> int:
    """Bytes of the lines of ``part`` up to and including its ``count``-th valid one."""
    total = 0
    seen = 0
    for line in part:
        total += len(line) + 1
        if _valid(line) is not None:
            seen += 1
            if seen == count:
                break
    return total
