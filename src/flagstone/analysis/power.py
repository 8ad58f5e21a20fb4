"""Power and sample size for a two-sample z-test of treatment - control.

This module owns the planning side of a comparison: how many units each group needs to
detect a minimum detectable effect (MDE), which effect a given number of units can detect,
and the power a given effect has. The test is the library's default: a z-test of the
difference in means with the unpooled standard error ``sqrt(v_c/n_c + v_t/n_t)``, where
``v_c`` and ``v_t`` are the per-unit variances of the two groups (for a 0/1 metric,
``p(1 - p)``).

Two sets of functions answer the same three questions:

* in the metric's units — :func:`required_sample_size`, :func:`powered_effect`,
  :func:`achieved_power` — from the MDE and the groups' variances, with the closed forms
  below (spotify-confidence's);
* in standard deviations — :func:`standardized_sample_size`,
  :func:`standardized_powered_effect`, :func:`standardized_power` — from a standardized
  effect size, as statsmodels' ``NormalIndPower`` (``solve_power`` and ``power``) has them:
  Cohen's h for proportions (:func:`cohens_h`, statsmodels' ``proportion_effectsize``) or
  :func:`standardized_effect` for means. These solve the power equation exactly, far tail
  of a two-sided test included (see :func:`noncentrality`).

``alternative`` is ``"two-sided"``, ``"larger"`` (H1: treatment - control > 0) or
``"smaller"`` (H1: treatment - control < 0).

The sample size and the powered effect use the usual closed form
``n_c = (z_{1-alpha'} + z_{power})² (v_c + v_t/ratio) / mde²``, with ``alpha' = alpha/2``
for a two-sided test. For a two-sided test that form ignores the far tail (rejecting in
the wrong direction), so :func:`achieved_power`, which counts both tails, reports a power
slightly above the target for those sizes: by ``Φ(-2 z_{1-alpha/2} - z_{power})``, about 1e-6 at
alpha = 0.05 and power = 0.8, and asks for about 2.4e-6 more units than the exact solution
(:func:`standardized_sample_size`). For one-sided tests the forms are exact inverses.

Normal quantiles come from :class:`statistics.NormalDist`; tail probabilities from
:func:`math.erfc`, which keeps its relative accuracy far into the tails (``NormalDist.cdf``
computes ``1 + erf(x)`` and loses digits below about 1e-8). Nothing here needs scipy.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from statistics import NormalDist

from flagstone.analysis.normal import Alternative, normal_cdf

__all__ = [
    "Alternative",
    "SampleSize",
    "achieved_power",
    "cohens_h",
    "noncentrality",
    "powered_effect",
    "required_sample_size",
    "standardized_effect",
    "standardized_power",
    "standardized_powered_effect",
    "standardized_sample_size",
]


_NORMAL = NormalDist()
_ALTERNATIVES = ("two-sided", "larger", "smaller")


@dataclass(frozen=True)
class SampleSize:
    """Units needed per group, and in total, to reach the requested power.

    ``per_group_treatment`` is ``ratio`` times the control size (each rounded up on its
    own, so both groups are at least as large as the solution asks);
    ``unrounded_control`` and ``unrounded_treatment`` (``ratio * unrounded_control``) are
    the sizes before rounding up.
    """

    per_group_control: int
    per_group_treatment: int
    total: int
    unrounded_control: float
    unrounded_treatment: float


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
    return _rounded_up(exact, ratio)


def _rounded_up(unrounded_control: float, ratio: float) -> SampleSize:
    """Both groups' sizes rounded up (at least 1 unit each)."""
    unrounded_treatment = ratio * unrounded_control
    control = max(1, math.ceil(unrounded_control))
    treatment = max(1, math.ceil(unrounded_treatment))
    return SampleSize(
        per_group_control=control,
        per_group_treatment=treatment,
        total=control + treatment,
        unrounded_control=unrounded_control,
        unrounded_treatment=unrounded_treatment,
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
    return _power_of(effect / se, alpha, alternative)


# -- standardized effects (statsmodels' NormalIndPower) ------------------------------------

_EPS = sys.float_info.epsilon


def cohens_h(p_treatment: float, p_control: float) -> float:
    """Cohen's h, the standardized effect of a change in proportion from ``p_control`` to
    ``p_treatment``: ``2 asin(sqrt(p_treatment)) - 2 asin(sqrt(p_control))``.

    The arcsine transform makes a proportion's variance ``1/(4n)`` whatever its value, so
    ``h`` is a difference in standard deviations that the ``standardized_*`` functions
    take. statsmodels: ``proportion_effectsize(p_treatment, p_control)``. Raises
    :class:`ValueError` for a proportion outside ``[0, 1]``.
    """
    for name, value in (("p_treatment", p_treatment), ("p_control", p_control)):
        if not 0.0 <= value <= 1.0:  # also refuses NaN
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return 2.0 * math.asin(math.sqrt(p_treatment)) - 2.0 * math.asin(math.sqrt(p_control))


def standardized_effect(
    difference: float,
    variance_control: float,
    variance_treatment: float | None = None,
    *,
    ratio: float = 1.0,
) -> float:
    """A difference in means in standard deviations: ``difference / sigma`` with
    ``sigma² = (ratio·v_c + v_t) / (1 + ratio)`` (``v_t`` defaults to ``v_c``; equal
    variances give ``sigma² = v``, Cohen's d).

    ``sigma`` is the common standard deviation that gives the unpooled z-test's standard
    error for ``n_c`` control and ``ratio·n_c`` treatment units,
    ``sigma·sqrt(1/n_c + 1/n_t) = sqrt(v_c/n_c + v_t/n_t)``, so
    ``standardized_power(standardized_effect(d, v_c, v_t, ratio=r), n, ratio=r)`` equals
    ``achieved_power(d, n, r·n, v_c, v_t)``. Raises :class:`ValueError` for a non-finite
    difference, a negative or non-finite variance, a non-positive ratio, or both variances
    0.
    """
    if not math.isfinite(difference):
        raise ValueError(f"difference must be finite, got {difference!r}")
    _check_variance("variance_control", variance_control)
    if variance_treatment is None:
        variance_treatment = variance_control
    _check_variance("variance_treatment", variance_treatment)
    _check_size("ratio", ratio)
    sigma = math.sqrt((ratio * variance_control + variance_treatment) / (1.0 + ratio))
    if sigma == 0.0:
        raise ValueError("the variances are both 0: no standardized effect")
    return difference / sigma


def _check_power(alpha: float, power: float, alternative: str) -> None:
    _check_alpha(alpha)
    _check_alternative(alternative)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    if not power > alpha:
        raise ValueError(
            f"power must exceed alpha (power={power!r}, alpha={alpha!r}): with no effect "
            "the test already rejects with probability alpha"
        )


def _rejection(s: float, crit: float) -> float:
    """The two-sided test's power when its statistic has mean ``s``: both tails."""
    return normal_cdf(s - crit) + normal_cdf(-s - crit)


def _density(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def noncentrality(
    alpha: float = 0.05, power: float = 0.8, alternative: Alternative = "two-sided"
) -> float:
    """The mean (in standard errors, > 0) the z statistic needs for the test to reject with
    probability ``power``: the ``s`` in ``n = (s / effect)²``.

    One-sided, ``s = z_{1-alpha} + z_{power}`` exactly. Two-sided, ``s`` solves
    ``Φ(s - z_{1-alpha/2}) + Φ(-s - z_{1-alpha/2}) = power`` — the far tail (rejecting in the
    wrong direction) included, as statsmodels' ``NormalIndPower`` counts it — slightly
    below the closed form ``z_{1-alpha/2} + z_{power}`` (by about 3.4e-6 at alpha 0.05, power
    0.8). It is found by Newton's method from the closed form, safeguarded by bisection on
    ``[0, closed form]`` and run to the last bits. Raises :class:`ValueError` for ``alpha``
    or ``power`` outside ``(0, 1)``, ``power <= alpha`` or an unknown ``alternative``.
    """
    _check_power(alpha, power, alternative)
    crit = _critical_value(alpha, alternative)
    closed = crit + _NORMAL.inv_cdf(power)
    if alternative != "two-sided":
        return closed
    lower, upper, s = 0.0, closed, closed
    for _ in range(200):
        excess = _rejection(s, crit) - power
        if excess == 0.0:
            return s
        if excess > 0.0:
            upper = s
        else:
            lower = s
        slope = _density(s - crit) - _density(s + crit)
        step = excess / slope if slope > 0.0 else math.inf
        following = s - step
        if not lower < following < upper:
            following = 0.5 * (lower + upper)
        if abs(following - s) <= 2.0 * _EPS * s or upper - lower <= 2.0 * _EPS * upper:
            return following
        s = following
    return s  # pragma: no cover - Newton converges in a handful of steps


def _effective_fraction(ratio: float) -> float:
    """``n_eff / n_c`` for ``n_t = ratio·n_c``: ``1 / (1/n_c + 1/n_t) = n_c·ratio/(1 + ratio)``."""
    return ratio / (1.0 + ratio)


def _check_direction(effect_size: float, alternative: str) -> None:
    if not (math.isfinite(effect_size) and effect_size != 0.0):
        raise ValueError(f"effect_size must be finite and not 0, got {effect_size!r}")
    if (alternative == "larger" and effect_size < 0.0) or (
        alternative == "smaller" and effect_size > 0.0
    ):
        raise ValueError(
            f"a {alternative!r} alternative needs an effect size of the same sign "
            f"(positive for 'larger', negative for 'smaller'), got {effect_size!r}"
        )


def standardized_sample_size(
    effect_size: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> SampleSize:
    """Units per group for the z-test to detect a standardized effect with probability
    ``power``: ``n_c = (s / effect_size)² (1 + ratio) / ratio``, ``s`` the
    :func:`noncentrality` (far tail included), ``n_t = ratio·n_c``.

    ``effect_size`` is signed as statsmodels has it: positive for ``"larger"``, negative
    for ``"smaller"``, either for ``"two-sided"`` — e.g. :func:`cohens_h` or
    :func:`standardized_effect`. statsmodels: ``NormalIndPower().solve_power(effect_size,
    nobs1=None, alpha=alpha, power=power, ratio=ratio, alternative=alternative)``, which this
    solves exactly (its root finder stops near 1e-7). Raises :class:`ValueError` for an
    effect of 0 or against the alternative, a non-positive ratio and everything
    :func:`noncentrality` refuses.
    """
    _check_alternative(alternative)
    _check_direction(effect_size, alternative)
    _check_size("ratio", ratio)
    s = noncentrality(alpha, power, alternative)
    return _rounded_up((s / effect_size) ** 2 / _effective_fraction(ratio), ratio)


def standardized_powered_effect(
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> float:
    """The standardized effect that ``n_control`` and ``ratio·n_control`` units detect with
    probability ``power``: ``s / sqrt(n_c·ratio/(1 + ratio))``, ``s`` the
    :func:`noncentrality` — negative for ``"smaller"``, as statsmodels returns it.

    statsmodels: ``NormalIndPower().solve_power(effect_size=None, nobs1=n_control, …)``,
    solved exactly here. Raises :class:`ValueError` for a non-positive size or ratio and
    everything :func:`noncentrality` refuses.
    """
    _check_size("n_control", n_control)
    _check_size("ratio", ratio)
    s = noncentrality(alpha, power, alternative)
    effect = s / math.sqrt(n_control * _effective_fraction(ratio))
    return -effect if alternative == "smaller" else effect


def standardized_power(
    effect_size: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
) -> float:
    """The probability that the z-test rejects when the standardized effect is
    ``effect_size`` (signed), with ``n_control`` and ``ratio·n_control`` units.

    The statistic's mean is ``δ = effect_size·sqrt(n_c·ratio/(1 + ratio))``; the power is
    ``Φ(δ - z_{1-alpha})`` for ``"larger"``, ``Φ(-δ - z_{1-alpha})`` for ``"smaller"`` and
    ``Φ(δ - z_{1-alpha/2}) + Φ(-δ - z_{1-alpha/2})`` two-sided. statsmodels:
    ``NormalIndPower().power(effect_size, n_control, alpha, ratio, alternative)``.
    """
    _check_alpha(alpha)
    _check_alternative(alternative)
    if not math.isfinite(effect_size):
        raise ValueError(f"effect_size must be finite, got {effect_size!r}")
    _check_size("n_control", n_control)
    _check_size("ratio", ratio)
    delta = effect_size * math.sqrt(n_control * _effective_fraction(ratio))
    return _power_of(delta, alpha, alternative)


def _power_of(delta: float, alpha: float, alternative: str) -> float:
    """The z-test's power when its statistic has mean ``delta``."""
    crit = _critical_value(alpha, alternative)
    if alternative == "larger":
        return normal_cdf(delta - crit)
    if alternative == "smaller":
        return normal_cdf(-delta - crit)
    return _rejection(delta, crit)
