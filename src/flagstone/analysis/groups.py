"""The sufficient statistics of one group of an experiment: :class:`GroupStats`.

Everything in :mod:`flagstone.analysis` works from these sums rather than from raw
observations, so a warehouse query (``COUNT(*)``, ``SUM(x)``, ``SUM(x*x)``) is all an
analysis needs. A group holds

* ``n`` — the number of units;
* ``sum`` — the sum of the metric over the units;
* ``sum_sq`` — the sum of the squared metric, or ``None`` for a 0/1 metric (a conversion),
  whose variance ``p(1 - p)`` follows from the rate ``p = sum / n``;
* optionally, for CUPED variance reduction, the sums of a pre-experiment covariate ``x``:
  ``x_sum``, ``x_sum_sq`` and ``xy_sum`` (the sum of the metric times the covariate). They
  are given all three or not at all.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["GroupStats"]

# Relative slack allowed when checking that sum_sq >= sum**2 / n: sums accumulated in
# floating point (or by a database) can undershoot by a few ulps when the variance is ~0.
_SUM_SQ_SLACK = 1e-9


def real_number(name: str, value: object) -> float:
    """``value`` as a finite float (numpy scalars welcome), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of one group (see the module docstring).

    Raises :class:`ValueError` when the sums cannot come from one sample: ``n < 1``, a
    non-finite sum, a 0/1 metric with ``sum`` outside ``[0, n]``, a negative ``sum_sq`` or
    one smaller than ``sum**2 / n``, or covariate sums given only in part.
    """

    n: int
    sum: float
    sum_sq: float | None = None
    x_sum: float | None = None
    x_sum_sq: float | None = None
    xy_sum: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, numbers.Integral):
            raise ValueError(f"n must be an integer, got {self.n!r}")
        n = int(self.n)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        total = real_number("sum", self.sum)
        # frozen: normalise numpy scalars to plain numbers (no int64 overflow in sum**2)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "sum", total)
        if self.sum_sq is None:
            if not 0 <= total <= n:
                raise ValueError(
                    f"a 0/1 metric (sum_sq=None) needs 0 <= sum <= n, got sum={total} with n={n}"
                )
        else:
            sum_sq = real_number("sum_sq", self.sum_sq)
            object.__setattr__(self, "sum_sq", sum_sq)
            floor = total * total / n
            if sum_sq < 0 or sum_sq < floor * (1 - _SUM_SQ_SLACK):
                raise ValueError(
                    f"sum_sq={sum_sq} is smaller than sum**2/n={floor}: "
                    "these are not the sums of one sample"
                )
        names = ("x_sum", "x_sum_sq", "xy_sum")
        given = [getattr(self, name) is not None for name in names]
        if any(given) and not all(given):
            raise ValueError("the covariate sums x_sum, x_sum_sq and xy_sum go together")
        if all(given):
            for name in names:
                object.__setattr__(self, name, real_number(name, getattr(self, name)))
            x_sum_sq = self.x_sum_sq
            if x_sum_sq is not None and x_sum_sq < 0:
                raise ValueError(f"x_sum_sq must be >= 0, got {x_sum_sq}")

    @classmethod
    def from_values(
        cls,
        values: Iterable[float],
        covariates: Iterable[float] | None = None,
        *,
        binary: bool = False,
    ) -> GroupStats:
        """The sums of raw observations (exactly rounded, with :func:`math.fsum`).

        With ``binary=True`` every value must be 0 or 1 and ``sum_sq`` stays ``None`` (so the
        variance is ``p(1 - p)``); otherwise ``sum_sq`` is the sum of squares and the variance
        is the sample variance. ``covariates``, one per value, fill the CUPED sums.
        """
        ys = [float(value) for value in values]
        if not ys:
            raise ValueError("from_values needs at least one value")
        if binary and any(y not in (0.0, 1.0) for y in ys):
            raise ValueError("binary=True needs every value to be 0 or 1")
        x_sum = x_sum_sq = xy_sum = None
        if covariates is not None:
            xs = [float(x) for x in covariates]
            if len(xs) != len(ys):
                raise ValueError(f"{len(xs)} covariates for {len(ys)} values: need one per value")
            x_sum = math.fsum(xs)
            x_sum_sq = math.fsum(x * x for x in xs)
            xy_sum = math.fsum(x * y for x, y in zip(xs, ys, strict=True))
        return cls(
            n=len(ys),
            sum=math.fsum(ys),
            sum_sq=None if binary else math.fsum(y * y for y in ys),
            x_sum=x_sum,
            x_sum_sq=x_sum_sq,
            xy_sum=xy_sum,
        )

    @property
    def is_binary(self) -> bool:
        """True for a 0/1 metric (``sum_sq is None``)."""
        return self.sum_sq is None

    @property
    def has_covariate(self) -> bool:
        """True when the CUPED covariate sums are present."""
        return self.x_sum is not None

    @property
    def mean(self) -> float:
        """The mean of the metric (the conversion rate of a 0/1 metric)."""
        return self.sum / self.n

    @property
    def variance(self) -> float:
        """The per-unit variance of the metric, never negative.

        ``p(1 - p)`` for a 0/1 metric; otherwise the sample variance
        ``(sum_sq - sum**2/n) / (n - 1)``, clamped at 0 against rounding. Raises
        :class:`ValueError` for a non-binary metric with ``n < 2``.
        """
        if self.sum_sq is None:
            p = self.mean
            return p * (1.0 - p)
        if self.n < 2:
            raise ValueError(f"the sample variance needs n >= 2, got n={self.n}")
        return max(0.0, (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1))
