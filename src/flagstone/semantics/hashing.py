"""Bucketing: the one hash every assignment decision goes through.

Confidence hashes ``f"{salt}|{unit}"`` (UTF-8) with MurmurHash3 x64 128-bit, seed 0, keeps the
unsigned low 64 bits ``h`` and takes ``(h >> 4) % bucket_count``. flagstone does exactly the
same, so a unit lands in the same bucket here as in Confidence's own resolvers:

>>> bucket("MegaSalt-confidence-test|roug", 1_000_000)
567493
>>> bucket("country-se|user1", 1000)
719
"""

from __future__ import annotations

import mmh3

__all__ = ["ACCOUNT_BUCKETS", "bucket", "hash_key"]

ACCOUNT_BUCKETS = 1_000_000
"""Size of the account-wide bucket space that segment bitsets and exclusive ranges index."""

_hash128 = mmh3.hash128
_LOW64_SHIFTED = (1 << 60) - 1  # the low 64 bits after a shift by 4


def hash_key(key: str) -> int:
    """``(low 64 bits of MurmurHash3_x64_128(key, seed 0)) >> 4`` as an unsigned integer."""
    return (_hash128(key, 0, True, False) >> 4) & _LOW64_SHIFTED


def bucket(key: str, bucket_count: int) -> int:
    """The bucket of an already salted key (``"salt|unit"``) among ``bucket_count`` buckets."""
    return ((_hash128(key, 0, True, False) >> 4) & _LOW64_SHIFTED) % bucket_count
