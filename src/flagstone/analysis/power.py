"""Power and sample size for a two-sample z-test of treatment - control.

This module owns the planning side of a comparison: how many units each group needs to
detect a minimum detectable effect (MDE), which effect a given number of units can detect,
and the power a given effect has. The test is the library's default: a z-test of the
difference in means with the unpooled standard error ``sqrt(v_c/n_c + v_t/n_t)``, where
``v_c`` and ``v_t`` are the per-unit variances of the two groups (for a 0/1 metric,
``p(1 - p)``).

``alternative`` is ``"two-sided"``, ``"larger"`` (H1: treatment - control > 0) or
``"smaller"`` (H1: treatment - control < 0).

The sample size and the powered effect use the usual closed form
``n_c = (z_{1-alpha'} + z_{power})² (v_c + v_t/ratio) / mde²``, with ``alpha' = alpha/2``
for a two-sided test. For a two-sided test that form ignores the far tail (rejecting in
the wrong direction), so :func:`achieved_power`, which counts both tails, reports a power
slightly above the target for those sizes: by ``Φ(-2 z_{1-alpha/2} - z_{power})``, about 1e-6 at
alpha = 0.05 and power = 0.8. For one-sided tests the forms are exact inverses.

Normal quantiles come from :class:`statistics.NormalDist`; tail probabilities from
:func:`math.erfc`, which keeps its relative accuracy far into the tails (``NormalDist.cdf``
computes ``1 + erf(x)`` and loses digits below about 1e-8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from flagstone.analysis.normal import Alternative, normal_cdf

__all__ = [
    "Alternative",
    "SampleSize",
    "achieved_power",
    "powered_effect",
    "required_sample_size",
]


_NORMAL = NormalDist()
_ALTERNATIVES = ("two-sided", "larger", "smaller")


@dataclass(frozen=True)
class SampleSize:
    """Units needed per group, and in total, to reach the requested power.

    ``per_group_treatment`` is ``ratio`` times the control size (each rounded up on its
    own, so both groups are at least as large as the closed form asks);
    ``unrounded_control`` is the closed-form control size before rounding up.
    """

    per_group_control: int
    per_group_treatment: int
    total: int
    unrounded_control: float


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def _check_variance(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_size(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _critical_value(alpha: float, alternative: str) -> float:
    """``z_{1-alpha'}``, the rejection threshold of the z statistic (alpha' = alpha/2 if
    two-sided)."""
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    return -_NORMAL.inv_cdf(tail)


def _z_sum(alpha: float, power: float, alternative: str) -> float:
    """``z_{1-alpha'} + z_{power}``, the effect in standard errors that has the given power."""
    _check_alpha(alpha)
    _check_alternative(alternative)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    total = _critical_value(alpha, alternative) + _NORMAL.inv_cdf(power)
    if total <= 0.0:
        limit = "alpha/2" if alternative == "two-sided" else "alpha"
        raise ValueError(f"power must exceed {limit} (power={power!r}, alpha={alpha!r})")
    return total


def required_sample_size(
    mde: float,
    variance_control: float,
    variance_treatment: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    ratio: float = 1.0,
) -> SampleSize:
    """Units per group for the z-test to detect ``mde`` with probability ``power``.

    ``mde`` is the magnitude (> 0) of the smallest difference treatment - control to
    detect, taken in the direction of a one-sided ``alternative``. The treatment group gets
    ``ratio`` times as many units as control. Returns
    ``n_c = ceil((z_{1-alpha'} + z_{power})² (v_c + v_t/ratio) / mde²)`` and
    ``n_t = ceil(ratio * unrounded n_c)``, each at least 1 (two zero variances need
    no more than one unit per group).
    """
    _check_size("mde", mde)
    _check_variance("variance_control", variance_control)
    _check_variance("variance_treatment", variance_treatment)
    _check_size("ratio", ratio)
    z = _z_sum(alpha, power, alternative)
    exact = z * z * (variance_control + variance_treatment / ratio) / (mde * mde)
    control = max(1, math.ceil(exact))
    treatment = max(1, math.ceil(ratio * exact))
    return SampleSize(
        per_group_control=control,
        per_group_treatment=treatment,
        total=control + treatment,
        unrounded_control=exact,
    )


def _standard_error(
    n_control: float, n_treatment: float, variance_control: float, variance_treatment: float
) -> float:
    _check_size("n_control", n_control)
    _check_size("n_treatment", n_treatment)
    _check_variance("variance_control", variance_control)
    _check_variance("variance_treatment", variance_treatment)
    return math.sqrt(variance_control / n_control + variance_treatment / n_treatment)


def powered_effect(
    n_control: float,
    n_treatment: float,
    variance_control: float,
    variance_treatment: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> float:
    """The minimum detectable effect of groups of these sizes, ``(z_{1-alpha'} + z_{power}) SE``.

    A magnitude (>= 0, 0 when both variances are 0), in the direction of a one-sided
    ``alternative``: for ``"smaller"`` the detectable difference is its negative.
    """
    z = _z_sum(alpha, power, alternative)
    return z * _standard_error(n_control, n_treatment, variance_control, variance_treatment)


def achieved_power(
    effect: float,
    n_control: float,
    n_treatment: float,
    variance_control: float,
    variance_treatment: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Probability that the z-test rejects when the true treatment - control is ``effect``.

    ``effect`` is signed. A two-sided test counts both tails:
    ``Φ(δ - z_{1-alpha/2}) + Φ(-δ - z_{1-alpha/2})`` with ``δ = effect / SE``; ``"larger"`` is
    ``Φ(δ - z_{1-alpha})`` and ``"smaller"`` is ``Φ(-δ - z_{1-alpha})``.

    When both variances are 0 (SE = 0) the test rejects exactly when the difference is
    nonzero and in the direction of the alternative, so the power is 1.0 or 0.0 (0.0 for
    ``effect == 0``, matching a p-value of 1.0 for a zero difference with SE 0).
    """
    _check_alpha(alpha)
    _check_alternative(alternative)
    if not math.isfinite(effect):
        raise ValueError(f"effect must be finite, got {effect!r}")
    se = _standard_error(n_control, n_treatment, variance_control, variance_treatment)
    if se == 0.0:
        if alternative == "larger":
            return 1.0 if effect > 0.0 else 0.0
        if alternative == "smaller":
            return 1.0 if effect < 0.0 else 0.0
        return 1.0 if effect != 0.0 else 0.0
    crit = _critical_value(alpha, alternative)
    delta = effect / se
    if alternative == "larger":
        return normal_cdf(delta - crit)
    if alternative == "smaller":
        return normal_cdf(-delta - crit)
    return normal_cdf(delta - crit) + normal_cdf(-delta - crit)
