"""``LoggingSink``: one standard-library ``logging`` record per exposure or metric event."""

from __future__ import annotations

import logging

from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS
from .records import EVENT, RecordBatch

__all__ = ["LoggingSink"]


class LoggingSink(RecordSink):
    """Logs each exposure and metric event to ``logger`` (a name or a ``logging.Logger``;
    default ``"flagstone.exposures"``) at ``level`` (default ``INFO``).

    The message is the record as one line of JSON, and the record dict is attached to the
    ``LogRecord`` for structured handlers (JSON formatters, ``extra``-aware log shippers):
    as its ``exposure`` attribute for an exposure, as ``metric_event`` for a metric event
    (its ``"type"`` says which, too).
    """

    def __init__(
        self,
        logger: str | logging.Logger = "flagstone.exposures",
        *,
        level: int = logging.INFO,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    def _write(self, batch: RecordBatch) -> None:
        logger = self.logger
        if not logger.isEnabledFor(self.level):
            return
        for record, line, kind in zip(batch.records, batch.lines, batch.kinds(), strict=True):
            key = "metric_event" if kind == EVENT else "exposure"
            logger.log(self.level, line, extra={key: record})
