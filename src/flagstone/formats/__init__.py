"""Readers and writers of the JSON shapes flagstone understands. A reader never guesses a
shape: the caller says which one a document is in.

* ``native`` — Confidence's resolver state plus ``abtests``: ``parse_snapshot`` validates it
  into the model every client compiles.
* ``experiments_api`` — the generic Experiments API: ``read`` gives a native
  document, ``write`` gives the shape back.
* ``alexa`` — the Alexa skill A/B-testing API: ``read`` and ``write`` likewise.
"""

from . import alexa, experiments_api
from .native import ParsedSnapshot, parse_snapshot, snapshot_version

__all__ = ["ParsedSnapshot", "alexa", "experiments_api", "parse_snapshot", "snapshot_version"]
