"""Ramping live A/B tests: raising a test's exposure keeps every unit already in it in its
variant (checked on 100 000 units), admits the share asked for, and, for tests sharing an
exclusivity tag, places the new buckets in the free part of the shared space without moving
a range already given out (issue 5, "Stable exclusive allocation").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

import pytest

import flagstone
from flagstone import AbTests, ConfigError, LifecycleError
from tests.test_abtest_lifecycle import body, flag, snapshot

UNITS = [f"user-{i}" for i in range(100_000)]
SPACE = 1_000_000
"""Buckets of the account-wide exclusive space."""

Ranges = list[tuple[int, int]]
Assignments = list[str | None]
"""Per unit of ``UNITS``: the variant the test gave it, ``None`` if it is not in the test."""

RAMPS: dict[str, Callable[[AbTests, str, float], Any]] = {
    "proportion": lambda tests, name, p: tests.set_exposure(name, proportion=p),
    "percentage": lambda tests, name, p: tests.set_exposure(name, percentage=round(p * 100)),
    "update-segment": lambda tests, name, p: tests.update_segment(
        name,
        {"allocation": {**tests.get(name)["segment"]["allocation"], "proportion": p}},
        "allocation",
    ),
}
"""The three ways to raise a live test's allocation: set_exposure with a proportion or a
percentage, and seed 000's updateSegment of the allocation."""


def assignments(tests: AbTests, flag_name: str, name: str) -> Assignments:
    """What ``name`` (a test of ``flag_name``) gives each unit, from a fresh client."""
    client = flagstone.Client.from_dict(tests.document)
    rule = f"{name}/rule"
    try:
        out: Assignments = []
        for unit in UNITS:
            resolution = client.evaluate(flag_name, {"targeting_key": unit})
            out.append(resolution.variant if resolution.rule == rule else None)
        return out
    finally:
        client.close()


def within_binomial_bounds(count: int, n: int, p: float) -> bool:
    """``count`` of ``n`` is within 5 standard deviations of ``n * p`` (exact at 0 and 1)."""
    spread: float = 5 * (n * p * (1 - p)) ** 0.5
    return abs(count - n * p) <= spread


def ranges_of(tests: AbTests, name: str) -> Ranges:
    allocation = tests.get(name)["segment"]["allocation"]
    return sorted((r.get("lower", 0), r["upper"]) for r in allocation.get("bucketRanges", []))


def joined(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: Ranges = []
    for lower, upper in sorted(ranges):
        if out and lower <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], upper))
        else:
            out.append((lower, upper))
    return out


def size(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(upper - lower for lower, upper in joined(ranges))


def inside(inner: Iterable[tuple[int, int]], outer: Iterable[tuple[int, int]]) -> bool:
    """Every bucket of ``inner`` is in ``outer``."""
    merged = joined(outer)
    return all(any(lo <= lower and upper <= hi for lo, hi in merged) for lower, upper in inner)


def disjoint(first: Iterable[tuple[int, int]], second: Iterable[tuple[int, int]]) -> bool:
    return all(a_hi <= b_lo or b_hi <= a_lo for a_lo, a_hi in first for b_lo, b_hi in second)


# -- one test ramped: units keep their variant ------------------------------------------------

PLAIN_STEPS = [0.1, 0.25, 0.5, 1.0]
EXCLUSIVE_STEPS = [0.1, 0.3, 0.6]


def ramp(
    method: str, steps: list[float], tags: list[str] | None
) -> tuple[list[Assignments], list[Ranges]]:
    """A 50/50 test launched at ``steps[0]`` and ramped through the others; what it gives
    every unit, and its bucket ranges, after each step."""
    allocation: dict[str, Any] = {"proportion": steps[0]}
    if tags:
        allocation["exclusivityTags"] = tags
    tests = AbTests(snapshot())
    name = tests.create(body(segment={"allocation": allocation}), abtest_id="ramped")["name"]
    tests.launch(name)
    seen, placed = [assignments(tests, "flags/checkout", name)], [ranges_of(tests, name)]
    for proportion in steps[1:]:
        RAMPS[method](tests, name, proportion)
        seen.append(assignments(tests, "flags/checkout", name))
        placed.append(ranges_of(tests, name))
    return seen, placed


@pytest.fixture(scope="module", params=list(RAMPS))
def plain_ramp(request: pytest.FixtureRequest) -> list[Assignments]:
    """A non-exclusive test ramped 0.1 → 0.25 → 0.5 → 1.0."""
    return ramp(request.param, PLAIN_STEPS, None)[0]


@pytest.fixture(scope="module", params=["proportion", "percentage", "update-segment"])
def exclusive_ramp(request: pytest.FixtureRequest) -> tuple[list[Assignments], list[Ranges]]:
    """An exclusive test (tag ``checkout``) ramped 0.1 → 0.3 → 0.6."""
    return ramp(request.param, EXCLUSIVE_STEPS, ["checkout"])


def kept_variants(before: Assignments, after: Assignments) -> list[str]:
    """Units that had a variant before and lost or changed it after."""
    return [
        UNITS[i]
        for i, (old, new) in enumerate(zip(before, after, strict=True))
        if old is not None and new != old
    ]


def test_ramping_keeps_every_allocated_unit_in_its_variant(plain_ramp: list[Assignments]) -> None:
    for step, (before, after) in enumerate(pairwise(plain_ramp)):
        assert kept_variants(before, after) == [], PLAIN_STEPS[step + 1]


def test_ramping_admits_the_share_asked_for(plain_ramp: list[Assignments]) -> None:
    for proportion, seen in zip(PLAIN_STEPS, plain_ramp, strict=True):
        admitted = sum(v is not None for v in seen)
        assert within_binomial_bounds(admitted, len(UNITS), proportion), (proportion, admitted)


def test_at_full_exposure_every_unit_is_in_the_test(plain_ramp: list[Assignments]) -> None:
    assert all(v is not None for v in plain_ramp[-1])


def test_ramping_keeps_the_treatments_half_and_half(plain_ramp: list[Assignments]) -> None:
    for seen in plain_ramp:
        admitted = [v for v in seen if v is not None]
        treated = sum(v == "treatment" for v in admitted)
        assert within_binomial_bounds(treated, len(admitted), 0.5)
        assert set(admitted) == {"control", "treatment"}


def test_an_exclusive_ramp_keeps_every_allocated_unit_in_its_variant(
    exclusive_ramp: tuple[list[Assignments], list[Ranges]],
) -> None:
    seen, _ = exclusive_ramp
    for step, (before, after) in enumerate(pairwise(seen)):
        assert kept_variants(before, after) == [], EXCLUSIVE_STEPS[step + 1]


def test_an_exclusive_ramp_admits_the_share_asked_for(
    exclusive_ramp: tuple[list[Assignments], list[Ranges]],
) -> None:
    seen, _ = exclusive_ramp
    for proportion, assigned in zip(EXCLUSIVE_STEPS, seen, strict=True):
        admitted = sum(v is not None for v in assigned)
        assert within_binomial_bounds(admitted, len(UNITS), proportion), (proportion, admitted)


def test_an_exclusive_ramp_holds_exactly_its_share_of_the_space(
    exclusive_ramp: tuple[list[Assignments], list[Ranges]],
) -> None:
    _, placed = exclusive_ramp
    assert [size(ranges) for ranges in placed] == [round(p * SPACE) for p in EXCLUSIVE_STEPS]


def test_an_exclusive_ramp_never_moves_a_bucket_it_had(
    exclusive_ramp: tuple[list[Assignments], list[Ranges]],
) -> None:
    _, placed = exclusive_ramp
    for before, after in pairwise(placed):
        assert inside(before, after)


def test_an_exclusive_ramp_keeps_its_exclusivity_tags() -> None:
    tests = AbTests(snapshot())
    segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": 0.1}}
    name = tests.create(body(segment=segment))["name"]
    tests.launch(name)
    tests.set_exposure(name, percentage=30)
    assert tests.get(name)["segment"]["allocation"]["exclusivityTags"] == ["checkout"]


# -- several exclusive tests ramped in turn ---------------------------------------------------

TESTS = {"a": "checkout", "b": "checkout", "c": "checkout", "d": "search"}
"""Test id → its exclusivity tag; each test is of its own flag ``flags/<id>``."""
STEPS: list[tuple[str, str, float]] = [
    ("create", "a", 0.2),
    ("create", "b", 0.3),
    ("ramp", "a", 0.3),
    ("create", "c", 0.1),
    ("ramp", "b", 0.4),
    ("create", "d", 0.5),
    ("ramp", "c", 0.25),
    ("ramp", "d", 0.7),
]
"""Created (and launched) or ramped in turn: the space of tag ``checkout`` becomes
fragmented, ``d`` (tag ``search``) may take any bucket."""


@pytest.fixture(scope="module")
def side_by_side() -> list[tuple[dict[str, Ranges], dict[str, Assignments]]]:
    """After each of ``STEPS``: every test's ranges and what each live test gives each
    unit."""
    tests = AbTests(snapshot(*(flag(f"flags/{t}") for t in TESTS)))
    history = []
    for action, test_id, proportion in STEPS:
        if action == "create":
            segment = {
                "allocation": {"exclusivityTags": [TESTS[test_id]], "proportion": proportion}
            }
            tests.create(
                body(test_id, flag_name=f"flags/{test_id}", segment=segment), abtest_id=test_id
            )
            tests.launch(test_id)
        else:
            tests.set_exposure(test_id, proportion=proportion)
        names = [t["name"] for t in tests.list()["abtests"]]
        ids = [n.rsplit("/", 1)[-1] for n in names]
        history.append(
            (
                {i: ranges_of(tests, i) for i in ids},
                {i: assignments(tests, f"flags/{i}", n) for i, n in zip(ids, names, strict=True)},
            )
        )
    return history


def test_tests_sharing_a_tag_never_overlap(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    for step, (placed, _) in enumerate(side_by_side):
        sharing = [i for i in placed if TESTS[i] == "checkout"]
        for first in sharing:
            for second in sharing:
                if first < second:
                    assert disjoint(placed[first], placed[second]), (STEPS[step], first, second)


def test_no_unit_ever_gets_a_variant_from_two_tests_of_one_tag(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    for step, (_, seen) in enumerate(side_by_side):
        sharing = [seen[i] for i in seen if TESTS[i] == "checkout"]
        twice = [
            UNITS[u]
            for u in range(len(UNITS))
            if sum(assigned[u] is not None for assigned in sharing) > 1
        ]
        assert twice == [], STEPS[step]


def test_a_test_of_another_tag_may_share_units(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    _, seen = side_by_side[-1]
    in_d = {u for u, v in enumerate(seen["d"]) if v is not None}
    in_checkout = {u for i in "abc" for u, v in enumerate(seen[i]) if v is not None}
    assert in_d & in_checkout


def test_ranges_given_out_never_move(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    for (before, _), (after, _) in pairwise(side_by_side):
        for test_id, ranges in before.items():
            assert inside(ranges, after[test_id]), test_id


def test_tests_not_ramped_keep_exactly_their_ranges(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    for step, ((before, _), (after, _)) in enumerate(pairwise(side_by_side)):
        changed = STEPS[step + 1][1]
        for test_id, ranges in before.items():
            if test_id != changed:
                assert after[test_id] == ranges, (STEPS[step + 1], test_id)


def test_every_unit_in_a_ramped_side_by_side_test_keeps_its_variant(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    for (_, before), (_, after) in pairwise(side_by_side):
        for test_id, assigned in before.items():
            assert kept_variants(assigned, after[test_id]) == [], test_id


def test_each_side_by_side_test_holds_its_share(
    side_by_side: list[tuple[dict[str, Ranges], dict[str, Assignments]]],
) -> None:
    placed, _ = side_by_side[-1]
    final = {test_id: proportion for _, test_id, proportion in STEPS}
    assert {i: size(r) for i, r in placed.items()} == {
        i: round(p * SPACE) for i, p in final.items()
    }


def test_a_new_exclusive_test_takes_the_lowest_free_buckets() -> None:
    tests = AbTests(snapshot(flag("flags/a"), flag("flags/b")))
    for test_id, proportion in (("a", 0.2), ("b", 0.3)):
        segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": proportion}}
        tests.create(
            body(test_id, flag_name=f"flags/{test_id}", segment=segment), abtest_id=test_id
        )
    assert ranges_of(tests, "a") == [(0, 200_000)]
    assert ranges_of(tests, "b") == [(200_000, 500_000)]


# -- ramps that do not fit --------------------------------------------------------------------


def full_house(*, second: float = 0.4) -> AbTests:
    """Live tests ``a`` (0.5) and ``b`` (``second``) sharing the tag ``checkout``."""
    tests = AbTests(snapshot(flag("flags/a"), flag("flags/b"), flag("flags/c")))
    for test_id, proportion in (("a", 0.5), ("b", second)):
        segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": proportion}}
        tests.create(
            body(test_id, flag_name=f"flags/{test_id}", segment=segment), abtest_id=test_id
        )
        tests.launch(test_id)
    return tests


@pytest.mark.parametrize("method", list(RAMPS))
def test_a_ramp_that_does_not_fit_is_a_config_error_naming_the_free_space(method: str) -> None:
    tests = full_house()
    with pytest.raises(ConfigError) as caught:
        RAMPS[method](tests, "b", 0.6)
    message = str(caught.value)
    assert re.search(r"\b100000\b", message), message  # free buckets: 1e6 - 0.5e6 - 0.4e6
    [problem] = caught.value.problems
    assert problem.path.startswith("$.abtests[1].segment.allocation")


@pytest.mark.parametrize("method", list(RAMPS))
def test_a_ramp_that_does_not_fit_leaves_the_document_unchanged(method: str) -> None:
    tests = full_house()
    before = tests.document
    with pytest.raises(ConfigError):
        RAMPS[method](tests, "b", 0.6)
    assert tests.document == before


def test_a_ramp_that_exactly_fills_the_space_fits() -> None:
    tests = full_house()
    tests.set_exposure("b", proportion=0.5)
    assert ranges_of(tests, "b") == [(500_000, 1_000_000)]


def test_a_new_test_that_does_not_fit_is_refused() -> None:
    tests = full_house()
    before = tests.document
    segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": 0.2}}
    with pytest.raises(ConfigError, match=r"\b100000\b"):
        tests.create(body("c", flag_name="flags/c", segment=segment), abtest_id="c")
    assert tests.document == before


def test_a_new_test_of_another_tag_fits_beside_a_full_tag() -> None:
    tests = full_house(second=0.5)
    segment = {"allocation": {"exclusivityTags": ["search"], "proportion": 0.2}}
    tests.create(body("c", flag_name="flags/c", segment=segment), abtest_id="c")
    assert ranges_of(tests, "c") == [(0, 200_000)]


# -- ranges given back ------------------------------------------------------------------------

LEAVING = {
    "ended": ("launch", "end"),
    "archived-live": ("launch", "archive"),
    "archived-ended": ("launch", "end", "archive"),
    "archived-draft": ("archive",),
    "deleted-draft": ("delete",),
    "deleted-ended": ("launch", "end", "delete"),
}


def crowded() -> AbTests:
    """Drafts ``a`` (0.6) and ``b`` (0.4) fill the space of the tag ``checkout``."""
    tests = AbTests(snapshot(flag("flags/a"), flag("flags/b"), flag("flags/c")))
    for test_id, proportion in (("a", 0.6), ("b", 0.4)):
        segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": proportion}}
        tests.create(
            body(test_id, flag_name=f"flags/{test_id}", segment=segment), abtest_id=test_id
        )
    return tests


def create_c(tests: AbTests, proportion: float = 0.3) -> None:
    segment = {"allocation": {"exclusivityTags": ["checkout"], "proportion": proportion}}
    tests.create(body("c", flag_name="flags/c", segment=segment), abtest_id="c")


def test_a_draft_holds_its_buckets() -> None:
    with pytest.raises(ConfigError):
        create_c(crowded())


@pytest.mark.parametrize("leaving", list(LEAVING))
def test_a_test_that_is_over_gives_its_buckets_back(leaving: str) -> None:
    tests = crowded()
    for step in LEAVING[leaving]:
        getattr(tests, step)("a")
    create_c(tests)
    assert ranges_of(tests, "c") == [(0, 300_000)]


@pytest.mark.parametrize("leaving", list(LEAVING))
def test_buckets_given_back_go_to_a_new_test_without_touching_the_others(leaving: str) -> None:
    tests = crowded()
    b_before = ranges_of(tests, "b")
    for step in LEAVING[leaving]:
        getattr(tests, step)("a")
    create_c(tests)
    tests.launch("b")
    tests.launch("c")
    assert ranges_of(tests, "b") == b_before
    assert disjoint(ranges_of(tests, "b"), ranges_of(tests, "c"))


def test_a_draft_shrinks_by_giving_back_its_highest_buckets() -> None:
    tests = crowded()
    tests.set_exposure("a", proportion=0.1)
    assert ranges_of(tests, "a") == [(0, 100_000)]
    create_c(tests, 0.5)
    assert ranges_of(tests, "c") == [(100_000, 600_000)]


def test_a_live_exclusive_test_cannot_shrink() -> None:
    tests = full_house()
    before = tests.document
    with pytest.raises(LifecycleError):
        tests.set_exposure("a", proportion=0.4)
    assert tests.document == before


def test_a_live_exclusive_test_cannot_drop_buckets_given_explicitly() -> None:
    tests = full_house()
    before = tests.document
    allocation = {"exclusivityTags": ["checkout"], "bucketRanges": [{"lower": 0, "upper": 400_000}]}
    with pytest.raises(LifecycleError):
        tests.update_segment("a", {"allocation": allocation}, "allocation")
    assert tests.document == before


@pytest.mark.parametrize("tags", [["search"], [], ["checkout", "search"]])
def test_a_live_exclusive_test_cannot_change_its_tags(tags: list[str]) -> None:
    tests = full_house()
    before = tests.document
    allocation: dict[str, Any] = {"proportion": 0.5}
    if tags:
        allocation["exclusivityTags"] = tags
    with pytest.raises(LifecycleError):
        tests.update_segment("a", {"allocation": allocation}, "allocation")
    assert tests.document == before


def test_a_draft_moved_to_another_tag_is_placed_in_that_tags_free_space() -> None:
    tests = AbTests(snapshot(flag("flags/a"), flag("flags/b")))
    for test_id, tag in (("a", "checkout"), ("b", "search")):
        segment = {"allocation": {"exclusivityTags": [tag], "proportion": 0.1}}
        tests.create(
            body(test_id, flag_name=f"flags/{test_id}", segment=segment), abtest_id=test_id
        )
    moved = {"allocation": {"exclusivityTags": ["search"], "proportion": 0.1}}
    tests.update_segment("a", moved, "allocation")
    assert ranges_of(tests, "a") == [(100_000, 200_000)]


def test_units_of_a_test_sharing_a_tag_are_never_in_the_other_one() -> None:
    tests = full_house()
    a = assignments(tests, "flags/a", "workflows/abtest/instances/a")
    b = assignments(tests, "flags/b", "workflows/abtest/instances/b")
    both = [UNITS[u] for u in range(len(UNITS)) if a[u] is not None and b[u] is not None]
    assert both == []
    assert within_binomial_bounds(sum(v is not None for v in a), len(UNITS), 0.5)
    assert within_binomial_bounds(sum(v is not None for v in b), len(UNITS), 0.4)
