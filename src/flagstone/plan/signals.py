"""Control-flow signals raised by compiled predicates and caught by the rule loop.

They are exceptions only because they are rare: the common path pays nothing for a
``try`` block in CPython 3.11+.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["MaterializationUnsupported", "Predicate", "SkipRule", "skip_rule"]

Predicate = Callable[[dict[str, Any], "str | None"], bool]
"""A compiled test of (context, unit). Anything else it needs (the materialization store,
bitsets, salts) was bound when it was compiled."""


class SkipRule(Exception):
    """The rule cannot be evaluated (an unrecognised targeting rule, a segment in a reference
    cycle); like Confidence's general resolver, resolution goes on with the next rule."""


class MaterializationUnsupported(Exception):
    """A rule needs a materialization store and the client has none."""


def skip_rule(reason: str) -> Predicate:
    """A predicate that, when evaluated, skips the rule it belongs to."""

    def unevaluable(context: dict[str, Any], unit: str | None) -> bool:
        raise SkipRule(reason)

    return unevaluable
