"""Specification of flagstone.analysis.groups and flagstone.analysis.comparison.

Group statistics and two-group comparisons (z and Welch tests, absolute and relative
intervals, non-inferiority) are checked against statsmodels and scipy on the same data —
raw samples where the reference takes samples, sufficient statistics otherwise — with a
relative tolerance of 1e-9, plus the degenerate cases (tiny and huge groups, rates at 0 and
1, zero variance) whose results the module defines.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats import proportion
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.weightstats import (
    CompareMeans,
    DescrStatsW,
    _tconfint_generic,
    _zconfint_generic,
    _zstat_generic,
    ztest,
)

from flagstone.analysis.comparison import Comparison, NonInferiority, compare, non_inferiority
from flagstone.analysis.groups import GroupStats

REL = 1e-9
ALTERNATIVES = ["two-sided", "larger", "smaller"]
SCIPY_ALTERNATIVE = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}


def close(value: float, reference: float, rel: float = REL) -> bool:
    """Equal within ``rel``; infinities must match exactly."""
    if math.isinf(reference):
        return value == reference
    return value == pytest.approx(float(reference), rel=rel)


def samples(seed: int, n_c: int = 400, n_t: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """A control and a treatment sample with different means and spreads."""
    rng = np.random.default_rng(seed)
    return rng.normal(10.0, 3.0, n_c), rng.normal(10.4, 4.0, n_t)


def compare_means(control: np.ndarray, treatment: np.ndarray) -> CompareMeans:
    """statsmodels' two-sample comparison of treatment - control."""
    return CompareMeans(DescrStatsW(treatment), DescrStatsW(control))


# --------------------------------------------------------------------------- GroupStats


def test_mean_is_the_sample_mean():
    values = np.random.default_rng(1).exponential(2.0, 50)
    assert close(GroupStats.from_values(values).mean, np.mean(values))


def test_variance_of_a_continuous_metric_is_the_sample_variance():
    values = np.random.default_rng(2).normal(5.0, 2.0, 80)
    assert close(GroupStats.from_values(values).variance, np.var(values, ddof=1))


def test_variance_of_a_binary_metric_is_p_times_one_minus_p():
    values = np.random.default_rng(3).integers(0, 2, 90)
    group = GroupStats(n=90, sum=int(values.sum()))
    assert group.is_binary
    assert close(group.variance, np.var(values))  # ddof=0: p(1 - p)


def test_from_values_computes_the_sums():
    values = np.random.default_rng(4).normal(1.0, 1.0, 25)
    group = GroupStats.from_values(values)
    assert group.n == 25
    assert close(group.sum, np.sum(values))
    assert group.sum_sq is not None
    assert close(group.sum_sq, np.sum(values * values))
    assert not group.is_binary


def test_from_values_binary_leaves_sum_sq_out():
    group = GroupStats.from_values([1, 0, 0, 1, 1], binary=True)
    assert (group.n, group.sum, group.sum_sq) == (5, 3.0, None)


def test_from_values_binary_refuses_values_other_than_zero_and_one():
    with pytest.raises(ValueError, match="0 or 1"):
        GroupStats.from_values([1, 0, 0.5], binary=True)


def test_from_values_with_covariates_fills_the_cuped_sums():
    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 1.0, 40)
    y = x + rng.normal(0.0, 1.0, 40)
    group = GroupStats.from_values(y, covariates=x)
    assert group.has_covariate
    assert close(group.x_sum, np.sum(x))
    assert close(group.x_sum_sq, np.sum(x * x))
    assert close(group.xy_sum, np.sum(x * y))


def test_from_values_needs_one_covariate_per_value():
    with pytest.raises(ValueError, match="one per value"):
        GroupStats.from_values([1.0, 2.0, 3.0], covariates=[1.0, 2.0])


def test_from_values_needs_at_least_one_value():
    with pytest.raises(ValueError, match="at least one"):
        GroupStats.from_values([])


def test_constant_values_have_zero_variance_even_when_rounding_undershoots():
    # fsum of three 0.1s squared falls a hair below sum**2/n: the raw formula is negative
    group = GroupStats.from_values([0.1, 0.1, 0.1])
    assert group.variance == 0.0


def test_variance_of_a_continuous_metric_needs_two_units():
    group = GroupStats(n=1, sum=3.0, sum_sq=9.0)
    assert group.mean == 3.0
    with pytest.raises(ValueError, match="n >= 2"):
        _ = group.variance


def test_variance_of_a_binary_metric_is_defined_for_one_unit():
    assert GroupStats(n=1, sum=1).variance == 0.0


def test_numpy_scalars_become_plain_numbers():
    group = GroupStats(n=np.int64(10), sum=np.int64(4), sum_sq=np.float64(6.0))
    assert type(group.n) is int
    assert type(group.sum) is float
    assert type(group.sum_sq) is float


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0, "sum": 0}, "at least 1"),
        ({"n": -3, "sum": 0}, "at least 1"),
        ({"n": 2.5, "sum": 1}, "integer"),
        ({"n": True, "sum": 1}, "integer"),
        ({"n": 10, "sum": 11}, "0 <= sum <= n"),
        ({"n": 10, "sum": -1}, "0 <= sum <= n"),
        ({"n": 10, "sum": math.nan, "sum_sq": 1.0}, "finite"),
        ({"n": 10, "sum": 1.0, "sum_sq": math.inf}, "finite"),
        ({"n": 10, "sum": "3"}, "real number"),
        ({"n": 10, "sum": 10.0, "sum_sq": 5.0}, "not the sums of one sample"),
        ({"n": 10, "sum": 1.0, "sum_sq": -1.0}, "not the sums of one sample"),
        ({"n": 10, "sum": 1.0, "sum_sq": 2.0, "x_sum": 1.0}, "go together"),
        (
            {"n": 10, "sum": 1.0, "sum_sq": 2.0, "x_sum": 1.0, "x_sum_sq": -1.0, "xy_sum": 0.0},
            "x_sum_sq",
        ),
    ],
)
def test_impossible_group_statistics_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupStats(**kwargs)


# ------------------------------------------------------------------ z-test on samples


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_z_test_matches_statsmodels_ztest(alternative):
    control, treatment = samples(10)
    result = compare(
        GroupStats.from_values(control), GroupStats.from_values(treatment), alternative=alternative
    )
    statistic, p_value = ztest(treatment, control, alternative=alternative, usevar="unequal")
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert result.degrees_of_freedom is None
    assert result.significant == (p_value < 0.05)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_z_interval_matches_statsmodels_zconfint_diff(alternative):
    control, treatment = samples(11)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        alternative=alternative,
        alpha=0.1,
    )
    lower, upper = compare_means(control, treatment).zconfint_diff(
        alpha=0.1, alternative=alternative, usevar="unequal"
    )
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


def test_difference_is_treatment_minus_control_with_the_unpooled_standard_error():
    control, treatment = samples(12)
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment))
    assert close(result.control_mean, np.mean(control))
    assert close(result.treatment_mean, np.mean(treatment))
    assert close(result.difference, np.mean(treatment) - np.mean(control))
    assert close(result.standard_error, compare_means(control, treatment).std_meandiff_separatevar)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_null_difference_shifts_the_z_test(alternative):
    control, treatment = samples(13)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        alternative=alternative,
        null_difference=-0.3,
    )
    statistic, p_value = ztest(
        treatment, control, value=-0.3, alternative=alternative, usevar="unequal"
    )
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert result.null_difference == -0.3


def test_null_difference_does_not_move_the_interval():
    control, treatment = samples(14)
    c, t = GroupStats.from_values(control), GroupStats.from_values(treatment)
    shifted, plain = compare(c, t, null_difference=1.0), compare(c, t)
    assert (shifted.ci_lower, shifted.ci_upper) == (plain.ci_lower, plain.ci_upper)


# ------------------------------------------------------------------ Welch t-test


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_welch_test_matches_scipy_ttest_ind(alternative):
    control, treatment = samples(20, n_c=30, n_t=12)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        method="t",
        alternative=alternative,
    )
    reference = scipy.stats.ttest_ind(
        treatment, control, equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative]
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.degrees_of_freedom, reference.df)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_welch_interval_matches_scipy(alternative):
    control, treatment = samples(21, n_c=25, n_t=40)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        method="t",
        alternative=alternative,
        alpha=0.01,
    )
    reference = scipy.stats.ttest_ind(
        treatment, control, equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative]
    ).confidence_interval(confidence_level=0.99)
    assert close(result.ci_lower, reference.low)
    assert close(result.ci_upper, reference.high)


def test_welch_test_with_a_null_difference_matches_statsmodels():
    control, treatment = samples(22, n_c=15, n_t=18)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        method="t",
        alternative="larger",
        null_difference=-1.5,
    )
    statistic, p_value, df = compare_means(control, treatment).ttest_ind(
        alternative="larger", usevar="unequal", value=-1.5
    )
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert close(result.degrees_of_freedom, df)


def test_welch_test_on_two_units_per_group_matches_scipy():
    control, treatment = np.array([1.0, 2.5]), np.array([3.0, 7.0])
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment), method="t")
    reference = scipy.stats.ttest_ind(treatment, control, equal_var=False)
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.degrees_of_freedom, reference.df)
    interval = reference.confidence_interval(confidence_level=0.95)
    assert close(result.ci_lower, interval.low)
    assert close(result.ci_upper, interval.high)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, constant group
def test_welch_degrees_of_freedom_with_one_constant_group_match_scipy():
    control, treatment = np.array([4.0, 4.0, 4.0, 4.0]), np.array([3.0, 5.0, 6.5, 4.5, 7.0])
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment), method="t")
    reference = scipy.stats.ttest_ind(treatment, control, equal_var=False)
    assert close(result.degrees_of_freedom, reference.df)  # n_t - 1
    assert close(result.p_value, reference.pvalue)


def test_welch_p_value_matches_the_published_spotify_confidence_example():
    # spotify-confidence tests/frequentist/test_ttest.py,
    # test_p_value_is_symmetric_and_correct: p ~ 0.03334 (to 1%), whichever group is control
    first = GroupStats(n=48351, sum=1.438602e06, sum_sq=7.330581e07)
    second = GroupStats(n=50571, sum=1.521974e06, sum_sq=7.862121e07)
    forward = compare(first, second, method="t")
    backward = compare(second, first, method="t")
    assert forward.p_value == backward.p_value
    assert forward.p_value == pytest.approx(0.03334, rel=0.01)


# ------------------------------------------------------------------ 0/1 metrics


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_binary_z_test_matches_statsmodels_unpooled_wald_test(alternative):
    control, treatment = GroupStats(n=1000, sum=100), GroupStats(n=1200, sum=150)
    result = compare(control, treatment, alternative=alternative)
    reference = proportion.test_proportions_2indep(
        150, 1200, 100, 1000, method="wald", alternative=alternative
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)


def test_binary_interval_matches_statsmodels_wald_interval():
    control, treatment = GroupStats(n=1000, sum=100), GroupStats(n=1200, sum=150)
    result = compare(control, treatment)
    lower, upper = proportion.confint_proportions_2indep(150, 1200, 100, 1000, method="wald")
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


def test_one_sided_binary_bound_is_the_two_sided_bound_at_twice_alpha():
    control, treatment = GroupStats(n=5000, sum=400), GroupStats(n=5000, sum=460)
    larger = compare(control, treatment, alternative="larger", alpha=0.05)
    smaller = compare(control, treatment, alternative="smaller", alpha=0.05)
    lower, upper = proportion.confint_proportions_2indep(
        460, 5000, 400, 5000, method="wald", alpha=0.1
    )
    assert (close(larger.ci_lower, lower), larger.ci_upper) == (True, math.inf)
    assert (smaller.ci_lower, close(smaller.ci_upper, upper)) == (-math.inf, True)


def test_binary_groups_from_values_match_statsmodels():
    rng = np.random.default_rng(30)
    control, treatment = rng.random(700) < 0.3, rng.random(650) < 0.35
    result = compare(
        GroupStats.from_values(control, binary=True),
        GroupStats.from_values(treatment, binary=True),
    )
    reference = proportion.test_proportions_2indep(
        treatment.sum(), 650, control.sum(), 700, method="wald"
    )
    assert close(result.p_value, reference.pvalue)


def test_ten_million_units_per_group_binary_match_statsmodels():
    control = GroupStats(n=10_000_000, sum=1_000_000)
    treatment = GroupStats(n=10_000_000, sum=1_002_500)
    result = compare(control, treatment)
    reference = proportion.test_proportions_2indep(
        1_002_500, 10_000_000, 1_000_000, 10_000_000, method="wald"
    )
    lower, upper = proportion.confint_proportions_2indep(
        1_002_500, 10_000_000, 1_000_000, 10_000_000, method="wald"
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


def test_ten_million_units_continuous_match_statsmodels_frequency_weights():
    # a count metric over 10**7 units per group, summarised as value frequencies
    rng = np.random.default_rng(31)
    values = np.arange(6, dtype=float)
    counts_c = rng.multinomial(10_000_000, [0.30, 0.25, 0.20, 0.12, 0.08, 0.05])
    counts_t = rng.multinomial(10_000_000, [0.29, 0.25, 0.20, 0.13, 0.08, 0.05])

    def group(counts: np.ndarray) -> GroupStats:
        return GroupStats(
            n=int(counts.sum()),
            sum=float(counts @ values),
            sum_sq=float(counts @ (values * values)),
        )

    result = compare(group(counts_c), group(counts_t), method="t")
    reference = CompareMeans(
        DescrStatsW(values, weights=counts_t), DescrStatsW(values, weights=counts_c)
    )
    statistic, p_value, df = reference.ttest_ind(usevar="unequal")
    lower, upper = reference.tconfint_diff(usevar="unequal")
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert close(result.degrees_of_freedom, df)
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' ratio
def test_control_rate_zero_keeps_the_absolute_comparison_and_drops_the_relative_one():
    control, treatment = GroupStats(n=500, sum=0), GroupStats(n=500, sum=7)
    result = compare(control, treatment)
    reference = proportion.test_proportions_2indep(7, 500, 0, 500, method="wald")
    assert close(result.p_value, reference.pvalue)
    assert result.relative_difference is None
    assert result.relative_ci_lower is None
    assert result.relative_ci_upper is None


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' ratio
def test_treatment_rate_one_against_a_varying_control_matches_statsmodels():
    control, treatment = GroupStats(n=300, sum=240), GroupStats(n=300, sum=300)
    result = compare(control, treatment)
    reference = proportion.test_proportions_2indep(300, 300, 240, 300, method="wald")
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)


# ------------------------------------------------------------------ degenerate data


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("method", ["z", "t"])
def test_no_conversions_anywhere_is_a_p_value_of_one(alternative, method):
    result = compare(
        GroupStats(n=1000, sum=0),
        GroupStats(n=1000, sum=0),
        alternative=alternative,
        method=method,
    )
    assert result.standard_error == 0.0
    assert result.statistic == 0.0
    assert result.p_value == 1.0
    assert not result.significant


def test_no_conversions_anywhere_gives_a_point_interval_and_no_relative_difference():
    result = compare(GroupStats(n=1000, sum=0), GroupStats(n=1000, sum=0))
    assert (result.difference, result.ci_lower, result.ci_upper) == (0.0, 0.0, 0.0)
    assert result.relative_difference is None


@pytest.mark.parametrize(
    ("alternative", "p_value"), [("two-sided", 0.0), ("larger", 0.0), ("smaller", 1.0)]
)
def test_rates_at_zero_and_one_are_an_infinite_statistic(alternative, p_value):
    result = compare(GroupStats(n=50, sum=0), GroupStats(n=60, sum=60), alternative=alternative)
    assert result.difference == 1.0
    assert result.standard_error == 0.0
    assert result.statistic == math.inf
    assert result.p_value == p_value


def test_rates_at_zero_and_one_give_a_point_interval_at_the_difference():
    result = compare(GroupStats(n=50, sum=0), GroupStats(n=60, sum=60))
    assert (result.ci_lower, result.ci_upper) == (1.0, 1.0)
    assert result.significant


@pytest.mark.parametrize(
    ("alternative", "p_value"), [("two-sided", 0.0), ("larger", 1.0), ("smaller", 0.0)]
)
def test_constant_groups_with_a_lower_treatment_are_a_minus_infinite_statistic(
    alternative, p_value
):
    control = GroupStats.from_values([5.0] * 10)
    treatment = GroupStats.from_values([4.0] * 12)
    result = compare(control, treatment, alternative=alternative, method="t")
    assert result.statistic == -math.inf
    assert result.p_value == p_value


def test_constant_groups_report_pooled_degrees_of_freedom():
    result = compare(
        GroupStats.from_values([5.0] * 10), GroupStats.from_values([4.0] * 12), method="t"
    )
    assert result.degrees_of_freedom == 20.0


def test_constant_equal_groups_are_not_significant():
    result = compare(GroupStats.from_values([2.0] * 5), GroupStats.from_values([2.0] * 7))
    assert (result.statistic, result.p_value, result.significant) == (0.0, 1.0, False)
    assert result.relative_difference == 0.0
    assert (result.relative_ci_lower, result.relative_ci_upper) == (0.0, 0.0)


def test_zero_standard_error_meeting_the_null_difference_exactly_is_a_p_value_of_one():
    result = compare(
        GroupStats.from_values([2.0] * 5),
        GroupStats.from_values([3.0] * 5),
        alternative="larger",
        null_difference=1.0,
    )
    assert (result.statistic, result.p_value) == (0.0, 1.0)


def test_one_unit_binary_groups_work_with_the_z_test():
    result = compare(GroupStats(n=1, sum=0), GroupStats(n=1, sum=1))
    assert result.difference == 1.0
    assert result.p_value == 0.0


# ------------------------------------------------------------------ relative difference


def _delta_reference(control: np.ndarray, treatment: np.ndarray) -> NonlinearDeltaCov:
    """statsmodels' delta method for m_t/m_c - 1 with independent means."""
    m = np.array([np.mean(control), np.mean(treatment)])
    cov = np.diag(
        [np.var(control, ddof=1) / len(control), np.var(treatment, ddof=1) / len(treatment)]
    )
    return NonlinearDeltaCov(
        lambda p: np.array([p[1] / p[0] - 1.0]),
        m,
        cov,
        deriv=lambda p: np.array([[-p[1] / p[0] ** 2, 1.0 / p[0]]]),
    )


def test_relative_difference_is_treatment_over_control_minus_one():
    control, treatment = samples(40)
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment))
    assert close(result.relative_difference, np.mean(treatment) / np.mean(control) - 1)


def test_delta_relative_interval_matches_statsmodels_delta_method():
    control, treatment = samples(41)
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment))
    ((lower, upper),) = _delta_reference(control, treatment).conf_int(alpha=0.05)
    assert close(result.relative_ci_lower, lower)
    assert close(result.relative_ci_upper, upper)


def test_delta_relative_interval_of_the_t_test_uses_the_welch_quantile():
    control, treatment = samples(42, n_c=12, n_t=20)
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment), method="t")
    df = compare_means(control, treatment).dof_satt()
    ((lower, upper),) = _delta_reference(control, treatment).conf_int(alpha=0.05, use_t=True, df=df)
    assert close(result.relative_ci_lower, lower)
    assert close(result.relative_ci_upper, upper)


def test_one_sided_delta_relative_bound_is_the_two_sided_bound_at_twice_alpha():
    control, treatment = samples(43)
    c, t = GroupStats.from_values(control), GroupStats.from_values(treatment)
    ((lower, upper),) = _delta_reference(control, treatment).conf_int(alpha=0.1)
    larger = compare(c, t, alternative="larger")
    smaller = compare(c, t, alternative="smaller")
    assert (close(larger.relative_ci_lower, lower), larger.relative_ci_upper) == (True, math.inf)
    assert (smaller.relative_ci_lower, close(smaller.relative_ci_upper, upper)) == (
        -math.inf,
        True,
    )


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_spotify_relative_interval_is_the_absolute_interval_over_the_control_mean(alternative):
    control, treatment = samples(44)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        relative="spotify",
        alternative=alternative,
    )
    lower, upper = compare_means(control, treatment).zconfint_diff(
        alternative=alternative, usevar="unequal"
    )
    assert close(result.relative_ci_lower, lower / np.mean(control))
    assert close(result.relative_ci_upper, upper / np.mean(control))
    assert close(result.relative_difference, np.mean(treatment) / np.mean(control) - 1)


def test_spotify_relative_difference_of_the_published_binary_example():
    # spotify-confidence tests/frequentist/test_ztest.py, TestBinary:
    # control 40/100, test 50/100, relative difference (0.5 - 0.4) / 0.4
    result = compare(GroupStats(n=100, sum=40), GroupStats(n=100, sum=50), relative="spotify")
    assert result.difference == 0.5 - 0.4
    assert result.relative_difference == (0.5 - 0.4) / 0.4


def test_relative_fields_are_none_when_a_continuous_control_mean_is_zero():
    control = GroupStats.from_values([-1.0, 1.0, -2.0, 2.0])
    treatment = GroupStats.from_values([0.5, 1.5, 1.0])
    for mode in ("delta", "spotify"):
        result = compare(control, treatment, relative=mode)
        assert result.relative_difference is None
        assert result.relative_ci_lower is None
        assert result.relative_ci_upper is None


def test_negative_control_mean_opens_a_larger_relative_interval_below():
    # H1 "treatment - control > 0" is a *negative* relative change when control < 0
    rng = np.random.default_rng(45)
    control, treatment = rng.normal(-10.0, 2.0, 200), rng.normal(-9.5, 2.0, 200)
    c, t = GroupStats.from_values(control), GroupStats.from_values(treatment)
    ((_, upper),) = _delta_reference(control, treatment).conf_int(alpha=0.1)
    for mode in ("delta", "spotify"):
        result = compare(c, t, alternative="larger", relative=mode)
        assert result.relative_ci_lower == -math.inf
        assert result.relative_ci_upper > result.relative_difference
    delta = compare(c, t, alternative="larger")
    assert close(delta.relative_ci_upper, upper)


def test_spotify_relative_interval_is_ordered_for_a_negative_control_mean():
    rng = np.random.default_rng(46)
    control, treatment = rng.normal(-10.0, 2.0, 200), rng.normal(-9.5, 2.0, 200)
    result = compare(
        GroupStats.from_values(control), GroupStats.from_values(treatment), relative="spotify"
    )
    lower, upper = compare_means(control, treatment).zconfint_diff(usevar="unequal")
    assert close(result.relative_ci_lower, upper / np.mean(control))
    assert close(result.relative_ci_upper, lower / np.mean(control))


# ------------------------------------------------------------------ non-inferiority


def test_non_inferiority_with_a_relative_margin_tests_against_minus_margin_times_control():
    control, treatment = samples(50)
    result = non_inferiority(
        GroupStats.from_values(control), GroupStats.from_values(treatment), margin=0.02
    )
    value = -0.02 * np.mean(control)
    statistic, p_value = ztest(
        treatment, control, value=value, alternative="larger", usevar="unequal"
    )
    assert close(result.null_difference, value)
    assert result.alternative == "larger"
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)


def test_non_inferiority_when_a_decrease_is_preferred_tests_against_plus_margin():
    control, treatment = samples(51)
    result = non_inferiority(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        margin=0.05,
        preferred="decrease",
    )
    value = 0.05 * np.mean(control)
    statistic, p_value = ztest(
        treatment, control, value=value, alternative="smaller", usevar="unequal"
    )
    assert result.alternative == "smaller"
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)


def test_non_inferiority_with_an_absolute_margin_uses_it_as_the_null_difference():
    control, treatment = samples(52)
    result = non_inferiority(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        margin=0.25,
        relative_margin=False,
    )
    statistic, p_value = ztest(
        treatment, control, value=-0.25, alternative="larger", usevar="unequal"
    )
    assert result.null_difference == -0.25
    assert close(result.p_value, p_value)
    assert close(result.statistic, statistic)


def test_non_inferiority_with_the_t_test_matches_statsmodels():
    control, treatment = samples(53, n_c=20, n_t=25)
    result = non_inferiority(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        margin=0.1,
        method="t",
    )
    statistic, p_value, df = compare_means(control, treatment).ttest_ind(
        alternative="larger", usevar="unequal", value=-0.1 * np.mean(control)
    )
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert close(result.degrees_of_freedom, df)


def test_binary_non_inferiority_matches_statsmodels_wald_test():
    control, treatment = GroupStats(n=20000, sum=2000), GroupStats(n=20000, sum=1950)
    result = non_inferiority(control, treatment, margin=0.05)
    reference = proportion.test_proportions_2indep(
        1950, 20000, 2000, 20000, value=-0.05 * 0.1, method="wald", alternative="larger"
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)


def test_a_slightly_worse_treatment_within_the_margin_is_non_inferior():
    control, treatment = GroupStats(n=20000, sum=2000), GroupStats(n=20000, sum=1990)
    result = non_inferiority(control, treatment, margin=0.1)
    assert isinstance(result, NonInferiority)
    assert isinstance(result, Comparison)
    assert result.difference < 0
    assert result.non_inferior
    assert result.non_inferior == (result.p_value < result.alpha)


def test_a_treatment_worse_than_the_margin_is_not_non_inferior():
    control, treatment = GroupStats(n=20000, sum=2000), GroupStats(n=20000, sum=1700)
    result = non_inferiority(control, treatment, margin=0.05)
    assert not result.non_inferior


def test_non_inferiority_keeps_the_margin_as_given():
    result = non_inferiority(
        GroupStats(n=100, sum=10), GroupStats(n=100, sum=11), margin=0.2, preferred="decrease"
    )
    assert (result.margin, result.relative_margin, result.preferred) == (0.2, True, "decrease")


def test_relative_margin_is_taken_on_the_size_of_a_negative_control_mean():
    # "worse" stays below control: the null is -margin * |control mean|, never an improvement
    rng = np.random.default_rng(54)
    control, treatment = rng.normal(-10.0, 2.0, 300), rng.normal(-10.1, 2.0, 300)
    result = non_inferiority(
        GroupStats.from_values(control), GroupStats.from_values(treatment), margin=0.05
    )
    value = -0.05 * abs(np.mean(control))
    statistic, p_value = ztest(
        treatment, control, value=value, alternative="larger", usevar="unequal"
    )
    assert close(result.null_difference, value)
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)


@pytest.mark.parametrize("margin", [0.0, -0.1, math.nan, math.inf])
def test_non_inferiority_needs_a_positive_finite_margin(margin):
    with pytest.raises(ValueError, match="margin"):
        non_inferiority(GroupStats(n=10, sum=1), GroupStats(n=10, sum=2), margin=margin)


def test_non_inferiority_refuses_an_unknown_preferred_direction():
    with pytest.raises(ValueError, match="preferred"):
        non_inferiority(
            GroupStats(n=10, sum=1), GroupStats(n=10, sum=2), margin=0.1, preferred="up"
        )


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": math.nan}, "alpha"),
        ({"method": "welch"}, "method"),
        ({"alternative": "greater"}, "alternative"),
        ({"relative": "log"}, "relative"),
        ({"null_difference": math.inf}, "null_difference"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare(GroupStats(n=10, sum=1), GroupStats(n=10, sum=2), **kwargs)


def test_a_binary_metric_is_not_compared_with_a_continuous_one():
    with pytest.raises(ValueError, match="0/1"):
        compare(GroupStats(n=10, sum=1), GroupStats.from_values([1.0, 2.0, 3.0]))


def test_the_t_test_needs_two_units_per_group():
    with pytest.raises(ValueError, match="n >= 2"):
        compare(GroupStats(n=1, sum=1), GroupStats(n=10, sum=2), method="t")


def test_a_continuous_group_of_one_unit_is_refused():
    with pytest.raises(ValueError, match="n >= 2"):
        compare(GroupStats(n=1, sum=1.0, sum_sq=1.0), GroupStats.from_values([1.0, 2.0]))


def test_groups_must_be_group_stats():
    with pytest.raises(ValueError, match="GroupStats"):
        compare((10, 1), GroupStats(n=10, sum=2))  # type: ignore[arg-type]


# ------------------------------------------------------------------ many random inputs

# means on a 2**-20 grid keep n * mean exact, so the group mean is exactly the drawn mean
_GRID = 2.0**-20


@st.composite
def continuous_pairs(draw):
    """(n, mean, variance) for control and treatment, the effect within ±8 standard errors."""
    n_c, n_t = draw(st.integers(2, 10**6)), draw(st.integers(2, 10**6))
    v_c = draw(st.floats(0.25, 2500.0))
    v_t = draw(st.floats(0.25, 2500.0))
    m_c = round(draw(st.floats(-50.0, 50.0)) / _GRID) * _GRID
    se = math.sqrt(v_c / n_c + v_t / n_t)
    m_t = round((m_c + draw(st.floats(-8.0, 8.0)) * se) / _GRID) * _GRID
    return (n_c, m_c, v_c), (n_t, m_t, v_t)


def _group(n: int, mean: float, variance: float) -> GroupStats:
    return GroupStats(n=n, sum=n * mean, sum_sq=(n - 1) * variance + n * mean * mean)


def _welch_df(control, treatment) -> float:
    """statsmodels' Satterthwaite df, from two-point samples with the given mean/variance."""

    def described(n, mean, variance):
        spread = math.sqrt(variance * (n - 1) / n)
        return DescrStatsW(np.array([mean - spread, mean + spread]), weights=[n / 2, n / 2])

    return CompareMeans(described(*treatment), described(*control)).dof_satt()


@settings(derandomize=True, deadline=None, max_examples=100)
@given(
    continuous_pairs(),
    st.sampled_from(ALTERNATIVES),
    st.sampled_from([0.01, 0.05, 0.1, 0.2]),
)
def test_z_test_matches_statsmodels_over_random_group_statistics(pair, alternative, alpha):
    control, treatment = pair
    (n_c, m_c, v_c), (n_t, m_t, v_t) = control, treatment
    se = math.sqrt(v_c / n_c + v_t / n_t)
    result = compare(_group(*control), _group(*treatment), alternative=alternative, alpha=alpha)
    # the summary-statistics helpers spotify-confidence itself calls
    statistic, p_value = _zstat_generic(m_t, m_c, se, alternative)
    lower, upper = _zconfint_generic(m_t - m_c, se, alpha, alternative)
    assert close(result.standard_error, se)
    assert close(result.statistic, statistic)
    assert close(result.p_value, p_value)
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


@settings(derandomize=True, deadline=None, max_examples=100)
@given(continuous_pairs(), st.sampled_from(ALTERNATIVES), st.sampled_from([0.01, 0.05, 0.2]))
def test_welch_test_matches_scipy_over_random_group_statistics(pair, alternative, alpha):
    control, treatment = pair
    (n_c, m_c, v_c), (n_t, m_t, v_t) = control, treatment
    result = compare(
        _group(*control), _group(*treatment), method="t", alternative=alternative, alpha=alpha
    )
    reference = scipy.stats.ttest_ind_from_stats(
        m_t,
        math.sqrt(v_t),
        n_t,
        m_c,
        math.sqrt(v_c),
        n_c,
        equal_var=False,
        alternative=SCIPY_ALTERNATIVE[alternative],
    )
    df = _welch_df(control, treatment)
    lower, upper = _tconfint_generic(
        m_t - m_c, math.sqrt(v_c / n_c + v_t / n_t), df, alpha, alternative
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    assert close(result.degrees_of_freedom, df)
    assert close(result.ci_lower, lower)
    assert close(result.ci_upper, upper)


@st.composite
def binary_pairs(draw):
    n_c, n_t = draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))
    x_c = draw(st.integers(0, n_c))
    x_t = draw(st.integers(0, n_t))
    return (n_c, x_c), (n_t, x_t)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' ratio
@settings(derandomize=True, deadline=None, max_examples=120)
@given(binary_pairs(), st.sampled_from(ALTERNATIVES), st.sampled_from([0.01, 0.05, 0.2]))
def test_binary_z_test_matches_statsmodels_over_random_counts(pair, alternative, alpha):
    (n_c, x_c), (n_t, x_t) = pair
    assume(0 < x_c < n_c or 0 < x_t < n_t)  # a positive standard error
    result = compare(
        GroupStats(n=n_c, sum=x_c),
        GroupStats(n=n_t, sum=x_t),
        alternative=alternative,
        alpha=alpha,
    )
    reference = proportion.test_proportions_2indep(
        x_t, n_t, x_c, n_c, method="wald", alternative=alternative
    )
    assert close(result.statistic, reference.statistic)
    assert close(result.p_value, reference.pvalue)
    if alternative == "two-sided":
        lower, upper = proportion.confint_proportions_2indep(
            x_t, n_t, x_c, n_c, method="wald", alpha=alpha
        )
        assert close(result.ci_lower, lower)
        assert close(result.ci_upper, upper)


@settings(derandomize=True, deadline=None, max_examples=100)
@given(continuous_pairs(), st.sampled_from(["z", "t"]), st.sampled_from([0.01, 0.05, 0.2]))
def test_delta_relative_interval_matches_statsmodels_over_random_group_statistics(
    pair, method, alpha
):
    control, treatment = pair
    (n_c, m_c, v_c), (n_t, m_t, v_t) = control, treatment
    assume(abs(m_c) > 1e-3)
    result = compare(_group(*control), _group(*treatment), method=method, alpha=alpha)
    delta = NonlinearDeltaCov(
        lambda p: np.array([p[1] / p[0] - 1.0]),
        np.array([m_c, m_t]),
        np.diag([v_c / n_c, v_t / n_t]),
        deriv=lambda p: np.array([[-p[1] / p[0] ** 2, 1.0 / p[0]]]),
    )
    use_t = method == "t"
    ((lower, upper),) = delta.conf_int(
        alpha=alpha, use_t=use_t, df=_welch_df(control, treatment) if use_t else None
    )
    # m_t/m_c - 1 cancels when the means are close: allow that rounding in absolute terms
    assert result.relative_difference == pytest.approx(m_t / m_c - 1, rel=REL, abs=1e-12)
    assert result.relative_ci_lower == pytest.approx(lower, rel=REL, abs=1e-12)
    assert result.relative_ci_upper == pytest.approx(upper, rel=REL, abs=1e-12)


@settings(derandomize=True, deadline=None, max_examples=100)
@given(
    continuous_pairs(),
    st.sampled_from(["z", "t"]),
    st.sampled_from(ALTERNATIVES),
    st.floats(-3.0, 3.0),
)
def test_significant_exactly_when_the_interval_excludes_the_null_difference(
    pair, method, alternative, null_in_standard_errors
):
    control, treatment = pair
    c, t = _group(*control), _group(*treatment)
    se = math.sqrt(c.variance / c.n + t.variance / t.n)
    null = (t.mean - c.mean) + null_in_standard_errors * se
    result = compare(c, t, method=method, alternative=alternative, null_difference=null)
    assume(abs(result.p_value - result.alpha) > 1e-9)  # not on the boundary
    excluded = not result.ci_lower <= null <= result.ci_upper
    assert result.significant == excluded
    assert not any(
        math.isnan(value)
        for value in (result.statistic, result.p_value, result.ci_lower, result.ci_upper)
    )


# ------------------------------------------------------------------ pooled z-test (proportions)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # statsmodels, p̄ of 0 or 1
@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    binary_pairs(),
    st.sampled_from(ALTERNATIVES),
    st.sampled_from([0.0, 0.01, -0.02]),
)
def test_pooled_z_test_matches_statsmodels_proportions_ztest(pair, alternative, null):
    (n_c, x_c), (n_t, x_t) = pair
    assume(0 < x_c + x_t < n_c + n_t)  # a pooled rate strictly between 0 and 1
    result = compare(
        GroupStats(n=n_c, sum=x_c),
        GroupStats(n=n_t, sum=x_t),
        alternative=alternative,
        null_difference=null,
        pooled=True,
    )
    # proportions_ztest([count_1, count_2], [nobs_1, nobs_2], value) tests
    # p_1 - p_2 - value with the pooled rate's variance (prop_var=False)
    statistic, p_value = proportion.proportions_ztest(
        [x_t, x_c], [n_t, n_c], value=null, alternative=alternative, prop_var=False
    )
    assert close(result.statistic, statistic)
    assert result.p_value == pytest.approx(float(p_value), rel=1e-8, abs=1e-300)
    assert result.pooled
    assert result.significant == (result.p_value < result.alpha)


def test_pooled_standard_error_is_that_of_the_pooled_rate():
    result = compare(GroupStats(n=1000, sum=100), GroupStats(n=1500, sum=180), pooled=True)
    rate = 280 / 2500  # the pooled rate
    assert close(result.standard_error, math.sqrt(rate * (1 - rate) * (1 / 1000 + 1 / 1500)))
    assert close(result.statistic, result.difference / result.standard_error)


def test_pooled_test_keeps_the_unpooled_wald_interval():
    pooled = compare(GroupStats(n=1000, sum=100), GroupStats(n=1500, sum=180), pooled=True)
    lower, upper = proportion.confint_proportions_2indep(180, 1500, 100, 1000, method="wald")
    assert close(pooled.ci_lower, lower)
    assert close(pooled.ci_upper, upper)
    assert close(pooled.interval_standard_error, math.sqrt(0.1 * 0.9 / 1000 + 0.12 * 0.88 / 1500))
    assert pooled.standard_error != pooled.interval_standard_error


def test_pooled_and_unpooled_differ_with_unequal_groups():
    c, t = GroupStats(n=200, sum=20), GroupStats(n=2000, sum=400)
    unpooled, pooled = compare(c, t), compare(c, t, pooled=True)
    assert not unpooled.pooled
    assert unpooled.standard_error == unpooled.interval_standard_error
    assert not math.isclose(unpooled.p_value, pooled.p_value, rel_tol=1e-3)


def test_pooled_test_of_groups_with_no_conversions_is_a_p_value_of_one():
    result = compare(GroupStats(n=10, sum=0), GroupStats(n=20, sum=0), pooled=True)
    assert (result.standard_error, result.statistic, result.p_value) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("control", "treatment", "method"),
    [
        (GroupStats(n=10, sum=5.0, sum_sq=5.0), GroupStats(n=10, sum=6.0, sum_sq=6.0), "z"),
        (GroupStats(n=10, sum=5), GroupStats(n=10, sum=6), "t"),
    ],
)
def test_pooled_test_needs_proportions_and_the_z_test(control, treatment, method):
    with pytest.raises(ValueError, match="pooled"):
        compare(control, treatment, method=method, pooled=True)


# ------------------------------------------------------------------ what the comparison exposes


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_critical_value_of_the_z_test_is_the_normal_quantile(alternative, alpha):
    control, treatment = samples(50)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        alternative=alternative,
        alpha=alpha,
    )
    tail = alpha / 2 if alternative == "two-sided" else alpha
    assert close(result.critical_value, scipy.stats.norm.isf(tail))
    half_width = result.critical_value * result.interval_standard_error
    bound = result.ci_lower if alternative != "smaller" else result.ci_upper
    assert close(abs(result.difference - bound), half_width)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_critical_value_of_welchs_test_is_the_t_quantile(alternative):
    control, treatment = samples(51, n_c=15, n_t=22)
    result = compare(
        GroupStats.from_values(control),
        GroupStats.from_values(treatment),
        method="t",
        alternative=alternative,
    )
    tail = 0.025 if alternative == "two-sided" else 0.05
    df = compare_means(control, treatment).dof_satt()
    assert close(result.critical_value, scipy.stats.t.isf(tail, df))


def test_relative_standard_error_is_statsmodels_delta_method_standard_error():
    control, treatment = samples(52)
    result = compare(GroupStats.from_values(control), GroupStats.from_values(treatment))
    (se,) = _delta_reference(control, treatment).se_vectorized()
    assert close(result.relative_standard_error, se)
    assert close(
        result.relative_ci_upper,
        result.relative_difference + result.critical_value * result.relative_standard_error,
    )


def test_spotify_relative_standard_error_is_the_absolute_one_over_the_control_mean():
    control, treatment = samples(53)
    result = compare(
        GroupStats.from_values(control), GroupStats.from_values(treatment), relative="spotify"
    )
    se = compare_means(control, treatment).std_meandiff_separatevar
    assert close(result.relative_standard_error, se / np.mean(control))


def test_relative_standard_error_is_none_without_a_relative_difference():
    result = compare(GroupStats.from_values([-1.0, 1.0]), GroupStats.from_values([0.0, 2.0]))
    assert result.relative_standard_error is None


def test_non_inferiority_exposes_the_same_fields():
    result = non_inferiority(GroupStats(n=1000, sum=100), GroupStats(n=1000, sum=98), margin=0.1)
    assert close(result.critical_value, scipy.stats.norm.isf(0.05))
    assert result.relative_standard_error is not None
    assert not result.pooled
