"""Rendering an analysis outcome: Confidence's AnalysisResult, Alexa's metric snapshot, the
Experiments API's computed results and the terminal table (``flagstone.analysis.outputs``).

The outcomes are built by hand, so every expected value below is an input of the test, not
something the code under test computed. Field names are checked against the seeds' schemas,
transcribed here (Confidence's Create AnalysisResult body, Alexa's Get metric snapshot data
response, the Experiments API's Compute Results response).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest

from flagstone.analysis.outputs import (
    MIN_RELIABLE_UNITS,
    to_analysis_result,
    to_computed_results,
    to_metric_snapshot,
    to_table,
)
from flagstone.analysis.results import (
    AnalysisOutcome,
    Annotation,
    Estimate,
    IntervalResult,
    MetricComparison,
    Recommendation,
    SrmCheck,
)

INF = math.inf

# -- the seeds' field names -----------------------------------------------------------------

_V: dict[str, Any] = {"value": None}
_DIFFERENCE = {"estimate": _V, "lower": _V, "upper": _V, "powered": _V, "isSignificant": _V}
_INTERVAL = {
    "resultTime": None,
    "baselineEstimateAbs": _V,
    "comparedEstimateAbs": _V,
    "baselineEstimateRel": _V,
    "comparedEstimateRel": _V,
    "differenceEstimateAbs": _DIFFERENCE,
    "differenceEstimateRel": _DIFFERENCE,
    "varianceReductionRate": _V,
    "unadjustedEstimateBaseline": _V,
    "unadjustedEstimateCompared": _V,
    "baselineSampleSize": _V,
    "comparedSampleSize": _V,
}
_STATUS = {
    "message": None,
    "decisionPowered": _V,
    "decisionIsSignificant": _V,
    "validationIsSignificant": _V,
}
_ANNOTATION = {"context": [_V], "info": None, "warning": None, "error": {"details": None}}
# Confidence's AnalysisResult (seed 003), plus the enums the Experiments API's example shows
# (seed 000): statsSettings.method, result.status.status and result.status.metricType.
ANALYSIS_RESULT_SCHEMA: dict[str, Any] = {
    "createTime": {},
    "updateTime": {},
    "creator": None,
    "updater": None,
    "name": None,
    "exposureFilter": None,
    "annotations": [_ANNOTATION],
    "results": [
        {
            "id": None,
            "statsSettings": {
                "method": None,
                "adjustedAlpha": None,
                "adjustedBeta": _V,
                "hasVarianceReduction": None,
            },
            "result": [
                {
                    "status": {**_STATUS, "status": None, "metricType": None},
                    "groups": {"baseline": None, "compared": None},
                    "result": [_INTERVAL],
                    "lastResult": _INTERVAL,
                    "sampleSize": {
                        "current": None,
                        "required": None,
                        "poweredEffectRel": _V,
                        "poweredEffectAbs": _V,
                    },
                    "isSignificant": _V,
                    "comparisonId": None,
                    "groupStats": [{"id": None, "sampleSize": None}],
                    "dimensions": [{}],
                    "segmentId": None,
                    "lastDeteriorationResult": _INTERVAL,
                }
            ],
            "annotations": [_ANNOTATION],
            "metricDetails": {"plannedEffectSize": _V, "hasRun": None},
            "srmResult": [
                {
                    "status": _STATUS,
                    "isSignificant": None,
                    "dimensions": [{}],
                    "segmentId": None,
                    "result": [
                        {"group": None, "observed": None, "expected": None, "isSignificant": None}
                    ],
                }
            ],
        }
    ],
    "treatments": [{"id": None, "recommendation": {"status": None}}],
    "labels": [{}],
}
# Alexa's metric snapshot (seed 002).
METRIC_SNAPSHOT_SCHEMA: dict[str, Any] = {
    "status": None,
    "statusReason": None,
    "metrics": [
        {
            "name": None,
            "treatmentId": None,
            "values": {
                "mean": None,
                "percentDiff": None,
                "confidenceIntervalLower": None,
                "confidenceIntervalUpper": None,
                "pValue": None,
                "userCount": None,
            },
        }
    ],
}
# The Experiments API's compute-results answer (seed 001).
COMPUTED_RESULTS_SCHEMA: dict[str, Any] = {
    "data": {
        "experimentId": None,
        "variants": [
            {
                "variantId": None,
                "variantName": None,
                "sampleSize": None,
                "conversions": None,
                "conversionRate": None,
            }
        ],
    }
}


def unknown_fields(document: Any, schema: Any, path: str = "$") -> list[str]:
    """The paths of ``document`` whose field names ``schema`` does not have (a ``None`` leaf
    in the schema accepts any value)."""
    if schema is None:
        return []
    if isinstance(document, dict):
        assert isinstance(schema, dict), path
        unknown = [f"{path}.{key}" for key in document if key not in schema]
        return unknown + [
            p
            for key, value in document.items()
            if key in schema
            for p in unknown_fields(value, schema[key], f"{path}.{key}")
        ]
    if isinstance(document, list):
        assert isinstance(schema, list), path
        return [
            p
            for i, item in enumerate(document)
            for p in unknown_fields(item, schema[0], f"{path}[{i}]")
        ]
    return []


def serialised(document: Any) -> Any:
    """``document`` through strict JSON (no NaN, no inf) and back."""
    return json.loads(json.dumps(document, allow_nan=False))


# -- hand-built outcomes --------------------------------------------------------------------

CONTROL_MEAN = 1210 / 10000
TREATMENT_MEAN = 1333 / 10050
VARIANT_MEAN = 1190 / 9980


def interval(**changes: Any) -> IntervalResult:
    """The conversion comparison of ``treatment`` at a fixed horizon."""
    base = IntervalResult(
        time=None,
        baseline_n=10000,
        compared_n=10050,
        baseline_mean=CONTROL_MEAN,
        compared_mean=TREATMENT_MEAN,
        difference=Estimate(0.0116368159, 0.0024532, 0.0208204),
        relative_difference=Estimate(0.0961720, 0.0201, 0.1722),
        p_value=0.01313,
        adjusted_alpha=0.025,
        significant=True,
        standard_error=0.0046853,
        statistic=2.4836,
    )
    return replace(base, **changes)


def comparison(**changes: Any) -> MetricComparison:
    latest = changes.pop("latest", interval())
    base = MetricComparison(
        metric="conversion",
        kind="METRIC_TYPE_SUCCESS",
        direction="INCREASE",
        baseline="control",
        compared="treatment",
        method="METHOD_Z_TEST",
        unadjusted_baseline_mean=latest.baseline_mean,
        unadjusted_compared_mean=latest.compared_mean,
        latest=latest,
        intervals=(latest,),
        adjusted_alpha=latest.adjusted_alpha,
        adjusted_beta=0.2,
        significant=latest.significant,
        powered=True,
        current_sample_size=latest.baseline_n + latest.compared_n,
        required_sample_size=18000,
        powered_effect_abs=0.0105,
        powered_effect_rel=0.0868,
        variance_reduction_rate=None,
        non_inferiority_p_value=None,
        status="METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE",
        message="treatment increased conversion significantly",
    )
    return replace(base, **changes)


VARIANT_INTERVAL = interval(
    compared_n=9980,
    compared_mean=VARIANT_MEAN,
    difference=Estimate(-0.00176, -0.0108, 0.0073),
    relative_difference=Estimate(-0.01455, -0.089, 0.060),
    p_value=0.7021,
    adjusted_alpha=0.0125,
    significant=False,
)
VARIANT_CONVERSION = comparison(
    compared="variant-b",
    latest=VARIANT_INTERVAL,
    powered=False,
    required_sample_size=40000,
    status="METRIC_RESULT_STATUS_UNDERPOWERED",
    message="variant-b: not significant, and the sample is too small",
)
# A CUPED-adjusted guardrail with a non-inferiority margin and a one-sided interval.
REVENUE_INTERVAL = IntervalResult(
    time=None,
    baseline_n=10000,
    compared_n=10050,
    baseline_mean=4.9,
    compared_mean=4.95,
    difference=Estimate(0.05, -0.02, INF),
    relative_difference=Estimate(0.0102, -0.004, INF),
    p_value=0.21,
    adjusted_alpha=0.05,
    significant=False,
    standard_error=0.0621,
    statistic=0.805,
)
REVENUE = comparison(
    metric="revenue",
    kind="METRIC_TYPE_GUARDRAIL",
    latest=REVENUE_INTERVAL,
    unadjusted_baseline_mean=5.0,
    unadjusted_compared_mean=5.1,
    powered=None,
    required_sample_size=None,
    powered_effect_abs=None,
    powered_effect_rel=None,
    variance_reduction_rate=0.31,
    non_inferiority_p_value=0.004,
    status="METRIC_RESULT_STATUS_NOT_SIGNIFICANT",
    message="revenue: non-inferior",
)
SRM = SrmCheck(
    groups=(
        ("control", 10000, 10010.0),
        ("treatment", 10050, 10010.0),
        ("variant-b", 9980, 10010.0),
    ),
    statistic=0.2498,
    p_value=0.8826,
    mismatch=False,
)
ANNOTATIONS = (
    Annotation("info", "no minimum detectable effect: powered unknown", ("revenue",)),
    Annotation("warning", "zero variance in both groups", ("conversion", "variant-b")),
    Annotation("error", "sample ratio mismatch"),
)
RECOMMENDATIONS = (
    Recommendation(
        "treatment", "TREATMENT_RECOMMENDATION_SHIP", ("conversion: SIGNIFICANT_POSITIVE",)
    ),
    Recommendation("variant-b", "TREATMENT_RECOMMENDATION_INCONCLUSIVE", ()),
)


def outcome(**changes: Any) -> AnalysisOutcome:
    base = AnalysisOutcome(
        alpha=0.05,
        power=0.8,
        method="METHOD_Z_TEST",
        horizon="FIXED",
        correction="bonferroni",
        control="control",
        treatments=("treatment", "variant-b"),
        comparisons=(comparison(), VARIANT_CONVERSION, REVENUE),
        srm=SRM,
        recommendations=RECOMMENDATIONS,
        annotations=ANNOTATIONS,
    )
    return replace(base, **changes)


def sequential_outcome() -> AnalysisOutcome:
    first = interval(
        time="2026-11-20",
        baseline_n=4000,
        compared_n=4010,
        baseline_mean=0.12,
        compared_mean=0.13,
        p_value=0.16,
        adjusted_alpha=0.0003,
        significant=False,
    )
    second = interval(time="2026-11-27", adjusted_alpha=0.0241)
    sequential = comparison(
        latest=second,
        intervals=(first, second),
        variance_reduction_rate=0.2,
        unadjusted_baseline_mean=0.125,
        unadjusted_compared_mean=0.135,
    )
    return outcome(
        horizon="SEQUENTIAL",
        treatments=("treatment",),
        comparisons=(sequential,),
        recommendations=RECOMMENDATIONS[:1],
    )


# -- Confidence's AnalysisResult ------------------------------------------------------------


def metric_result(document: dict[str, Any], metric: str) -> dict[str, Any]:
    (found,) = [r for r in document["results"] if r["id"] == metric]
    return found


def test_analysis_result_is_strict_json_with_the_seeds_field_names() -> None:
    document = to_analysis_result(outcome(), name="analysisResults/x", result_time="2026-11-27")

    assert serialised(document) == document
    assert unknown_fields(document, ANALYSIS_RESULT_SCHEMA) == []


def test_analysis_result_has_one_entry_per_metric_and_one_result_per_treatment() -> None:
    document = to_analysis_result(outcome())

    assert set(document) == {"annotations", "results", "treatments"}
    assert [r["id"] for r in document["results"]] == ["conversion", "revenue"]
    conversion = metric_result(document, "conversion")
    assert [r["groups"] for r in conversion["result"]] == [
        {"baseline": "control", "compared": "treatment"},
        {"baseline": "control", "compared": "variant-b"},
    ]


def test_analysis_result_name_and_result_time_are_written_when_given() -> None:
    document = to_analysis_result(outcome(), name="analysisResults/x", result_time="2026-11-27")

    assert document["name"] == "analysisResults/x"
    last = metric_result(document, "conversion")["result"][0]["lastResult"]
    assert last["resultTime"] == "2026-11-27"


def test_analysis_result_stats_settings_take_the_smallest_adjusted_alpha_of_a_metric() -> None:
    conversion = metric_result(to_analysis_result(outcome()), "conversion")

    assert conversion["statsSettings"] == {
        "method": "METHOD_Z_TEST",
        "adjustedAlpha": 0.0125,
        "adjustedBeta": {"value": 0.2},
        "hasVarianceReduction": False,
    }
    revenue = metric_result(to_analysis_result(outcome()), "revenue")
    assert revenue["statsSettings"]["hasVarianceReduction"] is True


def test_analysis_result_comparison_maps_status_sample_size_and_groups() -> None:
    result = metric_result(to_analysis_result(outcome()), "conversion")["result"][0]

    assert result["status"] == {
        "status": "METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE",
        "metricType": "METRIC_TYPE_SUCCESS",
        "message": "treatment increased conversion significantly",
        "decisionPowered": {"value": True},
        "decisionIsSignificant": {"value": True},
    }
    assert result["sampleSize"] == {
        "current": 20050,
        "required": 18000,
        "poweredEffectRel": {"value": 0.0868},
        "poweredEffectAbs": {"value": 0.0105},
    }
    assert result["isSignificant"] == {"value": True}
    assert result["comparisonId"] == "treatment-vs-control"
    assert result["groupStats"] == [
        {"id": "control", "sampleSize": 10000},
        {"id": "treatment", "sampleSize": 10050},
    ]


def test_analysis_result_interval_maps_every_field() -> None:
    result = metric_result(to_analysis_result(outcome()), "conversion")["result"][0]

    assert result["lastResult"] == {
        "baselineEstimateAbs": {"value": CONTROL_MEAN},
        "comparedEstimateAbs": {"value": TREATMENT_MEAN},
        "differenceEstimateAbs": {
            "estimate": {"value": 0.0116368159},
            "lower": {"value": 0.0024532},
            "upper": {"value": 0.0208204},
            "powered": {"value": 0.0105},
            "isSignificant": {"value": True},
        },
        "differenceEstimateRel": {
            "estimate": {"value": 0.0961720},
            "lower": {"value": 0.0201},
            "upper": {"value": 0.1722},
            "powered": {"value": 0.0868},
            "isSignificant": {"value": True},
        },
        "unadjustedEstimateBaseline": {"value": CONTROL_MEAN},
        "unadjustedEstimateCompared": {"value": TREATMENT_MEAN},
        "baselineSampleSize": {"value": 10000},
        "comparedSampleSize": {"value": 10050},
    }
    assert result["result"] == [result["lastResult"]]


def test_analysis_result_leaves_out_infinite_interval_bounds() -> None:
    result = metric_result(to_analysis_result(outcome()), "revenue")["result"][0]

    absolute = result["lastResult"]["differenceEstimateAbs"]
    assert absolute["lower"] == {"value": -0.02}
    assert "upper" not in absolute
    assert "upper" not in result["lastResult"]["differenceEstimateRel"]


def test_analysis_result_leaves_out_an_undefined_relative_difference() -> None:
    zero_control = interval(
        baseline_mean=0.0, relative_difference=Estimate(None, None, None), significant=False
    )
    document = to_analysis_result(
        outcome(comparisons=(comparison(latest=zero_control, powered_effect_rel=None),))
    )

    relative = document["results"][0]["result"][0]["lastResult"]["differenceEstimateRel"]
    assert relative == {"isSignificant": {"value": False}}


def test_analysis_result_guardrail_reports_cuped_and_non_inferiority() -> None:
    result = metric_result(to_analysis_result(outcome()), "revenue")["result"][0]

    assert result["status"]["metricType"] == "METRIC_TYPE_GUARDRAIL"
    assert result["status"]["validationIsSignificant"] == {"value": True}  # 0.004 < 0.05
    assert "decisionPowered" not in result["status"]
    last = result["lastResult"]
    assert last["varianceReductionRate"] == {"value": 0.31}
    assert last["baselineEstimateAbs"] == {"value": 4.9}
    assert last["unadjustedEstimateBaseline"] == {"value": 5.0}
    assert last["unadjustedEstimateCompared"] == {"value": 5.1}
    assert result["sampleSize"] == {"current": 20050}


def test_analysis_result_guardrail_not_shown_non_inferior() -> None:
    document = to_analysis_result(
        outcome(comparisons=(replace(REVENUE, non_inferiority_p_value=0.3),))
    )

    status = document["results"][0]["result"][0]["status"]
    assert status["validationIsSignificant"] == {"value": False}


def test_analysis_result_sequential_has_one_result_per_interim() -> None:
    result = to_analysis_result(sequential_outcome())["results"][0]["result"][0]

    first, second = result["result"]
    assert [first["resultTime"], second["resultTime"]] == ["2026-11-20", "2026-11-27"]
    assert first["baselineSampleSize"] == {"value": 4000}
    assert first["differenceEstimateAbs"]["isSignificant"] == {"value": False}
    assert second == result["lastResult"]


def test_analysis_result_latest_only_values_stay_on_the_latest_interim() -> None:
    result = to_analysis_result(sequential_outcome())["results"][0]["result"][0]

    first, second = result["result"]
    for field in ("varianceReductionRate", "unadjustedEstimateBaseline"):
        assert field not in first
    assert "powered" not in first["differenceEstimateAbs"]
    assert second["varianceReductionRate"] == {"value": 0.2}
    assert second["unadjustedEstimateBaseline"] == {"value": 0.125}
    assert second["unadjustedEstimateCompared"] == {"value": 0.135}
    assert second["differenceEstimateAbs"]["powered"] == {"value": 0.0105}


def test_analysis_result_annotations_follow_the_schema_by_level() -> None:
    document = to_analysis_result(outcome())

    assert document["annotations"] == [
        {
            "context": [{"value": "revenue"}],
            "info": "no minimum detectable effect: powered unknown",
        },
        {
            "context": [{"value": "conversion"}, {"value": "variant-b"}],
            "warning": "zero variance in both groups",
        },
        {"context": [], "error": {"details": "sample ratio mismatch"}},
    ]


def test_analysis_result_metric_entries_repeat_the_annotations_naming_them() -> None:
    document = to_analysis_result(outcome())

    assert metric_result(document, "revenue")["annotations"] == [document["annotations"][0]]
    assert metric_result(document, "conversion")["annotations"] == [document["annotations"][1]]


def test_analysis_result_refuses_an_unknown_annotation_level() -> None:
    with pytest.raises(ValueError, match="annotation level"):
        to_analysis_result(outcome(annotations=(Annotation("debug", "?"),)))


def test_analysis_result_srm_result_lists_every_group() -> None:
    srm_result = metric_result(to_analysis_result(outcome()), "conversion")["srmResult"]

    assert len(srm_result) == 1
    assert srm_result[0]["isSignificant"] is False
    assert "message" in srm_result[0]["status"]
    assert srm_result[0]["result"] == [
        {"group": "control", "observed": 10000, "expected": 10010.0, "isSignificant": False},
        {"group": "treatment", "observed": 10050, "expected": 10010.0, "isSignificant": False},
        {"group": "variant-b", "observed": 9980, "expected": 10010.0, "isSignificant": False},
    ]


def test_analysis_result_srm_mismatch_is_significant() -> None:
    mismatch = replace(SRM, p_value=1e-6, statistic=27.6, mismatch=True)
    srm_result = to_analysis_result(outcome(srm=mismatch))["results"][0]["srmResult"][0]

    assert srm_result["isSignificant"] is True
    assert {group["isSignificant"] for group in srm_result["result"]} == {True}


def test_analysis_result_without_srm_check_has_no_srm_result() -> None:
    document = to_analysis_result(outcome(srm=None))

    assert all("srmResult" not in result for result in document["results"])


def test_analysis_result_treatments_carry_their_recommendation() -> None:
    assert to_analysis_result(outcome())["treatments"] == [
        {"id": "treatment", "recommendation": {"status": "TREATMENT_RECOMMENDATION_SHIP"}},
        {"id": "variant-b", "recommendation": {"status": "TREATMENT_RECOMMENDATION_INCONCLUSIVE"}},
    ]


# -- Alexa's metric snapshot ----------------------------------------------------------------


def test_metric_snapshot_is_strict_json_with_the_seeds_field_names() -> None:
    document = to_metric_snapshot(outcome(), "treatment")

    assert serialised(document) == document
    assert unknown_fields(document, METRIC_SNAPSHOT_SCHEMA) == []


def test_metric_snapshot_is_reliable_without_srm_and_with_enough_units() -> None:
    document = to_metric_snapshot(outcome(), "treatment")

    assert document["status"] == "RELIABLE"
    assert "statusReason" not in document


def test_metric_snapshot_has_a_control_and_a_t1_entry_per_metric() -> None:
    metrics = to_metric_snapshot(outcome(), "treatment")["metrics"]

    assert [(m["name"], m["treatmentId"]) for m in metrics] == [
        ("conversion", "C"),
        ("conversion", "T1"),
        ("revenue", "C"),
        ("revenue", "T1"),
    ]
    assert metrics[0]["values"] == {"mean": CONTROL_MEAN, "userCount": 10000}


def test_metric_snapshot_values_are_in_percent() -> None:
    values = to_metric_snapshot(outcome(), "treatment")["metrics"][1]["values"]

    assert values == {
        "mean": TREATMENT_MEAN,
        "percentDiff": pytest.approx(9.61720, rel=1e-12),
        "confidenceIntervalLower": pytest.approx(2.01, rel=1e-12),
        "confidenceIntervalUpper": pytest.approx(17.22, rel=1e-12),
        "pValue": 0.01313,
        "userCount": 10050,
    }


def test_metric_snapshot_means_are_the_unadjusted_sample_means() -> None:
    metrics = to_metric_snapshot(outcome(), "treatment")["metrics"]

    assert metrics[2]["values"]["mean"] == 5.0
    assert metrics[3]["values"]["mean"] == 5.1
    assert "confidenceIntervalUpper" not in metrics[3]["values"]  # +inf: left out


def test_metric_snapshot_shows_only_the_chosen_treatment() -> None:
    metrics = to_metric_snapshot(outcome(), "variant-b")["metrics"]

    assert [(m["name"], m["treatmentId"]) for m in metrics] == [
        ("conversion", "C"),
        ("conversion", "T1"),
    ]
    assert metrics[1]["values"]["userCount"] == 9980
    assert metrics[1]["values"]["pValue"] == 0.7021


def test_metric_snapshot_is_unreliable_on_sample_ratio_mismatch() -> None:
    mismatch = replace(SRM, p_value=1e-6, mismatch=True)
    document = to_metric_snapshot(outcome(srm=mismatch), "treatment")

    assert document["status"] == "UNRELIABLE"
    reasons = json.loads(document["statusReason"])
    assert len(reasons) == 1
    assert "sample ratio mismatch" in reasons[0]


def test_metric_snapshot_is_unreliable_with_a_too_small_group() -> None:
    small = interval(baseline_n=MIN_RELIABLE_UNITS - 1)
    document = to_metric_snapshot(outcome(comparisons=(comparison(latest=small),)), "treatment")

    assert document["status"] == "UNRELIABLE"
    (reason,) = json.loads(document["statusReason"])
    assert "control" in reason and str(MIN_RELIABLE_UNITS - 1) in reason


def test_metric_snapshot_with_exactly_the_minimum_units_is_reliable() -> None:
    enough = interval(baseline_n=MIN_RELIABLE_UNITS, compared_n=MIN_RELIABLE_UNITS)
    document = to_metric_snapshot(outcome(comparisons=(comparison(latest=enough),)), "treatment")

    assert document["status"] == "RELIABLE"


def test_metric_snapshot_refuses_an_unknown_treatment() -> None:
    with pytest.raises(ValueError, match="unknown treatment 'nope'"):
        to_metric_snapshot(outcome(), "nope")
    with pytest.raises(ValueError, match="unknown treatment 'control'"):
        to_metric_snapshot(outcome(), "control")


# -- the Experiments API's computed results -------------------------------------------------


def test_computed_results_is_strict_json_with_the_seeds_field_names() -> None:
    document = to_computed_results(outcome(), "conversion", experiment_id="exp_abc123")

    assert serialised(document) == document
    assert unknown_fields(document, COMPUTED_RESULTS_SCHEMA) == []
    assert document["data"]["experimentId"] == "exp_abc123"


def test_computed_results_gives_units_conversions_and_rate_per_variant() -> None:
    document = to_computed_results(outcome(), "conversion")

    assert document == {
        "data": {
            "variants": [
                {
                    "variantId": "control",
                    "sampleSize": 10000,
                    "conversions": 1210,
                    "conversionRate": CONTROL_MEAN,
                },
                {
                    "variantId": "treatment",
                    "sampleSize": 10050,
                    "conversions": 1333,
                    "conversionRate": TREATMENT_MEAN,
                },
                {
                    "variantId": "variant-b",
                    "sampleSize": 9980,
                    "conversions": 1190,
                    "conversionRate": VARIANT_MEAN,
                },
            ]
        }
    }


def test_computed_results_at_rates_zero_and_one() -> None:
    edges = interval(baseline_mean=0.0, compared_mean=1.0, baseline_n=2, compared_n=3)
    variants = to_computed_results(outcome(comparisons=(comparison(latest=edges),)), "conversion")[
        "data"
    ]["variants"]

    assert [(v["conversions"], v["conversionRate"]) for v in variants] == [(0, 0.0), (3, 1.0)]


def test_computed_results_counts_ten_million_units_exactly() -> None:
    big = interval(
        baseline_n=10**7,
        baseline_mean=1234567 / 10**7,
        compared_n=10**7 + 1,
        compared_mean=7654321 / (10**7 + 1),
    )
    variants = to_computed_results(outcome(comparisons=(comparison(latest=big),)), "conversion")[
        "data"
    ]["variants"]

    assert [v["conversions"] for v in variants] == [1234567, 7654321]


def test_computed_results_use_the_unadjusted_rates() -> None:
    cuped = comparison(
        latest=interval(baseline_mean=0.118, compared_mean=0.135),
        unadjusted_baseline_mean=CONTROL_MEAN,
        unadjusted_compared_mean=TREATMENT_MEAN,
        variance_reduction_rate=0.1,
    )
    variants = to_computed_results(outcome(comparisons=(cuped,)), "conversion")["data"]["variants"]

    assert [v["conversionRate"] for v in variants] == [CONTROL_MEAN, TREATMENT_MEAN]


def test_computed_results_refuses_an_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        to_computed_results(outcome(), "nope")


def test_computed_results_refuses_a_continuous_metric() -> None:
    with pytest.raises(ValueError, match="not a conversion"):
        to_computed_results(outcome(), "revenue")  # means of about 5


def test_computed_results_refuses_a_rate_that_is_no_count() -> None:
    fractional = interval(baseline_mean=0.12345678)
    with pytest.raises(ValueError, match="not a conversion"):
        to_computed_results(outcome(comparisons=(comparison(latest=fractional),)), "conversion")


# -- the terminal table ---------------------------------------------------------------------


def row_of(table: str, metric: str, treatment: str) -> str:
    (row,) = [line for line in table.splitlines() if line.split()[:2] == [metric, treatment]]
    return row


def test_table_has_a_header_and_one_row_per_metric_and_treatment() -> None:
    lines = to_table(outcome()).splitlines()

    header = next(line for line in lines if line.startswith("metric"))
    for column in (
        "treatment",
        "control mean",
        "abs diff [CI]",
        "rel diff % [CI]",
        "SE",
        "statistic",
        "p-value",
        "adj. alpha",
        "status",
    ):
        assert column in header
    rows = [line.split()[:2] for line in lines if line.split()[:1] in (["conversion"], ["revenue"])]
    assert rows == [
        ["conversion", "treatment"],
        ["conversion", "variant-b"],
        ["revenue", "treatment"],
    ]


def test_table_row_shows_the_numbers() -> None:
    row = row_of(to_table(outcome()), "conversion", "treatment")

    for number in (
        CONTROL_MEAN,
        TREATMENT_MEAN,
        0.0116368159,
        0.0024532,
        0.0208204,
        0.01313,
        0.025,
    ):
        assert f"{number:.4g}" in row
    assert f"{0.0961720 * 100:.4g} [{0.0201 * 100:.4g}, {0.1722 * 100:.4g}]" in row
    assert f"{0.0116368159:.4g} [{0.0024532:.4g}, {0.0208204:.4g}]" in row
    # the test's standard error and statistic sit between the relative interval and the p
    cells = row.split()
    at = cells.index(f"{0.1722 * 100:.4g}]")
    assert cells[at + 1 : at + 4] == [f"{0.0046853:.4g}", f"{2.4836:.4g}", f"{0.01313:.4g}"]
    assert row.rstrip().endswith("SIGNIFICANT_POSITIVE")


def test_table_columns_are_aligned() -> None:
    lines = to_table(outcome()).splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    rows = [line for line in lines if line.split()[:1] in (["conversion"], ["revenue"])]

    start = header.index("p-value")
    for row in rows:
        assert row[start - 2 : start] == "  " and row[start] != " "


def test_table_shows_open_bounds_and_undefined_values() -> None:
    zero_control = interval(baseline_mean=0.0, relative_difference=Estimate(None, None, None))
    table = to_table(outcome(comparisons=(comparison(latest=zero_control), REVENUE)))

    assert "n/a [n/a, n/a]" in row_of(table, "conversion", "treatment")
    assert "[-0.02, inf]" in row_of(table, "revenue", "treatment")


def test_table_shows_settings_srm_annotations_and_recommendations() -> None:
    table = to_table(outcome())

    assert table.splitlines()[0].startswith("alpha 0.05, power 0.8, METHOD_Z_TEST, FIXED horizon")
    srm_line = next(line for line in table.splitlines() if line.startswith("SRM"))
    assert (
        "ok" in srm_line
        and "control 10000 (expected 10010.0)" in srm_line
        and "p 0.8826" in srm_line
    )
    assert "warning: zero variance in both groups (conversion, variant-b)" in table
    assert "error: sample ratio mismatch" in table
    assert "recommendation for treatment: SHIP (conversion: SIGNIFICANT_POSITIVE)" in table
    assert "recommendation for variant-b: INCONCLUSIVE" in table


def test_table_flags_a_sample_ratio_mismatch() -> None:
    table = to_table(outcome(srm=replace(SRM, p_value=1e-6, mismatch=True)))

    assert "SRM: MISMATCH" in table


def test_table_without_srm_check() -> None:
    assert "SRM: not checked" in to_table(outcome(srm=None))
