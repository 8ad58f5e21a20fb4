"""The standard normal distribution as the analysis modules use it, and the alternatives.

Tail probabilities come from :func:`math.erfc`, which keeps its relative accuracy far into
both tails (``statistics.NormalDist.cdf`` computes ``1 + erf(x)`` and loses it below about
1e-7); quantiles come from :class:`statistics.NormalDist`.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

__all__ = ["Alternative", "normal_cdf", "normal_quantile", "normal_sf"]

Alternative = Literal["two-sided", "larger", "smaller"]
"""``"larger"``: H1 treatment - control > the null difference; ``"smaller"``: < it."""

_STANDARD = NormalDist()
_SQRT2 = math.sqrt(2.0)


def normal_cdf(x: float) -> float:
    """``Φ(x)``."""
    return 0.5 * math.erfc(-x / _SQRT2)


def normal_sf(x: float) -> float:
    """``1 - Φ(x)``."""
    return 0.5 * math.erfc(x / _SQRT2)


def normal_quantile(p: float) -> float:
    """``Φ⁻¹(p)`` for ``0 < p < 1``."""
    return _STANDARD.inv_cdf(p)
