"""Specification of flagstone.analysis.engine.analyze: from an input document to decisions.

Each status, correction, power figure, CUPED adjustment, sequential look, SRM check,
annotation and recommendation is checked against the building blocks called directly
(``compare``, ``non_inferiority``, ``required_sample_size``, ``sequential_bounds``,
``sample_ratio_mismatch``, ``cuped``) or against statsmodels on the same data — never
against numbers the engine produced.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats import proportion
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from flagstone.analysis.comparison import compare, non_inferiority
from flagstone.analysis.corrections import holm
from flagstone.analysis.cuped import CovariateSums, cuped
from flagstone.analysis.engine import analyze
from flagstone.analysis.groups import GroupStats
from flagstone.analysis.inputs import parse_input
from flagstone.analysis.power import powered_effect, required_sample_size
from flagstone.analysis.results import (
    METRIC_STATUSES,
    RECOMMENDATIONS,
    AnalysisOutcome,
    MetricComparison,
)
from flagstone.analysis.sequential import information_fractions, sequential_bounds
from flagstone.analysis.srm import sample_ratio_mismatch

REL = 1e-9
POSITIVE = "METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE"
NEGATIVE = "METRIC_RESULT_STATUS_SIGNIFICANT_NEGATIVE"
NOT_SIGNIFICANT = "METRIC_RESULT_STATUS_NOT_SIGNIFICANT"
UNDERPOWERED = "METRIC_RESULT_STATUS_UNDERPOWERED"
DETERIORATION = "METRIC_RESULT_STATUS_GUARDRAIL_DETERIORATION"
SHIP = "TREATMENT_RECOMMENDATION_SHIP"
DO_NOT_SHIP = "TREATMENT_RECOMMENDATION_DO_NOT_SHIP"
INCONCLUSIVE = "TREATMENT_RECOMMENDATION_INCONCLUSIVE"


# -- building inputs ---------------------------------------------------------------------------


def binary(n: int, total: int) -> dict[str, Any]:
    return {"n": n, "sum": total}


def continuous(values: np.ndarray, covariates: np.ndarray | None = None) -> dict[str, Any]:
    """A continuous group's sums from raw values (and CUPED sums from covariates)."""
    group: dict[str, Any] = {
        "n": int(values.size),
        "sum": math.fsum(values),
        "sum_sq": math.fsum(values * values),
    }
    if covariates is not None:
        group["x_sum"] = math.fsum(covariates)
        group["x_sum_sq"] = math.fsum(covariates * covariates)
        group["xy_sum"] = math.fsum(covariates * values)
    return group


def metric(metric_id: str, groups: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": metric_id, "groups": groups, **fields}


def outcome(*metrics: dict[str, Any], **options: Any) -> AnalysisOutcome:
    return analyze(parse_input({"metrics": list(metrics), **options}))


def only(result: AnalysisOutcome, metric_id: str | None = None, treatment: str | None = None):
    """The single comparison of ``metric_id`` (and ``treatment``)."""
    (found,) = [
        c
        for c in result.comparisons
        if metric_id in (None, c.metric) and treatment in (None, c.compared)
    ]
    return found


def stats(group: dict[str, Any]) -> GroupStats:
    return GroupStats(**group)


def recommendation(result: AnalysisOutcome, treatment: str = "treatment") -> str:
    (found,) = [r for r in result.recommendations if r.treatment == treatment]
    return found.status


def annotations(result: AnalysisOutcome, level: str) -> list[str]:
    return [a.message for a in result.annotations if a.level == level]


# 10 % against 12 % conversion in 10 000 units each: p ≈ 1e-5.
CONTROL = binary(10_000, 1_000)
BETTER = binary(10_000, 1_200)
WORSE = binary(10_000, 800)
SAME = binary(10_000, 1_000)


# -- end to end: the same numbers as compare ---------------------------------------------------


@pytest.mark.parametrize(
    ("control", "treatment", "options"),
    [
        (CONTROL, BETTER, {}),
        (binary(812, 101), binary(790, 70), {"relative_interval": "spotify"}),
        (
            continuous(np.random.default_rng(3).normal(10.0, 2.0, 300)),
            continuous(np.random.default_rng(4).normal(10.5, 3.0, 250)),
            {"method": "t"},
        ),
    ],
)
def test_a_plain_comparison_is_exactly_what_compare_gives(
    control: dict[str, Any], treatment: dict[str, Any], options: dict[str, Any]
) -> None:
    result = only(outcome(metric("m", {"control": control, "treatment": treatment}), **options))
    reference = compare(
        stats(control),
        stats(treatment),
        method=options.get("method", "z"),
        relative=options.get("relative_interval", "delta"),
        alpha=0.05,
    )
    latest = result.latest
    assert latest.difference.value == reference.difference
    assert (latest.difference.lower, latest.difference.upper) == (
        reference.ci_lower,
        reference.ci_upper,
    )
    assert latest.p_value == reference.p_value
    assert latest.relative_difference.value == reference.relative_difference
    assert (latest.relative_difference.lower, latest.relative_difference.upper) == (
        reference.relative_ci_lower,
        reference.relative_ci_upper,
    )
    assert (latest.baseline_mean, latest.compared_mean) == (
        reference.control_mean,
        reference.treatment_mean,
    )
    assert (latest.baseline_n, latest.compared_n) == (control["n"], treatment["n"])
    assert latest.significant == reference.significant
    assert result.unadjusted_baseline_mean == reference.control_mean


def test_a_fixed_horizon_has_one_interval_without_a_time() -> None:
    result = only(outcome(metric("m", {"control": CONTROL, "treatment": BETTER})))
    assert result.intervals == (result.latest,)
    assert result.latest.time is None


def test_the_outcome_names_the_settings_in_the_seeds_terms() -> None:
    result = outcome(
        metric("m", {"control": CONTROL, "treatment": BETTER}, kind="GUARDRAIL"),
        method="t",
        correction="holm",
        alpha=0.01,
        power=0.9,
    )
    assert (result.alpha, result.power, result.horizon) == (0.01, 0.9, "FIXED")
    assert (result.method, result.correction) == ("METHOD_T_TEST", "holm")
    comparison = only(result)
    assert comparison.kind == "METRIC_TYPE_GUARDRAIL"
    assert comparison.method == "METHOD_T_TEST"
    assert comparison.adjusted_beta == pytest.approx(0.1, rel=REL)
    assert (comparison.baseline, comparison.compared) == ("control", "treatment")


# -- statuses ----------------------------------------------------------------------------------


def test_a_significant_increase_of_an_increase_metric_is_significant_positive() -> None:
    result = only(outcome(metric("m", {"control": CONTROL, "treatment": BETTER})))
    assert result.significant
    assert result.status == POSITIVE


def test_a_significant_increase_of_a_decrease_metric_is_significant_negative() -> None:
    groups = {"control": CONTROL, "treatment": BETTER}
    result = only(outcome(metric("m", groups, direction="DECREASE")))
    assert result.direction == "DECREASE"
    assert result.status == NEGATIVE


def test_a_significant_decrease_of_a_decrease_metric_is_significant_positive() -> None:
    groups = {"control": CONTROL, "treatment": WORSE}
    assert only(outcome(metric("m", groups, direction="DECREASE"))).status == POSITIVE


def test_a_significant_decrease_of_an_increase_metric_is_significant_negative() -> None:
    assert only(outcome(metric("m", {"control": CONTROL, "treatment": WORSE}))).status == NEGATIVE


def test_no_significant_change_with_enough_units_is_not_significant_and_powered() -> None:
    groups = {"control": binary(1_000_000, 100_000), "treatment": binary(1_000_000, 100_100)}
    result = only(outcome(metric("m", groups, minimum_detectable_effect=0.05)))
    assert not result.significant
    assert result.powered is True
    assert result.current_sample_size >= result.required_sample_size
    assert result.status == NOT_SIGNIFICANT


def test_no_significant_change_with_too_few_units_is_underpowered() -> None:
    groups = {"control": binary(1_000, 100), "treatment": binary(1_000, 105)}
    result = only(outcome(metric("m", groups, minimum_detectable_effect=0.01)))
    assert result.powered is False
    assert result.current_sample_size < result.required_sample_size
    assert result.status == UNDERPOWERED


def test_without_a_minimum_detectable_effect_powered_is_unknown() -> None:
    groups = {"control": binary(1_000, 100), "treatment": binary(1_000, 105)}
    result = only(outcome(metric("m", groups)))
    assert result.powered is None
    assert result.required_sample_size is None
    assert result.status == NOT_SIGNIFICANT


def test_a_significant_result_is_not_underpowered_however_small_the_sample() -> None:
    groups = {"control": CONTROL, "treatment": BETTER}
    result = only(outcome(metric("m", groups, minimum_detectable_effect=0.001)))
    assert result.powered is False
    assert result.status == POSITIVE


# The treatment converts at exactly 1 % (relative) below control — on the margin — and the
# two-sided test sees nothing (z = -1): neither shown non-inferior nor significantly worse.
ON_THE_MARGIN = {"control": binary(20_000, 10_000), "treatment": binary(20_000, 9_900)}


def test_a_guardrail_not_shown_non_inferior_with_a_powered_sample_deteriorates() -> None:
    guardrail = metric(
        "g",
        ON_THE_MARGIN,
        kind="GUARDRAIL",
        non_inferiority_margin=0.01,
        minimum_detectable_effect=0.05,
    )
    result = only(outcome(guardrail))
    assert not result.significant
    assert result.powered is True
    assert result.non_inferiority_p_value > result.adjusted_alpha
    assert result.status == DETERIORATION


def test_a_guardrail_not_shown_non_inferior_without_power_is_underpowered() -> None:
    guardrail = metric(
        "g",
        ON_THE_MARGIN,
        kind="GUARDRAIL",
        non_inferiority_margin=0.01,
        minimum_detectable_effect=0.001,
    )
    assert only(outcome(guardrail)).status == UNDERPOWERED


def test_a_guardrail_significantly_worse_beyond_its_margin_deteriorates() -> None:
    groups = {"control": CONTROL, "treatment": WORSE}
    guardrail = metric("g", groups, kind="GUARDRAIL", non_inferiority_margin=0.01)
    result = only(outcome(guardrail))
    assert result.significant
    assert result.status == DETERIORATION


def test_a_guardrail_without_a_margin_deteriorates_when_significantly_worse() -> None:
    groups = {"control": CONTROL, "treatment": WORSE}
    assert only(outcome(metric("g", groups, kind="GUARDRAIL"))).status == DETERIORATION
    groups = {"control": CONTROL, "treatment": BETTER}
    assert only(outcome(metric("g", groups, kind="GUARDRAIL"))).status == POSITIVE


def test_a_guardrail_shown_non_inferior_is_fine() -> None:
    groups = {"control": binary(100_000, 50_000), "treatment": binary(100_000, 49_900)}
    guardrail = metric("g", groups, kind="GUARDRAIL", non_inferiority_margin=0.02)
    result = outcome(guardrail, alpha=0.1)
    comparison = only(result)
    reference = non_inferiority(
        stats(groups["control"]), stats(groups["treatment"]), margin=0.02, alpha=0.1
    )
    assert reference.non_inferior
    assert comparison.non_inferiority_p_value == reference.p_value
    assert comparison.status == NOT_SIGNIFICANT
    assert recommendation(result) == INCONCLUSIVE


def test_a_decrease_guardrail_tests_non_inferiority_in_its_direction() -> None:
    groups = {"control": binary(100_000, 50_000), "treatment": binary(100_000, 50_100)}
    guardrail = metric(
        "g", groups, kind="GUARDRAIL", direction="DECREASE", non_inferiority_margin=0.02
    )
    comparison = only(outcome(guardrail))
    reference = non_inferiority(
        stats(groups["control"]), stats(groups["treatment"]), margin=0.02, preferred="decrease"
    )
    assert comparison.non_inferiority_p_value == reference.p_value
    assert comparison.status == NOT_SIGNIFICANT


def test_a_guardrail_worse_within_its_margin_is_significant_negative_yet_does_not_block() -> None:
    # 1 % worse, significantly so with a million units each, but the margin is 5 %.
    groups = {"control": binary(1_000_000, 500_000), "treatment": binary(1_000_000, 495_000)}
    guardrail = metric("g", groups, kind="GUARDRAIL", non_inferiority_margin=0.05)
    success = metric("s", {"control": CONTROL, "treatment": BETTER})
    result = outcome(success, guardrail)
    assert only(result, "g").status == NEGATIVE
    assert recommendation(result) == SHIP


def test_every_status_is_one_of_the_documented_ones() -> None:
    result = outcome(
        metric("a", {"control": CONTROL, "treatment": BETTER}),
        metric("b", ON_THE_MARGIN, kind="GUARDRAIL", non_inferiority_margin=0.01),
    )
    assert {c.status for c in result.comparisons} <= set(METRIC_STATUSES)
    assert {r.status for r in result.recommendations} <= set(RECOMMENDATIONS)


# -- multiple testing --------------------------------------------------------------------------


def mixed_experiment(correction: str) -> AnalysisOutcome:
    """Five success metrics and two guardrails, two treatments, effects from none to large."""
    metrics = []
    for k, lift in enumerate([0, 150, 226, 260, 400]):
        groups = {
            "control": binary(20_000, 4_000),
            "a": binary(20_000, 4_000 + lift),
            "b": binary(20_000, 4_000 + lift // 2),
        }
        metrics.append(metric(f"s{k}", groups))
    for k, drop in enumerate([0, 300]):
        groups = {
            "control": binary(20_000, 4_000),
            "a": binary(20_000, 4_000 - drop),
            "b": binary(20_000, 4_000 - drop // 3),
        }
        metrics.append(metric(f"g{k}", groups, kind="GUARDRAIL"))
    return analyze(parse_input({"metrics": metrics, "correction": correction}))


def family(result: AnalysisOutcome, kind: str) -> list[MetricComparison]:
    return [c for c in result.comparisons if c.kind == f"METRIC_TYPE_{kind}"]


def test_comparisons_run_metric_by_metric_and_treatment_by_treatment() -> None:
    result = mixed_experiment("bonferroni")
    assert result.treatments == ("a", "b")
    assert [(c.metric, c.compared) for c in result.comparisons][:4] == [
        ("s0", "a"),
        ("s0", "b"),
        ("s1", "a"),
        ("s1", "b"),
    ]


@pytest.mark.parametrize(("kind", "m"), [("SUCCESS", 10), ("GUARDRAIL", 4)])
def test_bonferroni_divides_alpha_by_the_family_size(kind: str, m: int) -> None:
    comparisons = family(mixed_experiment("bonferroni"), kind)
    assert len(comparisons) == m
    assert {c.adjusted_alpha for c in comparisons} == {0.05 / m}
    p_values = [c.latest.p_value for c in comparisons]
    reject = multipletests(p_values, alpha=0.05, method="bonferroni")[0]
    assert [c.significant for c in comparisons] == list(reject)
    assert any(reject) and not all(reject)


def test_the_intervals_are_at_the_adjusted_alpha() -> None:
    result = mixed_experiment("bonferroni")
    comparison = only(result, "s3", "a")
    reference = compare(
        GroupStats(20_000, 4_000), GroupStats(20_000, 4_260), alpha=comparison.adjusted_alpha
    )
    assert comparison.latest.difference.lower == reference.ci_lower
    assert comparison.latest.difference.upper == reference.ci_upper


@pytest.mark.parametrize("kind", ["SUCCESS", "GUARDRAIL"])
def test_holm_reports_the_alpha_at_each_rank_and_steps_down(kind: str) -> None:
    comparisons = family(mixed_experiment("holm"), kind)
    m = len(comparisons)
    p_values = np.array([c.latest.p_value for c in comparisons])
    for comparison, p in zip(comparisons, p_values, strict=True):
        rank = int(np.sum(p_values < p))  # tied p-values share the first of their ranks
        assert comparison.adjusted_alpha == pytest.approx(0.05 / (m - rank), rel=REL)
    reject = multipletests(p_values, alpha=0.05, method="holm")[0]
    assert [c.significant for c in comparisons] == list(reject)
    assert [c.significant for c in comparisons] == holm(list(p_values), 0.05).reject


def test_holm_rejects_at_least_what_bonferroni_rejects() -> None:
    strict = [c.significant for c in mixed_experiment("bonferroni").comparisons]
    lenient = [c.significant for c in mixed_experiment("holm").comparisons]
    assert all(b <= h for b, h in zip(strict, lenient, strict=True))
    assert sum(lenient) > sum(strict)


def test_p_values_do_not_depend_on_the_correction() -> None:
    bonferroni_p = [c.latest.p_value for c in mixed_experiment("bonferroni").comparisons]
    holm_p = [c.latest.p_value for c in mixed_experiment("holm").comparisons]
    assert bonferroni_p == holm_p


def test_several_treatments_are_each_compared_with_the_control() -> None:
    groups = {"control": CONTROL, "up": BETTER, "down": WORSE, "flat": SAME}
    result = outcome(metric("m", groups))
    assert result.treatments == ("up", "down", "flat")
    for treatment in result.treatments:
        comparison = only(result, treatment=treatment)
        reference = compare(stats(CONTROL), stats(groups[treatment]), alpha=0.05 / 3)
        assert comparison.adjusted_alpha == pytest.approx(0.05 / 3, rel=REL)
        assert comparison.latest.p_value == reference.p_value
        assert comparison.latest.difference.lower == reference.ci_lower
    assert [recommendation(result, t) for t in result.treatments] == [
        SHIP,
        DO_NOT_SHIP,
        INCONCLUSIVE,
    ]


# -- power -------------------------------------------------------------------------------------


def test_the_required_sample_size_is_that_of_the_mde_at_the_adjusted_alpha() -> None:
    control, treatment = binary(5_000, 600), binary(5_200, 650)
    result = outcome(
        metric("m", {"control": control, "treatment": treatment}, minimum_detectable_effect=0.1),
        metric("other", {"control": control, "treatment": treatment}),
        power=0.9,
    )
    comparison = only(result, "m")
    p_c, p_t = 600 / 5_000, 650 / 5_200
    expected = required_sample_size(
        0.1 * p_c,
        p_c * (1 - p_c),
        p_t * (1 - p_t),
        alpha=0.025,
        power=0.9,
        alternative="two-sided",
        ratio=5_200 / 5_000,
    )
    assert comparison.required_sample_size == expected.total
    assert comparison.required_per_group == (
        expected.per_group_control,
        expected.per_group_treatment,
    )
    assert comparison.powered is (expected.total <= 10_200)
    effect = powered_effect(5_000, 5_200, p_c * (1 - p_c), p_t * (1 - p_t), alpha=0.025, power=0.9)
    assert comparison.powered_effect_abs == pytest.approx(effect, rel=REL)
    assert comparison.powered_effect_rel == pytest.approx(effect / p_c, rel=REL)


def test_a_continuous_metric_is_powered_with_its_sample_variances() -> None:
    rng = np.random.default_rng(11)
    c_values, t_values = rng.exponential(20.0, 3_000), rng.exponential(21.0, 2_000)
    groups = {"control": continuous(c_values), "treatment": continuous(t_values)}
    comparison = only(outcome(metric("m", groups, minimum_detectable_effect=0.05)))
    v_c, v_t = np.var(c_values, ddof=1), np.var(t_values, ddof=1)
    expected = required_sample_size(
        0.05 * abs(c_values.mean()), v_c, v_t, alpha=0.05, power=0.8, ratio=2_000 / 3_000
    )
    assert comparison.required_sample_size == expected.total


# -- CUPED -------------------------------------------------------------------------------------


def cuped_groups(seed: int, n: int = 2_000) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Raw values (a pre-period covariate x and a metric y = x + noise, +0.3 in treatment)
    and the groups' sums."""
    rng = np.random.default_rng(seed)
    raw: dict[str, np.ndarray] = {}
    groups: dict[str, Any] = {}
    for name, lift in (("control", 0.0), ("treatment", 0.3)):
        x = rng.normal(10.0, 3.0, n)
        y = x + rng.normal(lift, 1.0, n)
        raw[f"{name}_x"], raw[f"{name}_y"] = x, y
        groups[name] = continuous(y, x)
    return raw, groups


def test_covariates_switch_cuped_on_and_reduce_the_variance() -> None:
    _, groups = cuped_groups(5)
    comparison = only(outcome(metric("m", groups)))
    reference = cuped(
        *(
            CovariateSums(
                n=g["n"],
                y_sum=g["sum"],
                y_sum_sq=g["sum_sq"],
                x_sum=g["x_sum"],
                x_sum_sq=g["x_sum_sq"],
                xy_sum=g["xy_sum"],
            )
            for g in (groups["control"], groups["treatment"])
        )
    )
    assert comparison.variance_reduction_rate == reference.variance_reduction
    assert comparison.variance_reduction_rate > 0.5
    assert comparison.latest.baseline_mean == pytest.approx(reference.mean_control, rel=REL)
    assert comparison.latest.compared_mean == pytest.approx(reference.mean_treatment, rel=REL)


def test_cuped_keeps_the_unadjusted_means() -> None:
    raw, groups = cuped_groups(6)
    comparison = only(outcome(metric("m", groups)))
    assert comparison.unadjusted_baseline_mean == pytest.approx(raw["control_y"].mean(), rel=REL)
    assert comparison.unadjusted_compared_mean == pytest.approx(raw["treatment_y"].mean(), rel=REL)
    assert comparison.latest.baseline_mean != comparison.unadjusted_baseline_mean


def test_cuped_is_a_z_test_of_the_adjusted_values() -> None:
    # Reference: adjust each unit, y - theta (x - pooled mean of x), with theta fitted on
    # both groups pooled, and z-test the adjusted values with statsmodels.
    raw, groups = cuped_groups(7)
    x = np.concatenate([raw["control_x"], raw["treatment_x"]])
    y = np.concatenate([raw["control_y"], raw["treatment_y"]])
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted = {
        name: raw[f"{name}_y"] - theta * (raw[f"{name}_x"] - x.mean())
        for name in ("control", "treatment")
    }
    means = CompareMeans(DescrStatsW(adjusted["treatment"]), DescrStatsW(adjusted["control"]))
    _, p_value = means.ztest_ind(usevar="unequal")
    lower, upper = means.zconfint_diff(alpha=0.05, usevar="unequal")
    latest = only(outcome(metric("m", groups))).latest
    assert latest.p_value == pytest.approx(p_value, rel=1e-7)
    assert latest.difference.value == pytest.approx(
        adjusted["treatment"].mean() - adjusted["control"].mean(), rel=1e-9
    )
    assert latest.difference.lower == pytest.approx(lower, rel=1e-9)
    assert latest.difference.upper == pytest.approx(upper, rel=1e-9)


def test_cuped_narrows_the_interval() -> None:
    _, groups = cuped_groups(8)
    plain = {
        name: {k: v for k, v in group.items() if not k.startswith("x")}
        for name, group in groups.items()
    }
    with_cuped = only(outcome(metric("m", groups))).latest.difference
    without = only(outcome(metric("m", plain))).latest.difference
    assert with_cuped.upper - with_cuped.lower < 0.5 * (without.upper - without.lower)
    assert only(outcome(metric("m", plain))).variance_reduction_rate is None


def test_cuped_works_for_a_binary_metric() -> None:
    rng = np.random.default_rng(9)
    groups = {}
    for name in ("control", "treatment"):
        x = rng.binomial(1, 0.3, 5_000).astype(float)
        y = np.where(rng.random(5_000) < 0.8, x, rng.binomial(1, 0.3, 5_000)).astype(float)
        groups[name] = {
            "n": 5_000,
            "sum": float(y.sum()),
            "x_sum": float(x.sum()),
            "x_sum_sq": float(x.sum()),
            "xy_sum": float((x * y).sum()),
        }
    comparison = only(outcome(metric("m", groups)))
    assert comparison.variance_reduction_rate > 0.3


# -- sequential --------------------------------------------------------------------------------


def sequential_outcome(
    looks: list[dict[str, Any]], expected: int = 10_000, **options: Any
) -> AnalysisOutcome:
    interims = [{"time": f"day-{k + 1}", "groups": groups} for k, groups in enumerate(looks)]
    return analyze(
        parse_input(
            {
                "horizon": {"kind": "SEQUENTIAL", "expected_final_total": expected},
                "metrics": [{"id": "m", "interims": interims}],
                **options,
            }
        )
    )


GROWING = [
    {"control": binary(1_000, 100), "treatment": binary(1_010, 110)},
    {"control": binary(2_500, 250), "treatment": binary(2_490, 280)},
    {"control": binary(4_000, 400), "treatment": binary(4_050, 450)},
]


def test_each_interim_has_the_adjusted_alpha_of_its_sequential_bound() -> None:
    comparison = only(sequential_outcome(GROWING))
    fractions = information_fractions([2_010, 4_990, 8_050], 10_000)
    bounds = sequential_bounds(fractions, alpha=0.05)
    assert [i.adjusted_alpha for i in comparison.intervals] == pytest.approx(
        list(bounds.adjusted_alphas), rel=REL
    )
    assert [i.time for i in comparison.intervals] == ["day-1", "day-2", "day-3"]
    assert comparison.latest == comparison.intervals[-1]
    assert comparison.adjusted_alpha == comparison.latest.adjusted_alpha


def test_sequential_bounds_are_at_the_corrected_alpha() -> None:
    looks = [
        {"control": binary(1_000, 100), "t1": binary(1_000, 100), "t2": binary(990, 99)},
        {"control": binary(3_000, 300), "t1": binary(3_000, 330), "t2": binary(2_950, 300)},
    ]
    result = sequential_outcome(looks, expected=5_000)
    for treatment, totals in (("t1", [2_000, 6_000]), ("t2", [1_990, 5_950])):
        bounds = sequential_bounds(information_fractions(totals, 5_000), alpha=0.025)
        alphas = [i.adjusted_alpha for i in only(result, treatment=treatment).intervals]
        assert alphas == pytest.approx(list(bounds.adjusted_alphas), rel=REL)


def test_each_interim_is_compared_on_its_cumulative_data() -> None:
    comparison = only(sequential_outcome(GROWING))
    for interval, look in zip(comparison.intervals, GROWING, strict=True):
        reference = compare(
            stats(look["control"]), stats(look["treatment"]), alpha=interval.adjusted_alpha
        )
        assert interval.p_value == reference.p_value
        assert interval.difference.lower == reference.ci_lower
        assert interval.significant == (reference.p_value <= interval.adjusted_alpha)
        assert (interval.baseline_n, interval.compared_n) == (
            look["control"]["n"],
            look["treatment"]["n"],
        )


def test_the_latest_interim_decides_even_against_an_earlier_significant_one() -> None:
    looks = [
        {"control": binary(2_000, 200), "treatment": binary(2_000, 330)},  # a big early lift
        {"control": binary(8_000, 800), "treatment": binary(8_000, 810)},  # then nothing
    ]
    comparison = only(sequential_outcome(looks, expected=16_000))
    assert comparison.intervals[0].significant
    assert not comparison.significant
    assert comparison.status == NOT_SIGNIFICANT


def test_a_significant_latest_interim_decides_after_quiet_ones() -> None:
    looks = [
        {"control": binary(2_000, 200), "treatment": binary(2_000, 205)},
        {"control": binary(8_000, 800), "treatment": binary(8_000, 1_000)},
    ]
    comparison = only(sequential_outcome(looks, expected=16_000))
    assert not comparison.intervals[0].significant
    assert comparison.significant
    assert comparison.status == POSITIVE


def test_sequential_holm_spends_the_alpha_of_each_comparisons_rank() -> None:
    looks = [
        {"control": binary(1_000, 100), "t1": binary(1_000, 160), "t2": binary(1_000, 110)},
        {"control": binary(3_000, 300), "t1": binary(3_000, 420), "t2": binary(3_000, 320)},
    ]
    result = sequential_outcome(looks, expected=6_000, correction="holm")
    first, second = only(result, treatment="t1"), only(result, treatment="t2")
    assert first.latest.p_value < second.latest.p_value
    for comparison, corrected in ((first, 0.025), (second, 0.05)):
        bounds = sequential_bounds([1 / 3, 1.0], alpha=corrected)
        alphas = [i.adjusted_alpha for i in comparison.intervals]
        assert alphas == pytest.approx(list(bounds.adjusted_alphas), rel=REL)
    assert first.significant
    assert not second.significant


def test_a_sequential_metric_without_interims_is_one_look() -> None:
    result = analyze(
        parse_input(
            {
                "horizon": {"kind": "SEQUENTIAL", "expected_final_total": 40_000},
                "metrics": [metric("m", {"control": CONTROL, "treatment": BETTER})],
            }
        )
    )
    comparison = only(result)
    bounds = sequential_bounds([0.5], alpha=0.05)
    assert len(comparison.intervals) == 1
    assert comparison.adjusted_alpha == pytest.approx(bounds.adjusted_alphas[0], rel=REL)


def test_a_sequential_guardrail_tests_non_inferiority_at_its_one_sided_bound() -> None:
    looks = [
        {"control": binary(10_000, 5_000), "treatment": binary(10_000, 5_000)},
        {"control": binary(40_000, 20_000), "treatment": binary(40_000, 19_900)},
    ]
    interims = [{"time": f"day-{k}", "groups": g} for k, g in enumerate(looks)]
    spec = parse_input(
        {
            "horizon": {"kind": "SEQUENTIAL", "expected_final_total": 100_000},
            "metrics": [
                {
                    "id": "g",
                    "kind": "GUARDRAIL",
                    "non_inferiority_margin": 0.02,
                    "interims": interims,
                }
            ],
        }
    )
    comparison = only(analyze(spec))
    one_sided = sequential_bounds([0.2, 0.8], alpha=0.05, alternative="one-sided")
    reference = non_inferiority(
        stats(looks[-1]["control"]),
        stats(looks[-1]["treatment"]),
        margin=0.02,
        alpha=one_sided.adjusted_alphas[-1],
    )
    assert comparison.non_inferiority_p_value == reference.p_value
    assert reference.non_inferior
    assert comparison.status == NOT_SIGNIFICANT


# -- sample-ratio mismatch ---------------------------------------------------------------------


def test_a_sample_ratio_mismatch_is_an_error_and_do_not_ship() -> None:
    groups = {"control": binary(10_000, 1_000), "treatment": binary(11_000, 1_320)}
    result = outcome(metric("m", groups))
    reference = sample_ratio_mismatch([10_000, 11_000], [1, 1], alpha=0.001)
    assert result.srm is not None
    assert result.srm.mismatch
    assert result.srm.p_value == reference.p_value
    assert result.srm.statistic == reference.statistic
    assert result.srm.groups == (
        ("control", 10_000, reference.expected_counts[0]),
        ("treatment", 11_000, reference.expected_counts[1]),
    )
    (error,) = annotations(result, "error")
    assert "sample ratio mismatch" in error
    assert only(result).status == POSITIVE
    assert recommendation(result) == DO_NOT_SHIP


def test_the_planned_weights_define_the_expected_ratio() -> None:
    groups = {"control": binary(10_000, 1_000), "treatment": binary(11_000, 1_320)}
    result = outcome(metric("m", groups), expected_weights={"control": 10, "treatment": 11})
    assert result.srm is not None
    assert not result.srm.mismatch
    assert annotations(result, "error") == []
    assert recommendation(result) == SHIP


def test_the_srm_counts_each_groups_largest_n_over_the_metrics() -> None:
    result = outcome(
        metric("a", {"control": binary(9_000, 10), "treatment": binary(10_100, 10)}),
        metric("b", {"control": binary(10_000, 10), "treatment": binary(9_000, 10)}),
    )
    assert result.srm is not None
    assert [(group, n) for group, n, _ in result.srm.groups] == [
        ("control", 10_000),
        ("treatment", 10_100),
    ]
    reference = sample_ratio_mismatch([10_000, 10_100], [1, 1])
    assert result.srm.p_value == reference.p_value


# -- annotations -------------------------------------------------------------------------------


def test_a_group_under_100_units_is_a_small_sample_warning() -> None:
    result = outcome(metric("tiny", {"control": binary(99, 10), "treatment": binary(100, 12)}))
    (warning,) = annotations(result, "warning")
    assert "too small sample" in warning
    (annotation,) = [a for a in result.annotations if a.level == "warning"]
    assert annotation.context == ("tiny", "control")
    enough = outcome(metric("m", {"control": binary(100, 10), "treatment": binary(100, 12)}))
    assert annotations(enough, "warning") == []


def test_zero_variance_in_both_groups_is_a_warning_with_defined_results() -> None:
    groups = {"control": continuous(np.full(500, 3.0)), "treatment": continuous(np.full(500, 3.0))}
    result = outcome(metric("flat", groups, minimum_detectable_effect=0.1))
    comparison = only(result)
    (warning,) = annotations(result, "warning")
    assert "zero variance" in warning
    assert comparison.latest.p_value == 1.0
    assert comparison.latest.difference.value == 0.0
    assert comparison.powered is True
    assert comparison.status == NOT_SIGNIFICANT


def test_a_metric_without_mde_is_an_info_annotation() -> None:
    result = outcome(
        metric("with", {"control": CONTROL, "treatment": BETTER}, minimum_detectable_effect=0.1),
        metric("without", {"control": CONTROL, "treatment": BETTER}),
    )
    (info,) = [a for a in result.annotations if a.level == "info"]
    assert info.context == ("without",)
    assert "minimum detectable effect" in info.message


def test_no_conversions_anywhere_give_defined_results() -> None:
    groups = {"control": binary(1_000, 0), "treatment": binary(1_000, 0)}
    result = outcome(metric("m", groups, minimum_detectable_effect=0.1))
    comparison = only(result)
    assert comparison.latest.p_value == 1.0
    assert comparison.latest.relative_difference.value is None
    assert comparison.powered is None
    assert comparison.powered_effect_rel is None
    assert comparison.status == NOT_SIGNIFICANT
    assert any("control mean is 0" in message for message in annotations(result, "info"))
    assert recommendation(result) == INCONCLUSIVE


# -- recommendations ---------------------------------------------------------------------------


def test_a_positive_success_metric_and_fine_guardrails_ship() -> None:
    result = outcome(
        metric("s", {"control": CONTROL, "treatment": BETTER}),
        metric("g", {"control": CONTROL, "treatment": SAME}, kind="GUARDRAIL"),
    )
    (decision,) = result.recommendations
    assert decision.status == SHIP
    assert f"s: {POSITIVE}" in decision.reasons


def test_a_negative_success_metric_does_not_ship() -> None:
    result = outcome(
        metric("s", {"control": CONTROL, "treatment": BETTER}),
        metric("s2", {"control": CONTROL, "treatment": WORSE}),
    )
    (decision,) = result.recommendations
    assert decision.status == DO_NOT_SHIP
    assert decision.reasons == (f"s2: {NEGATIVE}",)


def test_a_deteriorated_guardrail_does_not_ship_despite_a_positive_metric() -> None:
    result = outcome(
        metric("s", {"control": CONTROL, "treatment": BETTER}),
        metric("g", {"control": CONTROL, "treatment": WORSE}, kind="GUARDRAIL"),
    )
    (decision,) = result.recommendations
    assert decision.status == DO_NOT_SHIP
    assert decision.reasons == (f"g: {DETERIORATION}",)


def test_nothing_significant_is_inconclusive() -> None:
    result = outcome(metric("s", {"control": CONTROL, "treatment": SAME}))
    (decision,) = result.recommendations
    assert decision.status == INCONCLUSIVE
    assert decision.reasons == (f"s: {NOT_SIGNIFICANT}",)


# -- extremes and many random inputs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (binary(2, 1), binary(2, 2)),
        (binary(10_000_000, 1_210_000), binary(10_000_000, 1_213_000)),
        (binary(500, 500), binary(500, 500)),
        (binary(500, 0), binary(500, 3)),
    ],
)
def test_extreme_groups_match_compare(control: dict[str, Any], treatment: dict[str, Any]) -> None:
    result = only(outcome(metric("m", {"control": control, "treatment": treatment})))
    reference = compare(stats(control), stats(treatment))
    assert result.latest.p_value == reference.p_value
    assert result.latest.difference.lower == reference.ci_lower


def finite_or_none(value: float | None) -> bool:
    return value is None or not math.isnan(value)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    n_c=st.integers(1, 10_000_000),
    n_t=st.integers(1, 10_000_000),
    rate_c=st.floats(0, 1),
    rate_t=st.floats(0, 1),
    kind=st.sampled_from(["SUCCESS", "GUARDRAIL"]),
    direction=st.sampled_from(["INCREASE", "DECREASE"]),
    mde=st.none() | st.floats(0.001, 1.0),
    margin=st.none() | st.floats(0.001, 0.5),
)
def test_any_binary_comparison_agrees_with_compare_and_is_nan_free(
    n_c: int,
    n_t: int,
    rate_c: float,
    rate_t: float,
    kind: str,
    direction: str,
    mde: float | None,
    margin: float | None,
) -> None:
    control, treatment = binary(n_c, round(rate_c * n_c)), binary(n_t, round(rate_t * n_t))
    fields: dict[str, Any] = {"kind": kind, "direction": direction}
    fields["minimum_detectable_effect"] = mde
    fields["non_inferiority_margin"] = margin if kind == "GUARDRAIL" else None
    result = outcome(metric("m", {"control": control, "treatment": treatment}, **fields))
    comparison = only(result)
    reference = compare(stats(control), stats(treatment))
    assert comparison.latest.p_value == reference.p_value
    assert comparison.latest.difference.value == reference.difference
    assert comparison.status in METRIC_STATUSES
    assert result.recommendations[0].status in RECOMMENDATIONS
    latest = comparison.latest
    for value in (
        latest.difference.value,
        latest.difference.lower,
        latest.difference.upper,
        latest.relative_difference.value,
        latest.relative_difference.lower,
        latest.relative_difference.upper,
        latest.p_value,
        comparison.powered_effect_abs,
        comparison.powered_effect_rel,
        comparison.non_inferiority_p_value,
        comparison.variance_reduction_rate,
    ):
        assert finite_or_none(value)


# -- the pooled test, and what each look reports -------------------------------------------------


def test_each_look_reports_its_tests_standard_error_and_statistic() -> None:
    comparison = only(sequential_outcome(GROWING))
    for interval, look in zip(comparison.intervals, GROWING, strict=True):
        (n_c, x_c), (n_t, x_t) = [(g["n"], g["sum"]) for g in look.values()]
        # statsmodels' unpooled Wald test of treatment - control
        reference = proportion.test_proportions_2indep(x_t, n_t, x_c, n_c, method="wald")
        p_c, p_t = x_c / n_c, x_t / n_t
        assert interval.standard_error == pytest.approx(
            math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t), rel=REL
        )
        assert interval.statistic == pytest.approx(float(reference.statistic), rel=REL)


def test_welch_looks_report_the_t_statistic() -> None:
    rng = np.random.default_rng(31)
    control, treatment = rng.normal(5.0, 2.0, 60), rng.normal(5.6, 3.0, 45)
    groups = {"control": continuous(control), "treatment": continuous(treatment)}
    comparison = only(outcome(metric("m", groups), method="t"))
    statistic, _, _ = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).ttest_ind(
        usevar="unequal"
    )
    assert comparison.latest.statistic == pytest.approx(float(statistic), rel=REL)


def test_a_pooled_analysis_uses_statsmodels_proportions_ztest() -> None:
    groups = {"control": binary(10_000, 1_210), "treatment": binary(10_050, 1_333)}
    comparison = only(outcome(metric("conversion", groups), pooled=True))
    statistic, p_value = proportion.proportions_ztest([1_333, 1_210], [10_050, 10_000])
    latest = comparison.latest
    assert latest.statistic == pytest.approx(float(statistic), rel=REL)
    assert latest.p_value == pytest.approx(float(p_value), rel=1e-8)
    rate = (1_210 + 1_333) / 20_050
    assert latest.standard_error == pytest.approx(
        math.sqrt(rate * (1 - rate) * (1 / 10_000 + 1 / 10_050)), rel=REL
    )
    # the interval stays the unpooled Wald interval
    lower, upper = proportion.confint_proportions_2indep(1_333, 10_050, 1_210, 10_000, "wald")
    assert (latest.difference.lower, latest.difference.upper) == (
        pytest.approx(float(lower), rel=REL),
        pytest.approx(float(upper), rel=REL),
    )


def test_a_pooled_analysis_differs_from_the_unpooled_one_only_in_the_test() -> None:
    groups = {"control": binary(300, 30), "treatment": binary(3_000, 390)}
    unpooled = only(outcome(metric("m", groups)))
    pooled = only(outcome(metric("m", groups), pooled=True))
    assert pooled.latest.difference == unpooled.latest.difference
    assert pooled.latest.p_value != pytest.approx(unpooled.latest.p_value, rel=1e-3)
    assert pooled.powered_effect_abs == unpooled.powered_effect_abs
