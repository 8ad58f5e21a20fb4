"""``LoggingSink``: one standard-library ``logging`` record per exposure."""

from __future__ import annotations

import logging

from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS
from .records import RecordBatch

__all__ = ["LoggingSink"]


class LoggingSink(RecordSink):
    """Logs each exposure to ``logger`` (a name or a ``logging.Logger``; default
    ``"flagstone.exposures"``) at ``level`` (default ``INFO``).

    The message is the record as one line of JSON, and the record dict is attached as the
    ``exposure`` attribute of the ``LogRecord`` for structured handlers (JSON formatters,
    ``extra``-aware log shippers).
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
        for record, line in zip(batch.records, batch.lines, strict=False):
            logger.log(self.level, line, extra={"exposure": record})
