"""``flagstone.analysis.corrections``: Bonferroni and Holm.

The reference is ``statsmodels.stats.multitest.multipletests`` (methods ``"bonferroni"`` and
``"holm"``): decisions and adjusted p-values must be identical, not merely close.
"""

from __future__ import annotations

import gc
import math

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


def statsmodels_correction(values: list[float], alpha: float, method: str) -> Correction:
    # multipletests(method="holm") ends with gc.collect(), some 50 ms with scipy and
    # statsmodels loaded: skipped here so hundreds of examples stay fast
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda generation=2: 0)
        reject, adjusted, _, _ = multipletests(values, alpha=alpha, method=method)
    return Correction(reject=[bool(r) for r in reject], adjusted_p=[float(p) for p in adjusted])


@settings(derandomize=True, deadline=None, max_examples=400)
@given(values=p_values, alpha=alphas)
def test_holm_equals_statsmodels_exactly(values: list[float], alpha: float) -> None:
    assert holm(values, alpha) == statsmodels_correction(values, alpha, "holm")


@settings(derandomize=True, deadline=None, max_examples=400)
@given(values=p_values, alpha=alphas)
def test_bonferroni_equals_statsmodels_exactly(values: list[float], alpha: float) -> None:
    expected = statsmodels_correction(values, alpha, "bonferroni")
    assert bonferroni(values, alpha) == expected.reject
    assert bonferroni_adjusted_p(values) == expected.adjusted_p


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
    assert holm([p] * 11, 0.05) == statsmodels_correction([p] * 11, 0.05, "holm")


def test_a_single_hypothesis_is_not_corrected() -> None:
    assert holm([0.04], 0.05) == Correction(reject=[True], adjusted_p=[0.04])
    assert bonferroni([0.04], 0.05) == [True]
    assert bonferroni_adjusted_p([0.04]) == [0.04]


def test_an_empty_family_gives_empty_results() -> None:
    assert holm([], 0.05) == Correction(reject=[], adjusted_p=[])
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
