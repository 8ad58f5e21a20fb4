"""Documents that declare their format: a top-level ``"format"`` key names it, and the format's
reader parses the document. A document without the key is a native snapshot (which has no
such field); nothing is ever guessed from a document's shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..errors import ConfigError, Problem
from . import authoring
from .native import ParsedSnapshot

__all__ = ["FORMATS", "parse_declared"]

Parser = Callable[..., ParsedSnapshot]

FORMATS: Final[Mapping[str, Parser]] = {authoring.FORMAT: authoring.parse}
"""The ``format`` values a snapshot may declare, and the reader of each."""


def parse_declared(
    document: Mapping[str, Any], raw: bytes, *, strict: bool, source: str | None
) -> ParsedSnapshot:
    """Parse ``document`` (decoded from ``raw``) by the reader its ``format`` names."""
    declared = document.get("format")
    parser = FORMATS.get(declared) if isinstance(declared, str) else None
    if parser is None:
        known = ", ".join(repr(name) for name in FORMATS)
        message = (
            f"unknown format {declared!r}: a snapshot declares one of {known}, or is native and "
            "has no format key"
        )
        raise ConfigError([Problem("$.format", message)], source=source)
    return parser(document, raw, strict=strict, source=source)
