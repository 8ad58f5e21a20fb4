"""Exposure sinks: where the record of "this user saw this variant" goes.

Sinks a ``Client`` emits to (``ExposureSink``: ``emit``, ``flush``, ``close``):

``BatchingSink(inner, …)``
    the one to use in production: ``emit`` only queues; a worker thread builds the records
    and writes them to ``inner`` in batches, with retries, a spool and counters.
``MemorySink``
    keeps records in memory (tests, examples); ``.events`` is the list of record dicts.
``FanoutSink(sinks)``
    several sinks as one.

Destinations (``BatchWriter``: ``write_batch``, ``close``), usable on their own too, in which
case they write on the request thread:

``JsonlSink(path)``
    appends JSON lines to a file, with rotation and an fsync policy.
``HttpSink(url)``
    posts JSON batches to a collector.
``LoggingSink()``
    one ``logging`` record per exposure.
``CallbackSink(fn)``
    calls ``fn(record)``.

Every sink drops repeats of the same exposure within 120 s (Confidence's rule) and reports
``stats()`` (``SinkStats``): emitted, delivered, deduplicated, dropped by reason, queued,
retried, spooled, replayed.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from ..errors import PartialDelivery, SinkError
    from .base import BatchWriter, ExposureSink, RecordSink, SinkStats
    from .batching import BatchingSink
    from .callback import CallbackSink
    from .exposure import SCHEMA_VERSION, Exposure, format_time
    from .fanout import FanoutSink
    from .httpsink import HttpSink
    from .jsonl import JsonlSink
    from .logsink import LoggingSink
    from .memory import MemorySink
    from .records import Deduplicator, RecordBatch
    from .retry import RetryPolicy

__all__ = [
    "SCHEMA_VERSION",
    "BatchWriter",
    "BatchingSink",
    "CallbackSink",
    "Deduplicator",
    "Exposure",
    "ExposureSink",
    "FanoutSink",
    "HttpSink",
    "JsonlSink",
    "LoggingSink",
    "MemorySink",
    "PartialDelivery",
    "RecordBatch",
    "RecordSink",
    "RetryPolicy",
    "SinkError",
    "SinkStats",
    "format_time",
]

# imported on first use: a client needs only the base protocol and the fan-out
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "BatchWriter": ".base",
        "BatchingSink": ".batching",
        "CallbackSink": ".callback",
        "Deduplicator": ".records",
        "Exposure": ".exposure",
        "ExposureSink": ".base",
        "FanoutSink": ".fanout",
        "HttpSink": ".httpsink",
        "JsonlSink": ".jsonl",
        "LoggingSink": ".logsink",
        "MemorySink": ".memory",
        "PartialDelivery": "..errors",
        "RecordBatch": ".records",
        "RecordSink": ".base",
        "RetryPolicy": ".retry",
        "SCHEMA_VERSION": ".exposure",
        "SinkError": "..errors",
        "SinkStats": ".base",
        "format_time": ".exposure",
    },
)
