"""The disk cache of the last good snapshot, for cold starts while the source is down.

The document is written to a temporary file beside the cache path, fsynced and renamed over
it, so a reader sees the old cache or the new one, never a mix; ``<path>.meta.json`` keeps
the ETag, Last-Modified and signature it came with, and the ``issuedAt`` and sha256 of the
newest document accepted (what a rollback is measured against after a restart).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass

__all__ = ["CachedSnapshot", "DiskCache"]


@dataclass(frozen=True)
class CachedSnapshot:
    body: bytes
    etag: str | None
    last_modified: str | None
    signature: str | None
    issued_at: str | None = None
    """The ``issuedAt`` of the newest document accepted (kept even if the document itself
    became unusable)."""
    sha256: str | None = None
    """That document's sha256 (hex)."""


class DiskCache:
    """A snapshot cache at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.meta_path = self.path + ".meta.json"

    def load(self) -> CachedSnapshot | None:
        """The cached snapshot, or ``None`` if there is none (``OSError`` if unreadable)."""
        try:
            with open(self.path, "rb") as file:
                body = file.read()
        except FileNotFoundError:
            return None
        meta: dict[str, object] = {}
        try:
            with open(self.meta_path, encoding="utf-8") as file:
                loaded = json.load(file)
            if isinstance(loaded, dict):
                meta = loaded
        except (OSError, ValueError):
            pass  # the document alone still serves; the next fetch is unconditional
        return CachedSnapshot(
            body,
            _text(meta.get("etag")),
            _text(meta.get("last_modified")),
            _text(meta.get("signature")),
            _text(meta.get("issued_at")),
            _text(meta.get("sha256")),
        )

    def store(
        self,
        body: bytes,
        *,
        etag: str | None,
        last_modified: str | None,
        signature: str | None,
        issued_at: str | None = None,
        sha256: str | None = None,
    ) -> None:
        """Replace the cache atomically (raises ``OSError``)."""
        meta = {
            "etag": etag,
            "last_modified": last_modified,
            "signature": signature,
            "issued_at": issued_at,
            "sha256": sha256,
        }
        # The document first: a crash in between leaves old metadata, whose ETag then only
        # makes the next fetch a full one, never a 304 for a document we do not have.
        _replace(self.path, body)
        _replace(self.meta_path, json.dumps(meta).encode())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _replace(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".flagstone-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
