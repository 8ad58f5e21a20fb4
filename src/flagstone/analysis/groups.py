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
  are given all three or not at all;
* for a **ratio metric** ``R = Σy / Σd`` (revenue per order: the sum over units of their
  revenue over the sum of their orders), ``sum`` and ``sum_sq`` are the numerator's and
  ``d_sum``, ``d_sum_sq`` and ``yd_sum`` the denominator's sum, sum of squares and the sum of
  the products ``y·d``, all three or none. The group's mean is then the ratio ``R`` and its
  per-unit variance the delta method's (Deng, Knoblich & Lu, "Applying the Delta Method in
  Metric Analytics", KDD 2018): the sample variance of the linearised per-unit metric
  ``(y - R·d) / d̄`` with ``d̄ = Σd / n``,

      v = (Σy² - 2R·Σyd + R²·Σd²) / ((n - 1)·d̄²),

  so that ``v / n`` is the variance of ``R`` and a comparison of two groups (independent)
  adds their ``v / n`` as for means. A ratio needs ``sum_sq``, ``n >= 2`` and a non-zero
  ``d_sum``; it takes no covariate.
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
    one smaller than ``sum**2 / n``, covariate sums given only in part, or ratio sums given
    in part, without ``sum_sq``, with ``n < 2``, a zero ``d_sum``, a ``d_sum_sq`` smaller
    than ``d_sum**2 / n`` or beside covariate sums.
    """

    n: int
    sum: float
    sum_sq: float | None = None
    x_sum: float | None = None
    x_sum_sq: float | None = None
    xy_sum: float | None = None
    d_sum: float | None = None
    d_sum_sq: float | None = None
    yd_sum: float | None = None

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
        self._check_ratio(n)

    def _check_ratio(self, n: int) -> None:
        names = ("d_sum", "d_sum_sq", "yd_sum")
        given = [getattr(self, name) is not None for name in names]
        if not any(given):
            return
        if not all(given):
            raise ValueError("the ratio sums d_sum, d_sum_sq and yd_sum go together")
        for name in names:
            object.__setattr__(self, name, real_number(name, getattr(self, name)))
        if self.sum_sq is None:
            raise ValueError("a ratio metric needs sum_sq (the numerator's sum of squares)")
        if self.x_sum is not None:
            raise ValueError("a ratio metric takes no covariate sums")
        if n < 2:
            raise ValueError(f"a ratio metric needs n >= 2 for a variance, got n={n}")
        d_sum, d_sum_sq = self.d_sum, self.d_sum_sq
        assert d_sum is not None and d_sum_sq is not None
        if d_sum == 0:
            raise ValueError("the denominator sums to 0 (d_sum=0): the ratio is undefined")
        floor = d_sum * d_sum / n
        if d_sum_sq < 0 or d_sum_sq < floor * (1 - _SUM_SQ_SLACK):
            raise ValueError(
                f"d_sum_sq={d_sum_sq} is smaller than d_sum**2/n={floor}: "
                "these are not the sums of one sample"
            )

    @classmethod
    def from_values(
        cls,
        values: Iterable[float],
        covariates: Iterable[float] | None = None,
        *,
        binary: bool = False,
        denominators: Iterable[float] | None = None,
    ) -> GroupStats:
        """The sums of raw observations (exactly rounded, with :func:`math.fsum`).

        With ``binary=True`` every value must be 0 or 1 and ``sum_sq`` stays ``None`` (so the
        variance is ``p(1 - p)``); otherwise ``sum_sq`` is the sum of squares and the variance
        is the sample variance. ``covariates``, one per value, fill the CUPED sums;
        ``denominators``, one per value, make it a ratio metric (the values are then the
        numerators).
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
        d_sum = d_sum_sq = yd_sum = None
        if denominators is not None:
            ds = [float(d) for d in denominators]
            if len(ds) != len(ys):
                raise ValueError(f"{len(ds)} denominators for {len(ys)} values: need one per value")
            d_sum = math.fsum(ds)
            d_sum_sq = math.fsum(d * d for d in ds)
            yd_sum = math.fsum(y * d for y, d in zip(ys, ds, strict=True))
        return cls(
            n=len(ys),
            sum=math.fsum(ys),
            sum_sq=None if binary else math.fsum(y * y for y in ys),
            x_sum=x_sum,
            x_sum_sq=x_sum_sq,
            xy_sum=xy_sum,
            d_sum=d_sum,
            d_sum_sq=d_sum_sq,
            yd_sum=yd_sum,
        )

    @property
    def is_ratio(self) -> bool:
        """True for a ratio metric (the denominator's sums are present)."""
        return self.d_sum is not None

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
        """The mean of the metric (the conversion rate of a 0/1 metric); for a ratio metric
        the ratio ``sum / d_sum``."""
        if self.d_sum is not None:
            return self.sum / self.d_sum
        return self.sum / self.n

    @property
    def variance(self) -> float:
        """The per-unit variance of the metric, never negative.

        ``p(1 - p)`` for a 0/1 metric; for a ratio metric the delta method's
        ``(sum_sq - 2R·yd_sum + R²·d_sum_sq) / ((n - 1)·d̄²)`` (see the module docstring);
        otherwise the sample variance ``(sum_sq - sum**2/n) / (n - 1)``; clamped at 0
        against rounding. Raises :class:`ValueError` for a non-binary metric with ``n < 2``.
        """
        if self.d_sum is not None:
            assert self.sum_sq is not None and self.d_sum_sq is not None
            assert self.yd_sum is not None
            ratio = self.sum / self.d_sum
            d_mean = self.d_sum / self.n
            residual = self.sum_sq - 2.0 * ratio * self.yd_sum + ratio * ratio * self.d_sum_sq
            return max(0.0, residual / ((self.n - 1) * d_mean * d_mean))
        if self.sum_sq is None:
            p = self.mean
            return p * (1.0 - p)
        if self.n < 2:
            raise ValueError(f"the sample variance needs n >= 2, got n={self.n}")
        return max(0.0, (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1))
