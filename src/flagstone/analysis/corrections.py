"""Multiple-testing corrections: Bonferroni and Holm's step-down procedure.

This module owns the family-wise error control for an experiment that tests several
hypotheses at once (several metrics, several treatments): which p-values are still
rejected at the family level ``alpha``, and the adjusted p-values to report. Decisions
compare ``p <= alpha / k`` (not ``k * p <= alpha``), as statsmodels' ``multipletests``
does, so the two agree bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Correction",
    "bonferroni",
    "bonferroni_adjusted_p",
    "bonferroni_alpha",
    "holm",
]


@dataclass(frozen=True)
class Correction:
    """Holm's procedure on a family of ``m`` hypotheses.

    Per hypothesis, in the order given: ``reject`` (whether it is rejected),
    ``adjusted_p`` (its adjusted p-value, capped at 1) and ``levels`` (the threshold its
    p-value was compared with: the one at its rank, or at the first rank of its tied
    p-values). The step-down itself: ``order`` lists the hypotheses' indices by ascending
    p-value (ties in the order given), and ``thresholds[i]`` is the threshold at rank ``i``
    (0-based), ``alpha / (m - i)``.
    """

    reject: list[bool]
    adjusted_p: list[float]
    order: list[int]
    thresholds: list[float]
    levels: list[float]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _checked(p_values: Sequence[float]) -> list[float]:
    values = [float(p) for p in p_values]
    for p in values:
        if not 0.0 <= p <= 1.0:  # also refuses NaN
            raise ValueError(f"p-values must be in [0, 1], got {p!r}")
    return values


def bonferroni_alpha(alpha: float, m: int) -> float:
    """The per-hypothesis level ``alpha / m`` for a family of ``m >= 1`` hypotheses."""
    _check_alpha(alpha)
    if m < 1:
        raise ValueError(f"the number of hypotheses must be >= 1, got {m!r}")
    return alpha / m


def bonferroni(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Bonferroni rejects: ``p <= alpha / m``. An empty family gives ``[]``."""
    _check_alpha(alpha)
    values = _checked(p_values)
    if not values:
        return []
    level = alpha / len(values)
    return [p <= level for p in values]


def bonferroni_adjusted_p(p_values: Sequence[float]) -> list[float]:
    """Bonferroni-adjusted p-values: ``min(1, m * p)``."""
    values = _checked(p_values)
    m = len(values)
    return [min(1.0, p * m) for p in values]


def holm(p_values: Sequence[float], alpha: float = 0.05) -> Correction:
    """Holm's step-down procedure at family-wise level ``alpha``.

    With the p-values sorted ascending, ``p_(1) <= … <= p_(m)``, the hypotheses are
    rejected in order while ``p_(i) <= alpha / (m - i + 1)``; the first one that fails and
    every later one are kept. The adjusted p-value of ``p_(i)`` is
    ``min(1, max_{j <= i} (m - j + 1) p_(j))``. Tied p-values get the same decision and
    the same adjusted value (and the same level, the first of their thresholds). An empty
    family gives empty lists. Reference: statsmodels'
    ``multipletests(p_values, alpha, method="holm")``.
    """
    _check_alpha(alpha)
    values = _checked(p_values)
    m = len(values)
    order = sorted(range(m), key=values.__getitem__)
    thresholds = [alpha / (m - rank) for rank in range(m)]
    reject = [False] * m
    adjusted = [0.0] * m
    levels = [0.0] * m
    still_rejecting = True
    running_max = -math.inf
    level = 0.0
    for rank, index in enumerate(order):
        p = values[index]
        if rank == 0 or p != values[order[rank - 1]]:
            level = thresholds[rank]  # tied p-values share the first of their thresholds
        levels[index] = level
        if still_rejecting and not p <= level:
            still_rejecting = False
        reject[index] = still_rejecting
        running_max = max(running_max, p * (m - rank))
        adjusted[index] = min(1.0, running_max)
    return Correction(
        reject=reject, adjusted_p=adjusted, order=order, thresholds=thresholds, levels=levels
    )
