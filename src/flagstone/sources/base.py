"""The ``SnapshotSource`` Protocol: where a client's snapshots come from.

A source answers one question, again and again: is there a document newer than the one being
served? ``poll(current, need_signature=…)`` returns the new document's bytes (with whatever
came with them: a signature, a validator such as an ETag) or ``None`` for "unchanged", and
raises when it cannot tell. Everything else — verifying, parsing, swapping in, the disk
cache, backoff, ``status()`` — is the updater's, the same for every source.

Sources are polled from one thread at a time (the client's updater thread, or the thread that
builds the client).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["SnapshotSource", "SourceDocument"]


@dataclass(frozen=True)
class SourceDocument:
    """A snapshot document as a source gives it."""

    body: bytes
    """The document's bytes (JSON), after any transfer encoding is undone: what a signature
    covers and what is parsed."""
    signature: str | None = None
    """Its ``sha256=<hex>`` HMAC signature, if one came with it (checked when the client
    has a ``signing_key``)."""
    etag: str | None = None
    """A validator of this version: an HTTP ETag, a file's stat stamp, an object store's
    ETag, a version counter. Handed back as ``current.etag`` to the next ``poll`` (and kept
    in the disk cache), so a source can ask "changed since?" cheaply."""
    last_modified: str | None = None
    """An HTTP ``Last-Modified``, handed back like ``etag``."""


class SnapshotSource(Protocol):
    """Where snapshots come from: ``FileSource``, ``UrlSource``, ``FunctionSource``, or
    yours.

    ``name``
        shown as ``status().source`` and in errors (a path, a URL, ``s3://bucket/key``).
    ``kind``
        shown as ``status().loaded_from`` for what it delivered (``"file"``, ``"url"``…).
    """

    name: str
    kind: str

    def poll(
        self, current: SourceDocument | None, *, need_signature: bool
    ) -> SourceDocument | None:
        """The document if it differs from ``current`` (the one being served, as this
        source or the disk cache gave it; ``None`` before the first), else ``None``.

        Returning the same bytes again is harmless (the updater compares digests), but
        a source that can tell cheaply should. ``need_signature``: the client requires a
        signature, so fetch it if it does not come with the document (a ``.sig`` sidecar).
        Raise on failure: the client keeps its snapshot and shows the error in
        ``status()``.
        """
        ...

    def close(self) -> None:
        """Release what the source holds (connections); called when its client closes."""
        ...
