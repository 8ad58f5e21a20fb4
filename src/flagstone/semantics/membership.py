"""Decoding of precomputed membership: segment bitsets and bloom filters.

Both are read once when a snapshot is compiled and become plain predicates over a bucket
index (bitsets) or a unit (bloom filters). Decoding errors are ``ValueError`` with a message
that validation turns into a ``ConfigError`` problem.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Callable

import mmh3

from .hashing import ACCOUNT_BUCKETS

__all__ = ["bloom_filter_predicate", "decode_bitset"]

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAX_LONG = _SIGN64 - 1


def decode_bitset(spec: str | tuple[int, ...]) -> Callable[[int], bool] | None:
    """A predicate over account buckets, or ``None`` when every bucket is set (``"ALL"``).

    Lists hold bucket indices; strings other than ``"ALL"`` are base64 of a gzipped bit
    vector, bit ``i`` being bit ``i % 8`` (least significant first) of byte ``i // 8``.
    """
    if isinstance(spec, str):
        if spec == "ALL":
            return None
        return _packed_bits(spec)
    for index in spec:
        if not 0 <= index < ACCOUNT_BUCKETS:
            raise ValueError(f"bucket index {index} is outside [0, {ACCOUNT_BUCKETS})")
    indices = frozenset(spec)
    if len(indices) == ACCOUNT_BUCKETS:
        return None
    return indices.__contains__


def _packed_bits(text: str) -> Callable[[int], bool] | None:
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('a bitset string is "ALL" or base64 of a gzipped bit vector') from None
    try:
        bits = gzip.decompress(packed)
    except (OSError, EOFError, zlib.error):
        raise ValueError("the bitset is valid base64 but not gzip data") from None
    size = len(bits) * 8
    whole, rest = divmod(ACCOUNT_BUCKETS, 8)
    if (
        size >= ACCOUNT_BUCKETS
        and bits[:whole] == b"\xff" * whole
        and (not rest or bits[whole] & ((1 << rest) - 1) == (1 << rest) - 1)
    ):
        return None  # every bucket is set: as good as "ALL" (and needs no unit)

    def has(index: int) -> bool:
        return index < size and (bits[index >> 3] >> (index & 7)) & 1 == 1

    return has


def bloom_filter_predicate(
    data: str, bit_count: int, hash_function_count: int
) -> Callable[[str], bool]:
    """Guava's MURMUR128_MITZ_64 membership test for a unit.

    ``h1``/``h2`` are the low/high 64 bits, as signed integers, of MurmurHash3 x64 128-bit
    (seed 0) of the UTF-8 unit; probe ``k`` tests bit ``(h1 + k*h2 & Long.MAX_VALUE) % bitCount``
    (64-bit wrapping arithmetic).
    """
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("bloom filter data is not valid base64") from None
    if len(raw) % 8:
        raise ValueError(f"bloom filter data is {len(raw)} bytes, not whole 64-bit words")
    words = [int.from_bytes(raw[offset : offset + 8], "big") for offset in range(0, len(raw), 8)]
    if bit_count > len(words) * 64:
        raise ValueError(f"bitCount {bit_count} exceeds the {len(words) * 64} bits of data")
    hash128 = mmh3.hash128

    def might_contain(unit: str) -> bool:
        digest = hash128(unit, 0, True, False)
        h1 = digest & _MASK64
        h2 = digest >> 64
        if h1 & _SIGN64:
            h1 -= 1 << 64
        if h2 & _SIGN64:
            h2 -= 1 << 64
        combined = h1
        for _ in range(hash_function_count):
            bit = (combined & _MAX_LONG) % bit_count
            if not (words[bit >> 6] >> (bit & 63)) & 1:
                return False
            combined = ((combined + h2 + _SIGN64) & _MASK64) - _SIGN64
        return True

    return might_contain
