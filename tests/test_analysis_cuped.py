"""``flagstone.analysis.cuped``: CUPED from per-group sums.

References work on the raw simulated units: ``θ`` is the slope of statsmodels' OLS of ``y``
on ``[1, x]`` over both groups pooled (no treatment indicator), the adjusted means and
variances are numpy's mean and ``var(ddof=1)`` of ``y - θ (x - x̄)`` within each group, and
the pooled covariate mean and correlation numpy's ``mean`` and ``corrcoef``.
(``variance="spotify"`` is checked in ``test_analysis_spotify.py``.)

Adjusted variances come from raw sums, ``v_y - 2θ cov + θ² v_x``; when the covariate
explains almost all of ``y`` that difference cancels digits, so variances are compared with
a relative tolerance of 1e-9 *of the unadjusted variance* (the scale the sums carry).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from statsmodels.regression.linear_model import OLS
from statsmodels.tools import add_constant

from flagstone.analysis.cuped import CovariateSums, CupedResult, cuped

Array = NDArray[np.float64]


def sums_of(y: Array, x: Array) -> CovariateSums:
    return CovariateSums(
        n=len(y),
        y_sum=float(y.sum()),
        y_sum_sq=float((y * y).sum()),
        x_sum=float(x.sum()),
        x_sum_sq=float((x * x).sum()),
        xy_sum=float((x * y).sum()),
    )


def simulate(
    seed: int,
    n_c: int,
    n_t: int,
    rho: float = 0.7,
    effect: float = 0.3,
    x_shift: float = 0.0,
    y_mean: float = 10.0,
    x_mean: float = 5.0,
    scale: float = 2.0,
) -> tuple[Array, Array, Array, Array]:
    """Control and treatment ``(y, x)`` with correlation ``rho`` between ``x`` and ``y``."""
    rng = np.random.default_rng(seed)

    def group(n: int, y_shift: float, covariate_shift: float) -> tuple[Array, Array]:
        x = rng.normal(0.0, 1.0, n)
        noise = rng.normal(0.0, 1.0, n)
        y = y_mean + y_shift + scale * (rho * x + math.sqrt(1.0 - rho * rho) * noise)
        return y, x_mean + covariate_shift + x

    y_c, x_c = group(n_c, 0.0, 0.0)
    y_t, x_t = group(n_t, effect, x_shift)
    return y_c, x_c, y_t, x_t


def ols_theta(y_c: Array, x_c: Array, y_t: Array, x_t: Array) -> float:
    y = np.concatenate([y_c, y_t])
    x = np.concatenate([x_c, x_t])
    return float(OLS(y, add_constant(x)).fit().params[1])


def assert_matches_raw_units(
    result: CupedResult, y_c: Array, x_c: Array, y_t: Array, x_t: Array
) -> None:
    theta = ols_theta(y_c, x_c, y_t, x_t)
    assert result.theta == pytest.approx(theta, rel=1e-9, abs=1e-12)
    x_mean = np.concatenate([x_c, x_t]).mean()
    assert result.x_mean == pytest.approx(float(x_mean), rel=1e-9, abs=1e-12)
    pooled = np.corrcoef(np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t]))[0, 1]
    assert result.correlation == pytest.approx(float(pooled), rel=1e-9, abs=1e-10)
    assert result.variance == "sample"
    adjusted_c = y_c - theta * (x_c - x_mean)
    adjusted_t = y_t - theta * (x_t - x_mean)
    v_c, v_t = float(y_c.var(ddof=1)), float(y_t.var(ddof=1))
    assert result.mean_control == pytest.approx(float(adjusted_c.mean()), rel=1e-9)
    assert result.mean_treatment == pytest.approx(float(adjusted_t.mean()), rel=1e-9)
    v_adj_c, v_adj_t = float(adjusted_c.var(ddof=1)), float(adjusted_t.var(ddof=1))
    assert result.variance_control == pytest.approx(v_adj_c, rel=1e-9, abs=1e-9 * v_c)
    assert result.variance_treatment == pytest.approx(v_adj_t, rel=1e-9, abs=1e-9 * v_t)
    assert result.variance_reduction_control == pytest.approx(1 - v_adj_c / v_c, abs=1e-9)
    assert result.variance_reduction_treatment == pytest.approx(1 - v_adj_t / v_t, abs=1e-9)
    n_c, n_t = len(y_c), len(y_t)
    se2, se2_adj = v_c / n_c + v_t / n_t, v_adj_c / n_c + v_adj_t / n_t
    assert result.variance_reduction == pytest.approx(1 - se2_adj / se2, abs=1e-9)
    assert (result.n_control, result.n_treatment) == (n_c, n_t)


def test_cuped_matches_the_raw_units() -> None:
    y_c, x_c, y_t, x_t = simulate(seed=1, n_c=2_000, n_t=2_500)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert_matches_raw_units(result, y_c, x_c, y_t, x_t)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n_c=st.integers(min_value=2, max_value=400),
    n_t=st.integers(min_value=2, max_value=400),
    rho=st.floats(min_value=-0.99, max_value=0.99),
    effect=st.floats(min_value=-2.0, max_value=2.0),
    x_shift=st.floats(min_value=-1.0, max_value=1.0),
    y_mean=st.floats(min_value=-50.0, max_value=50.0),
    x_mean=st.floats(min_value=-50.0, max_value=50.0),
    scale=st.floats(min_value=0.1, max_value=10.0),
)
def test_cuped_matches_the_raw_units_over_random_data(
    seed: int,
    n_c: int,
    n_t: int,
    rho: float,
    effect: float,
    x_shift: float,
    y_mean: float,
    x_mean: float,
    scale: float,
) -> None:
    y_c, x_c, y_t, x_t = simulate(seed, n_c, n_t, rho, effect, x_shift, y_mean, x_mean, scale)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert_matches_raw_units(result, y_c, x_c, y_t, x_t)


def test_theta_ignores_the_treatment() -> None:
    # a treatment that shifts y does not change the groups' covariate, yet θ is the pooled
    # slope, not the within-group one an OLS with a treatment indicator would fit
    y_c, x_c, y_t, x_t = simulate(seed=2, n_c=500, n_t=500, effect=5.0, x_shift=1.0)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert result.theta == pytest.approx(ols_theta(y_c, x_c, y_t, x_t), rel=1e-9)
    design = np.column_stack(
        [np.ones(1000), np.concatenate([x_c, x_t]), np.r_[np.zeros(500), np.ones(500)]]
    )
    within = float(OLS(np.concatenate([y_c, y_t]), design).fit().params[1])
    assert abs(result.theta - within) > 0.1


def test_a_correlated_covariate_reduces_the_variance_by_rho_squared() -> None:
    # with θ fitted on the data, the reduction is about ρ² = 0.64 in large samples
    y_c, x_c, y_t, x_t = simulate(seed=3, n_c=50_000, n_t=50_000, rho=0.8)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert result.variance_reduction == pytest.approx(0.64, abs=0.01)
    assert result.variance_reduction_control == pytest.approx(0.64, abs=0.01)


def test_an_identical_covariate_removes_all_variance() -> None:
    y_c, _, y_t, _ = simulate(seed=4, n_c=100, n_t=120)
    result = cuped(sums_of(y_c, y_c), sums_of(y_t, y_t))
    assert result.theta == pytest.approx(1.0, rel=1e-9)
    assert result.variance_control == pytest.approx(0.0, abs=1e-9 * float(y_c.var(ddof=1)))
    assert result.variance_reduction == pytest.approx(1.0, abs=1e-9)
    # every unit is adjusted to the pooled mean
    pooled = float(np.concatenate([y_c, y_t]).mean())
    assert result.mean_control == pytest.approx(pooled, rel=1e-9)
    assert result.mean_treatment == pytest.approx(pooled, rel=1e-9)


@pytest.mark.parametrize("value", [0.0, 0.1, 1 / 3, 123.456])
def test_a_constant_covariate_gives_no_adjustment(value: float) -> None:
    y_c, _, y_t, _ = simulate(seed=5, n_c=1_000, n_t=1_000)
    x_c, x_t = np.full(1_000, value), np.full(1_000, value)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert result.theta == 0.0
    assert result.correlation == 0.0
    assert result.x_mean == pytest.approx(value, rel=1e-12)
    assert result.mean_control == pytest.approx(float(y_c.mean()), rel=1e-12)
    assert result.mean_treatment == pytest.approx(float(y_t.mean()), rel=1e-12)
    assert result.variance_control == pytest.approx(float(y_c.var(ddof=1)), rel=1e-9)
    assert result.variance_treatment == pytest.approx(float(y_t.var(ddof=1)), rel=1e-9)
    assert result.variance_reduction == 0.0
    assert result.variance_reduction_control == 0.0


def test_a_covariate_constant_within_each_group_shifts_the_means_only() -> None:
    # x = 0 in control, 1 in treatment: a pooled slope exists, the groups' variances stay
    y_c, _, y_t, _ = simulate(seed=6, n_c=300, n_t=300)
    x_c, x_t = np.zeros(300), np.ones(300)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert_matches_raw_units(result, y_c, x_c, y_t, x_t)
    assert result.variance_reduction_control == pytest.approx(0.0, abs=1e-9)


def test_a_constant_metric_has_theta_zero_and_no_variance() -> None:
    _, x_c, _, x_t = simulate(seed=7, n_c=200, n_t=200)
    y_c, y_t = np.full(200, 0.7), np.full(200, 0.7)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert result.theta == 0.0
    assert (result.mean_control, result.mean_treatment) == pytest.approx((0.7, 0.7), rel=1e-12)
    assert (result.variance_control, result.variance_treatment) == (0.0, 0.0)
    assert result.variance_reduction == 0.0


def test_conversions_with_a_binary_covariate() -> None:
    rng = np.random.default_rng(8)
    x_c, x_t = rng.binomial(1, 0.3, 5_000).astype(float), rng.binomial(1, 0.3, 5_000).astype(float)
    y_c = np.where(rng.random(5_000) < 0.1 + 0.5 * x_c, 1.0, 0.0)
    y_t = np.where(rng.random(5_000) < 0.12 + 0.5 * x_t, 1.0, 0.0)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert_matches_raw_units(result, y_c, x_c, y_t, x_t)


def test_zero_conversions_everywhere() -> None:
    rng = np.random.default_rng(9)
    x_c, x_t = rng.normal(3.0, 1.0, 100), rng.normal(3.0, 1.0, 100)
    result = cuped(sums_of(np.zeros(100), x_c), sums_of(np.zeros(100), x_t))
    assert result.theta == 0.0
    assert (result.mean_control, result.mean_treatment) == (0.0, 0.0)
    assert (result.variance_control, result.variance_treatment) == (0.0, 0.0)


def test_two_units_per_group() -> None:
    y_c, x_c = np.array([1.0, 3.0]), np.array([0.5, 2.0])
    y_t, x_t = np.array([2.0, 6.0]), np.array([1.0, 1.5])
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert_matches_raw_units(result, y_c, x_c, y_t, x_t)


def test_ten_million_units() -> None:
    # sums of 5 million units per group, accumulated by numpy (pairwise summation); the
    # reference slope is the two-pass one, Σ(x - x̄)(y - ȳ) / Σ(x - x̄)² (an OLS fit of
    # ten million rows would dominate the test's time)
    y_c, x_c, y_t, x_t = simulate(seed=10, n_c=5_000_000, n_t=5_000_000, rho=0.5)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    x -= x.mean()
    theta = float(np.dot(x, y - y.mean()) / np.dot(x, x))
    assert result.theta == pytest.approx(theta, rel=1e-9)
    assert result.variance_reduction == pytest.approx(0.25, abs=1e-3)


def test_numpy_integer_counts_are_accepted() -> None:
    sums = CovariateSums(np.int64(3), 6.0, 14.0, 3.0, 5.0, 8.0)
    assert type(sums.n) is int
    assert sums == CovariateSums(3, 6.0, 14.0, 3.0, 5.0, 8.0)


def test_a_group_needs_two_units() -> None:
    good = CovariateSums(3, 6.0, 14.0, 3.0, 5.0, 8.0)
    with pytest.raises(ValueError, match="n >= 2"):
        cuped(CovariateSums(1, 1.0, 1.0, 1.0, 1.0, 1.0), good)
    with pytest.raises(ValueError, match="n >= 2"):
        cuped(good, CovariateSums(0, 0.0, 0.0, 0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    "fields",
    [
        (-1, 0.0, 0.0, 0.0, 0.0, 0.0),
        (2.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (True, 0.0, 0.0, 0.0, 0.0, 0.0),
        (3, math.nan, 1.0, 1.0, 1.0, 1.0),
        (3, 1.0, math.inf, 1.0, 1.0, 1.0),
        (3, 1.0, -1.0, 1.0, 1.0, 1.0),
        (3, 1.0, 1.0, 1.0, -1.0, 1.0),
    ],
)
def test_bad_sums_are_refused(fields: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        CovariateSums(*fields)


def test_the_squared_correlation_is_the_variance_reduction_to_expect() -> None:
    y_c, x_c, y_t, x_t = simulate(seed=9, n_c=40_000, n_t=40_000, rho=0.6)
    result = cuped(sums_of(y_c, x_c), sums_of(y_t, x_t))
    assert result.correlation == pytest.approx(0.6, abs=0.01)
    assert result.variance_reduction == pytest.approx(result.correlation**2, abs=0.01)


def test_an_unknown_variance_mode_is_refused() -> None:
    y_c, x_c, y_t, x_t = simulate(seed=10, n_c=10, n_t=10)
    with pytest.raises(ValueError, match="variance"):
        cuped(sums_of(y_c, x_c), sums_of(y_t, x_t), variance="ddof0")  # type: ignore[arg-type]
