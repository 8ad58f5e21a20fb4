"""The Alexa A/B-test states (seed 002) on native tests: ``AbTests.set_alexa_state`` for
every (current, target) pair, what each state serves, and ``alexa_state`` of an instance.

The seed's state machine: CREATED → ENABLED (overrides served), ENABLED → RUNNING (the
exposure enters the test), ENABLED or RUNNING → STOPPED (nobody); ENABLING is on its way to
ENABLED and behaves as it; STOPPING, STOPPED and FAILED are final. The transitional states
are read from an instance's ``origin`` (``{"format": "alexa", "state": ...}``).
"""

from __future__ import annotations

from typing import Any

import pytest
from freezegun import freeze_time

import flagstone
from flagstone import AbTestNotFound, AbTests, ConfigError, LifecycleError, Reason
from flagstone.model.abtests import ABTEST_INSTANCE
from flagstone.model.states import alexa_state as alexa_state_of_model
from tests.test_abtest_lifecycle import T0, T1, T2

FLAG = "flags/skill-greeting"
NAME = "workflows/abtest/instances/greeting"
EXPOSURE = 0.2
"""``exposurePercentage`` 20."""
UNITS = [f"customer-{i}" for i in range(4000)]

NATIVE: dict[str, tuple[str, bool]] = {
    "CREATED": ("draft", False),
    "ENABLING": ("draft", True),
    "ENABLED": ("draft", True),
    "RUNNING": ("live", True),
    "STOPPING": ("ended", True),
    "STOPPED": ("ended", True),
    "FAILED": ("ended", True),
}
"""The issue's mapping: Alexa state → native (state, preview)."""


def alexa_state(test: dict[str, Any]) -> str:
    """``flagstone.model.states.alexa_state`` of a test as ``AbTests`` returns it (JSON)."""
    return alexa_state_of_model(ABTEST_INSTANCE.validate_python(test))


TARGETS: dict[str, set[str]] = {
    "CREATED": {"ENABLED"},
    "ENABLING": {"RUNNING", "STOPPED"},
    "ENABLED": {"RUNNING", "STOPPED"},
    "RUNNING": {"STOPPED"},
    "STOPPING": set(),
    "STOPPED": set(),
    "FAILED": set(),
}
"""Seed 002's ``targetState`` transitions (ENABLING behaves as ENABLED)."""

TARGET_STATES = ["ENABLED", "RUNNING", "STOPPED"]
"""The seed's valid values of ``targetState``."""
NOT_TARGETS = ["CREATED", "ENABLING", "STOPPING", "FAILED"]
"""States a test reaches only by itself: never a ``targetState``."""

SERVES_OVERRIDES = {"ENABLING", "ENABLED", "RUNNING"}
SERVES_EXPOSURE = {"RUNNING"}


def skill_flag() -> dict[str, Any]:
    """The flag an Alexa test becomes: variants C and T1."""
    return {
        "name": FLAG,
        "variants": [
            {"name": "C", "value": {"treatment": "C"}},
            {"name": "T1", "value": {"treatment": "T1"}},
        ],
        "rules": [],
    }


def document(*abtests: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": {"name": "accounts/acme"},
        "flags": [skill_flag()],
        "segments": [],
        "abtests": list(abtests),
    }


def create_body(**fields: Any) -> dict[str, Any]:
    """A 50/50 C/T1 test exposed to 20 % with the override qa-1 → T1."""
    return {
        "displayName": "my_first_experiment",
        "abtest": {
            "treatments": [
                {"variant": f"{FLAG}/variants/C", "weight": 5000},
                {"variant": f"{FLAG}/variants/T1", "weight": 5000},
            ]
        },
        "segment": {"allocation": {"proportion": EXPOSURE}},
        "treatmentOverrides": {"qa-1": "T1"},
        **fields,
    }


def native(alexa: str) -> AbTests:
    """A test with no origin brought into ``alexa`` (CREATED, ENABLED, RUNNING or STOPPED)
    through the native lifecycle."""
    with freeze_time(T0):
        tests = AbTests(document())
        tests.create(create_body(preview=False), abtest_id="greeting")
    steps = {
        "CREATED": [],
        "ENABLED": ["enable"],
        "RUNNING": ["enable", "launch"],
        "STOPPED": ["enable", "launch", "end"],
    }[alexa]
    with freeze_time(T1):
        for step in steps:
            getattr(tests, step)(NAME)
    return tests


HISTORY = {"creationTime": "2021-04-19T18:43:48.383Z"}


def read_as(alexa: str) -> AbTests:
    """A test read from an Alexa document in state ``alexa``: the native state the issue
    maps it to, with the Alexa state and fields kept in ``origin``."""
    state, preview = NATIVE[alexa]
    instance: dict[str, Any] = {
        "name": NAME,
        "state": state,
        "preview": preview,
        "createTime": T0,
        "updateTime": T1,
        **create_body(),
        "origin": {
            "format": "alexa",
            "state": alexa,
            "fields": {"plannedDuration": "P4W", "history": dict(HISTORY)},
        },
    }
    if state in ("live", "ended"):
        instance["launchTime"] = T1
    if state == "ended":
        instance["endTime"] = T1
    return AbTests(document(instance))


NATIVE_STATES = ["CREATED", "ENABLED", "RUNNING", "STOPPED"]
CASES = [("native", state) for state in NATIVE_STATES] + [("origin", state) for state in NATIVE]


def build(kind: str, alexa: str) -> AbTests:
    return native(alexa) if kind == "native" else read_as(alexa)


def case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


def serve(tests: AbTests, unit: str) -> flagstone.Resolution:
    client = flagstone.Client.from_dict(tests.document)
    try:
        return client.evaluate(FLAG, {"targeting_key": unit})
    finally:
        client.close()


LEGAL = [
    (kind, current, target)
    for kind, current in CASES
    for target in TARGET_STATES
    if target in TARGETS[current]
]
ILLEGAL = [
    (kind, current, target)
    for kind, current in CASES
    for target in TARGET_STATES + NOT_TARGETS
    if target not in TARGETS[current]
]


def transition_id(kind: str, current: str, target: str) -> str:
    return f"{kind}-{current}-to-{target}"


# -- the states are what they claim -----------------------------------------------------------


@pytest.mark.parametrize(("kind", "alexa"), CASES, ids=[case_id(c) for c in CASES])
def test_each_alexa_state_reads_back_as_itself(kind: str, alexa: str) -> None:
    assert alexa_state(build(kind, alexa).get(NAME)) == alexa


@pytest.mark.parametrize(
    ("extra", "steps", "expected"),
    [
        ({"preview": False}, [], "CREATED"),
        ({}, [], "ENABLED"),
        ({"preview": False}, ["enable"], "ENABLED"),
        ({}, ["launch"], "RUNNING"),
        ({"preview": False}, ["launch"], "RUNNING"),
        ({"materialization": "materializations/m"}, ["launch", "pause"], "RUNNING"),
        ({}, ["launch", "end"], "STOPPED"),
        ({}, ["archive"], "STOPPED"),
        ({}, ["launch", "end", "archive"], "STOPPED"),
    ],
    ids=[
        "draft-unpreviewed",
        "draft",
        "enabled-draft",
        "live",
        "live-from-unpreviewed",
        "live-paused",
        "ended",
        "archived-draft",
        "archived",
    ],
)
def test_alexa_state_of_a_native_instance(
    extra: dict[str, Any], steps: list[str], expected: str
) -> None:
    tests = AbTests(document())
    tests.create(create_body(**extra), abtest_id="greeting")
    for step in steps:
        getattr(tests, step)(NAME)
    assert alexa_state(tests.get(NAME)) == expected


@pytest.mark.parametrize(
    ("origin_state", "step", "expected"),
    [
        ("ENABLING", "launch", "RUNNING"),
        ("RUNNING", "end", "STOPPED"),
        ("CREATED", "enable", "ENABLED"),
    ],
)
def test_a_kept_alexa_state_that_no_longer_describes_the_test_is_not_reported(
    origin_state: str, step: str, expected: str
) -> None:
    tests = read_as(origin_state)
    getattr(tests, step)(NAME)
    assert alexa_state(tests.get(NAME)) == expected


# -- set_alexa_state: every (current, target) pair -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "current", "target"), LEGAL, ids=[transition_id(*case) for case in LEGAL]
)
def test_a_legal_target_state_becomes_the_tests_alexa_state(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    with freeze_time(T2):
        tests.set_alexa_state(NAME, target)
    assert alexa_state(tests.get(NAME)) == target


@pytest.mark.parametrize(
    ("kind", "current", "target"), LEGAL, ids=[transition_id(*case) for case in LEGAL]
)
def test_a_legal_target_state_sets_the_native_state(kind: str, current: str, target: str) -> None:
    tests = build(kind, current)
    with freeze_time(T2):
        tests.set_alexa_state(NAME, target)
    instance = tests.get(NAME)
    state, preview = NATIVE[target]
    assert instance["state"] == state
    assert instance.get("preview", True) is preview


@pytest.mark.parametrize(
    ("kind", "current", "target"), LEGAL, ids=[transition_id(*case) for case in LEGAL]
)
def test_a_legal_target_state_stamps_its_times_from_the_clock(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    with freeze_time(T2):
        returned = tests.set_alexa_state(NAME, target)
    assert returned["updateTime"] == T2
    assert returned["createTime"] == T0
    if target == "RUNNING":
        assert returned["launchTime"] == T2
    if target == "STOPPED":
        assert returned["endTime"] == T2


@pytest.mark.parametrize(
    ("kind", "current", "target"), LEGAL, ids=[transition_id(*case) for case in LEGAL]
)
def test_a_legal_target_state_returns_the_test_as_stored(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    assert tests.set_alexa_state(NAME, target) == tests.get(NAME)


@pytest.mark.parametrize(
    ("current", "target"),
    [(current, target) for kind, current, target in LEGAL if kind == "origin"],
)
def test_a_legal_target_state_is_kept_as_the_origin_state(current: str, target: str) -> None:
    tests = read_as(current)
    tests.set_alexa_state(NAME, target)
    assert tests.get(NAME)["origin"]["state"] == target


@pytest.mark.parametrize(
    ("kind", "current", "target"), ILLEGAL, ids=[transition_id(*case) for case in ILLEGAL]
)
def test_an_illegal_target_state_raises_a_lifecycle_error_with_the_state_and_allowed_targets(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    with pytest.raises(LifecycleError) as caught:
        tests.set_alexa_state(NAME, target)
    assert caught.value.state == current
    assert set(caught.value.allowed) == TARGETS[current]


@pytest.mark.parametrize(
    ("kind", "current", "target"), ILLEGAL, ids=[transition_id(*case) for case in ILLEGAL]
)
def test_an_illegal_target_state_message_names_the_state_and_the_allowed_targets(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    with pytest.raises(LifecycleError) as caught:
        tests.set_alexa_state(NAME, target)
    message = str(caught.value)
    assert current in message
    assert target in message
    for allowed in TARGETS[current]:
        assert allowed in message


@pytest.mark.parametrize(
    ("kind", "current", "target"), ILLEGAL, ids=[transition_id(*case) for case in ILLEGAL]
)
def test_an_illegal_target_state_leaves_the_document_unchanged(
    kind: str, current: str, target: str
) -> None:
    tests = build(kind, current)
    before = tests.document
    with freeze_time(T2), pytest.raises(LifecycleError):
        tests.set_alexa_state(NAME, target)
    assert tests.document == before


@pytest.mark.parametrize("target", ["PAUSED", "running", ""])
def test_a_target_state_the_seed_does_not_name_is_refused(target: str) -> None:
    tests = native("ENABLED")
    before = tests.document
    with pytest.raises((LifecycleError, ValueError)):
        tests.set_alexa_state(NAME, target)
    assert tests.document == before


def test_set_alexa_state_of_an_unknown_test_raises_ab_test_not_found() -> None:
    with pytest.raises(AbTestNotFound):
        native("ENABLED").set_alexa_state("nosuchtest", "RUNNING")


def test_becoming_running_checks_the_test_as_launch_does() -> None:
    tests = native("ENABLED")
    tests.update(NAME, {"endTime": "2025-11-01T00:00:00Z"})
    before = tests.document
    with freeze_time(T2), pytest.raises(ConfigError):
        tests.set_alexa_state(NAME, "RUNNING")
    assert tests.document == before


def test_stopping_a_running_test_with_paused_intake_ends_it() -> None:
    tests = AbTests(document())
    tests.create(create_body(materialization="materializations/m"), abtest_id="greeting")
    tests.launch(NAME)
    tests.pause(NAME)
    tests.set_alexa_state(NAME, "STOPPED")
    assert tests.get(NAME)["state"] == "ended"


# -- what each state serves -------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "alexa"), CASES, ids=[case_id(c) for c in CASES])
def test_overrides_are_served_only_while_enabled_or_running(kind: str, alexa: str) -> None:
    resolution = serve(build(kind, alexa), "qa-1")
    if alexa in SERVES_OVERRIDES:
        assert resolution.reason is Reason.OVERRIDE
        assert resolution.variant == "T1"
    else:
        assert resolution.reason is Reason.NO_SEGMENT_MATCH
        assert resolution.variant is None


@pytest.mark.parametrize(("kind", "alexa"), CASES, ids=[case_id(c) for c in CASES])
def test_only_a_running_test_serves_its_exposure(kind: str, alexa: str) -> None:
    tests = build(kind, alexa)
    with flagstone.Client.from_dict(tests.document) as client:
        served = [client.evaluate(FLAG, {"targeting_key": unit}) for unit in UNITS]
    in_test = [r for r in served if r.reason is Reason.MATCH]
    if alexa in SERVES_EXPOSURE:
        # 20 % of 4000 customers: within 5 standard deviations of the binomial
        spread = 5 * (len(UNITS) * EXPOSURE * (1 - EXPOSURE)) ** 0.5
        assert abs(len(in_test) - EXPOSURE * len(UNITS)) < spread
        assert {r.variant for r in in_test} == {"C", "T1"}
    else:
        assert in_test == []


@pytest.mark.parametrize(("kind", "alexa"), CASES, ids=[case_id(c) for c in CASES])
def test_customers_outside_the_test_get_no_variant(kind: str, alexa: str) -> None:
    tests = build(kind, alexa)
    with flagstone.Client.from_dict(tests.document) as client:
        served = [client.evaluate(FLAG, {"targeting_key": unit}) for unit in UNITS[:500]]
    for resolution in served:
        if resolution.reason is not Reason.MATCH:
            assert resolution.reason is Reason.NO_SEGMENT_MATCH
            assert resolution.variant is None


def test_enabling_a_created_test_serves_its_overrides() -> None:
    tests = native("CREATED")
    assert serve(tests, "qa-1").reason is Reason.NO_SEGMENT_MATCH
    tests.set_alexa_state(NAME, "ENABLED")
    assert serve(tests, "qa-1").reason is Reason.OVERRIDE


@pytest.mark.parametrize("current", ["ENABLED", "RUNNING"])
def test_stopping_a_test_serves_nobody(current: str) -> None:
    tests = native(current)
    tests.set_alexa_state(NAME, "STOPPED")
    for unit in ["qa-1", *UNITS[:200]]:
        assert serve(tests, unit).reason is Reason.NO_SEGMENT_MATCH


# -- the Alexa fields kept in origin ----------------------------------------------------------


@pytest.mark.parametrize("current", ["ENABLING", "ENABLED", "RUNNING"])
@pytest.mark.parametrize("reason", ["DEVELOPER_REQUEST", "EXPERIMENT_SUCCESS", "EXPERIMENT_ISSUE"])
def test_the_stopped_reason_is_kept_in_the_origin_history(current: str, reason: str) -> None:
    tests = read_as(current)
    tests.set_alexa_state(NAME, "STOPPED", stopped_reason=reason)
    assert tests.get(NAME)["origin"]["fields"]["history"]["stoppedReason"] == reason


def test_stopping_keeps_the_rest_of_the_origin_history_and_fields() -> None:
    tests = read_as("RUNNING")
    tests.set_alexa_state(NAME, "STOPPED", stopped_reason="EXPERIMENT_SUCCESS")
    fields = tests.get(NAME)["origin"]["fields"]
    assert fields["plannedDuration"] == "P4W"
    assert fields["history"]["creationTime"] == HISTORY["creationTime"]


def test_stopping_without_a_reason_records_none() -> None:
    tests = read_as("RUNNING")
    tests.set_alexa_state(NAME, "STOPPED")
    assert tests.get(NAME)["origin"]["fields"]["history"] == HISTORY


def test_a_stopped_reason_is_recorded_in_a_history_that_did_not_exist() -> None:
    instance = read_as("RUNNING").get(NAME)
    instance["origin"]["fields"] = {}
    tests = AbTests(document(instance))
    tests.set_alexa_state(NAME, "STOPPED", stopped_reason="EXPERIMENT_ISSUE")
    assert tests.get(NAME)["origin"]["fields"]["history"] == {"stoppedReason": "EXPERIMENT_ISSUE"}


def test_a_native_test_gains_no_origin_from_an_alexa_state_change() -> None:
    tests = native("ENABLED")
    tests.set_alexa_state(NAME, "RUNNING")
    assert "origin" not in tests.get(NAME)


def test_a_stopped_reason_goes_only_with_the_target_state_stopped() -> None:
    tests = native("ENABLED")
    before = tests.document
    with pytest.raises(ValueError, match="STOPPED"):
        tests.set_alexa_state(NAME, "RUNNING", stopped_reason="DEVELOPER_REQUEST")
    assert tests.document == before


def test_a_native_test_stopped_with_a_reason_gains_an_alexa_origin_that_keeps_it() -> None:
    tests = native("RUNNING")
    tests.set_alexa_state(NAME, "STOPPED", stopped_reason="EXPERIMENT_SUCCESS")
    assert tests.get(NAME)["origin"] == {
        "format": "alexa",
        "state": "STOPPED",
        "fields": {"history": {"stoppedReason": "EXPERIMENT_SUCCESS"}},
    }
