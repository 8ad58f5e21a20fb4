"""Inflating gzip data without ever holding more than a bound: a small document must not
inflate into gigabytes (a bitset in a snapshot, a gzipped HTTP body)."""

from __future__ import annotations

import zlib
from typing import Literal

__all__ = ["InflateError", "gunzip_bounded"]


class InflateError(ValueError):
    """Gzip data that is ``"corrupt"``, ``"truncated"`` or inflates past its bound
    (``"too_large"``); callers say what the data was."""

    def __init__(self, kind: Literal["corrupt", "truncated", "too_large"], detail: str = ""):
        self.kind = kind
        super().__init__(f"{kind}: {detail}" if detail else kind)


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, inflated to at most ``limit`` bytes in all; raises
    :class:`InflateError` otherwise, having held at most ``limit + 1`` inflated bytes."""
    parts: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(data, limit + 1 - size)
        except zlib.error as error:
            raise InflateError("corrupt", str(error)) from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise InflateError("too_large")
        if not inflater.eof:
            raise InflateError("truncated")
        parts.append(part)
        data = inflater.unused_data
    return b"".join(parts)
