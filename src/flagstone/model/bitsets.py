"""Materialized membership in the snapshot: segment bitsets and bloom filters.

A bitset says which buckets of the account-wide space (1 000 000 buckets of
``f"MegaSalt-{account id}|{unit}"``) a segment admits. It is written as ``"ALL"``, as a list of
bucket indices (the conformance suite's form), or as base64 of a gzipped bit vector read least
significant bit first within each byte (what real Confidence states carry).

A bloom filter (``bloomFilters``, keyed by materialization name) holds the units of a
materialized segment, Guava-style (MURMUR128_MITZ_64).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from .base import CONFIG, PositiveCount, dataclass

__all__ = ["BitsetSpec", "BloomFilter"]


def _bitset_shape(raw: Any) -> Any:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            if isinstance(item, bool) or not isinstance(item, int):
                raise ValueError(f"bucket index #{index} ({item!r}) is not an integer")
        return tuple(raw)
    raise ValueError(
        'a bitset is "ALL", a list of bucket indices, or base64 of a gzipped bit vector'
    )


BitsetSpec = Annotated[str | tuple[int, ...], BeforeValidator(_bitset_shape)]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class BloomFilter:
    """``data`` is base64 of big-endian 64-bit words; bit ``i`` is bit ``i % 64`` of word
    ``i // 64``."""

    data: str
    hash_function_count: PositiveCount
    bit_count: PositiveCount
    strategy: int = 1
