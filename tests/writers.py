"""``BatchWriter`` doubles shared by the sink tests: one that records what it accepts, one
that always fails, one that blocks until released."""

from __future__ import annotations

import threading
from typing import Any

from flagstone.sinks import RecordBatch, SinkError

PATIENCE = 30.0  # seconds to wait for something that must happen (only reached on failure)


class RecordingWriter:
    """Keeps the records and JSON lines of every batch it accepts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[dict[str, Any]]] = []
        self.line_batches: list[list[str]] = []
        self.calls = 0
        self.close_calls = 0

    def write_batch(self, batch: RecordBatch) -> None:
        with self.lock:
            self.calls += 1
        self.accept(batch)

    def accept(self, batch: RecordBatch) -> None:
        with self.lock:
            self.batches.append(list(batch.records))
            self.line_batches.append(list(batch.lines))

    def close(self) -> None:
        with self.lock:
            self.close_calls += 1

    @property
    def closed(self) -> bool:
        return self.close_calls > 0

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [record for batch in self.batches for record in batch]

    @property
    def units(self) -> list[str]:
        return [record["targeting_key"] for record in self.records]


class FailingWriter(RecordingWriter):
    """Raises ``SinkError`` from every ``write_batch``; remembers what each attempt held."""

    def __init__(self) -> None:
        super().__init__()
        self.attempted: list[list[str]] = []

    def write_batch(self, batch: RecordBatch) -> None:
        with self.lock:
            self.calls += 1
            self.attempted.append([record["targeting_key"] for record in batch.records])
        raise SinkError("the collector is down")


class BlockingWriter(RecordingWriter):
    """Every ``write_batch`` waits until ``release`` is set (``entered`` is set as soon as
    the first one starts; ``writing`` counts calls in progress), then accepts the batch."""

    instances: list[BlockingWriter] = []

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.writing = 0
        BlockingWriter.instances.append(self)

    def write_batch(self, batch: RecordBatch) -> None:
        with self.lock:
            self.calls += 1
            self.writing += 1
        self.entered.set()
        try:
            if not self.release.wait(4 * PATIENCE):
                raise SinkError("never released")
            self.accept(batch)
        finally:
            with self.lock:
                self.writing -= 1
