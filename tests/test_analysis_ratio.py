"""Ratio metrics (``Σy / Σd``) analysed with the delta method, against computations written
here with numpy and scipy from the raw per-unit values (relative tolerance 1e-9).

The references never use flagstone's formula ``(Σy² - 2RΣyd + R²Σd²) / ((n-1) d̄²)``: the
variance of a group's ratio is the quadratic form of the gradient of ``ȳ/d̄`` with the
sample covariance matrix of ``(y, d)`` (``numpy.cov``), and the relative difference's is
the same with the four means of both groups.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from flagstone.analysis import (
    GroupInput,
    GroupStats,
    analyze,
    compare,
    parse_input,
    to_computed_results,
)
from flagstone.errors import ConfigError

REL = 1e-9


def _sample(seed: int, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Orders per unit (Poisson, many zeros) and revenue that grows with them."""
    rng = np.random.default_rng(seed)
    orders = rng.poisson(1.3, n).astype(float)
    revenue = orders * rng.gamma(2.0, rate, n) + rng.normal(0.0, 1.0, n) * (orders > 0)
    return revenue, orders


def _delta_variance(y: np.ndarray, d: np.ndarray) -> float:
    """Var(ȳ/d̄) by the delta method: gradient · cov(y, d)/n · gradient (numpy.cov)."""
    covariance = np.cov(np.vstack([y, d]), ddof=1)
    gradient = np.array([1.0 / d.mean(), -y.mean() / d.mean() ** 2])
    return float(gradient @ covariance @ gradient) / len(y)


def _group(y: np.ndarray, d: np.ndarray) -> GroupStats:
    return GroupStats.from_values(y.tolist(), denominators=d.tolist())


def test_a_group_s_mean_is_the_ratio_and_its_variance_the_delta_method_s() -> None:
    y, d = _sample(1, 5000, 7.0)
    group = _group(y, d)
    assert group.is_ratio
    assert group.mean == pytest.approx(y.sum() / d.sum(), rel=REL)  # numpy sums
    # variance / n is Var(R) by the delta method (numpy.cov, ddof=1)
    assert group.variance / group.n == pytest.approx(_delta_variance(y, d), rel=REL)


def test_a_constant_denominator_of_one_gives_the_plain_mean_and_variance() -> None:
    y, _ = _sample(2, 300, 3.0)
    ratio = _group(y, np.ones_like(y))
    assert ratio.mean == pytest.approx(float(np.mean(y)), rel=REL)
    assert ratio.variance == pytest.approx(float(np.var(y, ddof=1)), rel=REL)  # numpy.var


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_compare_two_ratios_z(seed: int) -> None:
    yc, dc = _sample(seed, 4000, 7.0)
    yt, dt = _sample(seed + 100, 4200, 7.4)
    result = compare(_group(yc, dc), _group(yt, dt))
    rc, rt = yc.sum() / dc.sum(), yt.sum() / dt.sum()
    vc, vt = _delta_variance(yc, dc), _delta_variance(yt, dt)
    se = math.sqrt(vc + vt)
    z = (rt - rc) / se
    q = stats.norm.ppf(0.975)  # scipy.stats.norm
    assert result.difference == pytest.approx(rt - rc, rel=REL)
    assert result.standard_error == pytest.approx(se, rel=REL)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=REL)
    assert result.ci_lower == pytest.approx(rt - rc - q * se, rel=REL)
    assert result.ci_upper == pytest.approx(rt - rc + q * se, rel=REL)
    # relative difference: the delta method over the four means (ȳt, d̄t, ȳc, d̄c), the two
    # groups independent (block-diagonal covariance)
    mt, nt_d, mc, nc_d = yt.mean(), dt.mean(), yc.mean(), dc.mean()
    gradient = np.array(
        [
            1.0 / (nt_d * rc),
            -mt / (nt_d**2 * rc),
            -(mt / nt_d) * nc_d / mc**2,
            (mt / nt_d) / mc,
        ]
    )
    covariance = np.zeros((4, 4))
    covariance[:2, :2] = np.cov(np.vstack([yt, dt]), ddof=1) / len(yt)
    covariance[2:, 2:] = np.cov(np.vstack([yc, dc]), ddof=1) / len(yc)
    se_rel = math.sqrt(float(gradient @ covariance @ gradient))
    assert result.relative_difference == pytest.approx(rt / rc - 1, rel=REL)
    assert result.relative_standard_error == pytest.approx(se_rel, rel=REL)
    assert result.relative_ci_lower == pytest.approx(rt / rc - 1 - q * se_rel, rel=REL)
    assert result.relative_ci_upper == pytest.approx(rt / rc - 1 + q * se_rel, rel=REL)


def test_compare_two_ratios_welch_is_scipys_on_the_linearised_metric() -> None:
    yc, dc = _sample(7, 60, 7.0)
    yt, dt = _sample(8, 45, 8.0)
    result = compare(_group(yc, dc), _group(yt, dt), method="t")
    rc, rt = yc.sum() / dc.sum(), yt.sum() / dt.sum()
    expected = stats.ttest_ind_from_stats(  # scipy: Welch's test from means and deviations
        mean1=rt,
        std1=math.sqrt(_delta_variance(yt, dt) * len(yt)),
        nobs1=len(yt),
        mean2=rc,
        std2=math.sqrt(_delta_variance(yc, dc) * len(yc)),
        nobs2=len(yc),
        equal_var=False,
    )
    assert result.statistic == pytest.approx(expected.statistic, rel=REL)
    assert result.p_value == pytest.approx(expected.pvalue, rel=REL)


def test_ratio_and_plain_groups_are_not_compared() -> None:
    y, d = _sample(9, 100, 5.0)
    with pytest.raises(ValueError, match="ratio"):
        compare(_group(y, d), GroupStats.from_values(y.tolist()))


@pytest.mark.parametrize(
    ("sums", "message"),
    [
        (
            {"n": 10, "sum": 5.0, "sum_sq": 9.0, "d_sum": 0.0, "d_sum_sq": 0.0, "yd_sum": 0.0},
            "sums to 0",
        ),
        ({"n": 10, "sum": 5.0, "d_sum": 3.0, "d_sum_sq": 3.0, "yd_sum": 2.0}, "sum_sq"),
        ({"n": 10, "sum": 5.0, "sum_sq": 9.0, "d_sum": 3.0}, "go together"),
        (
            {"n": 1, "sum": 5.0, "sum_sq": 25.0, "d_sum": 3.0, "d_sum_sq": 9.0, "yd_sum": 15.0},
            "n >= 2",
        ),
        (
            {"n": 10, "sum": 5.0, "sum_sq": 9.0, "d_sum": 30.0, "d_sum_sq": 9.0, "yd_sum": 2.0},
            "d_sum_sq",
        ),
    ],
)
def test_group_stats_refuse_sums_that_are_no_ratio(sums: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GroupStats(**sums)


def _document(control: dict[str, Any], treatment: dict[str, Any]) -> dict[str, Any]:
    return {
        "metrics": [
            {
                "id": "metrics/revenue-per-order",
                "minimum_detectable_effect": 0.05,
                "groups": {"control": control, "treatment": treatment},
            }
        ]
    }


def _sums(y: np.ndarray, d: np.ndarray) -> dict[str, Any]:
    return {
        "n": len(y),
        "sum": float(y.sum()),
        "sum_sq": float((y * y).sum()),
        "d_sum": float(d.sum()),
        "d_sum_sq": float((d * d).sum()),
        "yd_sum": float((y * d).sum()),
    }


def test_analyze_stats_input_carries_ratio_metrics_to_the_engine_and_outputs() -> None:
    yc, dc = _sample(11, 3000, 7.0)
    yt, dt = _sample(12, 3000, 7.6)
    spec = parse_input(_document(_sums(yc, dc), _sums(yt, dt)))
    assert isinstance(spec.metrics[0].latest["control"], GroupInput)
    outcome = analyze(spec)
    comparison = outcome.comparisons[0]
    rc, rt = yc.sum() / dc.sum(), yt.sum() / dt.sum()
    se = math.sqrt(_delta_variance(yc, dc) + _delta_variance(yt, dt))
    assert comparison.ratio
    assert comparison.unadjusted_baseline_mean == pytest.approx(rc, rel=REL)
    assert comparison.latest.difference.value == pytest.approx(rt - rc, rel=REL)
    assert comparison.latest.standard_error == pytest.approx(se, rel=REL)
    # power for the relative MDE of the control's ratio, with the delta-method variances:
    # (z_{1-alpha/2} + z_{power})^2 (v_c + v_t) / delta^2 per group (equal groups, scipy quantiles)
    delta = 0.05 * rc
    v_c, v_t = _delta_variance(yc, dc) * len(yc), _delta_variance(yt, dt) * len(yt)
    z = stats.norm.ppf(1 - 0.05 / 2) + stats.norm.ppf(0.8)
    assert comparison.required_per_group == (
        math.ceil(z * z * (v_c + v_t) / delta**2),
        math.ceil(z * z * (v_c + v_t) / delta**2),
    )
    with pytest.raises(ValueError, match="ratio metric"):
        to_computed_results(outcome, "metrics/revenue-per-order")


@pytest.mark.parametrize(
    ("control_extra", "path", "message"),
    [
        (
            {"d_sum": 0.0, "d_sum_sq": 0.0, "yd_sum": 0.0},
            "$.metrics[0].groups.control.d_sum",
            "sums to 0",
        ),
        ({"d_sum": 3.0}, "$.metrics[0].groups.control", "go together"),
        (
            {"x_sum": 1.0, "x_sum_sq": 1.0, "xy_sum": 1.0},
            "$.metrics[0].groups.control",
            "no covariate",
        ),
        # the control decides the metric's kind: the treatment's ratio sums are the odd ones
        (None, "$.metrics[0].groups.treatment", "ratio sums given here but not"),
    ],
)
def test_parse_input_names_ratio_problems_with_their_paths(
    control_extra: dict[str, Any] | None, path: str, message: str
) -> None:
    y, d = _sample(13, 50, 5.0)
    treatment = _sums(y, d)
    control = dict(treatment)
    if control_extra is None:
        for key in ("d_sum", "d_sum_sq", "yd_sum"):
            del control[key]
    else:
        if "d_sum" in control_extra and len(control_extra) == 1:
            del control["d_sum_sq"], control["yd_sum"]
        control.update(control_extra)
    with pytest.raises(ConfigError) as raised:
        parse_input(_document(control, treatment))
    assert any(p.path == path and message in p.message for p in raised.value.problems), (
        raised.value.messages
    )
