"""``sign_snapshot``: publish a snapshot document signed, with an ``issuedAt`` that clients
use to refuse rollbacks (:mod:`flagstone.sources.freshness`)."""

from __future__ import annotations

import json

from ..abtests.splice import ScannedText, scan, splice
from ..errors import ConfigError, Problem
from ..model.issued_at import issued_at_ns, next_issued_at
from .integrity import sign

__all__ = ["sign_snapshot"]


def sign_snapshot(
    document: bytes | str, key: bytes | str, issued_at: str | None = None
) -> tuple[bytes, str]:
    """The document to publish and its signature: ``document`` (a snapshot's JSON text) with
    its top-level ``issuedAt`` set, and ``sign(new bytes, key)`` (``sha256=<hex>``, for the
    ``X-Flagstone-Signature`` header or a ``.sig`` sidecar).

    ``issued_at`` (RFC 3339 with a time zone) defaults to now, or to one microsecond after
    the document's own ``issuedAt`` if the clock is not past it, so each call issues a
    version later than the one it was given. An explicit ``issued_at`` must be later than
    the document's own (``ValueError`` otherwise). Only the ``issuedAt`` member changes (it
    is added at the end if missing); every other byte of the text stays as it was.

    Raises ``ConfigError`` when ``document`` is not a JSON object.
    """
    scanned = _scan(document)
    old = scanned.document.get("issuedAt")
    previous = old if isinstance(old, str) else None
    if issued_at is None:
        value = next_issued_at([previous])
    else:
        given = issued_at_ns(issued_at)
        if given is None:
            raise ValueError(f"issued_at {issued_at!r} is not an RFC 3339 date-time with a zone")
        before = issued_at_ns(previous) if previous is not None else None
        if before is not None and given <= before:
            raise ValueError(
                f"issued_at {issued_at} is not later than the document's issuedAt {previous}"
            )
        value = issued_at
    new = {**scanned.document, "issuedAt": value}
    text = splice(scanned, new)
    if text is None:  # a document the splice cannot promise to keep byte for byte
        text = json.dumps(new, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    body = text.encode("utf-8", "surrogatepass")
    return body, sign(body, key.encode() if isinstance(key, str) else key)


def _scan(document: bytes | str) -> ScannedText:
    try:
        scanned = scan(document)
    except ValueError as error:
        raise ConfigError([Problem("$", f"not valid JSON: {error}")]) from None
    if not isinstance(scanned.document, dict):
        raise ConfigError(
            [Problem("$", f"a snapshot is a JSON object, not {type(scanned.document).__name__}")]
        )
    return scanned
