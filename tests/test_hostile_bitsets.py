"""Precomputed membership in a hostile snapshot: gzip bombs in ``bitsets`` and bloom filters
that make every evaluate slow (issue 14, items 6 and 8).

A bitset covers the 1 000 000 buckets of the account space, so it inflates to at most
125 000 bytes; a bigger one, or bitsets inflating to more than 128 MiB together, is a
``ConfigError`` found without inflating more than that. A bloom filter probes at most 255
bits per unit (Guava's own cap). The costly cases run in a child process that reports time
and peak memory (``tests/hostile.py``).
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import mmh3
import pytest

import flagstone
from flagstone import Reason
from tests import builders as b
from tests.hostile import measure

LOW_64 = 2**64 - 1
FLAG = "flags/gated"


def gzipped(data_size: int, *, members: int = 1) -> str:
    """Base64 of ``members`` gzip members each inflating to ``data_size`` zero bytes."""
    chunk = bytes(min(data_size, 1 << 20))
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [member.compress(chunk) for _ in range(data_size // len(chunk))]
    parts.append(member.compress(bytes(data_size % len(chunk))))
    parts.append(member.flush())
    return base64.b64encode(b"".join(parts) * members).decode()


def gated_snapshot(bitsets: dict[str, Any], segment: str = "gate") -> dict[str, Any]:
    """A flag serving ``on`` to the units its segment's bitset admits."""
    return b.snapshot(
        b.flag(
            "gated",
            {"on": {"on": True}},
            [b.everyone_gets(f"{FLAG}/rules/r", "on", segment=segment)],
        ),
        segments=[b.segment(segment)],
        bitsets=bitsets,
        account="acme",
    )


@pytest.fixture(scope="module")
def bomb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.2 MB document whose one bitset inflates to 128 MiB (Python's gzip.decompress
    would hold all of it)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.json"
    path.write_text(json.dumps(gated_snapshot({"segments/gate": gzipped(128 << 20)})))
    return path


def test_a_bitset_gzip_bomb_is_refused_in_bounded_time_and_memory(bomb_file: Path) -> None:
    measured = measure(bomb_file)
    assert measured.problems is not None, "the bomb loaded"
    assert [path for path, _ in measured.problems] == ['$.bitsets["segments/gate"]']
    assert "inflates to more than 125000 bytes" in measured.problems[0][1]
    assert measured.load_s < 1.0
    assert measured.growth_mb < 50


def test_a_bomb_of_many_gzip_members_is_bounded_across_members() -> None:
    spec = gzipped(100_000, members=2)  # 200 000 bytes in all, 100 000 in each member
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(gated_snapshot({"segments/gate": spec}))
    assert "inflates to more than 125000 bytes" in caught.value.problems[0].message


def test_bitsets_inflating_to_more_than_the_total_budget_are_refused(tmp_path: Path) -> None:
    """1 100 bitsets of 125 000 zero bytes each (~200 bytes of JSON apiece) inflate to
    137.5 MB: over the 128 MiB budget, refused with one problem, and the bitsets after the
    budget is spent are not inflated at all."""
    one = gzipped(125_000)
    names = [f"segments/s{index}" for index in range(1_100)]
    document = b.snapshot(bitsets=dict.fromkeys(names, one))  # lenient: no segments needed
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document))
    assert path.stat().st_size < 400_000
    measured = measure(path, strict=False)
    assert measured.problems is not None, "137.5 MB of bitsets loaded"
    assert [path for path, _ in measured.problems] == ["$.bitsets"]
    assert "inflate to more than 134217728 bytes together" in measured.problems[0][1]
    assert measured.load_s < 2.0
    assert measured.growth_mb < 50


def test_a_bitset_of_exactly_the_account_space_still_decodes_lsb_first() -> None:
    """The bound does not cut a real bitset: 125 000 bytes with only bucket b set admit the
    units whose account bucket is b, read least significant bit first (DESIGN.md)."""
    unit = "user-7"
    target = ((mmh3.hash128(f"MegaSalt-acme|{unit}", 0, True, False) & LOW_64) >> 4) % 1_000_000
    bits = bytearray(125_000)
    bits[target // 8] |= 1 << (target % 8)
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    spec = base64.b64encode(member.compress(bytes(bits)) + member.flush()).decode()
    client = flagstone.Client.from_dict(gated_snapshot({"segments/gate": spec}))
    assert client.evaluate("gated", {"targeting_key": unit}).variant == "on"
    others = [f"user-{index}" for index in range(200) if f"user-{index}" != unit]
    assert {client.evaluate("gated", {"targeting_key": other}).reason for other in others} == {
        Reason.NO_SEGMENT_MATCH
    }


def bloom_snapshot(hash_function_count: int) -> dict[str, Any]:
    segment = b.segment(
        "members",
        targeting=b.targeting(
            {"m": {"materializedSegment": {"materializedSegment": "materializations/m"}}},
            b.ref("m"),
        ),
    )
    document = b.snapshot(
        b.flag(
            "gated",
            {"on": {"on": True}},
            [b.everyone_gets(f"{FLAG}/rules/r", "on", segment="members")],
        ),
        segments=[segment],
    )
    document["bloomFilters"] = {
        "materializations/m": {
            "data": base64.b64encode(b"\xff" * 64).decode(),  # every bit set: all probes hit
            "bitCount": 512,
            "hashFunctionCount": hash_function_count,
        }
    }
    return document


def test_a_bloom_filter_with_more_hash_functions_than_guava_allows_is_refused() -> None:
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(bloom_snapshot(10_000_000))
    [problem] = caught.value.problems
    assert problem.path == '$.bloomFilters["materializations/m"]'
    assert "hashFunctionCount 10000000 is more than 255" in problem.message


def test_a_bloom_filter_with_255_hash_functions_loads_and_matches() -> None:
    client = flagstone.Client.from_dict(bloom_snapshot(255))
    assert client.evaluate("gated", {"targeting_key": "anyone"}).variant == "on"
