"""Metric definitions and the A/B test's metrics block: the models, the metrics file parser
and the snapshot's checks, every problem named with its JSON path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flagstone.errors import ConfigError
from flagstone.formats import parse_snapshot
from flagstone.formats.metrics import parse_metrics
from flagstone.model.abtests import ABTEST_INSTANCE
from flagstone.model.metrics import AbTestMetrics, format_duration, parse_duration
from tests.pipelinedata import METRICS, snapshot_document

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 604_800),
        ("0s", 0),
        ("-14d", -1_209_600),
        ("1d12h", 129_600),
        ("90m", 5_400),
        ("604800s", 604_800),
        ("2h30m15s", 9_015),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["7", "7 days", "d", "", "1.5d", "7d-1h", "P7D"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_metrics_file_parses_into_definitions() -> None:
    definitions = parse_metrics(json.dumps({"metrics": METRICS}))
    conversion = definitions.get("metrics/conversion")
    assert conversion is not None and definitions.get("conversion") is conversion
    assert conversion.window.start == 0 and conversion.window.end == 7 * 86_400
    assert conversion.covariate_window is not None
    assert (conversion.covariate_window.start, conversion.covariate_window.end) == (-14 * 86_400, 0)
    ratio = definitions.get("revenue-per-click")
    assert ratio is not None and ratio.is_ratio
    assert [(p.event, p.aggregation) for p in ratio.parts] == [
        ("purchase", "SUM"),
        ("click", "COUNT"),
    ]
    assert ratio.window.end == 5 * 86_400
    assert definitions.get("metrics/unknown") is None


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        (
            {"name": "conversion", "event": "e", "aggregation": "COUNT"},
            "$.metrics[0].name",
            "metrics/<id>",
        ),
        ({"name": "metrics/a"}, "$.metrics[0]", "an event and an aggregation, or a ratio"),
        ({"name": "metrics/a", "event": "e"}, "$.metrics[0].aggregation", "required with an event"),
        ({"name": "metrics/a", "event": "", "aggregation": "SUM"}, "$.metrics[0].event", "empty"),
        (
            {"name": "metrics/a", "event": "e", "aggregation": "MEDIAN"},
            "$.metrics[0].aggregation",
            "CONVERSION",
        ),
        (
            {"name": "metrics/a", "event": "e", "aggregation": "SUM", "window": {"start": "-1d"}},
            "$.metrics[0].window.start",
            "covariateWindow",
        ),
        (
            {
                "name": "metrics/a",
                "event": "e",
                "aggregation": "SUM",
                "window": {"start": "2d", "end": "1d"},
            },
            "$.metrics[0].window.end",
            "not after its start",
        ),
        (
            {"name": "metrics/a", "event": "e", "aggregation": "SUM", "window": {"end": "a week"}},
            "$.metrics[0].window.end",
            "not a duration",
        ),
        (
            {
                "name": "metrics/a",
                "event": "e",
                "aggregation": "SUM",
                "covariateWindow": {"start": "-1d", "end": "1h"},
            },
            "$.metrics[0].covariateWindow.end",
            "ends by the exposure",
        ),
        (
            {
                "name": "metrics/a",
                "event": "e",
                "aggregation": "SUM",
                "covariateWindow": {"start": "0s"},
            },
            "$.metrics[0].covariateWindow.start",
            "not before its end",
        ),
        (
            {
                "name": "metrics/a",
                "ratio": {
                    "numerator": {"event": "e", "aggregation": "AVERAGE"},
                    "denominator": {"event": "f", "aggregation": "COUNT"},
                },
            },
            "$.metrics[0].ratio.numerator.aggregation",
            "summed over units",
        ),
        (
            {
                "name": "metrics/a",
                "event": "e",
                "aggregation": "SUM",
                "ratio": {
                    "numerator": {"event": "e", "aggregation": "SUM"},
                    "denominator": {"event": "f", "aggregation": "COUNT"},
                },
            },
            "$.metrics[0]",
            "not both",
        ),
        (
            {
                "name": "metrics/a",
                "covariateWindow": {"start": "-7d"},
                "ratio": {
                    "numerator": {"event": "e", "aggregation": "SUM"},
                    "denominator": {"event": "f", "aggregation": "COUNT"},
                },
            },
            "$.metrics[0].covariateWindow",
            "no covariate",
        ),
        (
            {"name": "metrics/a", "event": "e", "aggregation": "SUM", "colour": "red"},
            "$.metrics[0].colour",
            "unknown field",
        ),
    ],
)
def test_every_problem_of_a_metrics_file_has_its_path(
    definition: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_metrics({"metrics": [definition]}, source="metrics.json")
    assert any(p.path == path and message in p.message for p in raised.value.problems), (
        raised.value.messages
    )
    assert "metrics.json" in str(raised.value)


def test_one_run_names_every_problem_even_beside_a_structural_one() -> None:
    document = {
        "metrics": [
            {"name": "metrics/a", "event": "e", "aggregation": "SUM", "window": {"end": "soon"}},
            {
                "name": "metrics/b",
                "event": "e",
                "aggregation": "SUM",
                "window": {"start": "3d", "end": "1d"},
            },
            {"name": "metrics/b", "event": "e", "aggregation": "COUNT"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        parse_metrics(document)
    assert {p.path for p in raised.value.problems} == {
        "$.metrics[0].window.end",
        "$.metrics[1].window.end",
        "$.metrics[2].name",
    }


def test_not_a_metrics_file() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_metrics(b"{")
    with pytest.raises(ConfigError, match="expected an object"):
        parse_metrics("[]")


def test_the_seed_000_metrics_blocks_load_typed() -> None:
    text = (SEEDS / "000_9a61d2f6ea7f7931.txt").read_text()
    bodies = [json.loads(part.split("'", 1)[0]) for part in text.split("-d '")[1:]]
    blocks = [body["metrics"] for body in bodies if "metrics" in body]
    assert len(blocks) == 2
    first = AbTestMetrics()  # the defaults
    assert first.bucket == "DAYS" and first.metrics == []
    days = ABTEST_INSTANCE.validate_python(
        {"name": "workflows/abtest/instances/a", "metrics": blocks[0]}
    )
    hours = ABTEST_INSTANCE.validate_python(
        {"name": "workflows/abtest/instances/b", "metrics": blocks[1]}
    )
    assert days.metrics is not None and hours.metrics is not None
    assert days.metrics.bucket == "DAYS" and hours.metrics.bucket == "HOURS"
    metric = days.metrics.metrics[0]
    assert metric.metric == "metrics/conversion-rate"
    assert metric.metric_role.metric_kind == "SUCCESS"
    assert metric.metric_role.minimum_detectable_effect == 0.01
    assert metric.preferred_direction == "INCREASE"
    exposure_filter = hours.metrics.filters[0]
    assert (
        exposure_filter.display_name == "home"
        and exposure_filter.fact_table == "factTables/my-fact-table"
    )
    assert exposure_filter.filter is not None
    criterion = exposure_filter.filter.criteria["page-1"].attribute
    assert criterion is not None and criterion.attribute_name == "page"


def test_a_snapshot_carries_definitions_and_checks_the_tests_references() -> None:
    document = snapshot_document(
        roles={"metrics/clicks": {"metricKind": "GUARDRAIL", "nonInferiorityMargin": "0.02"}}
    )
    parsed = parse_snapshot(document)
    assert [d.name for d in parsed.model.metrics] == [m["name"] for m in METRICS]
    block = parsed.model.abtests[0].metrics
    assert block is not None
    role = next(m.metric_role for m in block.metrics if m.metric == "metrics/clicks")
    assert role.non_inferiority_margin == 0.02  # a decimal string, as protobuf writes
    broken = copy.deepcopy(document)
    test_block = broken["abtests"][0]["metrics"]
    test_block["metrics"] += [
        {"metric": "metrics/nowhere"},
        {"metric": "metrics/clicks"},
        {"metric": "metrics/revenue", "metricRole": {"nonInferiorityMargin": 0.1}},
        {"metric": "metrics/conversion", "metricRole": {"minimumDetectableEffect": -1}},
    ]
    test_block["filters"] = [
        {
            "displayName": "f",
            "filter": {
                "criteria": {"s": {"segment": {"segment": "segments/x"}}},
                "expression": {"ref": "s"},
            },
        },
        {"displayName": "f"},
    ]
    broken["metrics"][1]["window"] = {"end": "0s"}
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(broken)
    found = {(p.path, p.message.split(" (")[0]) for p in raised.value.problems}
    base = "$.abtests[0].metrics"
    n = len(METRICS)
    expected_paths = {
        f"{base}.metrics[{n}].metric",
        f"{base}.metrics[{n + 1}].metric",
        f"{base}.metrics[{n + 2}].metricRole.nonInferiorityMargin",
        f"{base}.metrics[{n + 3}].metric",
        f"{base}.metrics[{n + 3}].metricRole.minimumDetectableEffect",
        f"{base}.filters[0].filter.criteria.s",
        f"{base}.filters[1].displayName",
        "$.metrics[1].window.end",
    }
    assert expected_paths <= {path for path, _ in found}, found


def test_a_test_may_name_metrics_without_definitions_in_the_snapshot() -> None:
    document = snapshot_document()
    del document["metrics"]
    parsed = parse_snapshot(document)  # the references are checked only against definitions
    assert parsed.model.metrics == []


def test_a_broken_definition_does_not_hide_the_tests_other_problems() -> None:
    document = snapshot_document()
    document["metrics"][0]["aggregation"] = "MEDIAN"
    document["abtests"][0]["abtest"]["treatments"][0]["weight"] = 10
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(document)
    paths = {p.path for p in raised.value.problems}
    assert "$.metrics[0].aggregation" in paths
    assert "$.abtests[0].abtest.treatments" in paths
