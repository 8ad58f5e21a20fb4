"""Specification of flagstone.analysis.sequential: group-sequential boundaries with Lan-DeMets
alpha spending of the power family, alpha * t**rho.

References: the adjusted alphas spotify-confidence publishes in its test suite
(tests/frequentist/test_bounds.py::test_seq_bounds_run_over); scipy's normal distribution,
scipy.integrate.quad / dblquad over the joint density of the looks' z statistics, and
scipy.stats.multivariate_normal.cdf (a quasi-Monte-Carlo estimate with a fixed generator) for
the probabilities the boundaries must spend; seeded numpy simulations of A/A experiments.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from flagstone.analysis.sequential import (
    SequentialAlternative,
    SequentialBounds,
    information_fractions,
    sequential_bounds,
    sequential_test,
    spending,
)

# spotify-confidence, tests/frequentist/test_bounds.py::test_seq_bounds_run_over: cumulative
# counts per group, final expected sample size 300, alpha 0.01, two-sided.
SPOTIFY_CONTROL = [100, 190, 270, 340]
SPOTIFY_TREATMENT = [150, 260, 360, 470]
SPOTIFY_FINAL_EXPECTED = 300
SPOTIFY_ALPHA = 0.01
SPOTIFY_ADJUSTED_ALPHAS = [0.00095, 0.00241, 0.00410, 0.00636]

SPOTIFY_TOTALS = [c + t for c, t in zip(SPOTIFY_CONTROL, SPOTIFY_TREATMENT, strict=True)]

# The integrands below are evaluated thousands of times: the standard library's normal
# distribution is much faster per scalar call than scipy.stats.norm.
_NORMAL = NormalDist()


def _equally_spaced(looks: int) -> list[float]:
    return [k / looks for k in range(1, looks + 1)]


def _correlation(fractions: list[float]) -> np.ndarray:
    """corr(Z_i, Z_j) = sqrt(t_i / t_j) for t_i <= t_j."""
    t = np.asarray(fractions)
    result: np.ndarray = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    return result


def _first_crossing_at_second_look(
    t1: float, t2: float, boundaries: Sequence[float], two_sided: bool
) -> float:
    """P(no crossing at look 1, crossing at look 2) by quadrature over Z_1:
    Z_2 | Z_1 = z ~ N(r z, 1 - r²) with r = sqrt(t1/t2)."""
    c1, c2 = boundaries[0], boundaries[1]
    r = math.sqrt(t1 / t2)
    sd = math.sqrt(1.0 - r * r)

    def integrand(z: float) -> float:
        upper = _NORMAL.cdf(-(c2 - r * z) / sd)
        lower = _NORMAL.cdf((-c2 - r * z) / sd) if two_sided else 0.0
        return _NORMAL.pdf(z) * (upper + lower)

    low = -c1 if two_sided else -12.0
    value, _ = integrate.quad(integrand, low, c1, epsabs=1e-15, epsrel=1e-12, limit=200)
    return float(value)


def _simulated_z(fractions: list[float], sequences: int, seed: int) -> np.ndarray:
    """Cumulative z statistics of A/A experiments: a Brownian motion observed at the looks,
    Z_k = B(t_k)/sqrt(t_k), built from independent normal increments."""
    t = np.asarray(fractions)
    increments = np.diff(t, prepend=0.0)
    rng = np.random.default_rng(seed)
    paths = np.cumsum(rng.standard_normal((sequences, t.size)) * np.sqrt(increments), axis=1)
    result: np.ndarray = paths / np.sqrt(t)
    return result


# -- information fractions -------------------------------------------------------------------


def test_spotify_fractions_divide_both_groups_totals_by_the_largest_observed_total() -> None:
    # Totals 250, 450, 630, 810 outgrow the expected 300: every look is divided by 810.
    assert information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED) == [
        250 / 810,
        450 / 810,
        630 / 810,
        1.0,
    ]


def test_fractions_divide_by_the_final_expected_total_while_the_plan_is_not_exceeded() -> None:
    assert information_fractions([250, 450, 630], 1000) == [0.25, 0.45, 0.63]


def test_fractions_accept_numpy_integers_and_a_repeated_total() -> None:
    totals = [np.int64(100), np.int64(100), np.int64(400)]
    assert information_fractions(totals, 400) == [0.25, 0.25, 1.0]


@pytest.mark.parametrize(
    ("totals", "final"),
    [
        ([], 100),
        ([100, 90], 200),
        ([0, 100], 200),
        ([100, 200], 0),
        ([100.0, 200], 200),
        ([True, 200], 200),
    ],
)
def test_fractions_refuse_bad_totals(totals: list[int], final: int) -> None:
    with pytest.raises(ValueError):
        information_fractions(totals, final)


# -- spending function -----------------------------------------------------------------------


def test_spending_is_alpha_times_t_to_the_rho() -> None:
    assert spending(0.5, 0.05) == pytest.approx(0.05 * 0.25, rel=1e-15)
    assert spending(0.3, 0.05, rho=3.0) == pytest.approx(0.05 * 0.3**3, rel=1e-15)


def test_spending_nothing_at_the_start_and_all_of_alpha_at_the_end() -> None:
    assert spending(0.0, 0.05) == 0.0
    assert spending(1.0, 0.05) == 0.05


@pytest.mark.parametrize(
    ("t", "alpha", "rho"),
    [(-0.1, 0.05, 2.0), (1.1, 0.05, 2.0), (0.5, 0.0, 2.0), (0.5, 1.0, 2.0), (0.5, 0.05, 0.0)],
)
def test_spending_refuses_bad_input(t: float, alpha: float, rho: float) -> None:
    with pytest.raises(ValueError):
        spending(t, alpha, rho)


# -- published values ------------------------------------------------------------------------


def test_spotify_run_over_adjusted_alphas() -> None:
    fractions = information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED)
    bounds = sequential_bounds(fractions, alpha=SPOTIFY_ALPHA, alternative="two-sided")
    assert list(bounds.adjusted_alphas) == pytest.approx(SPOTIFY_ADJUSTED_ALPHAS, rel=5e-3)


def test_spotify_run_over_boundaries_match_the_adjusted_alphas() -> None:
    fractions = information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED)
    bounds = sequential_bounds(fractions, alpha=SPOTIFY_ALPHA)
    expected = [stats.norm.isf(a / 2) for a in bounds.adjusted_alphas]
    assert list(bounds.boundaries) == pytest.approx(expected, rel=1e-9)
    assert list(bounds.boundaries) == pytest.approx(
        [stats.norm.isf(a / 2) for a in SPOTIFY_ADJUSTED_ALPHAS], rel=2e-3
    )


# -- properties of the boundaries ------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05, 0.2])
def test_a_single_final_look_is_the_fixed_sample_test(alpha: float) -> None:
    two = sequential_bounds([1.0], alpha=alpha, alternative="two-sided")
    one = sequential_bounds([1.0], alpha=alpha, alternative="one-sided")
    assert two.boundaries[0] == pytest.approx(stats.norm.isf(alpha / 2), rel=1e-12)
    assert one.boundaries[0] == pytest.approx(stats.norm.isf(alpha), rel=1e-12)
    assert two.adjusted_alphas[0] == pytest.approx(alpha, rel=1e-12)
    assert one.adjusted_alphas[0] == pytest.approx(alpha, rel=1e-12)


def test_the_first_look_spends_its_share_on_its_own() -> None:
    bounds = sequential_bounds([0.3, 1.0], alpha=0.05, rho=1.5)
    share = 0.05 * 0.3**1.5
    assert bounds.boundaries[0] == pytest.approx(stats.norm.isf(share / 2), rel=1e-12)
    assert bounds.adjusted_alphas[0] == pytest.approx(share, rel=1e-12)


def test_cumulative_spent_is_alpha_times_t_to_the_rho() -> None:
    fractions = [0.2, 0.45, 0.7, 1.0]
    bounds = sequential_bounds(fractions, alpha=0.05, rho=3.0)
    assert list(bounds.spent) == pytest.approx([0.05 * t**3 for t in fractions], rel=1e-15)
    assert bounds.spent[-1] == 0.05


def test_the_result_records_its_inputs() -> None:
    bounds = sequential_bounds([0.5, 1.0], alpha=0.05, alternative="larger", rho=1.0)
    assert bounds == SequentialBounds(
        information_fractions=(0.5, 1.0),
        boundaries=bounds.boundaries,
        adjusted_alphas=bounds.adjusted_alphas,
        spent=bounds.spent,
        alpha=0.05,
        rho=1.0,
        alternative="larger",
    )


@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
@pytest.mark.parametrize(("t1", "t2"), [(0.25, 1.0), (0.5, 1.0), (0.1, 0.3), (0.9, 1.0)])
def test_two_looks_spend_their_share_at_the_second_look(
    alternative: SequentialAlternative, t1: float, t2: float
) -> None:
    alpha = 0.05
    bounds = sequential_bounds([t1, t2], alpha=alpha, alternative=alternative)
    crossing = _first_crossing_at_second_look(
        t1, t2, bounds.boundaries, two_sided=alternative == "two-sided"
    )
    assert crossing == pytest.approx(alpha * (t2**2 - t1**2), rel=1e-5)


def test_three_looks_spend_their_share_at_the_third_look() -> None:
    # Score scale: S_1 ~ N(0, t1), S_2 - S_1 ~ N(0, t2 - t1), S_3 - S_2 ~ N(0, t3 - t2).
    t1, t2, t3 = 0.3, 0.6, 1.0
    alpha = 0.05
    c1, c2, c3 = sequential_bounds([t1, t2, t3], alpha=alpha).boundaries
    b1, b2, b3 = c1 * math.sqrt(t1), c2 * math.sqrt(t2), c3 * math.sqrt(t3)
    sd2, sd3 = math.sqrt(t2 - t1), math.sqrt(t3 - t2)

    first = NormalDist(0.0, math.sqrt(t1))
    step = NormalDist(0.0, sd2)

    def integrand(s2: float, s1: float) -> float:
        crossing = _NORMAL.cdf(-(b3 - s2) / sd3) + _NORMAL.cdf((-b3 - s2) / sd3)
        return first.pdf(s1) * step.pdf(s2 - s1) * crossing

    value, _ = integrate.dblquad(integrand, -b1, b1, -b2, b2, epsabs=1e-12, epsrel=1e-10)
    assert value == pytest.approx(alpha * (t3**2 - t2**2), rel=1e-5)


@pytest.mark.parametrize(
    ("fractions", "alternative", "alpha"),
    [
        (_equally_spaced(4), "two-sided", 0.05),
        ([250 / 810, 450 / 810, 630 / 810, 1.0], "two-sided", 0.01),
        (_equally_spaced(4), "one-sided", 0.025),
    ],
)
def test_the_chance_of_crossing_by_each_look_is_the_alpha_spent(
    fractions: list[float], alternative: SequentialAlternative, alpha: float
) -> None:
    bounds = sequential_bounds(fractions, alpha=alpha, alternative=alternative)
    c = np.asarray(bounds.boundaries)
    correlation = _correlation(fractions)
    for k in range(2, len(fractions) + 1):
        inside = stats.multivariate_normal.cdf(
            c[:k],
            mean=np.zeros(k),
            cov=correlation[:k, :k],
            lower_limit=-c[:k] if alternative == "two-sided" else None,
            maxpts=400_000,
            abseps=1e-7,
            releps=0.0,
            rng=np.random.default_rng(2024),
        )
        assert 1.0 - inside == pytest.approx(bounds.spent[k - 1], abs=3e-5)


@pytest.mark.parametrize("looks", range(2, 13))
def test_boundaries_decrease_for_equally_spaced_looks(looks: int) -> None:
    boundaries = sequential_bounds(_equally_spaced(looks), alpha=0.05).boundaries
    assert all(later < earlier for earlier, later in itertools.pairwise(boundaries))


def test_boundaries_decrease_in_the_spotify_design() -> None:
    fractions = information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED)
    boundaries = sequential_bounds(fractions, alpha=SPOTIFY_ALPHA).boundaries
    assert all(later < earlier for earlier, later in itertools.pairwise(boundaries))


def test_a_look_just_after_another_can_have_the_higher_boundary() -> None:
    # Documented: the second look has only alpha * (0.31² - 0.3²) to spend.
    c1, c2, _ = sequential_bounds([0.3, 0.31, 1.0], alpha=0.05).boundaries
    assert c2 > c1


def test_the_final_boundary_stays_above_the_fixed_sample_boundary() -> None:
    for looks in (2, 5, 10):
        final = sequential_bounds(_equally_spaced(looks), alpha=0.05).boundaries[-1]
        assert final > stats.norm.isf(0.025)


def test_a_larger_rho_keeps_more_alpha_for_the_end() -> None:
    fractions = _equally_spaced(4)
    low = sequential_bounds(fractions, alpha=0.05, rho=1.0).boundaries
    high = sequential_bounds(fractions, alpha=0.05, rho=3.0).boundaries
    assert high[0] > low[0]
    assert high[-1] < low[-1]


def test_one_sided_boundaries_are_below_two_sided_ones_at_the_same_alpha() -> None:
    fractions = _equally_spaced(5)
    one = sequential_bounds(fractions, alpha=0.05, alternative="one-sided").boundaries
    two = sequential_bounds(fractions, alpha=0.05, alternative="two-sided").boundaries
    assert all(o < t for o, t in zip(one, two, strict=True))


def test_one_sided_at_alpha_is_two_sided_at_twice_alpha() -> None:
    # The two-sided region also stops paths below -c, which almost never cross +c later.
    fractions = _equally_spaced(5)
    one = sequential_bounds(fractions, alpha=0.025, alternative="one-sided")
    two = sequential_bounds(fractions, alpha=0.05, alternative="two-sided")
    assert list(one.boundaries) == pytest.approx(list(two.boundaries), rel=1e-5)
    halved = [a / 2 for a in two.adjusted_alphas]  # nominal alphas count one tail, not two
    assert list(one.adjusted_alphas) == pytest.approx(halved, rel=1e-4)


def test_larger_and_smaller_are_one_sided_boundaries() -> None:
    fractions = [0.3, 0.7, 1.0]
    one = sequential_bounds(fractions, alpha=0.05, alternative="one-sided")
    alternatives: tuple[SequentialAlternative, ...] = ("larger", "smaller")
    for alternative in alternatives:
        bounds = sequential_bounds(fractions, alpha=0.05, alternative=alternative)
        assert bounds.boundaries == one.boundaries
        assert bounds.adjusted_alphas == one.adjusted_alphas


def test_a_repeated_fraction_repeats_the_boundary_and_spends_nothing() -> None:
    repeated = sequential_bounds([0.2, 0.2, 0.5, 0.5, 1.0], alpha=0.05)
    plain = sequential_bounds([0.2, 0.5, 1.0], alpha=0.05)
    assert repeated.boundaries[1] == repeated.boundaries[0]
    assert repeated.boundaries[3] == repeated.boundaries[2]
    assert repeated.spent[1] == repeated.spent[0]
    assert [repeated.boundaries[k] for k in (0, 2, 4)] == pytest.approx(
        list(plain.boundaries), rel=1e-12
    )


@pytest.mark.parametrize("gap", [1e-6, 1e-8, 1e-10])
def test_a_look_just_after_another_barely_changes_the_later_boundaries(gap: float) -> None:
    # The close look spends only about 0.05 * gap: the final boundary moves by O(gap).
    plain = sequential_bounds([0.5, 1.0], alpha=0.05).boundaries
    close = sequential_bounds([0.5, 0.5 + gap, 1.0], alpha=0.05).boundaries
    assert close[2] == pytest.approx(plain[1], abs=1e-5)
    assert close[1] >= close[0] - 1e-9


def test_a_share_that_underflows_gives_an_infinite_boundary_and_no_nan() -> None:
    bounds = sequential_bounds([1e-3, 1.0], alpha=0.05, rho=200.0)
    assert bounds.boundaries[0] == math.inf
    assert bounds.adjusted_alphas[0] == 0.0
    assert bounds.boundaries[1] == pytest.approx(stats.norm.isf(0.025), rel=1e-9)


def test_a_tiny_first_fraction_is_handled() -> None:
    bounds = sequential_bounds([1e-12, 0.5, 1.0], alpha=0.05)
    plain = sequential_bounds([0.5, 1.0], alpha=0.05)
    assert bounds.boundaries[0] == pytest.approx(stats.norm.isf(0.05e-24 / 2), rel=1e-12)
    assert list(bounds.boundaries[1:]) == pytest.approx(list(plain.boundaries), rel=1e-7)


def test_a_tiny_alpha_is_handled() -> None:
    fractions = [0.3, 0.6, 1.0]
    bounds = sequential_bounds(fractions, alpha=1e-12)
    assert all(math.isfinite(c) for c in bounds.boundaries)
    crossing = _first_crossing_at_second_look(0.3, 0.6, bounds.boundaries, two_sided=True)
    assert crossing == pytest.approx(1e-12 * (0.6**2 - 0.3**2), rel=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"information_fractions": [], "alpha": 0.05},
        {"information_fractions": [0.0, 1.0], "alpha": 0.05},
        {"information_fractions": [0.5, 1.1], "alpha": 0.05},
        {"information_fractions": [0.6, 0.5], "alpha": 0.05},
        {"information_fractions": [0.5, float("nan")], "alpha": 0.05},
        {"information_fractions": [1.0], "alpha": 0.0},
        {"information_fractions": [1.0], "alpha": 1.0},
        {"information_fractions": [1.0], "alpha": 0.05, "rho": 0.0},
        {"information_fractions": [1.0], "alpha": 0.05, "rho": math.inf},
        {"information_fractions": [1.0], "alpha": 0.05, "alternative": "both"},
    ],
)
def test_bounds_refuse_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        sequential_bounds(**kwargs)  # type: ignore[arg-type]


@settings(derandomize=True, deadline=None, max_examples=40)
@given(
    fractions=st.lists(
        st.floats(min_value=0.02, max_value=1.0), min_size=1, max_size=6, unique=True
    ).map(sorted),
    alpha=st.floats(min_value=1e-4, max_value=0.3),
    rho=st.floats(min_value=0.5, max_value=4.0),
    alternative=st.sampled_from(["two-sided", "one-sided"]),
)
def test_each_adjusted_alpha_lies_between_its_share_and_the_cumulative_spend(
    fractions: list[float], alpha: float, rho: float, alternative: SequentialAlternative
) -> None:
    # {Z_k beyond c_k} implies a crossing by look k, and includes the first crossings at k:
    # share_k <= P(Z_k beyond c_k) = adjusted_k <= alpha * t_k**rho.
    bounds = sequential_bounds(fractions, alpha=alpha, alternative=alternative, rho=rho)
    previous = 0.0
    for adjusted, spent in zip(bounds.adjusted_alphas, bounds.spent, strict=True):
        assert spent - previous <= adjusted * (1 + 1e-6)
        assert adjusted <= spent * (1 + 1e-6)
        previous = spent
    assert all(math.isfinite(c) for c in bounds.boundaries)


@settings(derandomize=True, deadline=None, max_examples=30)
@given(
    t1=st.floats(min_value=0.02, max_value=0.95),
    gap=st.floats(min_value=0.02, max_value=0.98),
    alpha=st.floats(min_value=1e-3, max_value=0.2),
    rho=st.floats(min_value=0.5, max_value=4.0),
    two_sided=st.booleans(),
)
def test_two_looks_spend_their_share_for_any_design(
    t1: float, gap: float, alpha: float, rho: float, two_sided: bool
) -> None:
    t2 = min(1.0, t1 + gap)
    bounds = sequential_bounds(
        [t1, t2], alpha=alpha, rho=rho, alternative="two-sided" if two_sided else "one-sided"
    )
    crossing = _first_crossing_at_second_look(t1, t2, bounds.boundaries, two_sided=two_sided)
    assert crossing == pytest.approx(alpha * (t2**rho - t1**rho), rel=1e-4)


# -- simulated A/A experiments ---------------------------------------------------------------

SEQUENCES = 200_000


def _binomial_sd(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_peeking_at_every_look_with_the_boundaries_keeps_the_error_rate(alpha: float) -> None:
    fractions = information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED)
    z = _simulated_z(fractions, SEQUENCES, seed=7)
    boundaries = np.asarray(sequential_bounds(fractions, alpha=alpha).boundaries)
    rejected = (np.abs(z) >= boundaries).any(axis=1).mean()
    assert abs(rejected - alpha) <= 4 * _binomial_sd(alpha, SEQUENCES)


def test_each_look_rejects_first_at_the_rate_it_spends() -> None:
    fractions = _equally_spaced(4)
    alpha = 0.05
    z = _simulated_z(fractions, SEQUENCES, seed=11)
    bounds = sequential_bounds(fractions, alpha=alpha)
    crossed = np.abs(z) >= np.asarray(bounds.boundaries)
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    previous = 0.0
    for k, spent in enumerate(bounds.spent):
        share = spent - previous
        assert abs((first == k).mean() - share) <= 4 * _binomial_sd(share, SEQUENCES)
        previous = spent


def test_one_sided_peeking_keeps_the_error_rate() -> None:
    fractions = _equally_spaced(4)
    alpha = 0.025
    z = _simulated_z(fractions, SEQUENCES, seed=13)
    boundaries = np.asarray(
        sequential_bounds(fractions, alpha=alpha, alternative="larger").boundaries
    )
    rejected = (z >= boundaries).any(axis=1).mean()
    assert abs(rejected - alpha) <= 4 * _binomial_sd(alpha, SEQUENCES)


def test_naive_peeking_at_the_fixed_sample_boundary_inflates_the_error_rate() -> None:
    fractions = information_fractions(SPOTIFY_TOTALS, SPOTIFY_FINAL_EXPECTED)
    alpha = 0.05
    z = _simulated_z(fractions, SEQUENCES, seed=7)
    naive = (np.abs(z) >= stats.norm.isf(alpha / 2)).any(axis=1).mean()
    assert naive > alpha + 20 * _binomial_sd(alpha, SEQUENCES)
    assert naive > 1.5 * alpha


# -- the test itself -------------------------------------------------------------------------


def test_a_look_beyond_its_boundary_rejects() -> None:
    fractions = [0.25, 0.5, 0.75, 1.0]
    bounds = sequential_bounds(fractions, alpha=0.05)
    z = [1.0, -(bounds.boundaries[1] + 0.01), 0.5, 3.0]
    result = sequential_test(z, fractions, alpha=0.05)
    assert result.bounds == bounds
    assert result.z_statistics == tuple(z)
    assert result.significant == (False, True, False, True)
    assert result.first_rejection == 1
    assert result.rejected


def test_a_look_inside_its_boundary_does_not_reject() -> None:
    fractions = [0.5, 1.0]
    bounds = sequential_bounds(fractions, alpha=0.05)
    z = [bounds.boundaries[0] - 1e-6, -(bounds.boundaries[1] - 1e-6)]
    result = sequential_test(z, fractions, alpha=0.05)
    assert result.significant == (False, False)
    assert result.first_rejection is None
    assert not result.rejected


def test_a_statistic_on_the_boundary_rejects() -> None:
    bounds = sequential_bounds([1.0], alpha=0.05)
    assert sequential_test([bounds.boundaries[0]], [1.0], alpha=0.05).rejected


def test_one_sided_tests_reject_only_in_their_direction() -> None:
    fractions = [0.5, 1.0]
    c = sequential_bounds(fractions, alpha=0.05, alternative="one-sided").boundaries
    z = [c[0] + 0.1, -(c[1] + 0.1)]
    larger = sequential_test(z, fractions, alpha=0.05, alternative="larger")
    smaller = sequential_test(z, fractions, alpha=0.05, alternative="smaller")
    assert larger.significant == (True, False)
    assert smaller.significant == (False, True)
    assert larger.bounds.alternative == "larger"


def test_infinite_statistics_cross() -> None:
    result = sequential_test([math.inf, -math.inf], [0.5, 1.0], alpha=0.05)
    assert result.significant == (True, True)


@pytest.mark.parametrize(
    ("z", "fractions", "alternative"),
    [
        ([1.0], [0.5, 1.0], "two-sided"),
        ([math.nan, 1.0], [0.5, 1.0], "two-sided"),
        ([1.0, 1.0], [0.5, 1.0], "one-sided"),
    ],
)
def test_the_test_refuses_bad_input(
    z: list[float], fractions: list[float], alternative: str
) -> None:
    with pytest.raises(ValueError):
        sequential_test(z, fractions, alpha=0.05, alternative=alternative)  # type: ignore[arg-type]
