"""Integrity of a fetched snapshot: an HMAC-SHA256 signature and/or a pinned sha256.

A signature is ``sha256=<hex>``: the HMAC-SHA256 of the snapshot document's bytes (after any
``Content-Encoding`` is undone) under a key shared by whoever publishes the snapshot
(``python -m flagstone serve --signing-key-file``) and the clients. It travels in the
``X-Flagstone-Signature`` header or in a sidecar (``<url>.sig``, ``<path>.sig``) holding the
same text. A snapshot that fails a check is refused like any invalid one: the client keeps
the snapshot it has.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ..errors import IntegrityError

__all__ = ["SIGNATURE_HEADER", "Integrity", "sign"]

SIGNATURE_HEADER = "X-Flagstone-Signature"
_PREFIX = "sha256="


def sign(body: bytes, key: bytes) -> str:
    """The signature text of ``body`` under ``key``: ``sha256=<64 hex digits>``."""
    return _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Integrity:
    """What a snapshot must satisfy before it is parsed. ``signing_key``: require a valid
    signature; ``sha256``: require exactly this digest (hex) of the document."""

    signing_key: bytes | None = None
    sha256: str | None = None

    @property
    def needs_signature(self) -> bool:
        return self.signing_key is not None

    def check(self, body: bytes, signature: str | None, source: str) -> None:
        """Raise ``IntegrityError`` unless ``body`` passes every configured check."""
        if self.sha256 is not None:
            digest = hashlib.sha256(body).hexdigest()
            if not hmac.compare_digest(digest, self.sha256.strip().lower()):
                raise IntegrityError(
                    f"the snapshot's sha256 is {digest}, not the expected {self.sha256}",
                    source=source,
                )
        if self.signing_key is None:
            return
        if signature is None:
            raise IntegrityError(
                f"the snapshot is not signed (no {SIGNATURE_HEADER} header, no .sig sidecar)",
                source=source,
            )
        expected = sign(body, self.signing_key)
        given = signature.strip().lower().encode("ascii", "replace")
        if not hmac.compare_digest(expected.encode(), given):
            raise IntegrityError("the snapshot's signature does not match", source=source)


def read_key(path: str) -> bytes:
    """A signing key from a file (surrounding whitespace removed)."""
    with open(path, "rb") as file:
        key = file.read().strip()
    if not key:
        raise ValueError(f"the signing key file {path} is empty")
    return key
