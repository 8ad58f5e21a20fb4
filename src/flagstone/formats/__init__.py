"""Readers and writers of the JSON shapes flagstone understands. A reader never guesses a
shape: the caller says which one a document is in, or the document declares it.

* ``parse_snapshot`` (``reading``) — reads a snapshot in the format it declares: ``native``
  when it has no top-level ``format`` key, else the format it names (``declared``).
* ``native`` — Confidence's resolver state plus ``abtests``, validated into the model every
  client compiles.
* ``authoring`` — flags written by hand (``"format": "flagstone/flags@1"``), compiled into
  the native model; ``authoring.native_back`` writes a native document back in it.
* ``experiments_api`` — the generic Experiments API: ``read`` gives a native
  document, ``write`` gives the shape back.
* ``alexa`` — the Alexa skill A/B-testing API: ``read`` and ``write`` likewise.
* ``schemas`` — the JSON Schema of each of them (``python -m flagstone schema``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports
from .native import ParsedSnapshot, snapshot_version
from .reading import parse_snapshot

if _TYPE_CHECKING:
    from . import alexa, authoring, experiments_api

__all__ = [
    "ParsedSnapshot",
    "alexa",
    "authoring",
    "experiments_api",
    "parse_snapshot",
    "snapshot_version",
]

# the other shapes are imported on first use
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "alexa": ".alexa",
        "authoring": ".authoring",
        "experiments_api": ".experiments_api",
    },
)
