"""Stable placement in the exclusive bucket space (``flagstone.abtests.exclusive``):
``merge``, ``width`` and ``free_ranges`` on bucket ranges, and ``place``, which resizes one
test's ranges without moving a bucket it keeps: growing takes the lowest free buckets (first
fit), shrinking gives back the highest. Expected results are worked out bucket by bucket
here, as sets, over small spaces.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone import ConfigError
from flagstone.abtests.exclusive import free_ranges, merge, place, width

Range = tuple[int, int]
SPACE = 200
"""A small space (12 runs of up to 15 buckets fit), so sets of buckets stay cheap."""


def buckets(ranges: list[Range]) -> set[int]:
    return {b for lower, upper in ranges for b in range(lower, upper)}


# -- merge, width, free_ranges -----------------------------------------------------------------


def test_merge_joins_touching_and_overlapping_ranges_in_order() -> None:
    assert merge([(50, 60), (0, 10), (10, 20), (15, 30), (40, 45)]) == [(0, 30), (40, 45), (50, 60)]


def test_merge_drops_empty_ranges() -> None:
    assert merge([(5, 5), (7, 3), (1, 2)]) == [(1, 2)]


def test_merge_of_nothing_is_nothing() -> None:
    assert merge([]) == []


def test_width_counts_the_buckets() -> None:
    assert width([(0, 10), (20, 25)]) == 15
    assert width([]) == 0


def test_free_ranges_are_the_gaps_lowest_first() -> None:
    assert free_ranges([(10, 20), (30, 40)], 50) == [(0, 10), (20, 30), (40, 50)]


def test_free_ranges_of_an_empty_space_are_the_whole_space() -> None:
    assert free_ranges([], 1_000_000) == [(0, 1_000_000)]


def test_free_ranges_of_a_full_space_are_none() -> None:
    assert free_ranges([(0, 60), (60, 100)], 100) == []


def test_free_ranges_default_to_the_account_space() -> None:
    assert free_ranges([(0, 250_000)]) == [(250_000, 1_000_000)]


# -- place: examples -------------------------------------------------------------------------


def test_a_first_placement_starts_at_bucket_zero() -> None:
    assert place([], [], 100_000) == [(0, 100_000)]


def test_a_placement_takes_the_lowest_free_buckets() -> None:
    assert place([], [(0, 10), (20, 30)], 15, space=100) == [(10, 20), (30, 35)]


def test_growing_keeps_the_own_ranges_and_adds_the_lowest_free_buckets() -> None:
    assert place([(10, 20)], [(0, 10), (20, 30)], 15, space=100) == [(10, 20), (30, 35)]


def test_growing_joins_a_new_range_to_the_one_it_touches() -> None:
    assert place([(0, 10)], [(20, 30)], 15, space=100) == [(0, 15)]


def test_growing_fills_a_gap_below_the_own_ranges_first() -> None:
    assert place([(50, 60)], [(0, 10)], 20, space=100) == [(10, 20), (50, 60)]


def test_shrinking_gives_back_the_highest_buckets_first() -> None:
    assert place([(0, 10), (20, 30), (40, 50)], [], 15, space=100) == [(0, 10), (20, 25)]


def test_shrinking_to_zero_gives_back_everything() -> None:
    assert place([(0, 10), (20, 30)], [], 0, space=100) == []


def test_the_same_width_keeps_the_ranges() -> None:
    assert place([(20, 30), (0, 10)], [(10, 20)], 20, space=100) == [(0, 10), (20, 30)]


def test_a_placement_that_does_not_fit_is_a_config_error_naming_the_free_space() -> None:
    with pytest.raises(ConfigError) as caught:
        place([(0, 10)], [(10, 90)], 30, path="$.abtests[2].segment.allocation", space=100)
    [problem] = caught.value.problems
    assert problem.path == "$.abtests[2].segment.allocation"
    assert re.search(r"\b20\b", problem.message)  # more buckets needed
    assert re.search(r"\b10\b", problem.message)  # buckets free: 90..100


def test_a_placement_filling_the_space_exactly_fits() -> None:
    assert place([(0, 10)], [(10, 90)], 20, space=100) == [(0, 10), (90, 100)]


def test_place_does_not_change_its_arguments() -> None:
    own, others = [(10, 20)], [(0, 10)]
    place(own, others, 30, space=100)
    assert own == [(10, 20)]
    assert others == [(0, 10)]


# -- place: properties -----------------------------------------------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[Range], list[Range], int]:
    """Own ranges and the ranges of the others (disjoint from the own ones, possibly
    overlapping each other): runs of buckets laid out from bucket 0, each given to the test,
    to one of two others or left free (the space past the last run is free too), and a
    target the test's buckets and the free space can hold."""
    pieces = draw(
        st.lists(
            st.tuples(st.sampled_from(["own", "other", "other2", "free"]), st.integers(1, 15)),
            max_size=12,
        )
    )
    runs: dict[str, list[Range]] = {"own": [], "other": [], "other2": [], "free": []}
    cursor = 0
    for owner, length in pieces:
        runs[owner].append((cursor, cursor + length))
        cursor += length
    own = runs["own"]
    others = runs["other"] + runs["other2"]
    if draw(st.booleans()):
        straddling = draw(st.integers(0, SPACE - 1))
        others.append((straddling, min(SPACE, straddling + draw(st.integers(1, 20)))))
        own = [r for r in own if not buckets([r]) & buckets(others[-1:])]
    held = len(buckets(own)) + len(set(range(SPACE)) - buckets(own) - buckets(others))
    target = draw(st.integers(min_value=0, max_value=held))
    return own, others, target


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_growing_keeps_every_own_bucket(layout: tuple[list[Range], list[Range], int]) -> None:
    own, others, target = layout
    placed = place(own, others, target, space=SPACE)
    if target >= len(buckets(own)):
        assert buckets(own) <= buckets(placed)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_a_placement_never_touches_the_others(layout: tuple[list[Range], list[Range], int]) -> None:
    own, others, target = layout
    assert not buckets(place(own, others, target, space=SPACE)) & buckets(others)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_a_placement_holds_exactly_the_target(layout: tuple[list[Range], list[Range], int]) -> None:
    own, others, target = layout
    placed = place(own, others, target, space=SPACE)
    assert len(buckets(placed)) == target
    assert width(placed) == target


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_a_placement_is_merged_ranges_inside_the_space(
    layout: tuple[list[Range], list[Range], int],
) -> None:
    own, others, target = layout
    placed = place(own, others, target, space=SPACE)
    assert placed == merge(placed)
    assert all(0 <= lower < upper <= SPACE for lower, upper in placed)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts(), st.randoms(use_true_random=False))
def test_a_placement_depends_only_on_the_ranges_given_out(
    layout: tuple[list[Range], list[Range], int], rng: random.Random
) -> None:
    own, others, target = layout
    shuffled_own, shuffled_others = own[:], others[:]
    rng.shuffle(shuffled_own)
    rng.shuffle(shuffled_others)
    first = place(own, others, target, space=SPACE)
    assert place(own, others, target, space=SPACE) == first
    assert place(shuffled_own, shuffled_others, target, space=SPACE) == first


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_growing_adds_the_lowest_free_buckets(layout: tuple[list[Range], list[Range], int]) -> None:
    own, others, target = layout
    held = buckets(own)
    if target < len(held):
        return
    free = sorted(set(range(SPACE)) - held - buckets(others))
    added = buckets(place(own, others, target, space=SPACE)) - held
    assert added == set(free[: target - len(held)])


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts())
def test_shrinking_keeps_the_lowest_own_buckets(
    layout: tuple[list[Range], list[Range], int],
) -> None:
    own, others, target = layout
    held = sorted(buckets(own))
    if target > len(held):
        return
    assert buckets(place(own, others, target, space=SPACE)) == set(held[:target])


@settings(derandomize=True, deadline=None, max_examples=300)
@given(layouts(), st.integers(min_value=1, max_value=SPACE))
def test_a_placement_beyond_the_free_space_is_refused(
    layout: tuple[list[Range], list[Range], int], beyond: int
) -> None:
    own, others, _ = layout
    free = set(range(SPACE)) - buckets(own) - buckets(others)
    target = len(buckets(own)) + len(free) + beyond
    with pytest.raises(ConfigError) as caught:
        place(own, others, target, space=SPACE)
    assert re.search(rf"\b{len(free)}\b", str(caught.value))


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=8))
def test_tests_placed_in_turn_tile_the_space_from_the_bottom(sizes: list[int]) -> None:
    placed: list[list[Range]] = []
    for size in sizes:
        if sum(sizes[: len(placed) + 1]) > SPACE:
            break
        placed.append(place([], [r for ranges in placed for r in ranges], size, space=SPACE))
    total = sum(sizes[: len(placed)])
    assert buckets([r for ranges in placed for r in ranges]) == set(range(total))


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-10, 15)), min_size=1, max_size=20))
def test_tests_resized_in_turn_never_overlap_nor_move(steps: list[tuple[int, int]]) -> None:
    """Four tests sharing a tag grow (or, as drafts, shrink) in turn: a growing test keeps
    every bucket it had, a shrinking one keeps only buckets it had, the others keep theirs."""
    held: dict[int, list[Range]] = {i: [] for i in range(4)}
    for who, delta in steps:
        others = [r for other, ranges in held.items() if other != who for r in ranges]
        target = max(0, width(held[who]) + delta)
        if target - width(held[who]) > width(free_ranges([*held[who], *others], SPACE)):
            continue
        before = {i: buckets(ranges) for i, ranges in held.items()}
        held[who] = place(held[who], others, target, space=SPACE)
        after = buckets(held[who])
        assert before[who] <= after if delta >= 0 else after <= before[who]
        for i, ranges in held.items():
            if i != who:
                assert buckets(ranges) == before[i]
        for i in held:
            for j in held:
                if i < j:
                    assert not buckets(held[i]) & buckets(held[j])
