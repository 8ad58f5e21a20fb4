"""Reading a snapshot in whichever format it declares: the entry point clients, sources and
commands use.

A document without a top-level ``format`` key is native (``flagstone.formats.native``); one
with the key is read by the format it names (``flagstone.formats.declared``: the authoring
format, ``"flagstone/flags@1"``). The native reader finds the key while decoding and hands
the decoded document back (:class:`~flagstone.formats.native.DeclaredFormat`), so a document
is decoded once and the native reader needs to know nothing of the other formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import native
from .native import DeclaredFormat, ParsedSnapshot, SnapshotIndex
from .streamed import FlagCompiler

__all__ = ["parse_snapshot", "read_snapshot"]


def parse_snapshot(
    document: bytes | str | Mapping[str, Any],
    *,
    strict: bool = True,
    source: str | None = None,
) -> ParsedSnapshot:
    """Parse and validate a snapshot in the format it declares (native when it declares
    none): ``document`` is the JSON text (``bytes`` or ``str``) or the decoded object. With
    ``strict=False``, references Confidence tolerates at resolve time (unknown segments,
    cycles, unrecognised rules) are accepted; see ``flagstone.model.validation``. Raises
    ``ConfigError`` naming every problem with its JSON path."""
    try:
        return native.parse_snapshot(document, strict=strict, source=source)
    except DeclaredFormat as declared:
        return _parse_declared(declared, strict=strict, source=source)


def read_snapshot(
    document: bytes | str | Mapping[str, Any],
    *,
    strict: bool = True,
    source: str | None = None,
    previous: SnapshotIndex | None = None,
    compile: FlagCompiler | None = None,
) -> ParsedSnapshot:
    """:func:`parse_snapshot`, read the way a client loads a snapshot (see
    ``flagstone.formats.native.read_snapshot``: a native document entity by entity, only what
    changed since ``previous``, each flag compiled by ``compile`` as it is read)."""
    try:
        return native.read_snapshot(
            document, strict=strict, source=source, previous=previous, compile=compile
        )
    except DeclaredFormat as declared:
        return _parse_declared(declared, strict=strict, source=source)


def _parse_declared(
    declared: DeclaredFormat, *, strict: bool, source: str | None
) -> ParsedSnapshot:
    from .declared import parse_declared  # the other formats load on first use

    return parse_declared(declared.document, declared.raw, strict=strict, source=source)
