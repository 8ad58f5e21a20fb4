"""``JsonlSink``: one JSON object per line, appended to a file."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS

__all__ = ["JsonlSink"]


class JsonlSink(RecordSink):
    """Appends each (deduplicated) exposure record to ``path`` as one line of JSON.

    The file is opened in append mode on the first exposure, written through a buffer,
    flushed by ``flush()`` and flushed and closed by ``close()``. Writing happens on the
    thread that emits; wrap it in a batching sink to move I/O off the request path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self.path = os.fspath(path)
        self._file: IO[str] | None = None

    def _deliver(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")

    def flush(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError:
                    self._log.warning(
                        "flush", "JsonlSink could not flush %s", self.path, exc_info=True
                    )
                    return False
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    self._log.warning(
                        "close", "JsonlSink could not close %s", self.path, exc_info=True
                    )
                self._file = None
