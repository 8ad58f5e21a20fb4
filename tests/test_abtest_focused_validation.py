"""A lifecycle change validates only the test it changed
(``flagstone.model.validation.check_abtest_change``); this checks that it decides exactly as
validating the whole new snapshot would.

Random sequences of lifecycle operations run on a snapshot built to make changes matter
elsewhere: a top-level segment holding exclusive buckets, a segment and a flag rule that name
a test's segment (so deleting or renaming it breaks them), a segment a test's targeting can
reference back (a cycle), an archived flag. Each operation runs twice, once as the lifecycle
runs it and once with the focused check switched off; the second result is then validated
whole with ``parse_snapshot``, the reference. The lifecycle must accept exactly the changes the
reference accepts (with the same document) and refuse the others with the same problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone import ConfigError
from flagstone.abtests import document as document_module
from flagstone.abtests import transitions
from flagstone.abtests.document import Change, Document
from flagstone.errors import Problem
from flagstone.formats import parse_snapshot
from flagstone.model.validation import Findings

NOW = "2026-03-01T12:00:00Z"
IDS = ("seed", "a", "b", "c")


def flag(name: str, variants: tuple[str, str], state: str = "ACTIVE") -> dict[str, Any]:
    return {"name": name, "state": state, "variants": [{"name": v} for v in variants]}


def snapshot() -> dict[str, Any]:
    search = flag("flags/search", ("off", "on"))
    search["rules"] = [
        {
            "name": "flags/search/rules/seed-users",
            "segment": "segments/abtest-seed",
            "assignmentSpec": {
                "bucketCount": 2,
                "assignments": [
                    {
                        "assignmentId": "off",
                        "variant": {"variant": "off"},
                        "bucketRanges": [{"upper": 2}],
                    }
                ],
            },
        }
    ]
    return {
        "account": {"name": "accounts/acme"},
        "flags": [
            flag("flags/checkout", ("control", "treatment")),
            search,
            flag("flags/old", ("a", "b"), "ARCHIVED"),
        ],
        "segments": [
            {
                "name": "segments/pool",
                "allocation": {
                    "exclusivityTags": ["checkout"],
                    "bucketRanges": [{"lower": 0, "upper": 200000}],
                },
            },
            {
                "name": "segments/uses-seed",
                "targeting": {
                    "criteria": {"s": {"segment": {"segment": "segments/abtest-seed"}}},
                    "expression": {"ref": "s"},
                },
            },
        ],
        "abtests": [
            {
                "name": "workflows/abtest/instances/seed",
                "abtest": {"treatments": treatments("flags/search", ("off", "on"))},
            }
        ],
    }


def treatments(flag_name: str, variants: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"variant": f"{flag_name}/variants/{v}", "weight": 5000} for v in variants]


FLAG_CHOICES = [
    *[("flags/checkout", ("control", "treatment"))] * 3,
    *[("flags/search", ("off", "on"))] * 3,
    ("flags/old", ("a", "b")),
    ("flags/missing", ("x", "y")),
    ("flags/checkout", ("control", "nope")),
]
SEGMENT_NAMES = st.sampled_from(
    [None, None, None, None, "segments/pool", "segments/mine", "segments/abtest-a"]
)
REFERENCES = st.sampled_from(["segments/uses-seed", "segments/pool", "segments/missing"])
ALLOCATIONS = st.one_of(
    st.none(),
    st.builds(lambda p: {"proportion": p}, st.sampled_from([0.1, 0.5, 0.9, 0.05])),
    st.builds(
        lambda p: {"exclusivityTags": ["checkout"], "proportion": p},
        st.sampled_from([0.1, 0.5, 0.85, 0.9]),
    ),
    st.builds(
        lambda lower: {
            "exclusivityTags": ["checkout"],
            "bucketRanges": [{"lower": lower, "upper": lower + 100000}],
        },
        st.sampled_from([100000, 300000, 500000]),
    ),
)


@st.composite
def segments(draw: st.DrawFn) -> dict[str, Any]:
    segment: dict[str, Any] = {}
    name = draw(SEGMENT_NAMES)
    if name is not None:
        segment["name"] = name
    if draw(st.integers(0, 2)) == 0:
        segment["targeting"] = {
            "criteria": {"r": {"segment": {"segment": draw(REFERENCES)}}},
            "expression": {"ref": "r"},
        }
    allocation = draw(ALLOCATIONS)
    if allocation is not None:
        segment["allocation"] = allocation
    return segment


@st.composite
def operations(draw: st.DrawFn, existing: list[str]) -> tuple[str, Callable[[Document], Change]]:
    """One operation; all but creations mostly name a test that exists."""
    name = (
        draw(st.sampled_from(existing))
        if existing and draw(st.integers(0, 9))
        else draw(st.sampled_from(IDS))
    )
    kind = draw(
        st.sampled_from(
            [
                "create",
                "update",
                "update-segment",
                "exposure",
                "override",
                "launch",
                "end",
                "archive",
                "delete",
                "enable",
                "pause",
                "resume",
            ]
        )
    )
    if kind == "create":
        fresh = [test_id for test_id in IDS if test_id not in existing]
        if fresh and draw(st.integers(0, 4)):
            name = draw(st.sampled_from(fresh))
        flag_name, variants = draw(st.sampled_from(FLAG_CHOICES))
        body: dict[str, Any] = {
            "displayName": draw(st.sampled_from(["One", "Two", "Three", "Four", "Five"])),
            "abtest": {"treatments": treatments(flag_name, variants)},
            "segment": draw(segments()),
            "preview": draw(st.booleans()),
        }
        if draw(st.booleans()):
            body["materialization"] = "materializations/m"
        if draw(st.booleans()):
            body["endTime"] = draw(
                st.sampled_from(["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
            )
        return f"create {name} {body}", lambda d: transitions.create(d, body, abtest_id=name)
    if kind == "update":
        changes = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "displayName": st.sampled_from(["One", "Two", "Other"]),
                    "segment": segments(),
                    "startTime": st.sampled_from(["2098-01-01T00:00:00Z", "not a time"]),
                    "treatmentOverrides": st.sampled_from([{"u": "control"}, {"u": "on"}]),
                },
            )
        )
        return f"update {name} {changes}", lambda d: transitions.update(d, name, changes)
    if kind == "update-segment":
        segment = draw(segments())
        mask = draw(st.sampled_from(["targeting", "allocation", "targeting,allocation"]))
        return (
            f"update-segment {name} {segment} {mask}",
            lambda d: transitions.update_segment(d, name, segment, mask),
        )
    if kind == "exposure":
        share = draw(st.sampled_from([0.05, 0.3, 0.6, 0.95]))
        return f"exposure {name} {share}", lambda d: transitions.set_exposure(
            d, name, proportion=share
        )
    if kind == "override":
        variant = draw(st.sampled_from(["control", "on", "off", "nope"]))
        return f"override {name} {variant}", lambda d: transitions.set_override(
            d, name, "u", variant
        )
    action = getattr(transitions, kind)
    return f"{kind} {name}", lambda d: action(d, name)


@contextmanager
def focused_check_off() -> Iterator[None]:
    nothing = Findings(problems=[], warnings=[])
    with mock.patch.object(document_module, "check_abtest_change", lambda *a, **k: nothing):
        yield


def outcome(operation: Callable[[Document], Change], document: Document) -> Change | Exception:
    try:
        return operation(document)
    except Exception as error:  # compared below, whatever it is
        return error


def problems_of_whole(raw: Any, strict: bool) -> list[Problem]:
    try:
        parse_snapshot(raw, strict=strict)
    except ConfigError as error:
        return list(error.problems)
    return []


@settings(max_examples=200, deadline=None)
@given(data=st.data(), strict=st.booleans())
def test_a_change_is_accepted_exactly_when_the_whole_new_snapshot_is_valid(
    data: st.DataObject, strict: bool
) -> None:
    document = Document.parse(snapshot(), strict=strict)
    with mock.patch.object(transitions, "now_timestamp", lambda: NOW):
        for _ in range(data.draw(st.integers(min_value=1, max_value=12))):
            existing = [test.instance_id for test in document.model.abtests]
            label, operation = data.draw(operations(existing))
            with focused_check_off():
                reference = outcome(operation, document)
            made = outcome(operation, document)
            if isinstance(reference, Exception):  # refused before any validation of the whole
                assert type(made) is type(reference) and str(made) == str(reference), label
                continue
            whole = problems_of_whole(reference.document.raw, strict)
            if whole:
                assert isinstance(made, ConfigError), (label, whole)
                assert {p.message for p in made.problems} == {p.message for p in whole}, label
            else:
                assert isinstance(made, Change), (label, made)
                assert made.document.raw == reference.document.raw, label
                document = made.document


def test_a_change_logs_the_warnings_of_the_test_it_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = Document.parse(snapshot())
    version_zero = {
        "criteria": {
            "v": {
                "attribute": {
                    "attributeName": "app_version",
                    "rangeRule": {"startInclusive": {"versionValue": {"version": "v2"}}},
                }
            }
        },
        "expression": {"ref": "v"},
    }

    with caplog.at_level("WARNING", logger="flagstone"):
        change = transitions.update_segment(
            document, "seed", {"targeting": version_zero}, "targeting"
        )

    (record,) = [r for r in caplog.records if r.name == "flagstone"]
    assert record.levelname == "WARNING"
    path = "$.abtests[0].segment.targeting.criteria.v.attribute.rangeRule.startInclusive"
    assert f"{path}.versionValue.version" in record.getMessage()
    assert change.document.model.abtests[0].segment is not None
