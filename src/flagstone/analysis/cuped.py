"""CUPED: variance reduction with a pre-experiment covariate, from sufficient statistics.

This module owns the CUPED adjustment (Deng et al., 2013) of a metric ``y`` by a covariate
``x`` measured before the experiment (typically the same metric in a pre-period). Each
group is given by its sums — ``n``, ``Σy``, ``Σy²``, ``Σx``, ``Σx²``, ``Σxy`` — and the
result is what a comparison needs: the adjusted mean and per-unit variance of each group.

- ``θ = cov(x, y) / var(x)`` is estimated on both groups pooled as one sample (the
  treatment is ignored), so the same ``θ`` adjusts both groups;
- adjusted mean: ``ȳ_g - θ (x̄_g - x̄)``, with ``x̄`` the pooled covariate mean;
- adjusted variance: ``v_y,g - 2θ cov_g(x, y) + θ² v_x,g``, the sample variance (``n - 1``
  denominators) of ``y - θ (x - x̄)`` within the group.

``variance="spotify"`` reproduces spotify-confidence's ``ZTestLinreg`` instead (its
``lin_reg_variance_delta``): the metric's variance as its z-test has it — the sample
variance (``n - 1``), or ``Σy²/n - ȳ²`` for a 0/1 metric (``Σy² = Σy`` in both groups) —
plus ``θ² v_x,g - 2θ cov_g(x, y)`` with the covariate's variance and the covariance taken
with ``n`` denominators (``Σx²/n - x̄²``, ``Σxy/n - x̄ȳ``). The mix is slightly
inconsistent (the adjusted variance is not the variance of any one adjusted sample) but
gives spotify-confidence's numbers; θ and the adjusted means are the same in both modes.

Sums are raw, uncentred, as they come out of a counter, so centring them cancels digits.
A centred sum of squares within the rounding error of its raw sums (at most
``4 n ε Σx²``, ε the machine epsilon) is taken as exactly 0, and a centred cross product
is kept within the Cauchy-Schwarz bound. A constant covariate (``var(x) = 0``) gives
``θ = 0``: no adjustment, the plain means and variances.
"""

from __future__ import annotations

import math
import operator
import sys
from dataclasses import dataclass
from typing import Literal

__all__ = ["CovariateSums", "CupedResult", "CupedVariance", "cuped"]

CupedVariance = Literal["sample", "spotify"]
"""How :func:`cuped` estimates the adjusted variances (see the module docstring)."""

_EPS = sys.float_info.epsilon


@dataclass(frozen=True)
class CovariateSums:
    """One group's sufficient statistics for CUPED: ``n`` units, the sums of the metric
    ``y``, of ``y²``, of the covariate ``x``, of ``x²`` and of ``x·y``."""

    n: int
    y_sum: float
    y_sum_sq: float
    x_sum: float
    x_sum_sq: float
    xy_sum: float

    def __post_init__(self) -> None:
        try:
            n = operator.index(self.n)
        except TypeError:
            n = -1
        if isinstance(self.n, bool) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {self.n!r}")
        object.__setattr__(self, "n", n)  # a numpy integer becomes an int
        for name in ("y_sum", "y_sum_sq", "x_sum", "x_sum_sq", "xy_sum"):
            value = getattr(self, name)
            if isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.y_sum_sq < 0.0 or self.x_sum_sq < 0.0:
            raise ValueError("sums of squares must be >= 0")


@dataclass(frozen=True)
class CupedResult:
    """The CUPED adjustment of a control and a treatment group.

    ``mean_*`` and ``variance_*`` are the adjusted mean and per-unit sample variance of each
    group. ``variance_reduction_*`` is ``1 - adjusted / unadjusted`` variance of the group
    (negative if the pooled ``θ`` makes a group noisier; 0.0 when the group's metric has no
    variance), and ``variance_reduction`` is the same rate for the variance of the
    difference in means, ``v_c/n_c + v_t/n_t`` — how much the comparison's standard error
    squared shrinks. ``x_mean`` is the pooled covariate mean ``x̄`` the means are adjusted
    towards, and ``correlation`` the pooled sample correlation of the covariate and the
    metric (0.0 when either is constant), whose square is the variance reduction to expect
    (``1 - ρ²`` of the metric's variance is left). ``variance`` is how the variances were
    estimated (``"sample"`` or ``"spotify"``).
    """

    theta: float
    x_mean: float
    correlation: float
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    variance_control: float
    variance_treatment: float
    variance_reduction_control: float
    variance_reduction_treatment: float
    variance_reduction: float
    variance: CupedVariance


@dataclass(frozen=True)
class _Moments:
    """Centred sums of one sample: ``Σ(x - x̄)²``, ``Σ(y - ȳ)²``, ``Σ(x - x̄)(y - ȳ)``."""

    n: int
    x_mean: float
    y_mean: float
    cxx: float
    cyy: float
    cxy: float


def _centred_square(n: int, total: float, sum_sq: float) -> float:
    centred = sum_sq - total * total / n
    if centred <= 4.0 * n * _EPS * sum_sq:  # rounding noise of a constant
        return 0.0
    return centred


def _moments(
    n: int, x_sum: float, x_sum_sq: float, y_sum: float, y_sum_sq: float, xy_sum: float
) -> _Moments:
    cxx = _centred_square(n, x_sum, x_sum_sq)
    cyy = _centred_square(n, y_sum, y_sum_sq)
    bound = math.sqrt(cxx * cyy)
    cxy = min(bound, max(-bound, xy_sum - x_sum * y_sum / n))
    return _Moments(n, x_sum / n, y_sum / n, cxx, cyy, cxy)


def _group(sums: CovariateSums) -> _Moments:
    return _moments(sums.n, sums.x_sum, sums.x_sum_sq, sums.y_sum, sums.y_sum_sq, sums.xy_sum)


def _reduction(before: float, after: float) -> float:
    return 0.0 if before == 0.0 else 1.0 - after / before


def cuped(
    control: CovariateSums, treatment: CovariateSums, *, variance: CupedVariance = "sample"
) -> CupedResult:
    """Adjust both groups' metric by the covariate with ``θ`` fitted on the pooled units.

    ``θ = Σ(x - x̄)(y - ȳ) / Σ(x - x̄)²`` over both groups pooled; each group's adjusted
    mean is ``ȳ_g - θ (x̄_g - x̄)`` and its adjusted variance as ``variance`` says (see the
    module docstring: ``"sample"``, the default, or ``"spotify"``). Reference: the same
    quantities computed from raw observations (numpy), and spotify-confidence's
    ``ZTestLinreg`` for ``variance="spotify"`` (Deng, Xu, Kohavi and Walker, 2013).

    Each group needs ``n >= 2`` (a sample variance). Degenerate data has defined results:
    a constant covariate gives ``θ = 0`` (no adjustment), a constant metric gives
    ``θ = 0`` too, since it does not covary with anything.
    """
    if variance not in ("sample", "spotify"):
        raise ValueError(f"variance must be 'sample' or 'spotify', got {variance!r}")
    for name, sums in (("control", control), ("treatment", treatment)):
        if sums.n < 2:
            raise ValueError(f"{name} needs n >= 2 for a variance, got n={sums.n}")
    pooled = _moments(
        control.n + treatment.n,
        control.x_sum + treatment.x_sum,
        control.x_sum_sq + treatment.x_sum_sq,
        control.y_sum + treatment.y_sum,
        control.y_sum_sq + treatment.y_sum_sq,
        control.xy_sum + treatment.xy_sum,
    )
    theta = 0.0 if pooled.cxx == 0.0 else pooled.cxy / pooled.cxx
    spread = math.sqrt(pooled.cxx * pooled.cyy)
    correlation = 0.0 if spread == 0.0 else pooled.cxy / spread
    binary = all(sums.y_sum_sq == sums.y_sum for sums in (control, treatment))

    means: list[float] = []
    before: list[float] = []
    after: list[float] = []
    for group in (_group(control), _group(treatment)):
        means.append(group.y_mean - theta * (group.x_mean - pooled.x_mean))
        if variance == "spotify":
            n = group.n
            metric = group.cyy / n if binary else group.cyy / (n - 1)
            adjusted = metric + (theta * theta * group.cxx - 2.0 * theta * group.cxy) / n
            before.append(metric)
            after.append(max(0.0, adjusted))
        else:
            before.append(group.cyy / (group.n - 1))
            adjusted = group.cyy - 2.0 * theta * group.cxy + theta * theta * group.cxx
            after.append(max(0.0, adjusted) / (group.n - 1))

    n_c, n_t = control.n, treatment.n
    return CupedResult(
        theta=theta,
        x_mean=pooled.x_mean,
        correlation=correlation,
        n_control=n_c,
        n_treatment=n_t,
        mean_control=means[0],
        mean_treatment=means[1],
        variance_control=after[0],
        variance_treatment=after[1],
        variance_reduction_control=_reduction(before[0], after[0]),
        variance_reduction_treatment=_reduction(before[1], after[1]),
        variance_reduction=_reduction(
            before[0] / n_c + before[1] / n_t, after[0] / n_c + after[1] / n_t
        ),
        variance=variance,
    )
