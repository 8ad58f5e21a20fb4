"""Live snapshots: from a URL or a watched file, swapped in without a request ever waiting.

``Client.from_url(...)`` and ``Client.from_file(..., watch=True)`` build on this package:
``fetch`` (conditional HTTP GETs), ``watch`` (cheap file change detection), ``integrity``
(HMAC signatures and pinned digests), ``cache`` (the last good snapshot on disk) and
``updater`` (the background thread, backoff and ``SourceStatus``).
"""

from .integrity import SIGNATURE_HEADER, Integrity, sign
from .updater import SourceStatus

__all__ = ["SIGNATURE_HEADER", "Integrity", "SourceStatus", "sign"]
