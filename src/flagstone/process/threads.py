"""What every flagstone background thread does first: leave asynchronous signals to the
main thread.

Python runs signal handlers only in the main thread, but the kernel delivers a signal sent
to the process to any thread that does not block it. Delivered to a background thread
(an exposure worker waiting for its queue, say), the signal does not interrupt what the
main thread is blocked in — a ``multiprocessing`` pool worker waiting for its next task,
a ``join`` — so its handler (``flagstone.install_signal_handlers``, or the application's)
waits until the main thread next runs Python code: possibly never. Blocked in flagstone's
threads, these signals go to the main thread, whose blocking call then returns to run the
handler.
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["ASYNC_SIGNALS", "QuietTimer", "leave_signals_to_the_main_thread"]

ASYNC_SIGNALS: frozenset[int] = frozenset(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
"""Signals sent to a process to ask something of it (never those a thread raises itself,
such as SIGSEGV)."""


def leave_signals_to_the_main_thread() -> None:
    """Block :data:`ASYNC_SIGNALS` in the calling thread (call it first thing in a
    background thread). Does nothing where threads cannot block signals (Windows)."""
    if hasattr(signal, "pthread_sigmask"):
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)


class QuietTimer(threading.Timer):
    """A ``threading.Timer`` (daemon) that leaves signals to the main thread while it waits."""

    def run(self) -> None:
        leave_signals_to_the_main_thread()
        super().run()
