"""Specification of flagstone.analysis.inputs: the analysis input document and parse_input.

A valid document becomes an ``AnalysisInput`` with the documented defaults; an invalid one
raises ``ConfigError`` listing every problem with its JSON path — type errors, unknown
fields, and the semantic rules the types cannot express (the control in every metric, the
same groups everywhere, 0 <= sum <= n for a 0/1 metric, interims only with a sequential
horizon and never shrinking, …).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from flagstone import ConfigError
from flagstone.analysis.inputs import AnalysisInput, MetricInput, parse_input

# The example of the analysis input as documented (the JSON block of the engine's design
# note, which the README shows), with its // comments removed.
DOCUMENTED_EXAMPLE = """
{
  "alpha": 0.05,                      // default 0.05
  "power": 0.8,                       // default 0.8
  "method": "z",                      // "z" (default, METHOD_Z_TEST) or "t" (Welch, METHOD_T_TEST)
  "pooled": false,                    // true: the pooled z-test of two proportions
  "relative_interval": "delta",       // or "spotify" (spotify-confidence's formulas)
  "correction": "bonferroni",         // or "holm"
  "horizon": {"kind": "FIXED"},       // or {"kind": "SEQUENTIAL", "expected_final_total": 300}
  "control": "control",
  "expected_weights": {"control": 0.5, "treatment": 0.5},   // optional, default equal
  "metrics": [
    {
      "id": "conversion",
      "kind": "SUCCESS",                // or "GUARDRAIL"
      "direction": "INCREASE",          // preferred direction, or "DECREASE"
      "minimum_detectable_effect": 0.05,// relative to the control mean; optional
      "non_inferiority_margin": null,   // relative; guardrails
      "groups": {
        "control":   {"n": 10000, "sum": 1210},                                 // 0/1 metric
        "treatment": {"n": 10050, "sum": 1333}
      }
    }
  ]
}
"""


def without_comments(text: str) -> str:
    """JSON with ``// …`` comments (to the end of the line) removed."""
    return re.sub(r"//[^\n]*", "", text)


def binary(n: int, total: float) -> dict[str, Any]:
    return {"n": n, "sum": total}


def continuous(n: int, total: float, sum_sq: float) -> dict[str, Any]:
    return {"n": n, "sum": total, "sum_sq": sum_sq}


def document(**changes: Any) -> dict[str, Any]:
    """A valid document: two 0/1 metrics, control and one treatment; top-level changes."""
    doc: dict[str, Any] = {
        "metrics": [
            {
                "id": "conversion",
                "groups": {"control": binary(1000, 120), "treatment": binary(1000, 130)},
            },
            {
                "id": "retention",
                "groups": {"control": binary(1000, 400), "treatment": binary(1000, 410)},
            },
        ]
    }
    doc.update(changes)
    return doc


def sequential(*interims: dict[str, Any], **metric: Any) -> dict[str, Any]:
    """A sequential document with one metric holding these interims' groups."""
    return {
        "horizon": {"kind": "SEQUENTIAL", "expected_final_total": 5000},
        "metrics": [
            {
                "id": "conversion",
                "interims": [
                    {"time": f"2026-11-{20 + k}", "groups": groups}
                    for k, groups in enumerate(interims)
                ],
                **metric,
            }
        ],
    }


def problems(doc: Any, **kwargs: Any) -> list[tuple[str, str]]:
    """The (path, message) of every problem parse_input reports."""
    with pytest.raises(ConfigError) as caught:
        parse_input(doc, **kwargs)
    return [(p.path, p.message) for p in caught.value.problems]


def paths(doc: Any) -> list[str]:
    return [path for path, _ in problems(doc)]


def set_group(doc: dict[str, Any], metric: int, group: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["metrics"][metric]["groups"][group] = value
    return doc


# -- the documented example and defaults ------------------------------------------------------


def test_the_documented_example_parses() -> None:
    spec = parse_input(without_comments(DOCUMENTED_EXAMPLE))
    assert spec.control == "control"
    assert spec.treatments == ["treatment"]
    (metric,) = spec.metrics
    assert metric.id == "conversion"
    assert metric.minimum_detectable_effect == 0.05
    assert metric.groups is not None
    assert metric.groups["treatment"].n == 10050
    assert metric.groups["treatment"].is_binary


def readme_input_examples() -> list[str]:
    """The README's JSON blocks that are analysis inputs (they have "metrics" with "groups";
    a metrics file has "metrics" too)."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    blocks = re.findall(r"```json\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if '"metrics"' in block and '"groups"' in block]


@pytest.mark.parametrize("block", readme_input_examples() or [None])
def test_the_readme_input_examples_parse(block: str | None) -> None:
    if block is None:
        pytest.skip("the README shows no analysis input yet")
    spec = parse_input(without_comments(block))
    assert spec.metrics


def test_defaults_fill_everything_but_the_metrics() -> None:
    spec = parse_input(document())
    assert (spec.alpha, spec.power) == (0.05, 0.8)
    assert (spec.method, spec.relative_interval, spec.correction) == ("z", "delta", "bonferroni")
    assert spec.pooled is False
    assert spec.horizon.kind == "FIXED"
    assert spec.horizon.expected_final_total is None
    assert spec.control == "control"
    assert spec.expected_weights is None
    metric = spec.metrics[0]
    assert (metric.kind, metric.direction) == ("SUCCESS", "INCREASE")
    assert metric.minimum_detectable_effect is None
    assert metric.non_inferiority_margin is None
    assert metric.interims is None


def test_text_bytes_and_a_mapping_parse_alike() -> None:
    doc = document(alpha=0.01, correction="holm")
    text = json.dumps(doc)
    assert parse_input(text) == parse_input(text.encode()) == parse_input(doc)


def test_groups_keep_their_order_and_the_treatments_are_the_others() -> None:
    doc = document(control="b")
    for metric in doc["metrics"]:
        metric["groups"] = {
            "a": binary(100, 1),
            "b": binary(100, 2),
            "c": binary(100, 3),
        }
    spec = parse_input(doc)
    assert spec.groups == ["a", "b", "c"]
    assert spec.treatments == ["a", "c"]


def test_a_continuous_group_with_covariates_converts_to_group_stats() -> None:
    group = {"n": 10, "sum": 20.0, "sum_sq": 50.0, "x_sum": 9.0, "x_sum_sq": 11.0, "xy_sum": 19.0}
    doc = document()
    doc["metrics"] = [{"id": "revenue", "groups": {"control": group, "treatment": group}}]
    stats = parse_input(doc).metrics[0].latest["control"].stats()
    assert (stats.n, stats.sum, stats.sum_sq) == (10, 20.0, 50.0)
    assert (stats.x_sum, stats.x_sum_sq, stats.xy_sum) == (9.0, 11.0, 19.0)


def test_a_sequential_metric_looks_at_its_interims_in_order() -> None:
    first = {"control": binary(100, 10), "treatment": binary(100, 12)}
    second = {"control": binary(200, 21), "treatment": binary(210, 25)}
    metric = parse_input(sequential(first, second)).metrics[0]
    assert [time for time, _ in metric.looks()] == ["2026-11-20", "2026-11-21"]
    assert metric.latest["treatment"].n == 210


def test_a_sequential_metric_may_repeat_its_latest_interim_as_groups() -> None:
    first = {"control": binary(100, 10), "treatment": binary(100, 12)}
    second = {"control": binary(200, 21), "treatment": binary(210, 25)}
    metric = parse_input(sequential(first, second, groups=second)).metrics[0]
    assert len(metric.looks()) == 2


def test_a_sequential_metric_without_interims_has_one_look() -> None:
    doc = document(horizon={"kind": "SEQUENTIAL", "expected_final_total": 4000})
    metric = parse_input(doc).metrics[0]
    assert [time for time, _ in metric.looks()] == [None]


def test_building_an_input_in_python_runs_the_same_checks() -> None:
    metric = MetricInput.model_validate(
        {"id": "m", "groups": {"control": binary(10, 11), "treatment": binary(10, 1)}}
    )
    with pytest.raises(ConfigError) as caught:
        AnalysisInput(metrics=[metric])
    assert [p.path for p in caught.value.problems] == ["$.metrics[0].groups.control.sum"]


# -- structural problems -----------------------------------------------------------------------


def test_text_that_is_not_json_is_one_problem_at_the_root() -> None:
    ((path, message),) = problems("{not json")
    assert path == "$"
    assert message.startswith("not valid JSON")


@pytest.mark.parametrize("doc", ["[]", "3", [], 3.5])
def test_a_document_that_is_not_an_object_is_refused(doc: Any) -> None:
    assert paths(doc) == ["$"]


def test_the_source_is_named_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_input("{", source="experiment.json")
    assert "experiment.json" in str(caught.value)
    assert caught.value.source == "experiment.json"


def test_a_missing_size_is_reported_at_its_path() -> None:
    doc = set_group(document(), 1, "control", {"sum": 3})
    assert problems(doc) == [("$.metrics[1].groups.control.n", "required field is missing")]


def test_unknown_fields_are_refused_at_every_level() -> None:
    doc = document(colour="red")
    doc["metrics"][0]["owner"] = "me"
    doc["metrics"][1]["groups"]["treatment"]["mean"] = 0.4
    assert sorted(problems(doc)) == [
        ("$.colour", "unknown field"),
        ("$.metrics[0].owner", "unknown field"),
        ("$.metrics[1].groups.treatment.mean", "unknown field"),
    ]


@pytest.mark.parametrize("n", [1.5, 1000.0, "1000", True, None])
def test_a_size_must_be_a_whole_number(n: Any) -> None:
    doc = set_group(document(), 0, "treatment", {"n": n, "sum": 3})
    assert paths(doc) == ["$.metrics[0].groups.treatment.n"]


@pytest.mark.parametrize("total", ["3", True, None, float("nan"), float("inf")])
def test_a_sum_must_be_a_finite_number(total: Any) -> None:
    doc = set_group(document(), 0, "treatment", {"n": 10, "sum": total})
    assert paths(doc) == ["$.metrics[0].groups.treatment.sum"]


def test_nan_in_json_text_is_refused() -> None:
    text = json.dumps(document()).replace('"sum": 130', '"sum": NaN')
    assert paths(text) == ["$.metrics[0].groups.treatment.sum"]


def test_a_size_must_be_at_least_one() -> None:
    doc = set_group(document(), 0, "treatment", binary(0, 0))
    assert paths(doc) == ["$.metrics[0].groups.treatment.n"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alpha", 0.0),
        ("alpha", 1.0),
        ("alpha", "0.05"),
        ("power", 1.0),
        ("method", "welch"),
        ("pooled", "yes"),
        ("relative_interval", "fieller"),
        ("correction", "hommel"),
        ("control", ""),
        ("metrics", []),
        ("horizon", {"kind": "ADAPTIVE"}),
    ],
)
def test_settings_outside_their_domain_are_refused(field: str, value: Any) -> None:
    assert [path.split(".")[1] for path in paths(document(**{field: value}))] == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "PRIMARY"),
        ("direction", "UP"),
        ("minimum_detectable_effect", 0.0),
        ("non_inferiority_margin", -0.01),
        ("id", ""),
    ],
)
def test_metric_fields_outside_their_domain_are_refused(field: str, value: Any) -> None:
    doc = document()
    doc["metrics"][1][field] = value
    assert paths(doc) == [f"$.metrics[1].{field}"]


def test_a_group_id_that_is_not_an_identifier_is_quoted_in_the_path() -> None:
    doc = document()
    for metric in doc["metrics"]:
        metric["groups"]["new layout"] = binary(100, 5)
    doc["metrics"][0]["groups"]["new layout"] = binary(100, 500)
    assert paths(doc) == ['$.metrics[0].groups["new layout"].sum']


def test_every_problem_is_reported_at_once() -> None:
    doc = document(method="x")
    doc["metrics"][0]["groups"]["control"]["n"] = -1
    doc["metrics"][1]["groups"]["treatment"]["sum"] = 2000  # > n: a semantic problem
    assert paths(doc) == [
        "$.method",
        "$.metrics[0].groups.control.n",
        "$.metrics[1].groups.treatment.sum",
    ]


def test_semantic_problems_of_parsable_metrics_come_with_structural_ones() -> None:
    doc = document()
    doc["metrics"][0]["groups"]["control"]["extra"] = 1
    doc["metrics"][1]["groups"] = {"treatment": binary(1000, 410), "other": binary(9, 1)}
    found = problems(doc)
    assert ("$.metrics[0].groups.control.extra", "unknown field") in found
    assert ("$.metrics[1].groups", "the control group 'control' is missing") in found


# -- semantic problems -------------------------------------------------------------------------


def test_the_control_group_must_be_in_every_metric() -> None:
    doc = document(control="baseline")
    doc["metrics"][0]["groups"] = {"baseline": binary(10, 1), "treatment": binary(10, 2)}
    doc["metrics"][1]["groups"] = {"baseline": binary(10, 1), "treatment": binary(10, 2)}
    assert parse_input(doc).control == "baseline"
    doc["metrics"][1]["groups"] = {"control": binary(10, 1), "treatment": binary(10, 2)}
    found = problems(doc)
    assert ("$.metrics[1].groups", "the control group 'baseline' is missing") in found


def test_every_metric_needs_the_same_groups() -> None:
    doc = document()
    doc["metrics"][1]["groups"]["extra"] = binary(1000, 3)
    ((path, message),) = problems(doc)
    assert path == "$.metrics[1].groups"
    assert "'extra'" in message
    assert "$.metrics[0]" in message


def test_a_metric_needs_a_treatment_besides_the_control() -> None:
    doc = document()
    for metric in doc["metrics"]:
        del metric["groups"]["treatment"]
    assert paths(doc) == ["$.metrics[0].groups", "$.metrics[1].groups"]


def test_a_metric_needs_groups() -> None:
    doc = document()
    del doc["metrics"][1]["groups"]
    assert problems(doc) == [("$.metrics[1].groups", "required field is missing")]


@pytest.mark.parametrize("total", [-1, 1001, 1000.5])
def test_a_binary_sum_must_lie_between_zero_and_n(total: float) -> None:
    doc = set_group(document(), 1, "control", binary(1000, total))
    ((path, message),) = problems(doc)
    assert path == "$.metrics[1].groups.control.sum"
    assert "0 <= sum <= n" in message


@pytest.mark.parametrize("total", [0, 1000])
def test_a_binary_sum_may_be_zero_or_n(total: int) -> None:
    parse_input(set_group(document(), 1, "control", binary(1000, total)))


def test_a_sum_of_squares_too_small_for_the_sum_is_refused() -> None:
    doc = document()
    doc["metrics"][0]["groups"] = {
        "control": continuous(10, 50.0, 240.0),  # sum²/n = 250
        "treatment": continuous(10, 50.0, 260.0),
    }
    assert paths(doc) == ["$.metrics[0].groups.control.sum_sq"]


def test_a_negative_sum_of_squares_is_refused() -> None:
    doc = document()
    doc["metrics"][0]["groups"] = {
        "control": continuous(10, 0.0, -1.0),
        "treatment": continuous(10, 0.0, 1.0),
    }
    assert paths(doc) == ["$.metrics[0].groups.control.sum_sq"]


def test_a_continuous_group_needs_two_units_for_its_variance() -> None:
    doc = document()
    doc["metrics"][0]["groups"] = {
        "control": continuous(1, 5.0, 25.0),
        "treatment": continuous(10, 50.0, 260.0),
    }
    ((path, message),) = problems(doc)
    assert path == "$.metrics[0].groups.control.n"
    assert "n >= 2" in message


def test_a_binary_group_of_one_unit_is_fine_for_the_z_test_but_not_welch() -> None:
    doc = set_group(document(), 0, "control", binary(1, 1))
    parse_input(doc)
    doc["method"] = "t"
    assert paths(doc) == ["$.metrics[0].groups.control.n"]


def test_a_metric_is_binary_or_continuous_in_every_group() -> None:
    doc = set_group(document(), 0, "treatment", continuous(1000, 130.0, 130.0))
    ((path, message),) = problems(doc)
    assert path == "$.metrics[0].groups.treatment.sum_sq"
    assert "not in the metric's other groups" in message


def test_covariate_sums_go_together() -> None:
    group = continuous(10, 50.0, 260.0) | {"x_sum": 3.0}
    doc = document()
    doc["metrics"][0]["groups"] = {"control": group, "treatment": continuous(10, 50.0, 260.0)}
    ((path, message),) = problems(doc)
    assert path == "$.metrics[0].groups.control"
    assert "x_sum, x_sum_sq and xy_sum" in message


def test_covariates_are_given_for_every_group_of_a_metric_or_none() -> None:
    covariate = {"x_sum": 3.0, "x_sum_sq": 5.0, "xy_sum": 20.0}
    doc = document()
    doc["metrics"][0]["groups"] = {
        "control": continuous(10, 50.0, 260.0) | covariate,
        "treatment": continuous(10, 50.0, 260.0),
    }
    assert paths(doc) == ["$.metrics[0].groups.treatment"]


def test_metric_ids_are_unique() -> None:
    doc = document()
    doc["metrics"][1]["id"] = "conversion"
    ((path, message),) = problems(doc)
    assert path == "$.metrics[1].id"
    assert "$.metrics[0]" in message


def test_only_a_guardrail_takes_a_non_inferiority_margin() -> None:
    doc = document()
    doc["metrics"][0]["non_inferiority_margin"] = 0.01
    assert paths(doc) == ["$.metrics[0].non_inferiority_margin"]
    doc["metrics"][0]["kind"] = "GUARDRAIL"
    parse_input(doc)


def test_expected_weights_name_exactly_the_groups() -> None:
    assert parse_input(document(expected_weights={"control": 1, "treatment": 2}))
    found = problems(document(expected_weights={"control": 1, "treatment": 2, "other": 1}))
    assert found == [("$.expected_weights.other", "unknown group 'other'")]
    found = problems(document(expected_weights={"control": 1}))
    assert found == [("$.expected_weights", "no weight for the group 'treatment'")]


def test_expected_weights_are_not_negative_nor_all_zero() -> None:
    assert paths(document(expected_weights={"control": -1, "treatment": 1})) == [
        "$.expected_weights.control"
    ]
    assert paths(document(expected_weights={"control": 0, "treatment": 0})) == [
        "$.expected_weights"
    ]


def test_power_must_exceed_half_of_alpha() -> None:
    assert paths(document(alpha=0.5, power=0.2)) == ["$.power"]


# -- horizons and interims ---------------------------------------------------------------------


def test_a_sequential_horizon_needs_the_expected_final_total() -> None:
    doc = document(horizon={"kind": "SEQUENTIAL"})
    assert paths(doc) == ["$.horizon.expected_final_total"]


def test_a_fixed_horizon_takes_no_expected_final_total() -> None:
    doc = document(horizon={"kind": "FIXED", "expected_final_total": 100})
    assert paths(doc) == ["$.horizon.expected_final_total"]


def test_interims_need_a_sequential_horizon() -> None:
    doc = sequential({"control": binary(100, 10), "treatment": binary(100, 12)})
    doc["horizon"] = {"kind": "FIXED"}
    assert paths(doc) == ["$.metrics[0].interims"]


def test_cumulative_sizes_must_not_decrease_between_interims() -> None:
    doc = sequential(
        {"control": binary(100, 10), "treatment": binary(100, 12)},
        {"control": binary(200, 20), "treatment": binary(90, 12)},
    )
    ((path, message),) = problems(doc)
    assert path == "$.metrics[0].interims[1].groups.treatment.n"
    assert "must not decrease" in message


def test_every_interim_has_the_same_groups() -> None:
    doc = sequential(
        {"control": binary(100, 10)},
        {"control": binary(200, 20), "treatment": binary(190, 12)},
    )
    assert paths(doc) == ["$.metrics[0].interims[0].groups"]


def test_groups_beside_interims_must_equal_the_latest_interim() -> None:
    latest = {"control": binary(200, 20), "treatment": binary(190, 12)}
    other = {"control": binary(300, 20), "treatment": binary(290, 12)}
    doc = sequential({"control": binary(100, 10), "treatment": binary(100, 12)}, latest)
    doc["metrics"][0]["groups"] = other
    ((path, message),) = problems(doc)
    assert path == "$.metrics[0].groups"
    assert "$.metrics[0].interims[1].groups" in message


def test_interims_are_checked_group_by_group() -> None:
    doc = sequential(
        {"control": binary(100, 101), "treatment": binary(100, 12)},
        {"control": binary(200, 20), "treatment": binary(190, 12)},
    )
    assert paths(doc) == ["$.metrics[0].interims[0].groups.control.sum"]


def test_an_empty_list_of_interims_is_refused() -> None:
    doc = sequential()
    assert paths(doc) == ["$.metrics[0].interims"]


# -- the pooled test ---------------------------------------------------------------------------


def test_the_pooled_test_is_accepted_for_0_1_metrics() -> None:
    assert parse_input(document(pooled=True)).pooled is True


def test_the_pooled_test_needs_the_z_test() -> None:
    assert problems(document(pooled=True, method="t")) == [
        ("$.pooled", 'the pooled test is a z-test: it needs "method": "z"')
    ]


def test_the_pooled_test_refuses_continuous_metrics_and_covariates() -> None:
    doc = document(pooled=True)
    doc["metrics"][0]["groups"] = {
        "control": continuous(100, 50.0, 40.0),
        "treatment": continuous(100, 55.0, 45.0),
    }
    with_covariates = {"x_sum": 10.0, "x_sum_sq": 20.0, "xy_sum": 5.0}
    doc["metrics"][1]["groups"] = {
        "control": binary(1000, 400) | with_covariates,
        "treatment": binary(1000, 410) | with_covariates,
    }
    found = problems(doc)
    assert [path for path, _ in found] == ["$.metrics[0]", "$.metrics[1]"]
    assert "is continuous" in found[0][1]
    assert "has covariates" in found[1][1]
