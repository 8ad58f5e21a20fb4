"""Exposure sinks: where the record of "this user saw this variant" goes.

A sink is anything with ``emit(exposure)``, ``flush(timeout)`` and ``close()`` (the
``ExposureSink`` protocol). ``emit`` runs on the request thread and never raises. Every sink
here drops repeats of the same exposure within 120 s (Confidence's rule) and counts what it
delivered, dropped as a duplicate, or failed to deliver in ``stats()``.

``MemorySink``
    keeps records in memory (tests, examples); ``.events`` is the list of record dicts.
``JsonlSink(path)``
    appends one JSON object per line.
``CallbackSink(fn)``
    calls ``fn(record)``.
"""

from .base import ExposureSink, RecordSink
from .callback import CallbackSink
from .exposure import SCHEMA_VERSION, Deduplicator, Exposure, format_time
from .jsonl import JsonlSink
from .memory import MemorySink

__all__ = [
    "SCHEMA_VERSION",
    "CallbackSink",
    "Deduplicator",
    "Exposure",
    "ExposureSink",
    "JsonlSink",
    "MemorySink",
    "RecordSink",
    "format_time",
]
