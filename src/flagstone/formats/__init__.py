"""Readers and writers of the JSON shapes flagstone understands. A reader never guesses a
shape: the caller says which one a document is in.

* ``native`` — Confidence's resolver state plus ``abtests``: ``parse_snapshot`` validates it
  into the model every client compiles.
* ``experiments_api`` — the generic Experiments API (seed 001): ``read`` gives a native
  document, ``write`` gives the shape back.
* ``alexa`` — Alexa's A/B-testing API (seed 002): ``read`` and ``write`` likewise.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports
from .native import ParsedSnapshot, parse_snapshot, snapshot_version

if _TYPE_CHECKING:
    from . import alexa, experiments_api

__all__ = ["ParsedSnapshot", "alexa", "experiments_api", "parse_snapshot", "snapshot_version"]

# the other shapes are imported on first use
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "alexa": ".alexa",
        "experiments_api": ".experiments_api",
    },
)
