"""The cyclic garbage collector around snapshot loads: paused while one is read and compiled,
and told to leave a large result alone afterwards.

Reading and compiling allocate hundreds of thousands of long-lived objects and no garbage
cycles; left on, the collector re-scans them over and over and more than triples the load
time of a large snapshot. Reference counting still frees everything as usual.

Re-enabled after a large load, the collector would still walk everything the load kept: the
next young collection takes ~130 ms (in whichever thread allocates next, a request thread
as likely as any), and every full collection after it walks the plan again (the worst
``evaluate`` of a process with a busy ``BatchingSink`` took 32-44 ms, 8 ms with the
collector off). So when a paused block kept more than :data:`FREEZE_AFTER` objects the
collector tracks, it ends with ``gc.freeze()``: everything alive moves to the permanent
generation, which collections skip. Frozen objects are still freed by reference counting
(a compiled plan replaced by an update is, see ``FlagPlan.retire``); only a reference
cycle that is garbage at that moment stays uncollected (``gc.unfreeze()`` gives it back).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["FREEZE_AFTER", "paused_gc", "release_free_memory"]

FREEZE_AFTER = 100_000
"""Objects tracked by the collector that a paused block must leave behind for
:func:`paused_gc` to freeze them (a 10 000-flag snapshot leaves ~250 000; the snapshots of
tests and small services stay well below, and are never frozen)."""

_trim: Any = None


def release_free_memory() -> None:
    """Give the C heap's free pages back to the operating system (glibc's ``malloc_trim``;
    nothing elsewhere). A large load frees a copy of the document's text and other big
    buffers that glibc keeps in its heap rather than returning: ~10 MiB of RSS a 10 000-flag
    snapshot would otherwise keep. Costs ~1 ms."""
    global _trim
    if _trim is None:
        _trim = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):  # not glibc (musl, …): nothing to do
                pass
    if _trim:
        _trim(0)


_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable ``gc`` inside the block (nesting and threads are safe); restore it after,
    only if it was enabled before, freezing what is alive first if the block left more than
    :data:`FREEZE_AFTER` tracked objects behind (see the module docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # allocations minus deallocations of tracked objects since the last
                # collection: with the collector off, what the block (and other threads)
                # left behind
                if gc.get_count()[0] > FREEZE_AFTER:
                    gc.freeze()
                    release_free_memory()
                gc.enable()
