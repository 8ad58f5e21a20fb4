"""``flagstone.analysis.power``: sample size, powered effect and power of the two-sample z-test.

References are statsmodels' power module: ``normal_power`` / ``NormalIndPower.power`` (power
of a normal test statistic, both tails when two-sided), ``normal_sample_size_one_tail`` (the
closed-form size; the two-sided form is the one-tail size at alpha/2) and ``solve_power``
(root finding, accurate to about 1e-7, so compared at 1e-6). Per-group variances enter
statsmodels through one standard deviation: ``n_c`` units in control and ``ratio * n_c`` in
treatment have ``SE = sqrt(v_c + v_t/ratio) / sqrt(n_c)``.

The standardized functions solve ``NormalIndPower`` exactly: their references are
``NormalIndPower().power`` (a closed form) and the root of it that
``scipy.optimize.brentq`` finds to the last bits (rel 1e-9), and ``solve_power`` itself at
its own accuracy; Cohen's h is statsmodels' ``proportion_effectsize``.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as scipy_stats
from statsmodels.stats.power import (
    NormalIndPower,
    normal_power,
    normal_sample_size_one_tail,
)
from statsmodels.stats.proportion import proportion_effectsize

from flagstone.analysis.power import (
    SampleSize,
    achieved_power,
    cohens_h,
    noncentrality,
    powered_effect,
    required_sample_size,
    standardized_effect,
    standardized_power,
    standardized_powered_effect,
    standardized_sample_size,
)

ALTERNATIVES = ("two-sided", "larger", "smaller")

alphas = st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.2])
powers = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])
variances = st.floats(min_value=1e-4, max_value=1e4)
ratios = st.floats(min_value=0.1, max_value=10.0)
sizes = st.integers(min_value=2, max_value=10**7)
alternatives = st.sampled_from(ALTERNATIVES)


def one_tail_alpha(alpha: float, alternative: str) -> float:
    return alpha / 2 if alternative == "two-sided" else alpha


def reference_power(
    effect: float, n_c: float, n_t: float, v_c: float, v_t: float, alpha: float, alternative: str
) -> float:
    """statsmodels' power of a normal statistic with mean ``effect`` and sd ``SE``."""
    se = math.sqrt(v_c / n_c + v_t / n_t)
    return float(normal_power(effect, nobs=1, alpha=alpha, alternative=alternative, sigma=se))


def reference_control_size(
    mde: float, v_c: float, v_t: float, alpha: float, power: float, alternative: str, ratio: float
) -> float:
    return float(
        normal_sample_size_one_tail(
            mde, power, one_tail_alpha(alpha, alternative), std_null=math.sqrt(v_c + v_t / ratio)
        )
    )


# -- achieved_power ------------------------------------------------------------------------


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    effect=st.floats(min_value=-5.0, max_value=5.0),
    n_c=sizes,
    n_t=sizes,
    v_c=variances,
    v_t=variances,
    alpha=alphas,
    alternative=alternatives,
)
def test_power_matches_statsmodels_normal_power_counting_both_tails(
    effect: float, n_c: int, n_t: int, v_c: float, v_t: float, alpha: float, alternative: str
) -> None:
    expected = reference_power(effect, n_c, n_t, v_c, v_t, alpha, alternative)
    got = achieved_power(effect, n_c, n_t, v_c, v_t, alpha=alpha, alternative=alternative)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("effect_size", "nobs1", "ratio"), [(0.2, 100, 1.0), (0.05, 5000, 2.5)])
def test_power_with_equal_variances_matches_normal_ind_power(
    effect_size: float, nobs1: int, ratio: float, alternative: str
) -> None:
    effect = effect_size if alternative != "smaller" else -effect_size
    expected = NormalIndPower().power(effect, nobs1, 0.05, ratio=ratio, alternative=alternative)
    got = achieved_power(effect, nobs1, nobs1 * ratio, 1.0, 1.0, alternative=alternative)
    assert got == pytest.approx(float(expected), rel=1e-9)


def test_power_far_in_the_lower_tail_keeps_its_relative_accuracy() -> None:
    # Φ(-5.5397...) = 1.51476047435002577e-8 (mpmath.ncdf at 50 digits); 1 + erf(x), as
    # NormalDist.cdf computes it, gets only 1.5147604726e-8
    got = achieved_power(2.0, 3, 3, 1.0, 1.0, alpha=0.001, alternative="smaller")
    assert got == pytest.approx(1.5147604743500258e-08, rel=1e-12)


def test_two_sided_power_includes_the_far_tail() -> None:
    # a difference of 0.1 SE: almost all the power comes from the two tails' rejections
    # of the null, so the power is close to alpha, never alpha/2
    z = NormalDist().inv_cdf(0.975)
    got = achieved_power(0.1, 100, 100, 50.0, 50.0)
    assert got == pytest.approx(NormalDist().cdf(0.1 - z) + NormalDist().cdf(-0.1 - z), rel=1e-9)
    assert got > 0.05


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_power_at_no_effect_is_the_false_positive_rate(alternative: str) -> None:
    assert achieved_power(0.0, 500, 700, 2.0, 3.0, alpha=0.05, alternative=alternative) == (
        pytest.approx(0.05, rel=1e-12)
    )


def test_one_sided_power_against_the_direction_is_below_alpha() -> None:
    assert achieved_power(-0.5, 100, 100, 1.0, 1.0, alternative="larger") < 0.05
    assert achieved_power(0.5, 100, 100, 1.0, 1.0, alternative="smaller") < 0.05


def test_power_with_ten_million_units_per_group() -> None:
    expected = reference_power(0.001, 10**7, 10**7, 1.0, 1.0, 0.05, "two-sided")
    assert achieved_power(0.001, 10**7, 10**7, 1.0, 1.0) == pytest.approx(expected, rel=1e-9)


def test_power_with_two_units_per_group() -> None:
    expected = reference_power(1.0, 2, 2, 0.5, 0.25, 0.05, "larger")
    got = achieved_power(1.0, 2, 2, 0.5, 0.25, alternative="larger")
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("effect", "alternative", "expected"),
    [
        (0.0, "two-sided", 0.0),
        (0.1, "two-sided", 1.0),
        (-0.1, "two-sided", 1.0),
        (0.1, "larger", 1.0),
        (-0.1, "larger", 0.0),
        (-0.1, "smaller", 1.0),
        (0.0, "smaller", 0.0),
    ],
)
def test_zero_variance_gives_power_one_or_zero(
    effect: float, alternative: str, expected: float
) -> None:
    assert achieved_power(effect, 10, 10, 0.0, 0.0, alternative=alternative) == expected


# -- powered_effect ------------------------------------------------------------------------


@settings(derandomize=True, deadline=None, max_examples=100)
@given(
    n_c=sizes, n_t=sizes, v_c=variances, v_t=variances, alpha=alphas, power=powers,
    alternative=alternatives,
)  # fmt: skip
def test_powered_effect_has_the_requested_power_in_its_tail(
    n_c: int, n_t: int, v_c: float, v_t: float, alpha: float, power: float, alternative: str
) -> None:
    # statsmodels' one-sided power at alpha' (alpha/2 when two-sided) is exactly the target
    effect = powered_effect(n_c, n_t, v_c, v_t, alpha=alpha, power=power, alternative=alternative)
    tail = one_tail_alpha(alpha, alternative)
    assert reference_power(effect, n_c, n_t, v_c, v_t, tail, "larger") == pytest.approx(
        power, rel=1e-9
    )


@settings(derandomize=True, deadline=None, max_examples=100)
@given(n_c=sizes, n_t=sizes, v_c=variances, v_t=variances, alpha=alphas, power=powers)
def test_achieved_power_of_the_powered_effect_is_the_target(
    n_c: int, n_t: int, v_c: float, v_t: float, alpha: float, power: float
) -> None:
    mde = powered_effect(n_c, n_t, v_c, v_t, alpha=alpha, power=power, alternative="larger")
    assert achieved_power(mde, n_c, n_t, v_c, v_t, alpha=alpha, alternative="larger") == (
        pytest.approx(power, rel=1e-9)
    )
    mde = powered_effect(n_c, n_t, v_c, v_t, alpha=alpha, power=power, alternative="smaller")
    assert achieved_power(-mde, n_c, n_t, v_c, v_t, alpha=alpha, alternative="smaller") == (
        pytest.approx(power, rel=1e-9)
    )


@settings(derandomize=True, deadline=None, max_examples=100)
@given(n_c=sizes, n_t=sizes, v_c=variances, v_t=variances, alpha=alphas, power=powers)
def test_two_sided_powered_effect_exceeds_the_target_by_the_far_tail_only(
    n_c: int, n_t: int, v_c: float, v_t: float, alpha: float, power: float
) -> None:
    normal = NormalDist()
    z_alpha, z_power = -normal.inv_cdf(alpha / 2), normal.inv_cdf(power)
    far_tail = normal.cdf(-2 * z_alpha - z_power)
    mde = powered_effect(n_c, n_t, v_c, v_t, alpha=alpha, power=power)
    assert achieved_power(mde, n_c, n_t, v_c, v_t, alpha=alpha) == pytest.approx(
        power + far_tail, rel=1e-9
    )


def test_powered_effect_with_equal_variances_matches_solve_power_one_sided() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        effect_size = NormalIndPower().solve_power(
            effect_size=None, nobs1=1000, alpha=0.05, power=0.8, ratio=1.5, alternative="larger"
        )
    got = powered_effect(1000, 1500, 4.0, 4.0, alternative="larger")
    # solve_power's root finder stops at about 2e-6 relative here
    assert got == pytest.approx(float(effect_size) * 2.0, rel=1e-5)


def test_powered_effect_of_zero_variance_is_zero() -> None:
    assert powered_effect(10, 10, 0.0, 0.0) == 0.0


# -- required_sample_size ------------------------------------------------------------------


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    mde=st.floats(min_value=1e-3, max_value=10.0),
    v_c=variances,
    v_t=variances,
    alpha=alphas,
    power=powers,
    alternative=alternatives,
    ratio=ratios,
)
def test_sample_size_before_rounding_matches_the_statsmodels_closed_form(
    mde: float, v_c: float, v_t: float, alpha: float, power: float, alternative: str, ratio: float
) -> None:
    expected = reference_control_size(mde, v_c, v_t, alpha, power, alternative, ratio)
    size = required_sample_size(
        mde, v_c, v_t, alpha=alpha, power=power, alternative=alternative, ratio=ratio
    )
    assert size.unrounded_control == pytest.approx(expected, rel=1e-9)
    # the treatment's size before rounding: ratio times the control's
    assert size.unrounded_treatment == pytest.approx(expected * ratio, rel=1e-9)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    mde=st.floats(min_value=1e-3, max_value=10.0),
    v_c=variances,
    v_t=variances,
    power=powers,
    ratio=ratios,
)
def test_sample_sizes_are_the_closed_form_rounded_up(
    mde: float, v_c: float, v_t: float, power: float, ratio: float
) -> None:
    exact = reference_control_size(mde, v_c, v_t, 0.05, power, "two-sided", ratio)
    size = required_sample_size(mde, v_c, v_t, power=power, ratio=ratio)
    # the closed form is a float: accept either side of an integer within rounding error
    assert exact * (1 - 1e-9) <= size.per_group_control <= max(1, math.ceil(exact * (1 + 1e-9)))
    treatment = exact * ratio
    assert treatment * (1 - 1e-9) <= size.per_group_treatment
    assert size.per_group_treatment <= max(1, math.ceil(treatment * (1 + 1e-9)))
    assert size.total == size.per_group_control + size.per_group_treatment


@pytest.mark.parametrize("alternative", ["larger", "smaller"])
@pytest.mark.parametrize(("effect_size", "ratio"), [(0.1, 1.0), (0.02, 0.5), (0.3, 3.0)])
def test_one_sided_sample_size_matches_statsmodels_solve_power(
    effect_size: float, ratio: float, alternative: str
) -> None:
    # solve_power finds the root of the power curve numerically (to about 1e-7)
    signed = effect_size if alternative == "larger" else -effect_size
    nobs1 = NormalIndPower().solve_power(
        effect_size=signed, nobs1=None, alpha=0.05, power=0.8, ratio=ratio, alternative=alternative
    )
    size = required_sample_size(effect_size, 1.0, 1.0, ratio=ratio, alternative=alternative)
    assert size.unrounded_control == pytest.approx(float(nobs1), rel=1e-6)


def test_two_sided_sample_size_is_slightly_above_the_exact_two_tailed_solution() -> None:
    # solve_power counts the far tail, which the closed form leaves out: the closed form
    # asks for a few parts per million more units
    nobs1 = float(NormalIndPower().solve_power(effect_size=0.1, alpha=0.05, power=0.8))
    size = required_sample_size(0.1, 1.0, 1.0)
    assert nobs1 < size.unrounded_control < nobs1 * (1 + 1e-5)
    assert size.per_group_control == math.ceil(nobs1)


def test_rounded_sizes_reach_the_power_and_one_unit_fewer_does_not() -> None:
    size = required_sample_size(0.03, 0.2, 0.3, ratio=2.0, alternative="larger")
    n_c, n_t = size.per_group_control, size.per_group_treatment
    assert reference_power(0.03, n_c, n_t, 0.2, 0.3, 0.05, "larger") >= 0.8
    assert reference_power(0.03, n_c - 1, 2.0 * (n_c - 1), 0.2, 0.3, 0.05, "larger") < 0.8


def test_textbook_sample_size_for_half_a_standard_deviation() -> None:
    # the textbook normal approximation: 2 (1.96 + 0.84)² / 0.5² = 62.7, so 63 units per group
    size = required_sample_size(0.5, 1.0, 1.0)
    assert size.unrounded_control == pytest.approx(62.79, abs=0.01)
    assert size == SampleSize(63, 63, 126, size.unrounded_control, size.unrounded_control)


def test_conversion_rate_sample_size_uses_the_binomial_variances() -> None:
    # 10% baseline, detect +1 percentage point: v = p(1 - p) per group
    v_c, v_t = 0.1 * 0.9, 0.11 * 0.89
    expected = reference_control_size(0.01, v_c, v_t, 0.05, 0.8, "two-sided", 1.0)
    size = required_sample_size(0.01, v_c, v_t)
    assert size.unrounded_control == pytest.approx(expected, rel=1e-9)
    assert size.per_group_control == math.ceil(expected)


def test_zero_variances_need_one_unit_per_group() -> None:
    size = required_sample_size(0.1, 0.0, 0.0)
    assert (size.per_group_control, size.per_group_treatment, size.total) == (1, 1, 2)
    assert size.unrounded_control == 0.0


def test_a_tiny_effect_needs_tens_of_millions_of_units() -> None:
    expected = reference_control_size(1e-3, 1.0, 1.0, 0.05, 0.8, "two-sided", 1.0)
    size = required_sample_size(1e-3, 1.0, 1.0)
    assert size.unrounded_control == pytest.approx(expected, rel=1e-9)
    assert size.per_group_control > 10**7


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mde": 0.0},
        {"mde": -0.1},
        {"mde": math.inf},
        {"variance_control": -1.0},
        {"variance_treatment": math.nan},
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"power": 1.0},
        {"power": 0.0},
        {"power": 0.01},  # below alpha/2: no positive size gives it
        {"ratio": 0.0},
        {"alternative": "both"},
    ],
)
def test_required_sample_size_refuses_bad_input(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"mde": 0.1, "variance_control": 1.0, "variance_treatment": 1.0}
    arguments.update(kwargs)
    with pytest.raises(ValueError):
        required_sample_size(**arguments)


@pytest.mark.parametrize(
    ("n_c", "n_t", "alpha"), [(0, 10, 0.05), (10, -1, 0.05), (10, 10, 1.5), (10, 10, math.nan)]
)
def test_power_and_effect_refuse_bad_input(n_c: int, n_t: int, alpha: float) -> None:
    with pytest.raises(ValueError):
        achieved_power(0.1, n_c, n_t, 1.0, 1.0, alpha=alpha)
    with pytest.raises(ValueError):
        powered_effect(n_c, n_t, 1.0, 1.0, alpha=alpha)


def test_power_refuses_a_non_finite_effect() -> None:
    with pytest.raises(ValueError):
        achieved_power(math.nan, 10, 10, 1.0, 1.0)


# -- standardized effects: statsmodels' NormalIndPower -------------------------------------


def exact_nobs1(
    effect_size: float, alpha: float, power: float, ratio: float, alternative: str
) -> float:
    """The root of ``NormalIndPower().power(effect_size, nobs1, alpha, ratio, alternative) =
    power``, found by ``scipy.optimize.brentq`` to the last bits (statsmodels' own
    ``solve_power`` stops near 1e-7, so it is compared at that tolerance separately)."""
    power_of = NormalIndPower().power
    return float(
        optimize.brentq(
            lambda n: power_of(effect_size, n, alpha, ratio, alternative) - power,
            1e-9,
            1e13,
            xtol=1e-300,
            rtol=1e-15,
            maxiter=500,
        )
    )


def signed(effect_size: float, alternative: str) -> float:
    return -effect_size if alternative == "smaller" else effect_size


standardized_effects = st.floats(min_value=1e-3, max_value=3.0)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    effect_size=standardized_effects,
    alpha=alphas,
    power=powers,
    alternative=alternatives,
    ratio=ratios,
)
def test_standardized_sample_size_solves_normal_ind_power_exactly(
    effect_size: float, alpha: float, power: float, alternative: str, ratio: float
) -> None:
    assume(power > alpha)
    effect = signed(effect_size, alternative)
    size = standardized_sample_size(
        effect, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    expected = exact_nobs1(effect, alpha, power, ratio, alternative)
    assert size.unrounded_control == pytest.approx(expected, rel=1e-9)
    assert size.unrounded_treatment == pytest.approx(expected * ratio, rel=1e-9)
    # NormalIndPower().power at the solution is the target
    reached = NormalIndPower().power(effect, size.unrounded_control, alpha, ratio, alternative)
    assert float(reached) == pytest.approx(power, rel=1e-9)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    n_control=st.floats(min_value=2.0, max_value=1e7),
    alpha=alphas,
    power=powers,
    alternative=alternatives,
    ratio=ratios,
)
def test_standardized_powered_effect_solves_normal_ind_power_exactly(
    n_control: float, alpha: float, power: float, alternative: str, ratio: float
) -> None:
    assume(power > alpha)
    effect = standardized_powered_effect(
        n_control, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    assert (effect < 0) == (alternative == "smaller")
    reached = NormalIndPower().power(effect, n_control, alpha, ratio, alternative)
    assert float(reached) == pytest.approx(power, rel=1e-9)
    # both ways: the effect back to its sample size
    back = standardized_sample_size(
        effect, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    assert back.unrounded_control == pytest.approx(n_control, rel=1e-9)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(
    ("effect_size", "ratio", "alpha", "power"),
    [(0.1, 1.0, 0.05, 0.8), (0.02, 2.5, 0.01, 0.9), (0.5, 0.5, 0.05, 0.99)],
)
def test_standardized_functions_agree_with_solve_power_to_its_own_accuracy(
    effect_size: float, ratio: float, alpha: float, power: float, alternative: str
) -> None:
    effect = signed(effect_size, alternative)
    model = NormalIndPower()
    nobs1 = model.solve_power(effect, None, alpha, power, ratio, alternative)
    size = standardized_sample_size(
        effect, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    assert size.unrounded_control == pytest.approx(float(nobs1), rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = model.solve_power(None, 1000, alpha, power, ratio, alternative)
    got = standardized_powered_effect(
        1000, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    # solve_power's effect size is found less tightly (its root finder stops near 1e-5)
    assert got == pytest.approx(float(found), rel=1e-4)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    effect=st.floats(min_value=-3.0, max_value=3.0),
    n_control=st.floats(min_value=1.0, max_value=1e7),
    alpha=alphas,
    alternative=alternatives,
    ratio=ratios,
)
def test_standardized_power_is_normal_ind_power(
    effect: float, n_control: float, alpha: float, alternative: str, ratio: float
) -> None:
    expected = NormalIndPower().power(effect, n_control, alpha, ratio, alternative)
    got = standardized_power(effect, n_control, alpha=alpha, ratio=ratio, alternative=alternative)
    assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-300)


def test_two_sided_far_tail_moves_the_unrounded_size_by_parts_per_million() -> None:
    # the example: the closed form (far tail left out) asks ~2e-6 more units
    exact = standardized_sample_size(0.1).unrounded_control
    closed = required_sample_size(0.1, 1.0, 1.0).unrounded_control
    assert exact == pytest.approx(exact_nobs1(0.1, 0.05, 0.8, 1.0, "two-sided"), rel=1e-12)
    assert 1e-7 < (closed - exact) / exact < 1e-5
    one_sided = standardized_sample_size(0.1, alternative="larger").unrounded_control
    assert one_sided == pytest.approx(
        required_sample_size(0.1, 1.0, 1.0, alternative="larger").unrounded_control, rel=1e-12
    )


@settings(derandomize=True, deadline=None, max_examples=100)
@given(p_t=st.floats(min_value=0.0, max_value=1.0), p_c=st.floats(min_value=0.0, max_value=1.0))
def test_cohens_h_is_statsmodels_proportion_effectsize(p_t: float, p_c: float) -> None:
    expected = float(proportion_effectsize(p_t, p_c))
    assert cohens_h(p_t, p_c) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_sample_size_for_a_change_in_conversion_by_cohens_h() -> None:
    # statsmodels' recipe: NormalIndPower().solve_power(proportion_effectsize(0.11, 0.10), ...)
    h = cohens_h(0.11, 0.10)
    size = standardized_sample_size(h, alpha=0.05, power=0.8)
    assert size.unrounded_control == pytest.approx(
        exact_nobs1(float(proportion_effectsize(0.11, 0.10)), 0.05, 0.8, 1.0, "two-sided"),
        rel=1e-9,
    )
    assert size.per_group_control == math.ceil(size.unrounded_control)


@settings(derandomize=True, deadline=None, max_examples=100)
@given(
    difference=st.floats(min_value=-5.0, max_value=5.0),
    v_c=variances,
    v_t=variances,
    n_c=sizes,
    ratio=ratios,
    alternative=alternatives,
)
def test_standardized_effect_gives_the_raw_unit_power(
    difference: float, v_c: float, v_t: float, n_c: int, ratio: float, alternative: str
) -> None:
    d = standardized_effect(difference, v_c, v_t, ratio=ratio)
    expected = achieved_power(difference, n_c, ratio * n_c, v_c, v_t, alternative=alternative)
    got = standardized_power(d, n_c, ratio=ratio, alternative=alternative)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_standardized_effect_with_equal_variances_is_cohens_d() -> None:
    values = np.random.default_rng(7).normal(3.0, 2.0, 500)
    variance = float(np.var(values, ddof=1))
    assert standardized_effect(0.4, variance) == pytest.approx(0.4 / math.sqrt(variance), rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: standardized_sample_size(0.0),
        lambda: standardized_sample_size(-0.1, alternative="larger"),
        lambda: standardized_sample_size(0.1, alternative="smaller"),
        lambda: standardized_sample_size(0.1, power=0.04),  # not above alpha
        lambda: standardized_sample_size(0.1, ratio=0.0),
        lambda: standardized_powered_effect(0.0),
        lambda: standardized_powered_effect(100, alpha=1.0),
        lambda: standardized_power(math.nan, 100),
        lambda: standardized_power(0.1, -1),
        lambda: standardized_effect(0.1, 0.0, 0.0),
        lambda: standardized_effect(math.inf, 1.0),
        lambda: cohens_h(1.2, 0.5),
        lambda: noncentrality(0.05, 0.05),
    ],
)
def test_standardized_functions_refuse_bad_input(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_noncentrality_is_the_closed_form_one_sided_and_just_below_it_two_sided() -> None:
    normal = NormalDist()
    assert noncentrality(0.05, 0.8, "larger") == -normal.inv_cdf(0.05) + normal.inv_cdf(0.8)
    closed = -normal.inv_cdf(0.025) + normal.inv_cdf(0.8)
    s = noncentrality(0.05, 0.8)
    assert closed - 1e-5 < s < closed
    z = -normal.inv_cdf(0.025)
    # both tails at s: Φ(s - z) + Φ(-s - z), with scipy's normal distribution
    reached = scipy_stats.norm.cdf(s - z) + scipy_stats.norm.cdf(-s - z)
    assert float(reached) == pytest.approx(0.8, rel=1e-12)
