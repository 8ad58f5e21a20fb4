"""Process lifecycle hooks for objects that own threads, locks, files or sockets.

Two things happen to a long-lived object that a request handler never sees:

* **fork** (gunicorn and uwsgi pre-fork workers, ``multiprocessing``): the child inherits the
  parent's memory — queues with the parent's pending events, locks that another thread held at
  the instant of the fork, buffered file objects — but none of its threads. An object
  registered with :func:`register_fork_hooks` gets ``_after_fork_in_child()`` (start afresh:
  new locks, empty queues, no worker; the parent still owns and delivers what was pending)
  and, if it defines them, ``_before_fork()`` (take its locks so that no other thread is
  inside its critical section) and ``_after_fork_in_parent()`` (release them); then, once
  every object has been reset, ``_resume_after_fork()`` (restart a thread).
* **process exit**: :func:`close_at_exit` objects get ``_close_at_exit(timeout)``, newest
  first, so exposures of a client nobody closed are still flushed: at interpreter exit
  (``atexit``), and in ``multiprocessing`` children, which leave through ``os._exit`` and so
  never run ``atexit``, from a ``multiprocessing.util.Finalize`` that the child registers
  (a forked child from the after-fork hook ``multiprocessing`` runs once it has cleared the
  parent's finalizers, a spawned or forkserver child when it creates its first such object).
  :func:`close_all` does the same on demand, within one deadline (the signal handlers of
  :mod:`flagstone.process.signals`).

Objects are held weakly: registering never keeps anything alive.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["close_all", "close_at_exit", "register_fork_hooks", "when_closed"]

logger = logging.getLogger("flagstone")

_fork_objects: weakref.WeakSet[Any] = weakref.WeakSet()
_exit_objects: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
_exit_sequence = 0
_held: list[Any] = []


def register_fork_hooks(obj: Any) -> None:
    """Call ``obj._after_fork_in_child()`` in the child of every ``os.fork()`` while ``obj``
    lives, and ``obj._before_fork()`` / ``obj._after_fork_in_parent()`` in the parent if it
    has them."""
    with _registry_lock:
        _fork_objects.add(obj)


def close_at_exit(obj: Any) -> None:
    """Call ``obj._close_at_exit(None)`` when the process exits (the interpreter, or a
    ``multiprocessing`` child), if ``obj`` still lives. ``obj`` may also define
    ``_begin_close()``: start closing without waiting, so that :func:`close_all` lets every
    object drain at once."""
    global _exit_sequence
    with _registry_lock:
        _exit_sequence += 1
        _exit_objects[_exit_sequence] = obj
    _watch_multiprocessing()


def close_all(timeout: float | None = None) -> None:
    """Close every live object registered with :func:`close_at_exit`, newest first, within
    ``timeout`` seconds in all (``None``: each within its own default). Every object is told
    to begin closing first, so they drain concurrently; then each gets what is left of the
    time. Never raises."""
    me = threading.get_ident()
    _closing[me] = []
    try:
        _close_all(timeout)
    finally:
        for callback in _closing.pop(me, []):
            callback()


def when_closed(callback: Callable[[], object]) -> bool:
    """If this thread is inside :func:`close_all` (a signal handler that interrupted it
    runs on the same thread), call ``callback`` once that is over and return ``True``;
    otherwise return ``False``."""
    waiting = _closing.get(threading.get_ident())
    if waiting is None:
        return False
    waiting.append(callback)
    return True


_closing: dict[int, list[Callable[[], object]]] = {}
"""Threads inside ``close_all`` → what to call when they are done."""


def _close_all(timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    with _registry_lock:
        objects = [_exit_objects.get(key) for key in sorted(_exit_objects.keys(), reverse=True)]
    live = [obj for obj in objects if obj is not None]
    for obj in live:
        begin = getattr(obj, "_begin_close", None)
        try:
            if begin is not None:
                begin()
        except Exception:  # pragma: no cover - closing must go on
            logger.exception("flagstone: closing %r failed", obj)
    for obj in live:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            obj._close_at_exit(remaining)
        except Exception:  # pragma: no cover - closing must go on
            logger.exception("flagstone: closing %r failed", obj)


def _before_fork() -> None:
    if _exit_objects:
        _watch_multiprocessing()  # multiprocessing may have been imported after the objects
    _registry_lock.acquire()
    objects = list(_fork_objects)
    for obj in objects:
        hook = getattr(obj, "_before_fork", None)
        try:
            if hook is not None:
                hook()
        except Exception:  # pragma: no cover - a hook must never break fork()
            logger.exception("flagstone: before-fork hook of %r failed", obj)
            continue
        _held.append(obj)


def _after_fork_in_parent() -> None:
    while _held:
        obj = _held.pop()
        hook = getattr(obj, "_after_fork_in_parent", None)
        try:
            if hook is not None:
                hook()
        except Exception:  # pragma: no cover
            logger.exception("flagstone: after-fork hook of %r failed", obj)
    _registry_lock.release()


def _after_fork_in_child() -> None:
    global _registry_lock
    held = list(_held)
    _held.clear()
    _registry_lock = threading.Lock()  # the parent's may be held by a thread that is gone
    _closing.clear()  # closings in progress in the parent are not the child's
    for obj in held:
        try:
            obj._after_fork_in_child()
        except Exception:  # pragma: no cover
            logger.exception("flagstone: after-fork hook of %r failed in the child", obj)
    for obj in held:  # threads start only once every lock in the child is a new one
        resume = getattr(obj, "_resume_after_fork", None)
        try:
            if resume is not None:
                resume()
        except Exception:  # pragma: no cover
            logger.exception("flagstone: resuming %r after the fork failed", obj)


def _at_exit() -> None:
    close_all(None)


# -- multiprocessing children ---------------------------------------------------------------
#
# A multiprocessing child (Pool worker, Process) ends with os._exit after running the
# finalizers of multiprocessing.util; atexit never runs there. Its bootstrap first clears
# the finalizers inherited from the parent, then runs the after-fork callbacks registered
# with multiprocessing.util.register_after_fork: that callback registers the child's own
# Finalize. A child that is not forked (spawn, forkserver) registers it when it creates its
# first object to close (or, for objects created while the child imports its parent's main
# module, from the same after-fork callback, which its bootstrap runs too).


class _Token:
    """What ``multiprocessing.util.register_after_fork`` holds weakly."""


_MP_TOKEN = _Token()
_mp_watched = False  # the after-fork callback is registered (inherited by forked children)
_finalizer_pid = 0  # the process whose Finalize is registered


def _watch_multiprocessing() -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return  # not imported: there are no multiprocessing children (yet)
    global _mp_watched
    try:
        if not _mp_watched:
            _mp_watched = True
            util.register_after_fork(_MP_TOKEN, _in_multiprocessing_child)
        process = sys.modules.get("multiprocessing.process")
        if process is not None and process.parent_process() is not None:
            _register_finalizer()
    except Exception:  # pragma: no cover - never break the caller over this
        logger.exception("flagstone: could not hook into multiprocessing")


def _in_multiprocessing_child(_token: _Token) -> None:
    if _exit_objects:
        _register_finalizer()


def _register_finalizer() -> None:
    global _finalizer_pid
    pid = os.getpid()
    if _finalizer_pid == pid:
        return
    util = sys.modules.get("multiprocessing.util")
    if util is None:  # pragma: no cover - only called where multiprocessing runs
        return
    _finalizer_pid = pid
    util.Finalize(None, _at_exit, exitpriority=100)  # before children are joined


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
atexit.register(_at_exit)
