"""``flagstone.analysis.corrections``: Bonferroni and Holm.

The reference is ``statsmodels.stats.multitest.multipletests`` (methods ``"bonferroni"`` and
``"holm"``): decisions and adjusted p-values must be identical, not merely close. Holm's
step-down order and thresholds, which multipletests does not return, are checked against
``numpy.argsort(kind="stable")`` and the rule's statement (the threshold of rank ``i`` is
``alpha/(m - i)``; tied p-values are decided at the first of their ranks, i.e. after the
p-values strictly below them).
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from flagstone.analysis.corrections import (
    Correction,
    bonferroni,
    bonferroni_adjusted_p,
    bonferroni_alpha,
    holm,
)

# p-values with the awkward ones mixed in: 0, 1, exact ties, values at the Bonferroni and Holm
# thresholds of small families
special_p = st.sampled_from([0.0, 1.0, 0.05, 0.025, 0.0125, 0.01, 0.05 / 3, 0.05 / 11, 0.5, 1e-300])
p_values = st.lists(
    st.one_of(special_p, st.floats(min_value=0.0, max_value=1.0)), min_size=0, max_size=25
)
alphas = st.one_of(
    st.sampled_from([0.001, 0.01, 0.05, 0.1]), st.floats(min_value=1e-6, max_value=0.999)
)


def statsmodels_correction(
    values: list[float], alpha: float, method: str
) -> tuple[list[bool], list[float]]:
    """``(reject, adjusted p-values)`` from ``multipletests(values, alpha, method)``."""
    # multipletests(method="holm") ends with gc.collect(), some 50 ms with scipy and
    # statsmodels loaded: skipped here so hundreds of examples stay fast
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda generation=2: 0)
        reject, adjusted, _, _ = multipletests(values, alpha=alpha, method=method)
    return [bool(r) for r in reject], [float(p) for p in adjusted]


def decisions(result: Correction) -> tuple[list[bool], list[float]]:
    return result.reject, result.adjusted_p


@settings(derandomize=True, deadline=None, max_examples=400)
@given(values=p_values, alpha=alphas)
def test_holm_equals_statsmodels_exactly(values: list[float], alpha: float) -> None:
    assert decisions(holm(values, alpha)) == statsmodels_correction(values, alpha, "holm")


@settings(derandomize=True, deadline=None, max_examples=400)
@given(values=p_values, alpha=alphas)
def test_bonferroni_equals_statsmodels_exactly(values: list[float], alpha: float) -> None:
    reject, adjusted = statsmodels_correction(values, alpha, "bonferroni")
    assert bonferroni(values, alpha) == reject
    assert bonferroni_adjusted_p(values) == adjusted


@settings(derandomize=True, deadline=None, max_examples=300)
@given(values=p_values, alpha=alphas)
def test_holm_exposes_its_step_down_order_thresholds_and_levels(
    values: list[float], alpha: float
) -> None:
    result = holm(values, alpha)
    m = len(values)
    assert result.order == [int(i) for i in np.argsort(np.array(values), kind="stable")]
    assert result.thresholds == [alpha / (m - rank) for rank in range(m)]
    # a p-value's level is the threshold after the p-values strictly below it
    assert result.levels == [alpha / (m - sum(q < p for q in values)) for p in values]


@settings(derandomize=True, deadline=None, max_examples=300)
@given(values=p_values, alpha=alphas)
def test_stepping_down_the_exposed_levels_gives_statsmodels_decisions(
    values: list[float], alpha: float
) -> None:
    # a hypothesis is rejected when it and every one before it in the order pass their level
    result = holm(values, alpha)
    passing = [values[i] <= result.levels[i] for i in result.order]
    stepped = [False] * len(values)
    for rank, index in enumerate(result.order):
        stepped[index] = all(passing[: rank + 1])
    assert stepped == statsmodels_correction(values, alpha, "holm")[0]


@settings(derandomize=True, deadline=None, max_examples=200)
@given(values=p_values, alpha=alphas)
def test_holm_rejects_everything_bonferroni_rejects(values: list[float], alpha: float) -> None:
    by_holm = holm(values, alpha).reject
    for bonferroni_rejects, holm_rejects in zip(bonferroni(values, alpha), by_holm, strict=True):
        assert holm_rejects or not bonferroni_rejects


@settings(derandomize=True, deadline=None, max_examples=200)
@given(values=p_values, alpha=alphas)
def test_tied_p_values_get_the_same_holm_decision_and_value(
    values: list[float], alpha: float
) -> None:
    doubled = values + values
    result = holm(doubled, alpha)
    n = len(values)
    assert result.reject[:n] == result.reject[n:]
    assert result.adjusted_p[:n] == result.adjusted_p[n:]


def test_holm_steps_down_through_the_sorted_p_values() -> None:
    # thresholds 0.05/4, 0.05/3, 0.05/2, 0.05/1 for the sorted p-values: the first three
    # pass, then 0.2 > 0.05 stops the procedure
    result = holm([0.2, 0.01, 0.012, 0.02], 0.05)
    assert result.reject == [False, True, True, True]
    assert result.adjusted_p == pytest.approx([0.2, 0.04, 0.04, 0.04], rel=1e-12)
    assert result.order == [1, 2, 3, 0]
    assert result.thresholds == [0.05 / 4, 0.05 / 3, 0.05 / 2, 0.05 / 1]
    assert result.levels == [0.05 / 1, 0.05 / 4, 0.05 / 3, 0.05 / 2]


def test_tied_p_values_share_the_first_of_their_thresholds() -> None:
    result = holm([0.02, 0.01, 0.02, 0.3], 0.05)
    assert result.order == [1, 0, 2, 3]
    assert result.levels == [0.05 / 3, 0.05 / 4, 0.05 / 3, 0.05 / 1]
    assert result.reject == [False, True, False, False]  # 0.02 > 0.05/3 stops both ties


def test_holm_stops_at_the_first_failure_even_if_later_p_values_would_pass() -> None:
    # 0.03 > 0.05/2 fails, so 0.04 (<= 0.05/1) is kept too
    result = holm([0.03, 0.04], 0.05)
    assert result.reject == [False, False]
    assert result.adjusted_p == pytest.approx([0.06, 0.06], rel=1e-12)


def test_adjusted_p_values_are_capped_at_one() -> None:
    assert bonferroni_adjusted_p([0.4, 0.9, 1.0]) == [1.0, 1.0, 1.0]
    assert holm([0.4, 0.9, 1.0]).adjusted_p == [1.0, 1.0, 1.0]


def test_bonferroni_alpha_divides_by_the_family_size() -> None:
    assert bonferroni_alpha(0.05, 4) == 0.0125
    assert bonferroni_alpha(0.05, 1) == 0.05


def test_bonferroni_rejects_at_the_threshold_itself() -> None:
    assert bonferroni([0.0125, 0.0126, 0.0, 1.0], 0.05) == [True, False, True, False]


def test_a_p_value_equal_to_the_divided_alpha_is_rejected() -> None:
    # 0.05 / 11 * 11 rounds above 0.05: the comparison is p <= alpha / k, as in statsmodels
    p = 0.05 / 11
    assert p * 11 > 0.05
    assert bonferroni([p] * 11, 0.05) == [True] * 11
    assert holm([p] * 11, 0.05).reject == [True] * 11
    assert decisions(holm([p] * 11, 0.05)) == statsmodels_correction([p] * 11, 0.05, "holm")


def test_a_single_hypothesis_is_not_corrected() -> None:
    assert holm([0.04], 0.05) == Correction(
        reject=[True], adjusted_p=[0.04], order=[0], thresholds=[0.05], levels=[0.05]
    )
    assert bonferroni([0.04], 0.05) == [True]
    assert bonferroni_adjusted_p([0.04]) == [0.04]


def test_an_empty_family_gives_empty_results() -> None:
    assert holm([], 0.05) == Correction(
        reject=[], adjusted_p=[], order=[], thresholds=[], levels=[]
    )
    assert bonferroni([], 0.05) == []
    assert bonferroni_adjusted_p([]) == []


def test_a_large_family_of_zeros_is_all_rejected() -> None:
    result = holm([0.0] * 10_000, 0.05)
    assert all(result.reject)
    assert result.adjusted_p == [0.0] * 10_000


@pytest.mark.parametrize("bad", [-0.1, 1.1, math.nan, math.inf])
def test_p_values_outside_zero_one_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        holm([0.01, bad])
    with pytest.raises(ValueError):
        bonferroni([0.01, bad])
    with pytest.raises(ValueError):
        bonferroni_adjusted_p([0.01, bad])


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.05, math.nan])
def test_alpha_outside_zero_one_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError):
        holm([0.01], alpha)
    with pytest.raises(ValueError):
        bonferroni([0.01], alpha)
    with pytest.raises(ValueError):
        bonferroni_alpha(alpha, 3)


def test_bonferroni_alpha_needs_at_least_one_hypothesis() -> None:
    with pytest.raises(ValueError):
        bonferroni_alpha(0.05, 0)
