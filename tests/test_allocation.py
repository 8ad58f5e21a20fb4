"""Segment allocation: proportion without a bitset (DESIGN.md, decision 1), explicit bitsets in
their three forms, bucket ranges in the account space, and the monotonicity of rollouts.

Every expected membership is computed here from mmh3:
``bucket(f"allocation-{segment id}|{unit}", 1 000 000) < round(p * 1 000 000)`` for a
proportion, ``bucket(f"MegaSalt-{account id}|{unit}", 1 000 000)`` for bitsets and ranges.
"""

from __future__ import annotations

import base64
import gzip
import math
from typing import Any

import mmh3
import pytest

import flagstone
from flagstone import Reason
from tests import builders as b

ACCOUNT = "acme"
SEGMENT_ID = "rollout"
FLAG = "flags/rollout-flag"
ACCOUNT_BUCKETS = 1_000_000
LOW_64 = 2**64 - 1
UNITS = [f"user-{i}" for i in range(2000)]


def reference_bucket(key: str, count: int) -> int:
    return ((mmh3.hash128(key, 0, True, False) & LOW_64) >> 4) % count


def allocation_bucket(unit: str, segment_id: str = SEGMENT_ID) -> int:
    return reference_bucket(f"allocation-{segment_id}|{unit}", ACCOUNT_BUCKETS)


def account_bucket(unit: str, account: str = ACCOUNT) -> int:
    return reference_bucket(f"MegaSalt-{account}|{unit}", ACCOUNT_BUCKETS)


def variant_for(unit: str, segment_id: str = SEGMENT_ID) -> str:
    return "control" if reference_bucket(f"{segment_id}|{unit}", 100) < 50 else "treatment"


def flag(name: str, segment: str) -> dict[str, Any]:
    """control for variant buckets [0, 50) of 100, treatment for [50, 100)."""
    return b.flag(
        name,
        {"control": {"arm": 0}, "treatment": {"arm": 1}},
        [
            b.split_rule(
                f"{name}/rules/main",
                ["control", "treatment"],
                buckets_per_variant=50,
                assignment_ids=["c", "t"],
                segment=segment,
            )
        ],
    )


def snapshot(
    allocation: dict[str, Any] | None = None,
    *,
    bitset: Any = None,
    targeting: dict[str, Any] | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    return b.snapshot(
        flag(FLAG, f"segments/{SEGMENT_ID}"),
        segments=[b.segment(SEGMENT_ID, allocation=allocation, targeting=targeting)],
        account=account,
        bitsets=None if bitset is None else {f"segments/{SEGMENT_ID}": bitset},
        layout="list",
    )


def assignments(doc: dict[str, Any], units: list[str] = UNITS) -> dict[str, str | None]:
    """unit → variant (``None`` when the rule did not match)."""
    client = flagstone.Client.from_dict(doc)
    result: dict[str, str | None] = {}
    for unit in units:
        resolution = client.evaluate(FLAG, {"targeting_key": unit})
        assert resolution.reason in (Reason.MATCH, Reason.NO_SEGMENT_MATCH), resolution
        result[unit] = resolution.variant
    return result


def admitted(doc: dict[str, Any], units: list[str] = UNITS) -> set[str]:
    return {unit for unit, variant in assignments(doc, units).items() if variant is not None}


def gzipped_bits(indices: set[int], size: int = ACCOUNT_BUCKETS) -> str:
    """base64 of a gzipped bit vector, bit i being bit i % 8 (least significant first) of
    byte i // 8."""
    data = bytearray((size + 7) // 8)
    for index in indices:
        data[index // 8] |= 1 << (index % 8)
    return base64.b64encode(gzip.compress(bytes(data))).decode("ascii")


# -- proportion without a bitset ------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.731])
def test_proportion_admits_exactly_the_units_whose_allocation_bucket_is_below_the_threshold(
    p: float,
) -> None:
    threshold = round(p * ACCOUNT_BUCKETS)
    expected = {unit for unit in UNITS if allocation_bucket(unit) < threshold}
    assert admitted(snapshot({"proportion": p})) == expected


@pytest.mark.parametrize(
    "written",
    [0.3, "0.3", {"value": "0.3"}, {"value": 0.3}, " 0.30 ", "3E-1"],
    ids=[
        "number",
        "decimal-string",
        "seed-000-object",
        "object-with-number",
        "padded-string",
        "exponent",
    ],
)
def test_every_written_form_of_a_proportion_means_the_same(written: Any) -> None:
    expected = {unit for unit in UNITS if allocation_bucket(unit) < 300_000}
    assert admitted(snapshot({"proportion": written})) == expected


def test_the_allocation_salt_is_the_segment_id_not_the_variant_salt() -> None:
    # the units admitted at 50% are not the units in the control arm: two independent hashes
    half = admitted(snapshot({"proportion": 0.5}))
    control = {unit for unit in UNITS if variant_for(unit) == "control"}
    assert half != control
    overlap = len(half & control) / len(UNITS)
    assert 0.2 < overlap < 0.3  # about 0.5 * 0.5


def test_an_admitted_unit_gets_the_variant_of_its_variant_bucket() -> None:
    for unit, variant in assignments(snapshot({"proportion": 0.5})).items():
        if variant is not None:
            assert variant == variant_for(unit)


@pytest.mark.parametrize("written", [0, 0.0, "0", {"value": "0"}])
def test_a_zero_proportion_admits_nobody(written: Any) -> None:
    assert admitted(snapshot({"proportion": written})) == set()


@pytest.mark.parametrize("written", [1, 1.0, "1", {"value": "1.0"}])
def test_a_full_proportion_admits_everybody(written: Any) -> None:
    assert admitted(snapshot({"proportion": written})) == set(UNITS)


def test_a_segment_with_neither_bitset_nor_proportion_admits_everybody() -> None:
    assert admitted(snapshot()) == set(UNITS)
    assert admitted(snapshot({})) == set(UNITS)


def test_allocation_applies_after_targeting() -> None:
    sweden = {
        "criteria": {
            "c": {
                "attribute": {
                    "attributeName": "country",
                    "eqRule": {"value": {"stringValue": "SE"}},
                }
            }
        },
        "expression": {"ref": "c"},
    }
    client = flagstone.Client.from_dict(snapshot({"proportion": 1}, targeting=sweden))
    assert (
        client.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"}).reason
        is Reason.NO_SEGMENT_MATCH
    )
    assert (
        client.evaluate(FLAG, {"targeting_key": "user-1", "country": "SE"}).reason is Reason.MATCH
    )


@pytest.mark.parametrize(
    "written",
    [
        1.5,
        -0.1,
        "abc",
        "",
        True,
        {"value": "0.5", "extra": 1},
        {"val": "0.5"},
        [0.5],
        math.nan,
        "inf",
    ],
    ids=[
        "above-one",
        "negative",
        "not-a-number",
        "empty",
        "bool",
        "extra-key",
        "wrong-key",
        "list",
        "nan",
        "inf",
    ],
)
def test_an_invalid_proportion_is_a_config_error(written: Any) -> None:
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot({"proportion": written}))


# -- raising the proportion -----------------------------------------------------------------


def test_raising_the_proportion_never_drops_a_unit_nor_changes_its_variant() -> None:
    units = [f"unit-{i}" for i in range(5000)]
    steps = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.99, 1.0]
    previous: dict[str, str | None] | None = None
    for p in steps:
        current = assignments(snapshot({"proportion": p}), units)
        if previous is not None:
            for unit, variant in previous.items():
                if variant is not None:
                    assert current[unit] == variant, (p, unit)
        previous = current


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_the_admitted_share_is_close_to_the_proportion(p: float) -> None:
    units = [f"unit-{i}" for i in range(5000)]
    share = len(admitted(snapshot({"proportion": p}), units)) / len(units)
    sigma = math.sqrt(p * (1 - p) / len(units))
    assert abs(share - p) < 5 * sigma


# -- explicit bitsets win -------------------------------------------------------------------


def test_an_all_bitset_admits_everybody_whatever_the_proportion() -> None:
    assert admitted(snapshot({"proportion": 0}, bitset="ALL")) == set(UNITS)


def chosen_units() -> set[str]:
    """A handful of units whose account buckets we put in bitsets."""
    return {"user-3", "user-17", "user-256", "user-1024", "user-1999"}


def test_a_bitset_of_bucket_indices_admits_exactly_the_units_in_those_buckets() -> None:
    indices = sorted(account_bucket(unit) for unit in chosen_units())
    assert admitted(snapshot(bitset=indices)) == chosen_units()


def test_a_bitset_wins_over_a_full_proportion() -> None:
    indices = sorted(account_bucket(unit) for unit in chosen_units())
    assert admitted(snapshot({"proportion": 1}, bitset=indices)) == chosen_units()


def test_an_empty_bitset_admits_nobody() -> None:
    assert admitted(snapshot({"proportion": 1}, bitset=[])) == set()


def test_a_gzipped_bitset_is_read_least_significant_bit_first() -> None:
    indices = {account_bucket(unit) for unit in chosen_units()}
    assert admitted(snapshot(bitset=gzipped_bits(indices))) == chosen_units()


def test_a_gzipped_bitset_read_most_significant_bit_first_would_admit_other_units() -> None:
    # guards the test above: mirroring each bit within its byte changes who is admitted
    mirrored = {
        index - index % 8 + (7 - index % 8) for index in (account_bucket(u) for u in chosen_units())
    }
    assert admitted(snapshot(bitset=gzipped_bits(mirrored))) != chosen_units()


def test_a_gzipped_bitset_wins_over_a_proportion() -> None:
    indices = {account_bucket(unit) for unit in chosen_units()}
    assert admitted(snapshot({"proportion": 0}, bitset=gzipped_bits(indices))) == chosen_units()


def test_a_short_gzipped_bitset_admits_no_bucket_beyond_its_end() -> None:
    low_units = {unit for unit in UNITS if account_bucket(unit) < 80_000}
    high_units = {unit for unit in UNITS if account_bucket(unit) >= 80_000}
    assert low_units and high_units
    every_bucket = set(range(80_000))
    assert admitted(snapshot(bitset=gzipped_bits(every_bucket, size=80_000))) == low_units


def test_the_bitset_space_is_salted_with_the_account_id() -> None:
    indices = sorted(account_bucket(unit, "other-account") for unit in chosen_units())
    assert admitted(snapshot(bitset=indices, account="other-account")) == chosen_units()
    assert admitted(snapshot(bitset=indices)) != chosen_units()


@pytest.mark.parametrize(
    "bitset",
    ["not base64!", base64.b64encode(b"not gzip").decode(), [-1], [1_000_000], ["1"]],
    ids=["bad-base64", "not-gzip", "negative-index", "index-too-large", "string-index"],
)
def test_an_undecodable_bitset_is_a_config_error(bitset: Any) -> None:
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot(bitset=bitset))


# -- bucket ranges in the account space -----------------------------------------------------


def test_bucket_ranges_admit_the_units_whose_account_bucket_is_in_range() -> None:
    allocation = {"exclusivityTags": ["checkout"], "bucketRanges": [{"lower": 0, "upper": 300_000}]}
    expected = {unit for unit in UNITS if account_bucket(unit) < 300_000}
    assert admitted(snapshot(allocation)) == expected


def test_bucket_ranges_lower_bound_is_inclusive_and_upper_exclusive() -> None:
    unit = "user-42"
    index = account_bucket(unit)
    inside = {"exclusivityTags": ["t"], "bucketRanges": [{"lower": index, "upper": index + 1}]}
    below = {
        "exclusivityTags": ["t"],
        "bucketRanges": [{"lower": max(index - 10, 0), "upper": index}],
    }
    above = {"exclusivityTags": ["t"], "bucketRanges": [{"lower": index + 1, "upper": index + 10}]}
    assert admitted(snapshot(inside), [unit]) == {unit}
    assert admitted(snapshot(below), [unit]) == set()
    assert admitted(snapshot(above), [unit]) == set()


def test_a_bucket_range_without_lower_starts_at_zero() -> None:
    # protobuf's JSON leaves zeros out
    allocation = {"exclusivityTags": ["t"], "bucketRanges": [{"upper": 300_000}]}
    expected = {unit for unit in UNITS if account_bucket(unit) < 300_000}
    assert admitted(snapshot(allocation)) == expected


def test_several_bucket_ranges_form_a_union() -> None:
    ranges = [{"lower": 0, "upper": 100_000}, {"lower": 600_000, "upper": 700_000}]
    expected = {
        unit
        for unit in UNITS
        if account_bucket(unit) < 100_000 or 600_000 <= account_bucket(unit) < 700_000
    }
    assert admitted(snapshot({"exclusivityTags": ["t"], "bucketRanges": ranges})) == expected


def test_a_proportion_equal_to_the_ranges_width_is_accepted() -> None:
    allocation = {
        "exclusivityTags": ["t"],
        "bucketRanges": [{"lower": 200_000, "upper": 450_000}],
        "proportion": {"value": "0.25"},
    }
    expected = {unit for unit in UNITS if 200_000 <= account_bucket(unit) < 450_000}
    assert admitted(snapshot(allocation)) == expected


def test_a_proportion_that_differs_from_the_ranges_width_is_a_config_error() -> None:
    allocation = {
        "exclusivityTags": ["t"],
        "bucketRanges": [{"lower": 0, "upper": 300_000}],
        "proportion": 0.5,
    }
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot(allocation))


def test_exclusivity_tags_without_bucket_ranges_are_a_config_error() -> None:
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(snapshot({"exclusivityTags": ["t"], "proportion": 0.5}))


def exclusive_pair(
    first: list[dict[str, int]], second: list[dict[str, int]], tags: tuple[list[str], list[str]]
) -> dict[str, Any]:
    return {
        "account": {"name": f"accounts/{ACCOUNT}"},
        "flags": [flag("flags/test-a", "segments/test-a"), flag("flags/test-b", "segments/test-b")],
        "segments": [
            {
                "name": "segments/test-a",
                "allocation": {"exclusivityTags": tags[0], "bucketRanges": first},
            },
            {
                "name": "segments/test-b",
                "allocation": {"exclusivityTags": tags[1], "bucketRanges": second},
            },
        ],
    }


def test_segments_sharing_a_tag_with_overlapping_ranges_are_a_config_error() -> None:
    doc = exclusive_pair(
        [{"lower": 0, "upper": 600_000}], [{"lower": 500_000, "upper": 1_000_000}], (["x"], ["x"])
    )
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(doc)


def test_segments_with_different_tags_may_overlap() -> None:
    doc = exclusive_pair(
        [{"lower": 0, "upper": 600_000}], [{"lower": 500_000, "upper": 1_000_000}], (["x"], ["y"])
    )
    flagstone.Client.from_dict(doc)


def test_exclusive_segments_never_share_a_unit() -> None:
    doc = exclusive_pair(
        [{"lower": 0, "upper": 400_000}], [{"lower": 400_000, "upper": 1_000_000}], (["x"], ["x"])
    )
    client = flagstone.Client.from_dict(doc)
    for unit in UNITS:
        in_a = client.evaluate("flags/test-a", {"targeting_key": unit}).reason is Reason.MATCH
        in_b = client.evaluate("flags/test-b", {"targeting_key": unit}).reason is Reason.MATCH
        assert in_a != in_b, unit
        assert in_a == (account_bucket(unit) < 400_000)
