"""Where snapshots come from: a public extension point.

A ``SnapshotSource`` is polled for a document newer than the one being served
(``poll(current, need_signature=…)`` → a ``SourceDocument`` or ``None`` for "unchanged");
``Client.from_source(source, …)`` keeps a client fresh from one, on a background thread,
with the same integrity checks, disk cache, backoff, ``status()`` and fork behaviour for every
source. ``Client.from_file(…, watch=True)`` and ``Client.from_url(…)`` are this with the two
sources that ship:

``FileSource(path)``
    a file, noticed with one ``stat`` per poll and never read half-written; ``<path>.sig``.
``UrlSource(url, headers=…, timeout=…, deadline=…, max_bytes=…, transport=…)``
    conditional GETs over a ``flagstone.transport.Transport``; ``<url>.sig``.
``FunctionSource(fn)``
    anything else (S3, Redis, a database): ``fn()`` returns bytes, ``(bytes, signature)``,
    or ``None`` for nothing new.

Also here: ``Integrity`` and ``sign`` (HMAC signatures, pinned digests), ``sign_snapshot``
(a document to publish: its ``issuedAt`` advanced, then signed; clients with a signing key
refuse older documents as rollbacks), ``SourceStatus``.
The package never imports the client: the updater installs through the client's public
``install`` (``updater.SnapshotTarget``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from .base import SnapshotSource, SourceDocument
    from .file import FileSource
    from .function import FunctionSource
    from .integrity import SIGNATURE_HEADER, Integrity, sign
    from .signing import sign_snapshot
    from .updater import SourceStatus
    from .url import UrlSource

__all__ = [
    "SIGNATURE_HEADER",
    "FileSource",
    "FunctionSource",
    "Integrity",
    "SnapshotSource",
    "SourceDocument",
    "SourceStatus",
    "UrlSource",
    "sign",
    "sign_snapshot",
]

# imported on first use: the URL source brings HTTP, signing the A/B-test lifecycle
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "FileSource": ".file",
        "FunctionSource": ".function",
        "Integrity": ".integrity",
        "SIGNATURE_HEADER": ".integrity",
        "SnapshotSource": ".base",
        "SourceDocument": ".base",
        "SourceStatus": ".updater",
        "UrlSource": ".url",
        "sign": ".integrity",
        "sign_snapshot": ".signing",
    },
)
