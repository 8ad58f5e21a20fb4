"""``flagstone.semantics.hashing.bucket``: Confidence's bucketing hash (DESIGN.md,
"Resolution semantics").

The expected buckets below are either the vectors DESIGN.md publishes or computed here, in the
test, straight from ``mmh3`` (through a different mmh3 entry point than the library uses, so
a slip in the library's bit arithmetic cannot cancel out).
"""

from __future__ import annotations

import random
import string

import mmh3
import pytest

from flagstone.semantics.hashing import ACCOUNT_BUCKETS, bucket, hash_key

LOW_64 = 2**64 - 1


def reference_bucket(key: str, count: int) -> int:
    """DESIGN.md's formula, spelled out with mmh3.hash128."""
    return ((mmh3.hash128(key, 0, True, False) & LOW_64) >> 4) % count


def low_64_from_digest_bytes(key: str) -> int:
    """The unsigned low 64 bits of MurmurHash3 x64 128 of the UTF-8 key, read from the raw
    little-endian digest bytes (independent of hash128's integer packing)."""
    digest = mmh3.hash_bytes(key.encode("utf-8"), 0, True)
    return int.from_bytes(digest[:8], "little")


@pytest.mark.parametrize(
    ("key", "count", "expected"),
    [
        ("MegaSalt-confidence-test|roug", 1_000_000, 567_493),
        ("country-se|user1", 1000, 719),
        ("dvlllobhnpxcojqn6vfa|26", 10_000, 8328),
    ],
)
def test_bucket_matches_the_design_vectors(key: str, count: int, expected: int) -> None:
    assert bucket(key, count) == expected


def test_the_account_space_has_one_million_buckets() -> None:
    assert ACCOUNT_BUCKETS == 1_000_000


def _random_keys(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_|./ "
    keys = []
    for _ in range(n):
        salt = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        unit = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        keys.append(f"{salt}|{unit}")
    return keys


@pytest.mark.parametrize("count", [1, 2, 7, 100, 1000, 10_000, 1_000_000, 2**61 + 1])
def test_bucket_agrees_with_mmh3_hash128_for_random_keys(count: int) -> None:
    for key in _random_keys(300, seed=count % 9973):
        assert bucket(key, count) == reference_bucket(key, count), key


def test_bucket_uses_the_low_64_bits_of_the_digest_shifted_by_four() -> None:
    for key in _random_keys(300, seed=42):
        expected = (low_64_from_digest_bytes(key) >> 4) % 1_000_000
        assert bucket(key, 1_000_000) == expected, key


def test_hash_key_is_the_unsigned_low_64_bits_shifted_right_by_four() -> None:
    for key in _random_keys(300, seed=7):
        value = hash_key(key)
        assert value == low_64_from_digest_bytes(key) >> 4
        assert 0 <= value < 2**60


def test_bucket_hashes_the_utf8_encoding_of_non_ascii_keys() -> None:
    for key in ["åäö|user", "segment|ユーザー", "emoji-🙂|😀", "é|e\u0301"]:
        expected = (low_64_from_digest_bytes(key) >> 4) % 10_000
        assert bucket(key, 10_000) == expected, key


def test_precomposed_and_decomposed_units_hash_differently() -> None:
    # No Unicode normalisation: "é" (U+00E9) and "e" + U+0301 are different units.
    assert hash_key("s|\u00e9") != hash_key("s|e\u0301")


def test_bucket_is_always_within_the_bucket_count() -> None:
    for key in _random_keys(500, seed=3):
        for count in (1, 3, 1000):
            assert 0 <= bucket(key, count) < count


def test_one_bucket_holds_every_key() -> None:
    assert {bucket(key, 1) for key in _random_keys(50, seed=11)} == {0}


def test_buckets_are_roughly_uniform() -> None:
    counts = [0] * 10
    n = 20_000
    for i in range(n):
        counts[bucket(f"uniformity-salt|user-{i}", 10)] += 1
    expected = n / 10
    # chi-square with 9 degrees of freedom; 27.88 is the 0.999 quantile
    chi_square = sum((c - expected) ** 2 / expected for c in counts)
    assert chi_square < 27.88, counts
