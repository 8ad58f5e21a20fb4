"""The next ``version`` of a snapshot that an edit changed.

A snapshot's version goes into every exposure (its top-level ``version``, else a hash of its
bytes), so an edit that changes the document must change an explicit version too, or
exposures before and after a ramp would carry the same one. :func:`next_version` is the rule
every edit of the lifecycle and of ``flagstone.abtests.storage`` applies:

* an integer becomes the next integer (``7`` → ``8``);
* a string ending in a number that follows a ``.``, a ``+``, a letter or nothing has that
  number incremented, keeping its width (``"2026-11-23.1"`` → ``"2026-11-23.2"``, ``"7"`` →
  ``"8"``, ``"v9"`` → ``"v10"``, ``"0099"`` → ``"0100"``);
* any other non-empty string gets ``.1`` appended (``"2026-11-23"`` → ``"2026-11-23.1"``, so
  a date is never turned into another date; ``"blue"`` → ``"blue.1"``);
* anything else (no version, ``null``, an empty string: the version is then the content
  hash, which changes by itself) is left as it is (``None``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["next_version"]

_COUNTER = re.compile(r"(?:^|(?<=[.+A-Za-z]))([0-9]+)$")
"""A trailing number at the start of the text or after ``.``, ``+`` or an ASCII letter."""


def next_version(version: Any) -> int | str | None:
    """The version after ``version`` (see the module docstring), or ``None`` when an edit
    leaves it as it is."""
    if isinstance(version, bool):
        return None
    if isinstance(version, int):
        return version + 1
    if not isinstance(version, str) or not version:
        return None
    counter = _COUNTER.search(version)
    if counter is None:
        return f"{version}.1"
    return version[: counter.start()] + _increment(counter.group(1))


def _increment(digits: str) -> str:
    """``digits`` plus one, as digits of at least the same width (no ``int`` round trip, so
    a number of any length works)."""
    kept = digits.rstrip("9")
    nines = len(digits) - len(kept)
    if not kept:
        return "1" + "0" * nines
    return kept[:-1] + str(int(kept[-1]) + 1) + "0" * nines
