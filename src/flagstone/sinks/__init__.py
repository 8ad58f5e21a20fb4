"""Sinks: where the records of "this user saw this variant" (exposures) and of "this user
did this" (metric events, ``Client.track``) go.

Sinks a ``Client`` emits to (``ExposureSink``: ``emit``, ``flush``, ``close``; and
``EventSink``: ``emit_event``, which every built-in sink has):

``BatchingSink(inner, …)``
    the one to use in production: ``emit`` only queues; a worker thread builds the records
    and writes them to ``inner`` in batches, with retries, a spool and counters. Events
    have a queue (and budget), worker and spool of their own.
``MemorySink``
    keeps records in memory (tests, examples): ``.events`` the exposure records,
    ``.tracked`` the event records, ``.records`` both.
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

Every sink drops repeats of the same exposure within 120 s (Confidence's rule; events are
never deduplicated) and reports ``stats()`` (``SinkStats``): emitted, delivered,
deduplicated, dropped by reason, queued, retried, spooled, replayed, in total and
``by_kind`` (``KindStats`` for ``"exposure"`` and ``"event"``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from ..errors import PartialDelivery, SinkError
    from .base import BatchWriter, EventSink, ExposureSink, KindStats, RecordSink, SinkStats
    from .batching import BatchingSink
    from .callback import CallbackSink
    from .events import MetricEvent
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
    "EventSink",
    "Exposure",
    "ExposureSink",
    "FanoutSink",
    "HttpSink",
    "JsonlSink",
    "KindStats",
    "LoggingSink",
    "MemorySink",
    "MetricEvent",
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
        "EventSink": ".base",
        "Exposure": ".exposure",
        "ExposureSink": ".base",
        "FanoutSink": ".fanout",
        "HttpSink": ".httpsink",
        "JsonlSink": ".jsonl",
        "KindStats": ".base",
        "LoggingSink": ".logsink",
        "MemorySink": ".memory",
        "MetricEvent": ".events",
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
