"""The Alexa A/B-testing shape (seed 002): ``flagstone.formats.alexa``'s ``read`` (Alexa →
native snapshot document) and ``write`` (native → Alexa), issue 5 item 4.

An Alexa experiment is a flag ``flags/{name}`` with variants C and T1 and an A/B-test instance
``workflows/abtest/instances/{experimentId}`` at 50/50 whose allocation proportion is
``exposurePercentage / 100``. Expected buckets are computed here with mmh3 from DESIGN.md's
rules (salt ``abtest-{id}`` for the variant, ``allocation-abtest-{id}`` for the exposure).
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

import mmh3
import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone import ConfigError, Reason
from flagstone.formats import parse_snapshot
from flagstone.formats.alexa import (
    create_entry,
    name_clashes,
    read,
    treatment_override_count,
    update_entry,
    write,
)

# -- seed 002's examples, copied as the seed writes them ------------------------------------------

SEED_CREATE_BODY: dict[str, Any] = {
    "experiment": {
        "name": "my_first_experiment",
        "description": "experiment_1",
        "type": "ENDPOINT_BASED",
        "plannedDuration": "P4W",
        "exposurePercentage": 20,
        "metricConfigurations": [
            {
                "name": "Customer Friction",
                "metricTypes": ["GUARDRAIL"],
                "expectedChange": "INCREASE",
            }
        ],
    }
}

SEED_GET_RESPONSE: dict[str, Any] = {
    "experiment": {
        "name": "my_first_experiment",
        "description": "experiment_1",
        "type": "ENDPOINT_BASED",
        "plannedDuration": "P3W",
        "exposurePercentage": 0,
        "metricConfigurations": [
            {
                "name": "Customer Friction",
                "metricTypes": ["GUARDRAIL"],
                "expectedChange": "INCREASE",
            }
        ],
        "state": "CREATED",
        "history": {
            "creationTime": "2021-04-19T18:43:48.383Z",
            "startTime": "2021-04-19T18:43:48.383Z",
            "stoppedReason": "string",
        },
        "trigger": {"scheduledEndTime": "2021-04-19T18:43:48.383Z"},
    }
}

SEED_UPDATE_BODY: dict[str, Any] = {
    "experiment": {
        "description": "experiment_1",
        "plannedDuration": "P3W",
        "exposurePercentage": 0,
        "metricConfigurations": [
            {
                "name": "Customer Friction",
                "metricTypes": ["GUARDRAIL"],
                "expectedChange": "INCREASE",
            }
        ],
    }
}

SEED_SET_OVERRIDE_BODY = {"treatmentId": "T1"}
SEED_GET_OVERRIDE_RESPONSE = {"treatmentId": "T1", "treatmentOverrideCount": 2}
SEED_GET_STATE_RESPONSE = {"state": "CREATED"}
SEED_UPDATE_STATE_BODY = {"targetState": "ENABLED"}
SEED_UPDATE_EXPOSURE_BODY = {"exposurePercentage": 60}

SEED_EXPERIMENT_KEYS = [
    "name",
    "description",
    "type",
    "plannedDuration",
    "exposurePercentage",
    "metricConfigurations",
    "state",
    "history",
    "trigger",
]

ALEXA_STATES = ["CREATED", "ENABLING", "ENABLED", "RUNNING", "STOPPING", "STOPPED", "FAILED"]
LOW_64 = 2**64 - 1


# -- builders -------------------------------------------------------------------------------------


def experiment(**changes: Any) -> dict[str, Any]:
    """The seed's Get A/B test ``experiment`` object with ``changes`` (``None`` removes a key)."""
    result: dict[str, Any] = copy.deepcopy(SEED_GET_RESPONSE["experiment"])
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def entry(
    experiment_id: str = "exp-1", overrides: dict[str, Any] | None = None, **changes: Any
) -> dict[str, Any]:
    """One experiment of the file shape."""
    result: dict[str, Any] = {"experimentId": experiment_id, "experiment": experiment(**changes)}
    if overrides is not None:
        result["treatmentOverrides"] = overrides
    return result


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"experiments": list(entries)}


def running(
    experiment_id: str = "exp-1",
    name: str = "my_first_experiment",
    exposure: int = 100,
    overrides: dict[str, Any] | None = None,
    state: str = "RUNNING",
) -> dict[str, Any]:
    """A one-experiment document without a scheduled end (so it serves whenever it runs)."""
    return document(
        entry(
            experiment_id,
            overrides,
            name=name,
            state=state,
            exposurePercentage=exposure,
            trigger=None,
        )
    )


def client(doc: dict[str, Any]) -> flagstone.Client:
    return flagstone.Client.from_dict(read(doc))


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {problem.path: problem.message for problem in error.value.problems}


def bucket(key: str, count: int) -> int:
    return ((mmh3.hash128(key, 0, True, False) & LOW_64) >> 4) % count


def expected_treatment(experiment_id: str, exposure: int, unit: str) -> str | None:
    """DESIGN.md's rule for a test without a segment name: exposed iff the allocation bucket
    is below the proportion; C is the first 5000 of 10 000 buckets, T1 the rest."""
    if bucket(f"allocation-abtest-{experiment_id}|{unit}", 1_000_000) >= exposure * 10_000:
        return None
    return "C" if bucket(f"abtest-{experiment_id}|{unit}", 10_000) < 5000 else "T1"


def treatment(resolution: flagstone.Resolution) -> str | None:
    return None if resolution.variant is None else resolution.variant.rsplit("/", 1)[-1]


# -- the seed's examples --------------------------------------------------------------------------


SEED_GET_RESPONSE_NATIVE: dict[str, Any] = {
    "flags": {
        "flags/my_first_experiment": {
            "name": "flags/my_first_experiment",
            "variants": [
                {"name": "C", "value": {"treatment": "C"}},
                {"name": "T1", "value": {"treatment": "T1"}},
            ],
        }
    },
    "abtests": [
        {
            "name": "workflows/abtest/instances/my_first_experiment",
            "displayName": "my_first_experiment",
            "description": "experiment_1",
            "state": "draft",
            "preview": False,
            "flags": {"targetingKeySelector": "targeting_key"},
            "abtest": {
                "treatments": [
                    {"variant": "flags/my_first_experiment/variants/C", "weight": 5000},
                    {"variant": "flags/my_first_experiment/variants/T1", "weight": 5000},
                ]
            },
            "segment": {"allocation": {"proportion": 0.0}},
            "createTime": "2021-04-19T18:43:48.383Z",
            "launchTime": "2021-04-19T18:43:48.383Z",
            "endTime": "2021-04-19T18:43:48.383Z",
            "origin": {
                "format": "alexa",
                "state": "CREATED",
                "fields": {
                    "type": "ENDPOINT_BASED",
                    "plannedDuration": "P3W",
                    "metricConfigurations": [
                        {
                            "name": "Customer Friction",
                            "metricTypes": ["GUARDRAIL"],
                            "expectedChange": "INCREASE",
                        }
                    ],
                    "history": {"stoppedReason": "string"},
                    "trigger": {"scheduledEndTime": "2021-04-19T18:43:48.383Z"},
                },
            },
        }
    ],
}


def test_the_seed_get_response_reads_as_a_flag_and_a_draft_test_field_by_field() -> None:
    assert read(SEED_GET_RESPONSE) == SEED_GET_RESPONSE_NATIVE


def test_the_seed_get_response_reads_as_a_valid_native_snapshot() -> None:
    parse_snapshot(read(SEED_GET_RESPONSE))


def test_the_seed_create_body_reads_as_a_created_test_with_its_exposure() -> None:
    (instance,) = read(SEED_CREATE_BODY)["abtests"]

    assert instance["name"] == "workflows/abtest/instances/my_first_experiment"
    assert (instance["state"], instance["preview"]) == ("draft", False)
    assert instance["origin"]["state"] == "CREATED"
    assert instance["segment"] == {"allocation": {"proportion": 0.2}}
    assert instance["origin"]["fields"]["plannedDuration"] == "P4W"
    assert "createTime" not in instance and "endTime" not in instance


def test_the_seed_get_response_in_the_file_shape_round_trips() -> None:
    doc = document({"experimentId": "my_first_experiment", **copy.deepcopy(SEED_GET_RESPONSE)})

    assert write(read(doc)) == doc


def test_a_single_response_is_written_back_in_the_file_shape_keyed_by_its_name() -> None:
    assert write(read(SEED_GET_RESPONSE)) == document(
        {"experimentId": "my_first_experiment", **SEED_GET_RESPONSE}
    )


def test_the_seed_update_body_is_no_experiment_it_has_no_name() -> None:
    with pytest.raises(ConfigError) as error:
        read(SEED_UPDATE_BODY)

    assert problems_of(error) == {
        "$.experiment.name": "required field is missing",
        "$.experiment.type": "required field is missing",
    }


@pytest.mark.parametrize(
    "payload",
    [
        SEED_SET_OVERRIDE_BODY,
        SEED_GET_OVERRIDE_RESPONSE,
        SEED_GET_STATE_RESPONSE,
        SEED_UPDATE_STATE_BODY,
        SEED_UPDATE_EXPOSURE_BODY,
    ],
)
def test_the_seeds_other_payloads_are_no_alexa_documents(payload: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        read(payload)

    assert list(problems_of(error)) == ["$"]


def test_the_seed_override_count_agrees_with_the_listed_overrides_and_is_dropped() -> None:
    doc = document(
        {
            **entry(overrides={"customer-1": "T1", "customer-2": "C"}),
            "treatmentOverrideCount": SEED_GET_OVERRIDE_RESPONSE["treatmentOverrideCount"],
        }
    )

    native = read(doc)

    (instance,) = native["abtests"]
    assert "treatmentOverrideCount" not in instance["origin"]["fields"]
    assert treatment_override_count(instance) == 2
    (written,) = write(native)["experiments"]
    assert "treatmentOverrideCount" not in written
    assert "treatmentOverrideCount" not in written["experiment"]
    assert treatment_override_count(written) == 2


def test_an_override_count_that_disagrees_with_the_list_is_refused() -> None:
    doc = document({**entry(overrides={"customer-1": "T1"}), "treatmentOverrideCount": 2})

    with pytest.raises(ConfigError) as error:
        read(doc)

    assert list(problems_of(error)) == ["$.experiments[0].treatmentOverrideCount"]


def test_an_override_count_inside_the_experiment_is_checked_too() -> None:
    doc = document(entry(overrides={}, treatmentOverrideCount=1))

    with pytest.raises(ConfigError) as error:
        read(doc)

    assert list(problems_of(error)) == ["$.experiments[0].experiment.treatmentOverrideCount"]


def test_treatment_override_count_is_zero_without_overrides() -> None:
    assert treatment_override_count(entry()) == 0


# -- the mapping, field by field ------------------------------------------------------------------


def test_the_flag_is_named_after_the_experiment_with_variants_c_and_t1() -> None:
    native = read(document(entry(name="checkout test")))

    assert native["flags"] == {
        "flags/checkout test": {
            "name": "flags/checkout test",
            "variants": [
                {"name": "C", "value": {"treatment": "C"}},
                {"name": "T1", "value": {"treatment": "T1"}},
            ],
        }
    }


def test_the_instance_is_named_after_the_experiment_id() -> None:
    (instance,) = read(document(entry("amzn1.ask.experiment.42")))["abtests"]

    assert instance["name"] == "workflows/abtest/instances/amzn1.ask.experiment.42"


def test_an_experiment_id_beside_a_single_experiment_names_the_instance() -> None:
    (instance,) = read({"experimentId": "exp-9", **SEED_GET_RESPONSE})["abtests"]

    assert instance["name"] == "workflows/abtest/instances/exp-9"


def test_the_treatments_are_c_then_t1_at_half_each_on_the_targeting_key() -> None:
    (instance,) = read(document(entry(name="t")))["abtests"]

    assert instance["abtest"] == {
        "treatments": [
            {"variant": "flags/t/variants/C", "weight": 5000},
            {"variant": "flags/t/variants/T1", "weight": 5000},
        ]
    }
    assert instance["flags"] == {"targetingKeySelector": "targeting_key"}


def test_name_and_description_become_display_name_and_description() -> None:
    (instance,) = read(document(entry(name="n", description="hypothesis: shorter is better")))[
        "abtests"
    ]

    assert (instance["displayName"], instance["description"]) == (
        "n",
        "hypothesis: shorter is better",
    )


@pytest.mark.parametrize(
    ("exposure", "proportion"), [(0, 0.0), (1, 0.01), (20, 0.2), (33, 0.33), (100, 1.0)]
)
def test_the_exposure_percentage_becomes_the_allocation_proportion(
    exposure: int, proportion: float
) -> None:
    (instance,) = read(document(entry(exposurePercentage=exposure)))["abtests"]

    assert instance["segment"] == {"allocation": {"proportion": proportion}}


def test_history_and_trigger_times_become_create_launch_and_end_times() -> None:
    doc = document(
        entry(
            history={"creationTime": "2024-05-01T09:00:00Z", "startTime": "2024-05-02T10:00:00Z"},
            trigger={"scheduledEndTime": "2024-05-30T10:00:00Z"},
        )
    )

    (instance,) = read(doc)["abtests"]

    assert instance["createTime"] == "2024-05-01T09:00:00Z"
    assert instance["launchTime"] == "2024-05-02T10:00:00Z"
    assert instance["endTime"] == "2024-05-30T10:00:00Z"
    assert "startTime" not in instance


def test_without_history_or_trigger_there_are_no_times() -> None:
    (instance,) = read(document(entry(history=None, trigger=None)))["abtests"]

    assert not {"createTime", "launchTime", "endTime"} & set(instance)
    assert not {"history", "trigger"} & set(instance["origin"]["fields"])


def test_the_treatment_overrides_are_kept_per_unit() -> None:
    doc = document(entry(overrides={"customer-1": "T1", "device 7": "C"}))

    (instance,) = read(doc)["abtests"]

    assert instance["treatmentOverrides"] == {"customer-1": "T1", "device 7": "C"}


def test_without_treatment_overrides_the_instance_has_none() -> None:
    (instance,) = read(document(entry()))["abtests"]

    assert "treatmentOverrides" not in instance


def test_fields_without_native_meaning_are_kept_in_the_origin_with_the_alexa_state() -> None:
    doc = document(
        entry(
            state="STOPPED",
            history={"startTime": "2024-05-02T10:00:00Z", "stoppedReason": "EXPERIMENT_SUCCESS"},
            trigger={"scheduledEndTime": "2024-05-30T10:00:00Z"},
            skillId="amzn1.ask.skill.1",
        )
    )

    (instance,) = read(doc)["abtests"]

    assert instance["origin"] == {
        "format": "alexa",
        "state": "STOPPED",
        "fields": {
            "type": "ENDPOINT_BASED",
            "plannedDuration": "P3W",
            "metricConfigurations": [
                {
                    "name": "Customer Friction",
                    "metricTypes": ["GUARDRAIL"],
                    "expectedChange": "INCREASE",
                }
            ],
            "history": {"stoppedReason": "EXPERIMENT_SUCCESS"},
            "trigger": {"scheduledEndTime": "2024-05-30T10:00:00Z"},
            "skillId": "amzn1.ask.skill.1",
        },
    }


def test_reading_does_not_share_objects_with_the_document() -> None:
    doc = document(entry(overrides={"u": "T1"}))

    native = read(doc)
    native["abtests"][0]["origin"]["fields"]["metricConfigurations"].clear()
    native["abtests"][0]["treatmentOverrides"]["v"] = "C"

    assert doc == document(entry(overrides={"u": "T1"}))


def test_an_empty_file_reads_as_an_empty_snapshot_and_back() -> None:
    assert read({"experiments": []}) == {"flags": {}, "abtests": []}
    assert write(read({"experiments": []})) == {"experiments": []}


# -- states ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "native_state", "preview"),
    [
        ("CREATED", "draft", False),
        ("ENABLING", "draft", True),
        ("ENABLED", "draft", True),
        ("RUNNING", "live", True),
        ("STOPPING", "ended", True),
        ("STOPPED", "ended", True),
        ("FAILED", "ended", True),
    ],
)
def test_each_alexa_state_reads_as_a_native_state(
    state: str, native_state: str, preview: bool
) -> None:
    (instance,) = read(document(entry(state=state)))["abtests"]

    assert (instance["state"], instance["preview"], instance["origin"]["state"]) == (
        native_state,
        preview,
        state,
    )


def test_created_serves_nobody_not_even_an_override() -> None:
    c = client(running(exposure=100, overrides={"tester": "T1"}, state="CREATED"))

    for unit in ("tester", "customer-1"):
        resolution = c.evaluate("flags/my_first_experiment", {"targeting_key": unit})
        assert (resolution.variant, resolution.reason) == (None, Reason.NO_SEGMENT_MATCH)


@pytest.mark.parametrize("state", ["ENABLING", "ENABLED"])
def test_enabled_serves_the_overrides_and_nobody_else(state: str) -> None:
    c = client(running(exposure=100, overrides={"tester": "T1", "control": "C"}, state=state))
    flag = "flags/my_first_experiment"

    tester = c.evaluate(flag, {"targeting_key": "tester"})
    control = c.evaluate(flag, {"targeting_key": "control"})
    other = c.evaluate(flag, {"targeting_key": "customer-1"})

    assert (tester.variant, tester.value, tester.reason) == (
        "T1",
        {"treatment": "T1"},
        Reason.OVERRIDE,
    )
    assert (control.variant, control.reason) == ("C", Reason.OVERRIDE)
    assert (other.variant, other.reason) == (None, Reason.NO_SEGMENT_MATCH)


def test_running_serves_the_overrides_and_the_exposure() -> None:
    c = client(running(exposure=100, overrides={"tester": "T1"}))
    flag = "flags/my_first_experiment"

    tester = c.evaluate(flag, {"targeting_key": "tester"})
    assert (tester.variant, tester.reason) == ("T1", Reason.OVERRIDE)
    for index in range(200):
        unit = f"customer-{index}"
        resolution = c.evaluate(flag, {"targeting_key": unit})
        assert resolution.reason == Reason.MATCH
        assert treatment(resolution) == expected_treatment("exp-1", 100, unit)
        assert resolution.value == {"treatment": treatment(resolution)}


@pytest.mark.parametrize("state", ["STOPPING", "STOPPED", "FAILED"])
def test_a_stopped_test_serves_nobody(state: str) -> None:
    c = client(running(exposure=100, overrides={"tester": "T1"}, state=state))

    for unit in ["tester"] + [f"customer-{index}" for index in range(100)]:
        resolution = c.evaluate("flags/my_first_experiment", {"targeting_key": unit})
        assert (resolution.variant, resolution.reason) == (None, Reason.NO_SEGMENT_MATCH)


def test_a_running_test_stops_exposing_units_at_its_scheduled_end() -> None:
    doc = document(
        entry(
            state="RUNNING",
            exposurePercentage=100,
            trigger={"scheduledEndTime": "2024-06-01T00:00:00Z"},
        )
    )
    c = client(doc)

    with freeze_time("2024-05-31T23:59:59Z"):
        before = c.evaluate("flags/my_first_experiment", {"targeting_key": "customer-1"})
    with freeze_time("2024-06-01T00:00:01Z"):
        after = c.evaluate("flags/my_first_experiment", {"targeting_key": "customer-1"})

    assert before.reason == Reason.MATCH
    assert (after.variant, after.reason) == (None, Reason.NO_SEGMENT_MATCH)


# -- the same test, whichever shape it was written in ---------------------------------------------

NATIVE_BY_HAND: dict[str, Any] = {
    "flags": [
        {
            "name": "flags/checkout-test",
            "variants": [
                {"name": "C", "value": {"treatment": "C"}},
                {"name": "T1", "value": {"treatment": "T1"}},
            ],
        }
    ],
    "abtests": [
        {
            "name": "workflows/abtest/instances/exp-20",
            "state": "live",
            "abtest": {
                "treatments": [
                    {"variant": "flags/checkout-test/variants/C", "weight": "5000"},
                    {"variant": "flags/checkout-test/variants/T1", "weight": "5000"},
                ]
            },
            "segment": {"allocation": {"proportion": {"value": "0.2"}}},
        }
    ],
}


def test_units_get_the_variant_the_same_test_written_natively_gives_them() -> None:
    alexa_client = client(running("exp-20", name="checkout-test", exposure=20))
    native_client = flagstone.Client.from_dict(NATIVE_BY_HAND)

    for index in range(10_000):
        context = {"targeting_key": f"customer-{index}"}
        from_alexa = alexa_client.evaluate("checkout-test", context)
        by_hand = native_client.evaluate("checkout-test", context)
        assert (treatment(from_alexa), from_alexa.value, from_alexa.reason) == (
            treatment(by_hand),
            by_hand.value,
            by_hand.reason,
        )


def test_units_are_exposed_and_split_by_the_designs_hash() -> None:
    c = client(running("exp-20", name="checkout-test", exposure=20))

    for index in range(2000):
        unit = f"customer-{index}"
        resolution = c.evaluate("checkout-test", {"targeting_key": unit})
        assert treatment(resolution) == expected_treatment("exp-20", 20, unit)


def test_units_outside_the_exposure_get_no_variant_and_no_segment_match() -> None:
    c = client(running("exp-20", name="checkout-test", exposure=20))

    outside = [
        f"customer-{index}"
        for index in range(200)
        if expected_treatment("exp-20", 20, f"customer-{index}") is None
    ]

    assert outside
    for unit in outside:
        resolution = c.evaluate("checkout-test", {"targeting_key": unit})
        assert (resolution.variant, resolution.value, resolution.reason) == (
            None,
            None,
            Reason.NO_SEGMENT_MATCH,
        )


def within(count: int, trials: int, p: float, ses: float = 6.0) -> bool:
    """Whether ``count`` successes of ``trials`` lie within ``ses`` binomial standard errors
    of ``p``."""
    return abs(count - trials * p) <= ses * math.sqrt(trials * p * (1 - p))


def test_exposure_20_admits_about_a_fifth_split_about_evenly() -> None:
    c = client(running("exp-ramp", name="ramp", exposure=20))
    units = 20_000

    treatments = [
        treatment(c.evaluate("ramp", {"targeting_key": f"customer-{index}"}))
        for index in range(units)
    ]

    exposed = [t for t in treatments if t is not None]
    assert within(len(exposed), units, 0.2)
    assert within(exposed.count("T1"), len(exposed), 0.5)


def test_raising_the_exposure_keeps_every_exposed_units_variant() -> None:
    before = client(running("exp-ramp", name="ramp", exposure=20))
    after = client(running("exp-ramp", name="ramp", exposure=60))
    units = 100_000

    kept = newly_exposed = 0
    for index in range(units):
        context = {"targeting_key": f"customer-{index}"}
        was = treatment(before.evaluate("ramp", context))
        now = treatment(after.evaluate("ramp", context))
        if was is not None:
            assert now == was, f"customer-{index} moved from {was} to {now}"
            kept += 1
        elif now is not None:
            newly_exposed += 1

    assert within(kept, units, 0.2)
    assert within(kept + newly_exposed, units, 0.6)


# -- reading errors, each with its path in the Alexa document -------------------------------------


def read_problems(doc: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as error:
        read(doc)
    return problems_of(error)


@pytest.mark.parametrize("exposure", [-1, 101, 20.5, 20.0, "20", True, None])
def test_an_exposure_that_is_not_a_whole_percentage_is_refused(exposure: Any) -> None:
    doc = document(entry())
    doc["experiments"][0]["experiment"]["exposurePercentage"] = exposure

    assert list(read_problems(doc)) == ["$.experiments[0].experiment.exposurePercentage"]


@pytest.mark.parametrize("state", ["PAUSED", "running", "", 3, ["RUNNING"], None])
def test_an_unknown_state_is_refused(state: Any) -> None:
    assert list(read_problems(document(entry(state=state)))) == [
        "$.experiments[0].experiment.state"
    ]


@pytest.mark.parametrize("override", ["T2", "c", "t1", None, 1])
def test_an_override_other_than_c_or_t1_is_refused(override: Any) -> None:
    doc = document(entry(overrides={"customer-1": "T1", "device 7": override}))

    assert list(read_problems(doc)) == ['$.experiments[0].treatmentOverrides["device 7"]']


def test_treatment_overrides_that_are_no_object_are_refused() -> None:
    assert list(read_problems(document(entry(overrides=["customer-1"])))) == [  # type: ignore[arg-type]
        "$.experiments[0].treatmentOverrides"
    ]


@pytest.mark.parametrize("duration", ["P0W", "P5W", "P1D", "P2w", "3 weeks", "", 3])
def test_a_planned_duration_other_than_one_to_four_weeks_is_refused(duration: Any) -> None:
    assert list(read_problems(document(entry(plannedDuration=duration)))) == [
        "$.experiments[0].experiment.plannedDuration"
    ]


def test_two_experiments_with_one_name_are_refused() -> None:
    doc = document(entry("exp-1", name="same"), entry("exp-2", name="same"))

    assert list(read_problems(doc)) == ["$.experiments[1].experiment.name"]


def test_two_experiments_with_one_id_are_refused() -> None:
    doc = document(entry("exp-1", name="one"), entry("exp-1", name="two"))

    assert list(read_problems(doc)) == ["$.experiments[1].experimentId"]


@pytest.mark.parametrize(
    "field",
    [
        "name",
        "description",
        "type",
        "plannedDuration",
        "exposurePercentage",
        "metricConfigurations",
        "state",
    ],
)
def test_each_required_field_of_an_experiment_in_a_file_is_required(field: str) -> None:
    doc = document(entry())
    del doc["experiments"][0]["experiment"][field]

    assert read_problems(doc) == {
        f"$.experiments[0].experiment.{field}": "required field is missing"
    }


def test_an_experiment_in_a_file_needs_an_id() -> None:
    assert read_problems(document({"experiment": experiment()})) == {
        "$.experiments[0].experimentId": "required field is missing"
    }


def test_an_entry_needs_an_experiment() -> None:
    assert read_problems(document({"experimentId": "exp-1"})) == {
        "$.experiments[0].experiment": "required field is missing"
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", ""),
        ("name", "x" * 256),
        ("name", "checkout/v2"),
        ("description", None),
        ("type", "SKILL_BASED"),
        ("metricConfigurations", {"name": "Customer Friction"}),
        ("history", []),
        ("trigger", "2024-06-01T00:00:00Z"),
    ],
)
def test_a_field_of_the_wrong_type_or_value_is_refused(field: str, value: Any) -> None:
    doc = document(entry())
    doc["experiments"][0]["experiment"][field] = value

    assert list(read_problems(doc)) == [f"$.experiments[0].experiment.{field}"]


@pytest.mark.parametrize("experiment_id", ["", "a/b", 42])
def test_an_experiment_id_that_cannot_name_a_test_is_refused(experiment_id: Any) -> None:
    assert list(read_problems(document(entry(experiment_id)))) == ["$.experiments[0].experimentId"]


@pytest.mark.parametrize(
    ("metric", "path"),
    [
        ({"name": "m", "metricTypes": ["KPI"], "expectedChange": "INCREASE"}, "metricTypes[0]"),
        ({"name": "m", "metricTypes": [], "expectedChange": "INCREASE"}, "metricTypes"),
        ({"name": "m", "metricTypes": ["KEY"], "expectedChange": "UP"}, "expectedChange"),
        ({"metricTypes": ["KEY"], "expectedChange": "UP"}, "name"),
        ({"name": "x" * 126, "metricTypes": ["KEY"], "expectedChange": "DECREASE"}, "name"),
    ],
)
def test_a_bad_metric_configuration_is_refused_at_its_field(
    metric: dict[str, Any], path: str
) -> None:
    doc = document(entry(metricConfigurations=[metric]))

    assert f"$.experiments[0].experiment.metricConfigurations[0].{path}" in read_problems(doc)


def test_a_metric_configured_twice_is_refused() -> None:
    metric = {"name": "Customer Friction", "metricTypes": ["KEY"], "expectedChange": "INCREASE"}
    doc = document(entry(metricConfigurations=[metric, metric]))

    assert list(read_problems(doc)) == ["$.experiments[0].experiment.metricConfigurations[1].name"]


@pytest.mark.parametrize(
    ("holder", "key"),
    [("history", "creationTime"), ("history", "startTime"), ("trigger", "scheduledEndTime")],
)
def test_a_time_that_is_no_timestamp_is_refused(holder: str, key: str) -> None:
    doc = document(entry())
    doc["experiments"][0]["experiment"][holder] = {key: "yesterday"}

    assert list(read_problems(doc)) == [f"$.experiments[0].experiment.{holder}.{key}"]


def test_a_stopped_reason_that_is_no_string_is_refused() -> None:
    doc = document(entry(history={"stoppedReason": 3}))

    assert list(read_problems(doc)) == ["$.experiments[0].experiment.history.stoppedReason"]


def test_unknown_fields_of_the_file_and_of_an_entry_are_refused() -> None:
    doc = {"experiments": [{**entry(), "treatmentOverride": {}}], "skill": "x"}

    assert read_problems(doc) == {
        "$.skill": "unknown field",
        "$.experiments[0].treatmentOverride": "unknown field",
    }


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], "$"),
        ({"experiments": {"exp-1": {}}}, "$.experiments"),
        ({"experiments": ["exp-1"]}, "$.experiments[0]"),
        ({"experiment": "my_first_experiment"}, "$.experiment"),
    ],
)
def test_a_document_of_the_wrong_shape_is_refused(doc: Any, path: str) -> None:
    assert list(read_problems(doc)) == [path]


def test_a_single_experiment_reports_paths_under_experiment() -> None:
    doc = copy.deepcopy(SEED_GET_RESPONSE)
    doc["experiment"]["exposurePercentage"] = 120

    assert list(read_problems(doc)) == ["$.experiment.exposurePercentage"]


def test_every_problem_of_every_experiment_is_named_at_once() -> None:
    doc = document(
        entry("exp-1", name="a", exposurePercentage=150, plannedDuration="P6W"),
        entry("exp-2", {"u": "T2"}, name="b", state="DONE"),
        entry("exp-3", name="a"),
    )

    assert set(read_problems(doc)) == {
        "$.experiments[0].experiment.exposurePercentage",
        "$.experiments[0].experiment.plannedDuration",
        "$.experiments[1].experiment.state",
        "$.experiments[1].treatmentOverrides.u",
    }


# -- writing --------------------------------------------------------------------------------------


def written_experiment(native: dict[str, Any]) -> dict[str, Any]:
    (result,) = write(native)["experiments"]
    experiment: dict[str, Any] = result["experiment"]
    return experiment


def test_writing_orders_keys_as_the_seed_does() -> None:
    doc = document(entry(overrides={"u": "C"}, skillId="amzn1.ask.skill.1"))

    (result,) = write(read(doc))["experiments"]

    assert list(result) == ["experimentId", "experiment", "treatmentOverrides"]
    assert list(result["experiment"]) == [*SEED_EXPERIMENT_KEYS, "skillId"]
    assert list(result["experiment"]["history"]) == ["creationTime", "startTime", "stoppedReason"]


@pytest.mark.parametrize(
    ("alexa", "edit", "written"),
    [
        ("CREATED", {"preview": True}, "ENABLED"),
        ("ENABLED", {"preview": False}, "CREATED"),
        ("ENABLING", {}, "ENABLING"),
        ("ENABLING", {"preview": False}, "CREATED"),
        ("CREATED", {"state": "live", "preview": True}, "RUNNING"),
        ("RUNNING", {"state": "ended"}, "STOPPED"),
        ("STOPPING", {}, "STOPPING"),
        ("FAILED", {}, "FAILED"),
        ("FAILED", {"state": "archived"}, "STOPPED"),
        ("ENABLED", {"state": "ended"}, "STOPPED"),
    ],
)
def test_the_state_written_is_the_one_read_while_it_still_describes_the_test(
    alexa: str, edit: dict[str, Any], written: str
) -> None:
    native = read(running(state=alexa))
    native["abtests"][0].update(edit)

    assert written_experiment(native)["state"] == written


@pytest.mark.parametrize(
    ("proportion", "exposure"),
    [(0.35, 35), (0.07, 7), (0.29, 29), ("0.5", 50), ({"value": "0.01"}, 1), (1, 100), (0, 0)],
)
def test_the_exposure_written_is_the_proportion_as_a_percentage(
    proportion: Any, exposure: int
) -> None:
    native = read(running())
    native["abtests"][0]["segment"]["allocation"]["proportion"] = proportion

    assert written_experiment(native)["exposurePercentage"] == exposure


@pytest.mark.parametrize("segment", [{}, {"allocation": {}}, None])
def test_a_test_without_an_allocation_is_written_fully_exposed(
    segment: dict[str, Any] | None,
) -> None:
    native = read(running(exposure=30))
    if segment is None:
        del native["abtests"][0]["segment"]
    else:
        native["abtests"][0]["segment"] = segment

    assert written_experiment(native)["exposurePercentage"] == 100


def test_a_proportion_that_is_no_whole_percentage_cannot_be_written() -> None:
    native = read(running())
    native["abtests"][0]["segment"]["allocation"]["proportion"] = 0.355

    with pytest.raises(ConfigError) as error:
        write(native)

    assert list(problems_of(error)) == ["$.abtests[0].segment.allocation.proportion"]


def test_overrides_named_by_full_variant_name_are_written_as_c_or_t1() -> None:
    native = read(running(overrides={}))
    native["abtests"][0]["treatmentOverrides"] = {
        "tester": "flags/my_first_experiment/variants/T1",
        "control": "C",
    }

    (result,) = write(native)["experiments"]

    assert result["treatmentOverrides"] == {"tester": "T1", "control": "C"}


def test_the_update_time_every_native_action_stamps_is_not_written() -> None:
    native = read(document(entry()))
    native["abtests"][0]["updateTime"] = "2024-07-01T00:00:00Z"

    assert write(native) == document(entry())


def test_a_native_end_time_of_a_running_test_is_its_scheduled_end() -> None:
    native = read(document(entry(state="RUNNING")))
    native["abtests"][0]["endTime"] = "2024-09-01T00:00:00Z"

    assert written_experiment(native)["trigger"] == {"scheduledEndTime": "2024-09-01T00:00:00Z"}


def test_ending_a_test_natively_keeps_its_scheduled_end() -> None:
    native = read(document(entry(state="RUNNING")))
    native["abtests"][0].update(state="ended", endTime="2021-04-10T00:00:00Z")

    written = written_experiment(native)

    assert written["trigger"] == {"scheduledEndTime": "2021-04-19T18:43:48.383Z"}
    assert written["state"] == "STOPPED"


def test_a_stopped_reason_set_in_the_origin_is_written_in_the_history() -> None:
    native = read(document(entry(state="RUNNING", history={"startTime": "2021-04-19T18:43:48Z"})))
    instance = native["abtests"][0]
    instance["state"] = "ended"
    instance["origin"].update(state="STOPPED")
    instance["origin"]["fields"]["history"] = {"stoppedReason": "EXPERIMENT_ISSUE"}

    assert written_experiment(native)["history"] == {
        "startTime": "2021-04-19T18:43:48Z",
        "stoppedReason": "EXPERIMENT_ISSUE",
    }


def test_a_test_written_natively_takes_its_alexa_fields_from_its_origin() -> None:
    native = copy.deepcopy(NATIVE_BY_HAND)
    native["abtests"][0]["origin"] = {
        "format": "alexa",
        "fields": {"plannedDuration": "P2W", "metricConfigurations": []},
    }

    assert write(native) == document(
        {
            "experimentId": "exp-20",
            "experiment": {
                "name": "checkout-test",
                "description": "",
                "type": "ENDPOINT_BASED",
                "plannedDuration": "P2W",
                "exposurePercentage": 20,
                "metricConfigurations": [],
                "state": "RUNNING",
            },
        }
    )


def write_problems(native: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as error:
        write(native)
    return problems_of(error)


def test_a_test_without_alexa_fields_cannot_be_written() -> None:
    assert set(write_problems(copy.deepcopy(NATIVE_BY_HAND))) == {
        "$.abtests[0].origin.fields.plannedDuration",
        "$.abtests[0].origin.fields.metricConfigurations",
    }


def test_alexa_fields_in_the_origin_are_checked_at_their_native_path() -> None:
    native = read(document(entry()))
    native["abtests"][0]["origin"]["fields"]["plannedDuration"] = "P6W"
    native["abtests"][0]["origin"]["fields"]["exposurePercentage"] = 50

    assert set(write_problems(native)) == {
        "$.abtests[0].origin.fields.plannedDuration",
        "$.abtests[0].origin.fields.exposurePercentage",
    }


def alexa_native() -> dict[str, Any]:
    return read(running(overrides={"tester": "T1"}))


def treatments(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {
        "treatments": [
            {"variant": f"flags/my_first_experiment/variants/{name}", "weight": weight}
            for name, weight in pairs
        ]
    }


@pytest.mark.parametrize(
    "abtest",
    [
        treatments(("C", 6000), ("T1", 4000)),
        treatments(("T1", 5000), ("C", 5000)),
        treatments(("C", 10000)),
    ],
)
def test_treatments_other_than_c_then_t1_at_half_each_cannot_be_written(
    abtest: dict[str, Any],
) -> None:
    native = alexa_native()
    native["abtests"][0]["abtest"] = abtest
    native["abtests"][0].pop("treatmentOverrides")

    assert list(write_problems(native)) == ["$.abtests[0].abtest.treatments"]


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        ({"flags": {"targetingKeySelector": "user.id"}}, "$.abtests[0].flags.targetingKeySelector"),
        ({"displayName": "Checkout"}, "$.abtests[0].displayName"),
        ({"segment": {"name": "segments/checkout"}}, "$.abtests[0].segment.name"),
        ({"startTime": "2024-01-01T00:00:00Z"}, "$.abtests[0].startTime"),
        ({"metrics": {"entity": "entities/user"}}, "$.abtests[0].metrics"),
        ({"materialization": "materializations/m"}, "$.abtests[0].materialization"),
        ({"name": "tests/exp-1"}, "$.abtests[0].name"),
    ],
)
def test_test_fields_the_alexa_shape_cannot_express_cannot_be_written(
    edit: dict[str, Any], path: str
) -> None:
    native = alexa_native()
    native["abtests"][0].update(edit)

    assert list(write_problems(native)) == [path]


def test_paused_intake_cannot_be_written() -> None:
    native = alexa_native()
    native["abtests"][0].update(materialization="materializations/m", intake="paused")

    assert set(write_problems(native)) == {
        "$.abtests[0].materialization",
        "$.abtests[0].intake",
    }


def test_flag_contents_the_alexa_shape_cannot_express_cannot_be_written() -> None:
    native = alexa_native()
    flag = native["flags"]["flags/my_first_experiment"]
    flag["variants"][1]["value"] = {"treatment": "T1", "color": "red"}
    flag["description"] = "checkout"

    assert set(write_problems(native)) == {
        '$.flags["flags/my_first_experiment"].variants[1].value',
        '$.flags["flags/my_first_experiment"].description',
    }


def test_a_flag_with_a_third_variant_cannot_be_written() -> None:
    native = alexa_native()
    native["flags"]["flags/my_first_experiment"]["variants"].append(
        {"name": "flags/my_first_experiment/variants/T2", "value": {"treatment": "T2"}}
    )

    assert list(write_problems(native)) == ['$.flags["flags/my_first_experiment"].variants']


def test_a_flag_no_test_uses_cannot_be_written() -> None:
    native = alexa_native()
    native["flags"]["flags/other"] = {"name": "flags/other"}

    assert list(write_problems(native)) == ['$.flags["flags/other"]']


def test_two_tests_of_one_flag_cannot_be_written() -> None:
    native = alexa_native()
    second = copy.deepcopy(native["abtests"][0])
    second["name"] = "workflows/abtest/instances/exp-2"
    native["abtests"].append(second)

    assert list(write_problems(native)) == ["$.abtests[1].abtest.treatments"]


def test_snapshot_content_outside_flags_and_tests_cannot_be_written() -> None:
    native = alexa_native()
    native.update(version="v7", segments=[{"name": "segments/everyone"}], clients={})

    assert set(write_problems(native)) == {"$.version", "$.segments"}


def test_an_invalid_native_document_is_refused_with_its_native_problems() -> None:
    native = alexa_native()
    native["abtests"][0]["abtest"]["treatments"][1]["weight"] = 4000

    assert "$.abtests[0].abtest.treatments" in write_problems(native)


# -- the seed's create and update bodies ----------------------------------------------------------

NOW = "2025-01-28T10:00:00Z"


def test_a_create_body_becomes_a_created_entry() -> None:
    entry = create_entry(SEED_CREATE_BODY, "exp-9", NOW, "$.experiments[1]")

    assert entry == {
        "experimentId": "exp-9",
        "experiment": {
            **SEED_CREATE_BODY["experiment"],
            "state": "CREATED",
            "history": {"creationTime": NOW},
        },
    }
    assert read({"experiments": [entry]})["abtests"][0]["origin"]["state"] == "CREATED"


@pytest.mark.parametrize("field", ["state", "history"])
def test_a_create_body_cannot_set_the_state_or_the_history(field: str) -> None:
    body = {"experiment": {**SEED_CREATE_BODY["experiment"], field: {}}}

    with pytest.raises(ConfigError) as refused:
        create_entry(body, "x", NOW, "$.experiments[1]")

    assert [p.path for p in refused.value.problems] == [f"$.experiments[1].experiment.{field}"]


def test_a_request_body_is_one_experiment_object() -> None:
    with pytest.raises(ConfigError) as refused:
        create_entry({"experimentId": "x"}, "x", NOW)

    assert [p.path for p in refused.value.problems] == ["$.experimentId", "$.experiment"]


def test_an_update_changes_the_four_updatable_fields_only() -> None:
    entry = create_entry(SEED_CREATE_BODY, "exp-9", NOW)

    updated = update_entry(entry, {"experiment": {"plannedDuration": "P2W"}}, "$.experiments[0]")
    with pytest.raises(ConfigError) as refused:
        update_entry(entry, {"experiment": {"name": "renamed", "type": "X"}}, "$.experiments[0]")

    assert updated["experiment"] == {**entry["experiment"], "plannedDuration": "P2W"}
    assert entry["experiment"]["plannedDuration"] == "P4W"
    assert [p.path for p in refused.value.problems] == [
        "$.experiments[0].experiment.name",
        "$.experiments[0].experiment.type",
    ]


def test_a_repeated_experiment_name_is_a_clash_at_the_entry_that_repeats_it() -> None:
    entries = [{"experiment": {"name": "a"}}, {"experiment": {"name": "a"}}, {"experiment": {}}]

    assert [p.path for p in name_clashes(entries, 1)] == ["$.experiments[1].experiment.name"]
    assert name_clashes(entries, 2) == []


# -- round trips, property tested -----------------------------------------------------------------

PAST = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2020, 12, 31),
)
FUTURE = st.datetimes(
    min_value=datetime(2080, 1, 1),
    max_value=datetime(2099, 12, 31),
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


TIMESTAMPS = st.one_of(PAST, FUTURE).map(iso)
NAMES = st.text(
    st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=24
)
IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=24)
UNITS = st.text(min_size=1, max_size=12)
METRICS = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=20),
            "metricTypes": st.lists(st.sampled_from(["KEY", "GUARDRAIL"]), min_size=1, max_size=2),
            "expectedChange": st.sampled_from(["INCREASE", "DECREASE"]),
        }
    ),
    max_size=3,
    unique_by=lambda metric: metric["name"],
)
EXTRA_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10))


@st.composite
def experiments(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": draw(NAMES),
        "description": draw(st.text(max_size=30)),
        "type": "ENDPOINT_BASED",
        "plannedDuration": draw(st.sampled_from(["P1W", "P2W", "P3W", "P4W"])),
        "exposurePercentage": draw(st.one_of(st.sampled_from([0, 100]), st.integers(0, 100))),
        "metricConfigurations": draw(METRICS),
        "state": draw(st.sampled_from(ALEXA_STATES)),
    }
    history = draw(
        st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "creationTime": TIMESTAMPS,
                "startTime": TIMESTAMPS,
                "stoppedReason": st.sampled_from(
                    ["DEVELOPER_REQUEST", "EXPERIMENT_SUCCESS", "EXPERIMENT_ISSUE"]
                ),
            },
        )
    )
    if history is not None:
        result["history"] = history
    trigger = draw(st.none() | st.fixed_dictionaries({}, optional={"scheduledEndTime": TIMESTAMPS}))
    if trigger is not None:
        result["trigger"] = trigger
    result.update(
        draw(st.dictionaries(st.sampled_from(["skillId", "stage", "x-note"]), EXTRA_VALUES))
    )
    return result


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {"experimentId": draw(IDS), "experiment": draw(experiments())}
    overrides = draw(st.none() | st.dictionaries(UNITS, st.sampled_from(["C", "T1"]), max_size=3))
    if overrides is not None:
        result["treatmentOverrides"] = overrides
    return result


UNIQUE = (lambda e: e["experiment"]["name"], lambda e: e["experimentId"])
DOCUMENTS = st.lists(entries(), max_size=4, unique_by=UNIQUE).map(lambda items: document(*items))

PROBES = [f"probe-{index}" for index in range(30)]


def serves_by_bucket(experiment: dict[str, Any]) -> bool:
    """Whether a test in this Alexa state exposes units now (RUNNING, before its scheduled
    end; the generated ends lie before 2021 or after 2079)."""
    end = experiment.get("trigger", {}).get("scheduledEndTime")
    return experiment["state"] == "RUNNING" and (end is None or end > "2050")


@settings(derandomize=True, deadline=None, database=None, max_examples=60)
@given(DOCUMENTS)
def test_alexa_documents_read_evaluate_and_write_back_unchanged(doc: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)

    native = read(doc)
    parse_snapshot(native)
    c = flagstone.Client.from_dict(native)

    for item in doc["experiments"]:
        exp = item["experiment"]
        flag = f"flags/{exp['name']}"
        overrides = item.get("treatmentOverrides", {})
        serves_overrides = exp["state"] in ("ENABLING", "ENABLED", "RUNNING")
        for unit, forced in overrides.items():
            resolution = c.evaluate(flag, {"targeting_key": unit})
            if serves_overrides:
                assert (resolution.variant, resolution.reason) == (forced, Reason.OVERRIDE)
            else:
                assert (resolution.variant, resolution.reason) == (None, Reason.NO_SEGMENT_MATCH)
        for unit in PROBES:
            if unit in overrides:
                continue
            resolution = c.evaluate(flag, {"targeting_key": unit})
            if serves_by_bucket(exp):
                expected = expected_treatment(item["experimentId"], exp["exposurePercentage"], unit)
            else:
                expected = None
            assert treatment(resolution) == expected
            assert resolution.reason == (
                Reason.NO_SEGMENT_MATCH if expected is None else Reason.MATCH
            )

    assert write(native) == original
    assert doc == original


@settings(derandomize=True, deadline=None, database=None, max_examples=40)
@given(DOCUMENTS)
def test_written_native_documents_read_back_as_the_same_native_document(
    doc: dict[str, Any],
) -> None:
    native = read(doc)

    assert read(write(native)) == native


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from([*SEED_EXPERIMENT_KEYS, "treatmentOverrideCount", "skillId"])


@st.composite
def damaged_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with one field of one experiment, or of its entry, replaced by any
    JSON value."""
    doc = document(*draw(st.lists(entries(), min_size=1, max_size=2, unique_by=UNIQUE)))
    item = draw(st.sampled_from(doc["experiments"]))
    if draw(st.booleans()):
        item["experiment"][draw(FIELDS)] = draw(JSON)
    else:
        item[draw(st.sampled_from(["experimentId", "treatmentOverrides"]))] = draw(JSON)
    return doc


@settings(derandomize=True, deadline=None, database=None, max_examples=80)
@given(damaged_documents())
def test_any_document_reads_as_a_valid_snapshot_or_a_config_error(doc: dict[str, Any]) -> None:
    try:
        native = read(doc)
    except ConfigError as error:
        assert all(problem.path.startswith("$.experiments[") for problem in error.problems)
    else:
        parse_snapshot(native)
        assert read(write(native)) == native
