"""Seeded simulations: the fixed-horizon tests hold their false-positive rate.

A/A experiments (both groups drawn from the same distribution) analysed with ``compare``
reject at the nominal alpha within simulation error — for a 0/1 metric with the z-test and
for a skewed continuous metric with Welch's test. (The sequential counterpart, peeking at
every interim, is in ``test_analysis_sequential.py``.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from flagstone.analysis.comparison import compare
from flagstone.analysis.groups import GroupStats

EXPERIMENTS = 20_000
ALPHA = 0.05


def within_simulation_error(rejections: int, experiments: int, alpha: float) -> bool:
    """Within 4 binomial standard errors of ``alpha``."""
    rate = rejections / experiments
    return abs(rate - alpha) <= 4 * math.sqrt(alpha * (1 - alpha) / experiments)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_aa_conversion_tests_reject_at_alpha(alternative) -> None:
    rng = np.random.default_rng(20261123)
    n = 2_000
    conversions = rng.binomial(n, 0.1, size=(EXPERIMENTS, 2))
    rejections = sum(
        compare(
            GroupStats(n=n, sum=float(control)),
            GroupStats(n=n, sum=float(treatment)),
            alternative=alternative,
            alpha=ALPHA,
        ).significant
        for control, treatment in conversions
    )
    assert within_simulation_error(rejections, EXPERIMENTS, ALPHA), rejections / EXPERIMENTS


def test_aa_welch_tests_on_a_skewed_metric_reject_at_alpha() -> None:
    rng = np.random.default_rng(7)
    n = 400
    samples = rng.lognormal(mean=1.0, sigma=0.8, size=(EXPERIMENTS // 4, 2, n))
    sums = samples.sum(axis=2)
    squares = (samples**2).sum(axis=2)
    rejections = sum(
        compare(
            GroupStats(n=n, sum=float(sums[index, 0]), sum_sq=float(squares[index, 0])),
            GroupStats(n=n, sum=float(sums[index, 1]), sum_sq=float(squares[index, 1])),
            method="t",
            alpha=ALPHA,
        ).significant
        for index in range(EXPERIMENTS // 4)
    )
    assert within_simulation_error(rejections, EXPERIMENTS // 4, ALPHA), rejections
