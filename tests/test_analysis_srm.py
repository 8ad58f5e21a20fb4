"""``flagstone.analysis.srm``: the sample-ratio-mismatch check.

The reference is ``scipy.stats.chisquare`` (Pearson's goodness-of-fit test) with the
expected counts ``total * weight / Σweights``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from flagstone.analysis.srm import SrmResult, sample_ratio_mismatch


def scipy_chisquare(observed: list[int], weights: list[float]) -> tuple[float, float]:
    total = sum(observed)
    expected = [total * w / math.fsum(weights) for w in weights]
    result = stats.chisquare(observed, expected)
    return float(result.statistic), float(result.pvalue)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    groups=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**6),
            st.floats(min_value=0.01, max_value=100.0),
        ),
        min_size=2,
        max_size=6,
    )
)
def test_statistic_and_p_value_match_scipy_chisquare(groups: list[tuple[int, float]]) -> None:
    observed = [count for count, _ in groups]
    weights = [weight for _, weight in groups]
    assume(sum(observed) > 0)
    statistic, p_value = scipy_chisquare(observed, weights)
    result = sample_ratio_mismatch(observed, weights)
    assert result.statistic == pytest.approx(statistic, rel=1e-9, abs=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert result.degrees_of_freedom == len(observed) - 1


def test_a_fair_fifty_fifty_split_is_no_mismatch() -> None:
    result = sample_ratio_mismatch([50_000, 50_000], [0.5, 0.5])
    assert result == SrmResult(0.0, 1.0, 1, (50_000.0, 50_000.0), False)


def test_weights_are_normalised() -> None:
    as_fractions = sample_ratio_mismatch([10_123, 9_877], [0.5, 0.5])
    as_percentages = sample_ratio_mismatch([10_123, 9_877], [50, 50])
    assert as_fractions == as_percentages


def test_a_visible_imbalance_is_a_mismatch() -> None:
    # 50.5% / 49.5% of a million units: chi-square 100 on 1 degree of freedom
    result = sample_ratio_mismatch([505_000, 495_000], [1, 1])
    _, p_value = scipy_chisquare([505_000, 495_000], [1, 1])
    assert result.statistic == pytest.approx(100.0, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.mismatch


def test_mismatch_is_a_p_value_below_alpha() -> None:
    observed, weights = [10_150, 9_850], [1.0, 1.0]
    p_value = scipy_chisquare(observed, weights)[1]  # about 0.034
    assert not sample_ratio_mismatch(observed, weights).mismatch  # default alpha 0.001
    assert sample_ratio_mismatch(observed, weights, alpha=0.05).mismatch
    assert not sample_ratio_mismatch(observed, weights, alpha=p_value * 0.999).mismatch


def test_expected_counts_follow_the_weights() -> None:
    result = sample_ratio_mismatch([200, 300, 500], [0.2, 0.3, 0.5])
    assert result.expected_counts == pytest.approx((200.0, 300.0, 500.0), rel=1e-12)
    assert result.statistic == pytest.approx(0.0, abs=1e-20)
    assert result.degrees_of_freedom == 2
    assert not result.mismatch


def test_an_unequal_allocation_is_tested_against_its_own_split() -> None:
    observed, weights = [9_000, 1_000], [0.9, 0.1]
    assert not sample_ratio_mismatch(observed, weights).mismatch
    assert sample_ratio_mismatch(observed, [0.5, 0.5]).mismatch


def test_an_empty_group_is_a_mismatch() -> None:
    statistic, p_value = scipy_chisquare([0, 100], [1, 1])
    result = sample_ratio_mismatch([0, 100], [1, 1])
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.mismatch


def test_units_in_a_group_with_weight_zero_are_a_certain_mismatch() -> None:
    result = sample_ratio_mismatch([500, 500, 1], [0.5, 0.5, 0.0])
    assert result.statistic == math.inf
    assert result.p_value == 0.0
    assert result.mismatch
    assert result.degrees_of_freedom == 1
    assert result.expected_counts == (500.5, 500.5, 0.0)


def test_a_group_with_weight_zero_and_no_units_is_left_out() -> None:
    result = sample_ratio_mismatch([480, 0, 520], [1.0, 0.0, 1.0])
    statistic, p_value = scipy_chisquare([480, 520], [1.0, 1.0])
    assert result.degrees_of_freedom == 1
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


def test_a_single_weighted_group_holding_every_unit_has_nothing_to_test() -> None:
    result = sample_ratio_mismatch([0, 1_000], [0.0, 1.0])
    assert result == SrmResult(0.0, 1.0, 0, (0.0, 1_000.0), False)


def test_no_units_at_all_is_no_test_and_no_mismatch() -> None:
    result = sample_ratio_mismatch([0, 0], [0.5, 0.5])
    assert result == SrmResult(0.0, 1.0, 1, (0.0, 0.0), False)


def test_ten_million_units() -> None:
    observed = [5_001_000, 4_999_000]
    statistic, p_value = scipy_chisquare(observed, [1, 1])
    result = sample_ratio_mismatch(observed, [1, 1])
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert not result.mismatch


def test_a_tiny_p_value_keeps_its_relative_accuracy() -> None:
    observed = [6_000_000, 4_000_000]
    statistic, p_value = scipy_chisquare(observed, [1, 1])
    result = sample_ratio_mismatch(observed, [1, 1])
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert result.mismatch


def test_numpy_counts_and_weights_are_accepted() -> None:
    result = sample_ratio_mismatch(np.array([480, 520]), np.array([1.0, 1.0]))
    assert result == sample_ratio_mismatch([480, 520], [1.0, 1.0])


@pytest.mark.parametrize(
    ("observed", "weights", "alpha"),
    [
        ([10], [1.0], 0.001),  # one group
        ([10, 10], [1.0], 0.001),  # lengths differ
        ([10, -1], [1.0, 1.0], 0.001),
        ([10, 1.5], [1.0, 1.0], 0.001),
        ([10, True], [1.0, 1.0], 0.001),
        ([10, 10], [1.0, -1.0], 0.001),
        ([10, 10], [1.0, math.nan], 0.001),
        ([10, 10], [0.0, 0.0], 0.001),
        ([10, 10], [1.0, 1.0], 0.0),
        ([10, 10], [1.0, 1.0], 1.0),
    ],
)
def test_bad_input_is_refused(observed: list[int], weights: list[float], alpha: float) -> None:
    with pytest.raises(ValueError):
        sample_ratio_mismatch(observed, weights, alpha=alpha)
