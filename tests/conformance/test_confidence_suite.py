"""Spotify Confidence's resolver conformance suite, every case through the public API.

Each case builds a ``Client`` for the suite's state (parsed once, in lenient mode: the
state deliberately holds unknown segments, cycles and unrecognised rules) with the case's
client secret and materializations, then resolves the requested flags with ``evaluate`` (or
``evaluate_all`` when a case asks for all flags) and compares flag, reason, variant, value,
should_apply, the assignment id and the rule where the case names them, against the
``general`` expectation. The suite's resolve leaves out flags the client may not see and
archived flags; ``evaluate`` reports those as FLAG_NOT_FOUND / FLAG_ARCHIVED, which is
checked too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import flagstone
from flagstone import Reason

from ..conftest import SUITE_DIR, require_suite, suite_present

EXPECTED_CASES = 166


def _cases() -> list[dict[str, Any]]:
    if not suite_present():
        return []
    return json.loads((SUITE_DIR / "tests.json").read_text())


CASES = _cases()


def test_the_suite_is_present_and_complete() -> None:
    require_suite()
    assert len(CASES) == EXPECTED_CASES


def test_the_suite_state_loads_leniently_and_is_refused_strictly(
    suite_state: dict[str, Any],
) -> None:
    # what every case below relies on: Client.from_dict takes the state in lenient mode
    assert flagstone.Client.from_dict(suite_state, strict=False).flags
    with pytest.raises(flagstone.ConfigError):
        flagstone.Client.from_dict(suite_state)


def _client(snapshot: Any, case: dict[str, Any], sink: flagstone.sinks.MemorySink):
    return flagstone.Client(
        snapshot,
        client_secret=case["resolveRequest"]["clientSecret"],
        materializations=flagstone.MemoryMaterializationStore(case.get("materializations")),
        sinks=[sink],
    )


def _assert_matches(resolution: flagstone.Resolution, expected: dict[str, Any]) -> None:
    assert resolution.flag == expected["flag"]
    assert resolution.reason == Reason(expected["reason"])
    assert resolution.variant == (expected["variant"] or None)
    assert resolution.value == expected["value"]
    if expected.get("shouldApply") is not None:
        assert resolution.should_apply is expected["shouldApply"]
    if "assignmentId" in expected:
        assert resolution.assignment_id == expected["assignmentId"]
    if "assignmentOrigin" in expected:
        assert resolution.rule == expected["assignmentOrigin"]
    expected_error = (
        flagstone.ErrorCode.TARGETING_KEY_ERROR
        if resolution.reason is Reason.TARGETING_KEY_ERROR
        else None
    )
    assert resolution.error is expected_error


@pytest.mark.parametrize(
    "case",
    # without the suite, one placeholder case skips with where to get it (an empty parameter
    # set would only say "got empty parameter set")
    CASES or [None],
    ids=[case["name"] for case in CASES] or ["suite-absent"],
)
def test_case(case: dict[str, Any] | None, suite_snapshot: Any) -> None:
    if case is None:
        require_suite()
        return
    request = case["resolveRequest"]
    expected = case["expectedResult"]["general"]
    assert expected["expectError"] is None
    sink = flagstone.sinks.MemorySink(dedup=False)
    client = _client(suite_snapshot, case, sink)
    context = request["evaluationContext"]
    apply = bool(request.get("apply", False))

    if request["flags"]:
        resolutions = [client.evaluate(flag, context, apply=apply) for flag in request["flags"]]
        by_flag = {r.flag: r for r in resolutions}
        expected_flags = [item["flag"] for item in expected["resolvedFlags"]]
        for resolution in resolutions:
            if resolution.flag not in expected_flags:
                # the suite's resolve leaves out flags the client may not see, and archived ones
                assert resolution.reason in (Reason.FLAG_NOT_FOUND, Reason.FLAG_ARCHIVED)
                assert resolution.variant is None and not resolution.should_apply
        for item in expected["resolvedFlags"]:
            _assert_matches(by_flag[item["flag"]], item)
    else:
        resolutions = list(client.evaluate_all(context, apply=apply).values())
        assert [r.flag for r in resolutions] == [i["flag"] for i in expected["resolvedFlags"]]
        for resolution, item in zip(resolutions, expected["resolvedFlags"], strict=True):
            _assert_matches(resolution, item)

    applied = [r.flag for r in resolutions if r.should_apply] if apply else []
    assert [event["flag"] for event in sink.events] == applied
