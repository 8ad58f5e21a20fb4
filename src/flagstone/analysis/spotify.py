"""spotify-confidence's powered effect, for users who must reproduce its numbers.

The powered effect is the smallest difference (treatment - control) a test of the current
size detects with the requested power. :func:`flagstone.analysis.power.powered_effect`
computes it in closed form from both groups' variances; spotify-confidence (its
``ZTest``/``ZTestLinreg``, version 4) computes it differently, and
:func:`spotify_powered_effect` reproduces it:

* **a continuous metric** (or a 0/1 metric tested for non-inferiority): the closed form
  with the *control's* variance for both groups, ``(z_{1-alpha'} + z_{power})
  sqrt(v_c (1/n_c + 1/n_t))``;
* **a 0/1 metric**: the treatment's variance depends on the effect, ``(p + x)(1 - p - x)``
  for an effect ``x`` on a control rate ``p``, so the effect is *searched*: the ``x`` in
  ``(0, 1 - p]`` whose required sample size is closest to the units the experiment has.
  For an effect ``x`` the treatment group needs ``n2(x) = ceil(((z_{1-alpha'} +
  z_{power}) / x)² (v_c/κ + (p + x)(1 - p - x)))`` units, ``κ = n_c/n_t``, and the
  comparison ``n2(x)(1 + κ)``, which the search matches against the experiment's ``N``
  units (every group's) scaled by the comparison's share ``π = (n_c + n_t)/N``: it
  minimises ``(N - n2(x)(1 + κ)/π)²``. Because ``n2`` is rounded up, that cost is a step
  function and its minimiser not unique; the search is spotify-confidence's, so the
  point it lands on is too: bounded Brent minimisations (:func:`scipy.optimize.minimize_scalar`,
  ``xatol`` 1e-13, at most 50 iterations each) over ``[1e-8, 1 - p]``, then over its
  halves, quarters, … breadth first, until a cost of at most 1 (a sample size off by at
  most one unit) or 100 minimisations; failing that, a grid of 2000 effects refined by
  one of 10000 around the best, whichever of the two found the lower cost.

``alpha'`` is ``alpha/2`` for a two-sided test; quantiles are scipy's ``norm.ppf`` as
spotify-confidence computes them, so the steps fall where its steps fall.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
from scipy import optimize, stats

from flagstone.analysis.normal import Alternative

__all__ = ["spotify_powered_effect"]

_SMALLEST_EFFECT = 1e-8
_GOOD_ENOUGH = 1.0  # a cost of 1: the sample size is off by at most one unit
_MINIMISATIONS = 100
_BRENT_OPTIONS = {"xatol": 1e-13, "maxiter": 50}
_COARSE_GRID, _FINE_GRID = 2000, 10000


def spotify_powered_effect(
    control_mean: float,
    control_variance: float,
    n_control: int,
    n_treatment: int,
    *,
    binary: bool,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    total_units: int | None = None,
) -> float:
    """spotify-confidence's powered effect of a comparison (see the module docstring).

    ``control_mean`` is the control's unadjusted mean (its rate ``p`` for a 0/1 metric)
    and ``control_variance`` its per-unit variance as tested (CUPED-adjusted when variance
    reduction is on, as spotify-confidence passes them); ``binary`` selects the search
    (pass ``False`` for a non-inferiority test, which spotify-confidence does not search);
    ``total_units`` is every group's units in the experiment (default ``n_control +
    n_treatment``). Returns the effect's magnitude (``>= 0``), in the metric's units.

    Raises :class:`ValueError` for sizes below 1, a negative or non-finite variance,
    ``alpha`` or ``power`` outside ``(0, 1)``, an unknown ``alternative``, a
    ``total_units`` below ``n_control + n_treatment``, or ``binary=True`` with a control
    rate outside ``[0, 1]``.
    """
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"unknown alternative {alternative!r}")
    for name, probability in (("alpha", alpha), ("power", power)):
        if not 0.0 < probability < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {probability!r}")
    if min(n_control, n_treatment) < 1:
        raise ValueError(f"the groups need >= 1 unit, got {n_control} and {n_treatment}")
    if not (math.isfinite(control_variance) and control_variance >= 0.0):
        raise ValueError(f"control_variance must be finite and >= 0, got {control_variance!r}")
    total = n_control + n_treatment if total_units is None else total_units
    if total < n_control + n_treatment:
        raise ValueError(f"total_units={total} is fewer than the two groups' units")
    tail = alpha / 2 if alternative == "two-sided" else alpha
    z = float(stats.norm.ppf(1 - tail)) + float(stats.norm.ppf(power))
    kappa = n_control / n_treatment
    share = (n_control + n_treatment) / total
    if not binary:
        partial = z**2 * (control_variance / kappa + control_variance)
        return math.sqrt((1 / (total * share)) * (partial + kappa * partial))
    if not 0.0 <= control_mean <= 1.0:
        raise ValueError(f"a 0/1 metric's control mean must be in [0, 1], got {control_mean!r}")

    def cost(effect: float) -> float:
        rate = control_mean + effect
        units = math.ceil((z / abs(effect)) ** 2 * (control_variance / kappa + rate * (1 - rate)))
        return float((total - (units + units * kappa) / share) ** 2)

    return _search(cost, 1.0 - control_mean)


def _search(cost: Callable[[float], float], upper: float) -> float:
    """The effect in ``[1e-8, upper]`` with the lowest cost, as spotify-confidence finds it."""
    lower = min(_SMALLEST_EFFECT, upper)
    if lower == upper:
        return lower
    best, best_cost = lower, math.inf
    intervals = deque([(lower, upper)])
    for _ in range(_MINIMISATIONS):
        if best_cost <= _GOOD_ENOUGH:
            return best
        a, b = intervals.popleft()
        found = optimize.minimize_scalar(
            cost, bounds=(a, b), method="bounded", options=_BRENT_OPTIONS
        )
        if found.fun < best_cost:
            best, best_cost = float(found.x), float(found.fun)
        middle = (a + b) / 2
        intervals += [(a, middle), (middle, b)]
    if best_cost <= _GOOD_ENOUGH:
        return best
    grid_best, grid_cost = _grid_search(cost, upper)
    return grid_best if grid_cost < best_cost else best


def _grid_search(cost: Callable[[float], float], upper: float) -> tuple[float, float]:
    """The best of 2000 effects over ``[1e-8, upper]``, refined by 10000 between its left
    neighbour and it: ``(effect, cost)``."""
    coarse = np.linspace(_SMALLEST_EFFECT, upper, num=_COARSE_GRID)
    costs = [cost(float(x)) for x in coarse]
    lowest = min(costs)
    ties = [k for k, value in enumerate(costs) if value == lowest]
    k = ties[math.ceil(len(ties) / 2)] if len(ties) > 1 else ties[0]
    start = _SMALLEST_EFFECT if k == 0 else float(coarse[k - 1])
    fine = np.linspace(start, float(coarse[k]), num=_FINE_GRID)
    costs = [cost(float(x)) for x in fine]
    k = costs.index(min(costs))
    return float(fine[k]), costs[k]
