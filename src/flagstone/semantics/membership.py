"""Decoding of precomputed membership: segment bitsets and bloom filters.

Both are read once when a snapshot is compiled and become plain predicates over a bucket
index (bitsets) or a unit (bloom filters). Decoding errors are ``ValueError`` with a message
that validation turns into a ``ConfigError`` problem.

A snapshot is untrusted input, so decoding is bounded: a gzipped bitset is inflated to at most
:data:`MAX_BITSET_BYTES` (the 1 000 000 bits of the account space; a bigger one is refused
without ever holding more than that), and a bloom filter probes at most
:data:`MAX_HASH_FUNCTIONS` bits per unit (Guava's own cap).
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from collections.abc import Callable

import mmh3

from .hashing import ACCOUNT_BUCKETS
from .inflate import InflateError, gunzip_bounded

__all__ = [
    "MAX_BITSET_BYTES",
    "MAX_HASH_FUNCTIONS",
    "MAX_INFLATED_BITSETS",
    "bloom_filter_predicate",
    "decode_bitset",
    "inflated_size",
]

MAX_BITSET_BYTES = ACCOUNT_BUCKETS // 8
"""A gzipped bitset inflates to at most this many bytes: one bit per account bucket."""

MAX_INFLATED_BITSETS = 128 << 20
"""The gzipped bitsets of one snapshot inflate to at most this many bytes together (about a
thousand bitsets of the whole account space): a compressible bitset is ~200 bytes of JSON,
so without a total a document within any size limit could still inflate into gigabytes."""

MAX_HASH_FUNCTIONS = 255
"""The most probes a bloom filter may make per unit (Guava refuses more, too)."""

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAX_LONG = _SIGN64 - 1


def decode_bitset(spec: str | tuple[int, ...]) -> Callable[[int], bool] | None:
    """A predicate over account buckets, or ``None`` when every bucket is set (``"ALL"``).

    Lists hold bucket indices; strings other than ``"ALL"`` are base64 of a gzipped bit
    vector, bit ``i`` being bit ``i % 8`` (least significant first) of byte ``i // 8``, of
    at most :data:`MAX_BITSET_BYTES` bytes.
    """
    if isinstance(spec, str):
        if spec == "ALL":
            return None
        return _packed_bits(_inflated(spec))
    for index in spec:
        if not 0 <= index < ACCOUNT_BUCKETS:
            raise ValueError(f"bucket index {index} is outside [0, {ACCOUNT_BUCKETS})")
    indices = frozenset(spec)
    if len(indices) == ACCOUNT_BUCKETS:
        return None
    return indices.__contains__


def inflated_size(spec: str | tuple[int, ...]) -> int:
    """The bytes a gzipped bitset inflates to (0 for ``"ALL"`` and lists), which validation
    adds up against a snapshot's budget; ``ValueError`` as :func:`decode_bitset` for one that
    does not decode."""
    if isinstance(spec, str):
        return 0 if spec == "ALL" else len(_inflated(spec))
    decode_bitset(spec)
    return 0


def _inflated(text: str) -> bytes:
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('a bitset string is "ALL" or base64 of a gzipped bit vector') from None
    return _gunzip(packed, MAX_BITSET_BYTES)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, inflated to at most ``limit`` bytes in all (never
    holding more: a small document must not inflate into gigabytes)."""
    try:
        return gunzip_bounded(data, limit)
    except InflateError as error:
        if error.kind == "too_large":
            raise ValueError(
                f"the bitset inflates to more than {limit} bytes "
                f"(one bit for each of the {ACCOUNT_BUCKETS} account buckets)"
            ) from None
        if error.kind == "truncated":
            raise ValueError(
                "the bitset is valid base64 but not gzip data (it is truncated)"
            ) from None
        raise ValueError("the bitset is valid base64 but not gzip data") from None


def _packed_bits(bits: bytes) -> Callable[[int], bool] | None:
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
    if hash_function_count > MAX_HASH_FUNCTIONS:
        raise ValueError(
            f"hashFunctionCount {hash_function_count} is more than {MAX_HASH_FUNCTIONS} "
            "(Guava's limit; every probe is work on each evaluate)"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("bloom filter data is not valid base64") from None
    if len(raw) % 8:
        raise ValueError(f"bloom filter data is {len(raw)} bytes, not whole 64-bit words")
    words = array("Q", raw)  # 8 bytes a word, not a Python int each
    if sys.byteorder == "little":
        words.byteswap()
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
