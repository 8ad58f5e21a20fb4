"""Pause the cyclic garbage collector while a snapshot is parsed and compiled.

Parsing and compiling allocate hundreds of thousands of long-lived objects and no garbage
cycles; left on, the collector re-scans them over and over and more than triples the load
time of a large snapshot. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable ``gc`` inside the block (nesting and threads are safe); restore it after,
    only if it was enabled before."""
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
                gc.enable()
