"""``Courier``: one blocking delivery at a time on a thread of its own, so that the caller
can do other work while it waits (``BatchingSink`` spills its queue to the spool while a
write to a slow or failing destination is in progress)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..process.threads import start_quietly
from .records import RecordBatch

__all__ = ["Courier"]


class Courier:
    """Runs ``deliver(batch)`` on its own daemon thread, one batch at a time.

    ``send`` hands a batch over and returns at once; ``wait`` waits (at most ``timeout``) for
    the outcome. A delivery that never returns keeps the courier busy: ``send`` then refuses
    new batches, and the caller can leave it behind.
    """

    def __init__(self, deliver: Callable[[RecordBatch], None], name: str) -> None:
        self._deliver = deliver
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._job: RecordBatch | None = None
        self._busy = False
        self._error: BaseException | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def send(self, batch: RecordBatch) -> bool:
        """Start delivering ``batch``; ``False`` if an earlier delivery is still running.
        (Should no thread be available, e.g. at interpreter shutdown, the delivery runs
        here, before ``send`` returns.)"""
        with self._cond:
            if self._busy:
                return False
            self._busy = True
            self._error = None
            if self._thread is None or not self._thread.is_alive():
                thread: threading.Thread | None = threading.Thread(
                    target=self._run, name=self._name, daemon=True
                )
                try:
                    start_quietly(thread)  # type: ignore[arg-type]
                except RuntimeError:
                    thread = None
                self._thread = thread
            if self._thread is not None:
                self._job = batch
                self._cond.notify_all()
                return True
        self._finish(self._attempt(batch))
        return True

    def wait(self, timeout: float | None) -> tuple[bool, BaseException | None]:
        """``(True, error)`` once the delivery sent last is over (``error`` is what it raised,
        ``None`` on success); ``(False, None)`` if it still runs after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._busy, timeout):
                return False, None
            return True, self._error

    def stop(self) -> None:
        """Let the thread end once it is idle."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._stopped)
                job, self._job = self._job, None
                if job is None:
                    return
            self._finish(self._attempt(job))

    def _attempt(self, batch: RecordBatch) -> BaseException | None:
        try:
            self._deliver(batch)
        except BaseException as error:  # the caller decides; this thread must go on
            return error
        return None

    def _finish(self, error: BaseException | None) -> None:
        with self._cond:
            self._busy = False
            self._error = error
            self._cond.notify_all()
