"""Opt-in graceful shutdown on a signal: close every live client, then let the signal do
what it did before.

SIGTERM (``docker stop``, systemd, Kubernetes, ``multiprocessing.Pool.terminate``) ends a
Python process at once by default: no ``atexit``, so exposures still queued in memory are
lost. :func:`install_signal_handlers` puts a handler in front of the current one that closes
every live client and batching sink (:func:`flagstone.process.hooks.close_all`) within a
deadline, then chains to the handler that was there before: the default action (the process
still ends, killed by the same signal, so its exit status does not change), a Python handler
(called with the same arguments), or nothing for an ignored signal.

The closing runs on a helper thread, and the handler waits for it at most ``deadline``
seconds: a signal can arrive while the main thread holds a lock the closing needs, and
waiting for it there would never end. A signal that arrives while the main thread is
itself closing everything (the exit hook: a ``multiprocessing`` worker that was leaving
anyway when ``Pool.terminate`` signalled it) lets that finish and chains afterwards. A second
signal while the first is being handled skips the wait and chains at once. A signal that
lands where it cannot wake the main thread (another thread, a lock's lost wake-up) still gets
its handler run: :mod:`flagstone.process.signal_watch`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from . import signal_watch
from .hooks import close_all, when_closed
from .threads import start_quietly

__all__ = ["install_signal_handlers"]

_MARGIN = 0.1
"""Seconds of the deadline kept back so the handler chains on time once closing is done."""

_Previous = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class _ClosingHandler:
    """The handler :func:`install_signal_handlers` installs for one signal."""

    def __init__(self, signum: signal.Signals, previous: _Previous, deadline: float) -> None:
        self.signum = signum
        self.previous = previous
        self.deadline = deadline
        self._handling = False
        self.entered = -1.0  # when the handler last started (time.monotonic())

    def served(self, since: float) -> bool:
        """The handler has started since ``since``, or is running (see
        :mod:`flagstone.process.signal_watch`)."""
        return self._handling or self.entered >= since

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.entered = time.monotonic()
        if when_closed(lambda: self._chain(signum, None)):
            return  # this thread was closing everything when the signal came: let it finish
        if not self._handling:  # a second signal while closing: stop waiting
            self._handling = True
            try:
                _close_everything(self.deadline)
            finally:
                self._handling = False
        self._chain(signum, frame)

    def _chain(self, signum: int, frame: FrameType | None) -> None:
        previous = self.previous
        if callable(previous):
            previous(signum, frame)
            return
        if previous == signal.SIG_IGN:
            return
        # The default action (or a handler not set from Python, which cannot be called):
        # deliver the signal again with the default disposition.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def __repr__(self) -> str:
        return f"<flagstone closing handler for {self.signum.name}, then {self.previous!r}>"


def _close_everything(deadline: float) -> None:
    budget = max(0.0, deadline - _MARGIN)
    done = threading.Event()

    def close() -> None:
        try:
            close_all(budget)
        finally:
            done.set()

    thread = threading.Thread(target=close, name="flagstone-shutdown", daemon=True)
    try:
        start_quietly(thread)  # a second signal must reach the waiting handler
    except RuntimeError:  # no new threads (interpreter shutdown): close here
        close()
        return
    done.wait(deadline)


def install_signal_handlers(
    signals: Iterable[int] = (signal.SIGTERM,), *, deadline: float = 5.0
) -> Callable[[], None]:
    """On each of ``signals``, close every live ``Client`` and ``BatchingSink`` of the
    process (delivering or spooling their queued exposures) within ``deadline`` seconds,
    then chain to the handler installed before: the default action still ends the process
    (by the same signal), a Python handler is called, an ignored signal stays ignored (no
    handler is installed for it). Installing twice keeps the first installation.

    Call it from the main thread (Python's rule for signal handlers), once, at start-up;
    in ``multiprocessing`` workers started with "spawn" or "forkserver" call it in the pool's
    ``initializer`` (forked workers inherit it). Returns a function that puts the previous
    handlers back. Let a server that shuts down gracefully on its own (gunicorn, uvicorn)
    keep its handlers: see "Guarantees and limits" in the README.
    """
    if deadline < 0:
        raise ValueError("deadline must be >= 0")
    installed: dict[signal.Signals, _ClosingHandler] = {}
    for number in signals:
        signum = signal.Signals(number)
        previous = signal.getsignal(signum)
        if isinstance(previous, _ClosingHandler) or previous == signal.SIG_IGN:
            continue
        handler = _ClosingHandler(signum, previous, deadline)
        signal.signal(signum, handler)
        installed[signum] = handler
        signal_watch.watch(signum, handler.served)

    def uninstall() -> None:
        for signum, ours in installed.items():
            previous = ours.previous
            if signal.getsignal(signum) is ours:
                signal.signal(signum, signal.SIG_DFL if previous is None else previous)
                signal_watch.unwatch(signum)

    return uninstall
