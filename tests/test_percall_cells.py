"""The unrolled resolver's table of cells (``flagstone.plan.fastpath.outcome_cells``) picks
the assignment the rule's statement picks, for any layout of bucket ranges.

Rules are drawn with random bucket counts and random cuts into ranges, each range a gap, a
variant, the client default or a fallthrough, an assignment owning one range or several.
For every layout and many units, the resolution must match

* an independent reading of the rule's statement, written here: the bucket is
  ``((mmh3.hash128(f"{segment id}|{unit}", 0, True, False) & (2**64 - 1)) >> 4) % count``
  (DESIGN.md) and the first assignment whose range holds it wins; a gap is no match, a
  fallthrough is no match with the fallthrough recorded; and
* the general rule loop (``resolve_flag``), field by field.

Layouts with coarse bounds take the exact table (at most ``MAX_CELLS`` cells); fine ones a
coarse table (``coarse_cells``, checked here against the layout) whose cells a range ends
inside are left to the rule's own search; the test checks both kinds occur.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import mmh3
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone.plan import FlagPlan
from flagstone.plan.fastpath import COARSE_CELLS, MAX_CELLS, coarse_cells, is_plain, outcome_cells
from flagstone.plan.resolver import resolve_flag
from tests import builders as b

UNITS = [f"unit-{i}" for i in range(300)]
KINDS = ("gap", "on", "off", "clientDefault", "fallthrough")


@st.composite
def layouts(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, str, str]]]:
    """``(bucket count, [(lower, upper, kind, assignment id), …])`` covering every bucket."""
    count = draw(st.sampled_from([1, 2, 3, 10, 100, 128, 129, 1000, 10_000, 12_347]))
    grain = draw(st.sampled_from([1, 1, 2, 5, 25, 100, 1000]))
    grain = grain if count % grain == 0 and grain < count else 1
    steps = count // grain
    cuts = draw(st.sets(st.integers(1, max(1, steps - 1)), max_size=min(12, steps - 1)))
    bounds = [0, *sorted(cut * grain for cut in cuts if 0 < cut < steps), count]
    ranges = []
    for index, (lower, upper) in enumerate(pairwise(bounds)):
        kind = draw(st.sampled_from(KINDS))
        # two ranges may belong to one assignment (same id): "shared" joins its owner's id
        owner = draw(st.sampled_from(["own", "shared"])) if index else "own"
        ranges.append((lower, upper, kind, owner))
    result = []
    last_id: dict[str, str] = {}
    for index, (lower, upper, kind, owner) in enumerate(ranges):
        assignment_id = last_id.get(kind) if owner == "shared" else None
        assignment_id = assignment_id or f"{kind}-{index}"
        last_id[kind] = assignment_id
        result.append((lower, upper, kind, assignment_id))
    return count, result


def compile_flag(count: int, layout: list[tuple[int, int, str, str]]) -> FlagPlan:
    grouped: dict[str, tuple[str, list[tuple[int, int]]]] = {}
    for lower, upper, kind, assignment_id in layout:
        if kind != "gap":
            grouped.setdefault(assignment_id, (kind, []))[1].append((lower, upper))
    assignments = []
    for assignment_id, (kind, ranges) in grouped.items():
        if kind in ("on", "off"):
            assignments.append(b.assignment(assignment_id, kind, ranges))
        else:
            assignments.append(b.assignment(assignment_id, None, ranges, kind=kind))  # type: ignore[arg-type]
    rule = b.rule(
        "flags/f/rules/r", assignments, bucket_count=count, segment="s", selector="targeting_key"
    )
    document = b.snapshot(
        b.flag("f", {"on": {"x": 1}, "off": {"x": 0}}, [rule]),
        segments=[b.segment("s")],
    )
    plan: FlagPlan = flagstone.Client.from_dict(document)._plan["flags/f"]
    assert is_plain(plan.rules[0])
    return plan


def expected(
    count: int, layout: list[tuple[int, int, str, str]], unit: str
) -> tuple[str | None, str | None]:
    """``(variant, fallthrough assignment id)`` from the rule's statement."""
    bucket = ((mmh3.hash128(f"s|{unit}", 0, True, False) & (2**64 - 1)) >> 4) % count
    for lower, upper, kind, assignment_id in layout:
        if lower <= bucket < upper:
            if kind in ("on", "off"):
                return kind, None
            if kind == "fallthrough":
                return None, assignment_id
            return None, None  # a gap or the client default
    raise AssertionError("the layout covers every bucket")


def check_coarse(count: int, layout: list[tuple[int, int, str, str]], plan: FlagPlan) -> None:
    """Each cell of the coarse table holds the outcome of the assignment one of whose ranges
    holds all of the cell's buckets (read from the layout), and ``None`` where there is
    none (a range ends inside the cell, or it lies in a gap or a fallthrough)."""
    width, cells = coarse_cells(plan.rules[0])
    assert len(cells) <= COARSE_CELLS and (len(cells) - 1) * width < count <= len(cells) * width
    for index, cell in enumerate(cells):
        start, end = index * width, min((index + 1) * width, count)
        holding = [
            assignment_id
            for lower, upper, kind, assignment_id in layout
            if lower <= start and end <= upper and kind not in ("gap", "fallthrough")
        ]
        assert (cell.assignment_id if cell is not None else None) == (
            holding[0] if holding else None
        ), (index, layout)


SEEN = {"table": 0, "search": 0}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(layouts())
def test_the_table_resolves_as_the_rule_says(
    drawn: tuple[int, list[tuple[int, int, str, str]]],
) -> None:
    count, layout = drawn
    plan = compile_flag(count, layout)
    rule = plan.rules[0]
    if rule.single is None:
        SEEN["table" if outcome_cells(rule) is not None else "search"] += 1
        if outcome_cells(rule) is None:
            check_coarse(count, layout, plan)
    for unit in UNITS:
        context: dict[str, Any] = {"targeting_key": unit}
        fast = plan.resolve(context)
        variant, fallthrough = expected(count, layout, unit)
        assert fast.variant == variant, (unit, layout)
        assert [item.assignment_id for item in fast.fallthrough] == (
            [fallthrough] if fallthrough else []
        )
        assert fast.to_dict() == resolve_flag(plan, context).to_dict()


def test_both_the_table_and_the_search_were_exercised() -> None:
    # runs after the property above (file order); a layout generator that stopped producing
    # fine ranges, or coarse ones, would leave one path untested
    assert SEEN["table"] > 10 and SEEN["search"] > 3, SEEN


def test_a_table_never_exceeds_its_cell_limit() -> None:
    coarse = compile_flag(10_000, [(0, 5000, "on", "a"), (5000, 10_000, "off", "b")])
    width, cells = outcome_cells(coarse.rules[0])  # type: ignore[misc]
    assert (width, len(cells)) == (5000, 2)
    fine = compile_flag(10_000, [(0, 1, "on", "a"), (1, 10_000, "off", "b")])
    assert outcome_cells(fine.rules[0]) is None  # 10 000 cells of one bucket: over the limit
    limit = compile_flag(MAX_CELLS, [(0, 1, "on", "a"), (1, MAX_CELLS, "off", "b")])
    assert len(outcome_cells(limit.rules[0])[1]) == MAX_CELLS  # type: ignore[index]


def test_a_split_in_thirds_takes_a_coarse_table_cut_where_its_ranges_end() -> None:
    # 3 333 / 3 333 / 3 334 of 10 000 buckets: 10 000 exact cells, over the limit; 16 coarse
    # cells of 625 buckets, where 3 333 falls in cell 5 ([3 125, 3 750)) and 6 666 in cell 10
    thirds = [(0, 3333, "on", "a"), (3333, 6666, "off", "b"), (6666, 10_000, "clientDefault", "c")]
    plan = compile_flag(10_000, thirds)
    assert outcome_cells(plan.rules[0]) is None
    width, cells = coarse_cells(plan.rules[0])
    ids = [cell.assignment_id if cell is not None else None for cell in cells]
    assert (width, ids) == (625, ["a"] * 5 + [None] + ["b"] * 4 + [None] + ["c"] * 5)


def test_the_plan_calls_each_flags_own_resolver() -> None:
    # evaluate reads Plan.resolvers, built when the plan is; a compiler that set a flag's
    # resolver after building the plan would leave evaluate calling a stale one
    client = flagstone.Client.from_file(Path(__file__).parent.parent / "examples" / "flags.json")
    plan = client._plan
    assert plan.resolvers.keys() == plan.keys()
    for name, flag_plan in plan.items():
        assert plan.resolvers[name] is flag_plan.resolve
