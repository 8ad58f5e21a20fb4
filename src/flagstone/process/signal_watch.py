"""Make sure a signal's Python handler runs even when the main thread is blocked where the
signal cannot wake it.

CPython runs a Python signal handler in the main thread: its C-level handler only notes the
signal, and the main thread runs the handler at its next bytecode — a blocking call that the
signal interrupts (``EINTR``) returns early for that. Two cases never get there, and the
handler then waits for as long as the main thread stays blocked, possibly for ever:

* the kernel delivered the signal to another thread (any thread that does not block it);
* the signal arrived in the instant between a blocking call's last look at pending signals
  and the call itself (a lost wake-up). ``multiprocessing``'s semaphores have this window:
  a pool worker about to wait for its next task when ``Pool.terminate()`` sent SIGTERM never
  ran flagstone's handler and never exited (about 1 run in 50 to 100 of the with-``Pool`` test
  of ``tests/test_multiprocessing_exposures.py`` hung so).

The watch closes both: the C-level handler also writes the signal's number to the wakeup file
descriptor (``signal.set_wakeup_fd``); a background thread reads it, and if the Python handler
has not started :data:`GRACE` seconds later, sends the main thread :data:`WAKE_SIGNAL`, whose
Python handler does nothing. The main thread's blocking call returns ``EINTR`` and CPython runs
every pending handler (lowest signal number first, so the watched one before the wake-up's).
A wake-up that finds the handler already run costs one empty call.

Linux only (real-time signals and ``pthread_kill``); elsewhere, and when the application
already uses a wakeup descriptor (asyncio's loop does, and its ``select`` is woken by it) or
:data:`WAKE_SIGNAL`, no watch is started and handlers behave as Python's always do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from .threads import start_quietly

__all__ = ["GRACE", "WAKE_SIGNAL", "unwatch", "watch"]

GRACE = 0.05
"""Seconds the handler gets to start on its own before the main thread is woken."""

_ATTEMPTS = 20
"""Wake-ups sent for one signal at most (one per :data:`GRACE`: a wake-up can fall into the
same window as the signal did)."""

WAKE_SIGNAL: int | None = (
    signal.SIGRTMAX - 1 if hasattr(signal, "SIGRTMAX") and hasattr(signal, "pthread_kill") else None
)
"""The signal the watch wakes the main thread with (Linux: ``SIGRTMAX - 1``)."""

Served = Callable[[float], bool]
"""Says whether a watched signal's handler has started (or is running) since a
``time.monotonic()`` instant."""


class _Watch:
    """The wakeup pipe, its reader thread and the signals watched, for one process."""

    def __init__(self, main_thread: int) -> None:
        self.main_thread = main_thread
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)  # set_wakeup_fd's requirement
        self.woken = 0.0  # when the wake-up handler last ran (monotonic)
        self.thread = threading.Thread(target=self._run, name="flagstone-signal-watch", daemon=True)

    def _run(self) -> None:
        read_fd = self.read_fd
        try:
            while data := os.read(read_fd, 512):
                received = time.monotonic()
                pending = {signum for signum in data if signum in _watched}
                if pending:
                    self._wake_until_served(pending, received)
        except OSError:
            pass  # the pipe was closed: the watch ended
        finally:
            _close(read_fd)

    def _wake_until_served(self, pending: set[int], received: float) -> None:
        assert WAKE_SIGNAL is not None
        for _ in range(_ATTEMPTS):
            time.sleep(GRACE)
            served = [_watched.get(signum) for signum in pending]
            if all(check is None or check(received) for check in served):
                return
            if self.woken > received:
                # The main thread ran the pending handlers (the wake-up's among them) and the
                # watched one was not pending: it had run before the pipe was read.
                return
            try:
                signal.pthread_kill(self.main_thread, WAKE_SIGNAL)
            except (OSError, ValueError):  # the main thread is gone: nothing to wake
                return

    def end(self) -> None:
        _close(self.write_fd)  # the reader sees end of file, closes its end and stops


_watched: dict[int, Served] = {}
_watch: _Watch | None = None
_fork_hook_registered = False


def watch(signum: int, served: Served) -> None:
    """Watch ``signum``, whose Python handler (installed by the caller, from the main thread)
    answers ``served(since)``. Starts the process's watch with the first signal."""
    global _watch
    _watched[signum] = served
    if _watch is None:
        _watch = _start()


def unwatch(signum: int) -> None:
    """Stop watching ``signum``; the watch ends with the last signal (main thread only)."""
    global _watch
    _watched.pop(signum, None)
    if not _watched and _watch is not None:
        _stop(_watch)
        _watch = None


def _start() -> _Watch | None:
    if WAKE_SIGNAL is None or threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(WAKE_SIGNAL) not in (signal.SIG_DFL, _on_wake):
        return None  # the application uses that signal
    candidate = _Watch(threading.get_ident())
    previous = signal.set_wakeup_fd(candidate.write_fd, warn_on_full_buffer=False)
    if previous != -1:  # someone else's wakeup descriptor (asyncio): leave it
        signal.set_wakeup_fd(previous)
        _close(candidate.read_fd)
        _close(candidate.write_fd)
        return None
    signal.signal(WAKE_SIGNAL, _on_wake)
    _register_fork_hook()
    start_quietly(candidate.thread)
    return candidate


def _stop(ending: _Watch) -> None:
    current = signal.set_wakeup_fd(-1)
    if current != ending.write_fd:  # replaced since: not ours to clear
        signal.set_wakeup_fd(current)
    assert WAKE_SIGNAL is not None
    if signal.getsignal(WAKE_SIGNAL) is _on_wake:
        signal.signal(WAKE_SIGNAL, signal.SIG_DFL)
    ending.end()


def _on_wake(signum: int, frame: FrameType | None) -> None:
    if _watch is not None:
        _watch.woken = time.monotonic()


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True


def _after_fork_in_child() -> None:
    """The child inherited the handlers and the wakeup descriptor (the parent's pipe, which
    the parent's thread reads) but not the thread: a watch of its own, from the thread that
    forked, now the child's main thread."""
    global _watch
    inherited, _watch = _watch, None
    if inherited is None:
        return
    current = signal.set_wakeup_fd(-1)
    if current != inherited.write_fd:  # replaced since: not ours to clear
        signal.set_wakeup_fd(current)
    _close(inherited.read_fd)
    _close(inherited.write_fd)
    if _watched:
        try:
            _watch = _start()
        except RuntimeError:  # no new threads (interpreter shutting down)
            _watch = None


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
