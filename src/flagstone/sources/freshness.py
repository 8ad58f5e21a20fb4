"""Refusing rollbacks: a validly signed snapshot that is older than one already accepted.

A signature proves who published a document, not that it is the latest: anyone who kept an
old signed snapshot (a cache, a proxy, an attacker on the path) could serve it again. So when
a client has a ``signing_key``, each signed document carries a top-level ``issuedAt`` (RFC
3339, covered by the signature like every other byte), and the client accepts a document
only if its ``issuedAt`` is later than that of the newest document it has accepted, or equal
to it with the very same bytes (the same document again). A signed document without
``issuedAt`` is refused too: nothing says it is not a rollback. The newest ``issuedAt``
accepted is kept in the disk cache's metadata, so the rule holds across restarts.
``allow_rollback=True`` (``Client.from_url`` / ``from_source`` / ``from_file``) turns the
rule off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..formats.native import ParsedSnapshot
from ..model.issued_at import issued_at_ns

__all__ = ["Issued", "issued_of", "refusal"]


@dataclass(frozen=True)
class Issued:
    """When a document was issued (its ``issuedAt``, if it has a valid one) and its
    sha256 (hex)."""

    text: str | None
    ns: int | None
    sha256: str


def issued_of(parsed: ParsedSnapshot, body: bytes) -> Issued:
    """The ``issuedAt`` of a parsed document and the digest of its bytes."""
    text = parsed.issued_at
    return Issued(text, issued_at_ns(text) if text else None, hashlib.sha256(body).hexdigest())


def refusal(candidate: Issued, newest: Issued | None) -> str | None:
    """Why ``candidate`` must be refused as a possible rollback past ``newest`` (the newest
    document accepted, ``None`` if none), or ``None`` if it may be accepted."""
    if candidate.ns is None:
        return (
            "the signed snapshot has no issuedAt, so it could be an old one served again "
            "(publish it with flagstone.sources.sign_snapshot or `serve --signing-key-file`, "
            "which add one; allow_rollback=True accepts it)"
        )
    if newest is None or newest.ns is None or candidate.ns > newest.ns:
        return None
    if candidate.ns == newest.ns:
        if candidate.sha256 == newest.sha256:
            return None
        return (
            f"the snapshot has the issuedAt of the newest one accepted ({newest.text}) but "
            "other content: refused as a possible rollback (a new version needs a later "
            "issuedAt)"
        )
    return (
        f"the snapshot was issued at {candidate.text}, before {newest.text}, when the newest "
        "one accepted was issued: refused as a rollback"
    )
