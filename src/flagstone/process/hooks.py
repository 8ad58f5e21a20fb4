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
* **interpreter exit**: :func:`close_at_exit` objects get ``_close_at_exit()``, newest first,
  so exposures of a client nobody closed are still flushed.

Objects are held weakly: registering never keeps anything alive.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any

__all__ = ["close_at_exit", "register_fork_hooks"]

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
    """Call ``obj._close_at_exit()`` when the interpreter exits, if ``obj`` still lives."""
    global _exit_sequence
    with _registry_lock:
        _exit_sequence += 1
        _exit_objects[_exit_sequence] = obj


def _before_fork() -> None:
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
    with _registry_lock:
        objects = [_exit_objects.get(key) for key in sorted(_exit_objects.keys(), reverse=True)]
    for obj in objects:
        if obj is None:
            continue
        try:
            obj._close_at_exit()
        except Exception:  # pragma: no cover - exit must go on
            logger.exception("flagstone: closing %r at exit failed", obj)


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
atexit.register(_at_exit)
