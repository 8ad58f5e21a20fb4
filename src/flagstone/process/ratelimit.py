"""Rate-limited logging for failure paths: a failing sink or snapshot source is reported,
but a failure repeated a thousand times a second does not flood the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .hooks import register_fork_hooks

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """Logs a message at most once per ``interval`` seconds per key, with the number of
    occurrences suppressed since the last line. ``timer`` is a monotonic clock."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._timer = timer
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        register_fork_hooks(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held at the fork

    def warning(
        self, key: str, message: str, *args: object, exc_info: bool | BaseException = False
    ) -> None:
        now = self._timer()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" (and {suppressed} more times since the last report)"
        self._logger.warning(message, *args, exc_info=exc_info)
