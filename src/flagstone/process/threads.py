"""How flagstone starts its background threads: with asynchronous signals left to the main
thread.

Python runs signal handlers only in the main thread, but the kernel delivers a signal sent
to the process to any thread that does not block it. Delivered to a background thread
(an exposure worker waiting for its queue, say), the signal does not interrupt what the
main thread is blocked in — a ``multiprocessing`` pool worker waiting for its next task,
a ``join`` — so its handler (``flagstone.install_signal_handlers``, or the application's)
waits until the main thread next runs Python code: possibly never. Blocked in flagstone's
threads from their first instruction (:func:`start_quietly`, :class:`QuietTimer`), these
signals go to the main thread, whose blocking call then returns to run the handler.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["ASYNC_SIGNALS", "QuietTimer", "start_quietly"]

ASYNC_SIGNALS: frozenset[int] = frozenset(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
"""Signals sent to a process to ask something of it (never those a thread raises itself,
such as SIGSEGV)."""


def start_quietly(thread: threading.Thread) -> None:
    """Start ``thread`` with :data:`ASYNC_SIGNALS` blocked from its first instruction.

    A new thread inherits its creator's signal mask, so the creator blocks them around
    ``start()`` and restores its own mask at once (a signal that arrives meanwhile waits
    for that, then reaches it). Blocking them first thing in the thread instead leaves a
    window: a SIGTERM that ``Pool.terminate()`` sends lands on the new thread while the
    worker's main thread waits on the pool's queue lock, and the worker never exits (1 run
    in about 50 of tests/test_multiprocessing_exposures.py hung so)."""
    with _signals_blocked():
        thread.start()


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Block :data:`ASYNC_SIGNALS` in the calling thread inside the block."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: threads cannot block signals
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class QuietTimer(threading.Timer):
    """A ``threading.Timer`` whose thread leaves signals to the main thread."""

    def start(self) -> None:
        with _signals_blocked():
            super().start()
