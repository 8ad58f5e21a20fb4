"""Work per evaluate in a hostile snapshot: reference graphs whose paths multiply, and rules
with hundreds of thousands of bucket ranges (issue 14, item 8).

Each segment is evaluated at most once per gate evaluation, so a clique or a lattice of
references costs one evaluation per segment, not one per path; bucket ranges are looked up
by bisection when a rule or allocation has many. Where the old cost was seconds, the test
runs in a child process with a timeout (``tests/hostile.py``); expected variants come from
the hash written out here with mmh3 and a linear scan of the ranges.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mmh3
import pytest

import flagstone
from flagstone import Reason
from tests import builders as b
from tests.hostile import measure

LOW_64 = 2**64 - 1


def bucket(key: str, count: int) -> int:
    return ((mmh3.hash128(key, 0, True, False) & LOW_64) >> 4) % count


# -- reference graphs ---------------------------------------------------------------------------

CLIQUE = 9
COUNTRIES = [f"C{index}" for index in range(CLIQUE)]


def clique() -> dict[str, Any]:
    """Segments k0…k8, each the ``or`` of every other one and of its own country: a unit is in
    k0 iff its country is one of the clique's (every segment reaches every other)."""
    segments = []
    for index in range(CLIQUE):
        criteria = {
            f"r{other}": b.in_segment(f"k{other}") for other in range(CLIQUE) if other != index
        }
        criteria["own"] = b.attribute("country", b.eq(b.string(COUNTRIES[index])))
        expression = b.or_(*[b.ref(key) for key in criteria])
        segments.append(b.segment(f"k{index}", targeting=b.targeting(criteria, expression)))
    return b.snapshot(
        b.flag("clique", {"on": {}}, [b.everyone_gets("flags/clique/rules/r", "on", segment="k0")]),
        segments=segments,
    )


def test_a_reference_clique_loads_and_evaluates_fast_in_lenient_mode(tmp_path: Path) -> None:
    path = b.write(tmp_path / "clique.json", clique())
    miss = measure(
        path,
        strict=False,
        flag="clique",
        context={"targeting_key": "u", "country": "none of them"},
        evaluations=200,
        timeout=5.0,
    )
    assert miss.problems is None
    assert miss.load_s < 1.0
    assert miss.growth_mb < 50
    assert miss.evaluate_s is not None and miss.evaluate_s < 0.002
    assert miss.reasons == [Reason.NO_SEGMENT_MATCH.value]


def test_a_reference_clique_resolves_by_reachability() -> None:
    """With only ``or``, k0 matches iff some segment reachable from it (all of them) matches
    on its own criterion, whichever order evaluation takes."""
    client = flagstone.Client.from_dict(clique(), strict=False)
    for country in COUNTRIES:
        assert client.evaluate("clique", {"targeting_key": "u", "country": country}).variant == "on"
    assert client.evaluate("clique", {"targeting_key": "u", "country": "XX"}).variant is None


def test_a_reference_clique_is_a_cycle_in_strict_mode() -> None:
    with pytest.raises(flagstone.ConfigError, match="reference each other in a cycle"):
        flagstone.Client.from_dict(clique())


LEVELS = 15
FAN_OUT = 3


def lattice() -> dict[str, Any]:
    """Levels l0…l14, each the ``or`` of three criteria that all reference the next level;
    the last one targets country SE. Paths from l0 to the last level: 3**14 (4.8 million),
    segments: 15."""
    segments = []
    for level in range(LEVELS - 1):
        criteria = {f"c{index}": b.in_segment(f"l{level + 1}") for index in range(FAN_OUT)}
        expression = b.or_(*[b.ref(key) for key in criteria])
        segments.append(b.segment(f"l{level}", targeting=b.targeting(criteria, expression)))
    segments.append(
        b.segment(f"l{LEVELS - 1}", targeting=b.attribute_is("country", b.string("SE")))
    )
    return b.snapshot(
        b.flag(
            "lattice", {"on": {}}, [b.everyone_gets("flags/lattice/rules/r", "on", segment="l0")]
        ),
        segments=segments,
    )


def test_a_lattice_of_references_costs_one_evaluation_per_segment(tmp_path: Path) -> None:
    path = b.write(tmp_path / "lattice.json", lattice())
    miss = measure(
        path,
        flag="lattice",
        context={"targeting_key": "u", "country": "NO"},
        evaluations=200,
        timeout=5.0,
    )
    assert miss.problems is None
    assert miss.evaluate_s is not None and miss.evaluate_s < 0.002
    assert miss.reasons == [Reason.NO_SEGMENT_MATCH.value]
    client = flagstone.Client.from_dict(lattice())
    assert client.evaluate("lattice", {"targeting_key": "u", "country": "SE"}).variant == "on"


class CountingStore(flagstone.MemoryMaterializationStore):
    """Counts the reads of a materialized segment: one per evaluation of the segment."""

    reads = 0

    def read(self, unit: str, materialization: str) -> Any:
        self.reads += 1
        return super().read(unit, materialization)


@pytest.mark.parametrize("shape", ["three criteria", "one criterion named thrice", "a tree"])
def test_each_segment_is_evaluated_once_per_evaluate(shape: str) -> None:
    """Six levels end in a segment read from the store. Each level references the next
    through three criteria, or through one criterion its expression names three times
    (3**5 = 243 paths to the last level either way), or once (a chain): one read per
    evaluate in every shape."""

    def level(index: int) -> dict[str, Any]:
        following = b.in_segment(f"l{index + 1}")
        if shape == "three criteria":
            criteria = {f"c{n}": following for n in range(FAN_OUT)}
            expression = b.or_(*[b.ref(f"c{n}") for n in range(FAN_OUT)])
        elif shape == "one criterion named thrice":
            criteria = {"c": following}
            expression = b.or_(*[b.ref("c") for _ in range(FAN_OUT)])
        else:
            criteria, expression = {"c": following}, b.ref("c")
        return b.segment(f"l{index}", targeting=b.targeting(criteria, expression))

    stored = {"m": {"materializedSegment": {"materializedSegment": "materializations/m"}}}
    segments = [level(index) for index in range(5)]
    segments.append(b.segment("l5", targeting=b.targeting(stored, b.ref("m"))))
    store = CountingStore()
    client = flagstone.Client.from_dict(
        b.snapshot(
            b.flag("f", {"on": {}}, [b.everyone_gets("flags/f/rules/r", "on", segment="l0")]),
            segments=segments,
        ),
        materializations=store,
    )
    assert client.evaluate("f", {"targeting_key": "u"}).variant is None
    assert store.reads == 1
    store.write("u", "materializations/m", "flags/other/rules/r", "x")
    assert client.evaluate("f", {"targeting_key": "u"}).variant == "on"
    assert store.reads == 2


def test_a_reference_back_to_the_rules_own_segment_does_not_match() -> None:
    """a = b or country SE, b = a (lenient mode): evaluating a, b's reference back to a finds
    a under way, so b does not match; a still matches SE on its own criterion."""
    a = b.segment(
        "a",
        targeting=b.targeting(
            {"b": b.in_segment("b"), "se": b.attribute("country", b.eq(b.string("SE")))},
            b.or_(b.ref("b"), b.ref("se")),
        ),
    )
    back = b.segment("b", targeting=b.targeting({"a": b.in_segment("a")}, b.ref("a")))
    client = flagstone.Client.from_dict(
        b.snapshot(
            b.flag("f", {"on": {}}, [b.everyone_gets("flags/f/rules/r", "on", segment="a")]),
            b.flag("g", {"on": {}}, [b.everyone_gets("flags/g/rules/r", "on", segment="b")]),
            segments=[a, back],
        ),
        strict=False,
    )
    assert client.evaluate("f", {"targeting_key": "u", "country": "SE"}).variant == "on"
    assert client.evaluate("f", {"targeting_key": "u", "country": "NO"}).variant is None
    # from b: a is evaluated with b under way, so a = SE and b = a
    assert client.evaluate("g", {"targeting_key": "u", "country": "SE"}).variant == "on"
    assert client.evaluate("g", {"targeting_key": "u", "country": "NO"}).variant is None


def test_a_diamond_is_not_taken_for_a_cycle() -> None:
    """Confidence's Rust resolver once rejected a diamond (parent → child → leaf and parent →
    leaf) as circular. Here the leaf decided under the child holds for the parent's direct
    reference: parent matches iff leaf does."""
    leaf = b.segment("leaf", targeting=b.attribute_is("country", b.string("SE")))
    child = b.segment("child", targeting=b.targeting({"c": b.in_segment("leaf")}, b.ref("c")))
    parent = b.segment(
        "parent",
        targeting=b.targeting(
            {"c1": b.in_segment("child"), "c2": b.in_segment("leaf")},
            b.and_(b.ref("c1"), b.ref("c2")),
        ),
    )
    client = flagstone.Client.from_dict(
        b.snapshot(
            b.flag("d", {"on": {}}, [b.everyone_gets("flags/d/rules/r", "on", segment="parent")]),
            segments=[parent, child, leaf],
        )
    )
    assert client.evaluate("d", {"targeting_key": "u", "country": "SE"}).variant == "on"
    assert client.evaluate("d", {"targeting_key": "u", "country": "NO"}).variant is None


# -- many bucket ranges -------------------------------------------------------------------------

RANGES = 50_000
COUNT = 2 * RANGES + 1
"""Ranges [2i, 2i+1) over 2·RANGES + 1 buckets: odd buckets (and the last) hold none."""


def many_ranges() -> list[tuple[int, int]]:
    return [(2 * index, 2 * index + 1) for index in range(RANGES)]


def striped(name: str, segment: str = b.EVERYONE) -> dict[str, Any]:
    """A rule whose assignments take alternate ranges: ``a`` the ranges at even positions,
    ``b`` those at odd positions, each of the 50 000 a bucket wide."""
    ranges = many_ranges()
    return b.rule(
        name,
        [b.assignment("a", "a", ranges[0::2]), b.assignment("b", "b", ranges[1::2])],
        bucket_count=COUNT,
        segment=segment,
    )


def expected(segment_id: str, unit: str) -> str | None:
    """The variant by construction of the ranges: bucket 2i is range i, which is ``a``'s for
    even i and ``b``'s for odd i; odd buckets and the last one are in no range."""
    index = bucket(f"{segment_id}|{unit}", COUNT)
    if index % 2 or index >= 2 * RANGES:
        return None
    return "a" if (index // 2) % 2 == 0 else "b"


@pytest.fixture(scope="module")
def ranged() -> flagstone.Client:
    exclusive = b.segment(
        "exclusive",
        allocation={
            "exclusivityTags": ["t"],
            "bucketRanges": [
                {"lower": lower * 10, "upper": upper * 10} for lower, upper in many_ranges()
            ],
        },
    )
    everyone = b.everyone_gets
    return flagstone.Client.from_dict(
        b.snapshot(
            b.flag("single", {"a": {}, "b": {}}, [striped("flags/single/rules/r")]),
            b.flag(
                "looped",  # two rules: the rule loop, not the single-rule resolver
                {"a": {}, "b": {}, "x": {}},
                [
                    everyone("flags/looped/rules/vip", "x", segment="vip"),
                    striped("flags/looped/rules/r"),
                ],
            ),
            b.flag(
                "allocated",
                {"a": {}},
                [everyone("flags/allocated/rules/r", "a", segment="exclusive")],
            ),
            segments=[
                b.segment(),
                b.segment("vip", targeting=b.attribute_is("vip", b.boolean(True))),
                exclusive,
            ],
            account="acme",
        )
    )


UNITS = [f"user-{index}" for index in range(300)]


def timed(client: flagstone.Client, flag: str) -> tuple[float, list[str | None]]:
    start = time.perf_counter()
    variants = [
        client.evaluate(flag, {"targeting_key": unit}, apply=False).variant for unit in UNITS
    ]
    return (time.perf_counter() - start) / len(UNITS), variants


@pytest.mark.parametrize("flag", ["single", "looped"])
def test_a_rule_with_50_000_ranges_is_looked_up_by_bisection(
    ranged: flagstone.Client, flag: str
) -> None:
    seconds, variants = timed(ranged, flag)
    assert variants == [expected("everyone", unit) for unit in UNITS]
    assert {"a", "b", None} <= set(variants)  # both assignments and the gaps are reached
    assert seconds < 0.0001, f"{seconds * 1e6:.0f} µs per evaluate"


def test_an_allocation_with_50_000_ranges_is_looked_up_by_bisection(
    ranged: flagstone.Client,
) -> None:
    seconds, variants = timed(ranged, "allocated")
    # ranges [20i, 20i + 10) for i < 50 000: the first half of every 20 buckets below 1e6
    allocated = [bucket(f"MegaSalt-acme|{unit}", 1_000_000) % 20 < 10 for unit in UNITS]
    assert variants == ["a" if inside else None for inside in allocated]
    assert True in allocated and False in allocated
    assert seconds < 0.0001, f"{seconds * 1e6:.0f} µs per evaluate"


def test_a_sticky_unit_finds_its_assignment_among_many_ranges() -> None:
    """Variant ``b`` has two assignments, b1 and b2, of 12 500 ranges each; a unit recorded
    with ``b`` keeps it through the assignment whose ranges hold its bucket."""
    odd = many_ranges()[1::2]
    rule = b.rule(
        "flags/sticky/rules/r",
        [
            b.assignment("a", "a", many_ranges()[0::2]),
            b.assignment("b1", "b", odd[: len(odd) // 2]),
            b.assignment("b2", "b", odd[len(odd) // 2 :]),
        ],
        bucket_count=COUNT,
        materialization={"readMaterialization": "materializations/m"},
    )
    store = flagstone.MemoryMaterializationStore()
    client = flagstone.Client.from_dict(
        b.snapshot(b.flag("sticky", {"a": {}, "b": {}}, [rule]), segments=[b.segment()]),
        materializations=store,
    )
    second_half = odd[len(odd) // 2][0]
    unit = next(
        unit
        for unit in (f"user-{index}" for index in range(10_000))
        if expected("everyone", unit) == "b" and bucket(f"everyone|{unit}", COUNT) >= second_half
    )
    store.write(unit, "materializations/m", "flags/sticky/rules/r", "b")
    resolution = client.evaluate("sticky", {"targeting_key": unit})
    assert (resolution.variant, resolution.assignment_id) == ("b", "b2")
