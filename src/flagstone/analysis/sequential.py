"""Group-sequential testing: Lan-DeMets alpha spending with the power family.

This module owns the boundaries that let an experiment be looked at repeatedly (a daily
dashboard, say) while the chance of ever declaring a difference between identical groups
stays at ``alpha`` — the method spotify-confidence applies to its z-tests.

**Spending.** Of the total ``alpha``, the part spent by information fraction ``t`` is
``alpha · t**rho`` (the Kim-DeMets power family; ``rho = 2`` by default, as in
spotify-confidence). ``rho`` above 1 spends little early and keeps most of ``alpha`` for
the end.

**Information fractions.** At each look, ``t_k = N_k / max(N_final, max_j N_j)`` where
``N_k`` is the cumulative number of units of *both* groups (control + treatment) at look
``k``, ``N_final`` the total number of units the experiment is expected to reach and
``max_j N_j`` the largest total observed in the looks analysed (the latest one, as totals
are cumulative). When the experiment outgrows its plan every fraction is rescaled to the
largest observed total, so the latest look has ``t = 1`` and spends all of ``alpha``; the
earlier fractions are recomputed from the new denominator at every analysis. This is how
spotify-confidence computes its ``sample_size_proportions``: the sum of both groups'
counts divided by the larger of the final expected sample size and the largest observed
sum. In its ``test_seq_bounds_run_over`` the groups grow 100/150, 190/260, 270/360,
340/470 (totals 250, 450, 630, 810) with a final expected size of 300: the fractions are
``N_k / 810`` and the published adjusted alphas 0.00095, 0.00241, 0.00410, 0.00636
(alpha 0.01, two-sided) are reproduced. (Reading 300 as a per-group size would give 600,
still below 810, hence the same numbers; spotify-confidence compares it with the sum of
both groups, so it is a total.)

**Boundaries.** Under H0 the z statistics of the looks are those of a Brownian motion,
``Z_k = B(t_k)/sqrt(t_k)`` with ``corr(Z_i, Z_j) = sqrt(t_i/t_j)``. The critical value
``c_k`` is set so that the probability of crossing for the first time at look ``k`` is
``alpha · (t_k**rho - t_{k-1}**rho)``: crossing is ``|Z_k| ≥ c_k`` for a two-sided test
and ``Z_k ≥ c_k`` (or ``Z_k ≤ -c_k``) for a one-sided one. The nominal ("adjusted") alpha
of a look is the fixed-sample significance level of its boundary: ``2·(1 - Φ(c_k))``
two-sided, ``1 - Φ(c_k)`` one-sided; a look rejects H0 when its ordinary p-value is at
most that.

**Numerics.** The recursive numerical integration of Armitage, McPherson & Rowe (1969),
as in Jennison & Turnbull, *Group Sequential Methods* (2000), ch. 19: the sub-density of
the score ``S_k = Z_k·sqrt(t_k)`` over the continuation region (no crossing so far) is
kept on a grid and carried from look to look by convolution with the density of the
increment ``S_k - S_{k-1} ~ N(0, t_k - t_{k-1})``; each ``c_k`` is the root
(:func:`scipy.optimize.brentq`) of "probability of crossing first at look k minus the
alpha to spend there". The density is read as piecewise quadratic over Simpson panels
(two grid intervals each), and each panel is integrated *exactly* against the normal
kernel (the moments of ``φ`` and of ``Φ`` over a panel are closed forms in ``Φ`` and
``φ``), so close looks, whose steep kernel a sampled rule would miss, stay accurate. Only
where the kernel is much wider than a panel (more than 16 node spacings, e.g. after a
first look at 1% of the information) is Simpson's rule with the kernel sampled at the
nodes used instead: it is then as accurate, and better conditioned. Either way the error
is of Simpson's order, ``O(h**4)``. The nodes are ``0.05·sqrt(t_k)`` apart in the scale
of ``S`` (0.05 in z units), closer around the edges that earlier boundaries left in the
density while the increments since are small, and at most 4001; the one-sided region is
cut at least 8 standard deviations below 0. The boundaries are accurate to about 1e-6 in
z over ten looks and 1e-5 over a hundred (relative errors of about 3e-6 and 3e-5 in the
nominal alphas); ten looks take about 10 ms, a hundred about 0.2 s. (Integrating the
multivariate normal with :func:`scipy.stats.multivariate_normal.cdf` instead is a
randomised quasi-Monte-Carlo estimate, slower and accurate only to about 1e-5 in absolute
terms, too coarse for nominal alphas of 1e-3.)

Differences from spotify-confidence (a port of the R package ldbounds):

- a two-sided boundary here is the exact two-sided one (the continuation region is
  ``|Z| < c``); spotify-confidence computes a one-sided boundary at ``alpha/2`` whose
  continuation region extends down to ``z = -8``. The two differ by the chance of
  crossing below and later above, far below the accuracy of either;
- its search for ``c_k`` stops when the alpha spent at the look is within 1e-7 (absolute)
  of its share, which is coarse when a look's share is itself ~1e-6 (many close looks):
  for the second look of its ``test_many_days_fast_and_no_crash`` (fractions 0.01140 and
  0.02292, alpha 1/300) it has 4.8193, which spends 7% too much, where the exact
  boundary is 4.8333. The four-look vector above agrees to three significant digits;
- it caps boundaries at ``z = 8`` and treats looks closer than 1e-5 in information as one
  look. Here boundaries are not capped (a look whose share of alpha underflows to 0 gets
  an infinite boundary), and only equal fractions (no new units) repeat the previous
  look's boundary (the statistic has not changed, so nothing is spent).

Boundaries decrease as information accrues for reasonably spaced looks, but not always:
a look only slightly after the previous one has little alpha to spend and can have the
higher boundary.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from flagstone.analysis.normal import normal_sf

__all__ = [
    "SequentialAlternative",
    "SequentialBounds",
    "SequentialTest",
    "information_fractions",
    "sequential_bounds",
    "sequential_test",
    "spending",
]

SequentialAlternative = Literal["two-sided", "one-sided", "larger", "smaller"]
"""``"larger"`` and ``"smaller"`` are one-sided; the boundaries do not depend on the
direction, only :func:`sequential_test` does."""

_ALTERNATIVES = ("two-sided", "one-sided", "larger", "smaller")

_FloatArray = NDArray[np.float64]
_BoolArray = NDArray[np.bool_]

# Node spacing, in z units, of the grid carrying the density after a look at t: the spacing
# in the scale of S is _STEP * sqrt(t).
_STEP = 0.05
# An earlier look's boundary leaves an edge in the density, smoothed since by the
# increments after it (standard deviation w). Where w is small the grid is refined around
# the edge: nodes at most w / _EDGE_RESOLUTION apart over +-_EDGE_REACH * w.
_EDGE_RESOLUTION = 4.0
_EDGE_REACH = 6.0
# A panel is integrated exactly against the normal kernel, unless the kernel is wider than
# _SMOOTH_KERNEL half-panels: then Simpson's rule with the kernel sampled at the nodes is as
# accurate (relative error ~1e-7) and better conditioned.
_SMOOTH_KERNEL = 16.0
# The grid reaches at least _TAIL standard deviations of S below 0 (one-sided) and up to
# the boundary; the mass left out is below 1e-15, or far below the smallest alpha spent.
_TAIL = 8.0
_MAX_PANELS = 2000
_MIN_PANELS = 4
_MIN_HALF_WIDTH = 1e-6
_XTOL = 1e-12
_RTOL = 1e-12
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class SequentialBounds:
    """Group-sequential boundaries, one entry per look.

    ``boundaries`` are the critical values ``c_k`` in z units (reject at look ``k`` when
    ``|Z_k| ≥ c_k``, two-sided, or ``Z_k ≥ c_k`` / ``Z_k ≤ -c_k``, one-sided; ``inf`` for
    a look with nothing to spend); ``adjusted_alphas`` the nominal significance levels of
    those boundaries (``2·(1 - Φ(c_k))`` two-sided, ``1 - Φ(c_k)`` one-sided), to compare
    with the look's ordinary p-value; ``spent`` the cumulative alpha spent by each look,
    ``alpha · t_k**rho``.
    """

    information_fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    adjusted_alphas: tuple[float, ...]
    spent: tuple[float, ...]
    alpha: float
    rho: float
    alternative: SequentialAlternative


@dataclass(frozen=True)
class SequentialTest:
    """The cumulative z statistics of the looks held against their boundaries.

    ``significant[k]`` says whether look ``k`` crossed its boundary; ``first_rejection`` is
    the index (from 0) of the first look that did, or ``None``. H0 is rejected
    (``rejected``) as soon as one look crosses — later looks do not undo it.
    """

    bounds: SequentialBounds
    z_statistics: tuple[float, ...]
    significant: tuple[bool, ...]
    first_rejection: int | None

    @property
    def rejected(self) -> bool:
        """Whether any look crossed its boundary."""
        return self.first_rejection is not None


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_rho(rho: float) -> None:
    if not (math.isfinite(rho) and rho > 0.0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def spending(t: float, alpha: float, rho: float = 2.0) -> float:
    """The alpha spent by information fraction ``t``: ``alpha · t**rho``.

    The power family of Lan-DeMets spending functions (Kim & DeMets 1987; Jennison &
    Turnbull 2000, sec. 7.3), with ``t`` in [0, 1]: nothing is spent at ``t = 0`` and all
    of ``alpha`` at ``t = 1``.
    """
    _check_alpha(alpha)
    _check_rho(rho)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"information fraction must be in [0, 1], got {t!r}")
    return float(alpha * t**rho)


def _count(value: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"sample sizes must be integers >= 1, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"sample sizes must be integers >= 1, got {value!r}") from None
    if count < 1:
        raise ValueError(f"sample sizes must be integers >= 1, got {value!r}")
    return count


def information_fractions(
    cumulative_totals: Sequence[int], final_expected_total: int
) -> list[float]:
    """The information fraction of each look: ``N_k / max(N_final, max_j N_j)``.

    ``cumulative_totals`` are the units of both groups together (control + treatment) at
    each look, non-decreasing; ``final_expected_total`` is the total the experiment is
    expected to reach, also summed over both groups (as spotify-confidence's
    ``final_expected_sample_size``). When the observed totals outgrow the plan, the
    largest observed total is the denominator, so the latest look has fraction 1.
    """
    totals = [_count(total) for total in cumulative_totals]
    final = _count(final_expected_total)
    if not totals:
        raise ValueError("at least one look is needed")
    for previous, current in itertools.pairwise(totals):
        if current < previous:
            raise ValueError(f"cumulative totals must not decrease, got {previous} then {current}")
    denominator = max(final, totals[-1])
    return [total / denominator for total in totals]


def _upper_tail(z: float) -> float:
    """``1 - Φ(z)``, accurate far in the tail."""
    return normal_sf(z)


def _z_upper(p: float) -> float:
    """The ``z`` with ``1 - Φ(z) = p``, accurate for tiny ``p``."""
    return float(-special.ndtri(p))


def _pdf(u: _FloatArray) -> _FloatArray:
    """The standard normal density (elementary: exp(-u²/2)/sqrt(2π))."""
    return np.exp(-0.5 * u * u) * _INV_SQRT_2PI


class _Density:
    """The sub-density of ``S`` over the continuation region after a look.

    Panels between consecutive ``edges``; the density is given at the edges and at the
    panel midpoints and read as one quadratic per panel (the interpolant behind Simpson's
    rule): on a panel with midpoint ``m`` and half-width ``h``,
    ``p0 + p1·(x - m) + p2·(x - m)²``.
    """

    def __init__(self, edges: _FloatArray, values: _FloatArray) -> None:
        self.edges = edges
        self.midpoints = 0.5 * (edges[:-1] + edges[1:])
        self.half = 0.5 * (edges[1:] - edges[:-1])
        self.left = values[:-2:2]
        self.mid = values[1:-1:2]
        self.right = values[2::2]

    def _split(self, sd: float) -> tuple[_BoolArray, _FloatArray, _FloatArray, _FloatArray]:
        """The panels integrated exactly (kernel steep for them), as edges, midpoints and
        quadratic coefficients ``p1``, ``p2`` (``p0`` is the midpoint value)."""
        exact = self.half * _SMOOTH_KERNEL > sd
        half = self.half[exact]
        left, mid, right = self.left[exact], self.mid[exact], self.right[exact]
        p1 = (right - left) / (2.0 * half)
        p2 = (right - 2.0 * mid + left) / (2.0 * half * half)
        return exact, mid, p1, p2

    def exceedance(self, sd: float) -> Callable[[float], float]:
        """``bound ↦ ∫ f(x) · P(x + N(0, sd²) ≥ bound) dx``: the chance of being in the
        continuation region now and at or above ``bound`` after the next increment.

        Exact panels: with ``v = (x - bound)/sd`` the integrand is
        ``(a0 + a1 v + a2 v²) Φ(v)``, whose antiderivatives are ``vΦ + φ``,
        ``((v² - 1)Φ + vφ)/2`` and ``(v³Φ + (v² + 2)φ)/3``. Other panels: Simpson's rule.
        """
        exact, p0, p1, p2 = self._split(sd)
        lower, upper = self.edges[:-1][exact], self.edges[1:][exact]
        centres = self.midpoints[exact]
        smooth = ~exact
        weights = np.concatenate(
            [
                self.half[smooth] / 3.0 * self.left[smooth],
                self.half[smooth] * 4.0 / 3.0 * self.mid[smooth],
                self.half[smooth] / 3.0 * self.right[smooth],
            ]
        )
        points = np.concatenate(
            [self.edges[:-1][smooth], self.midpoints[smooth], self.edges[1:][smooth]]
        )

        def antiderivatives(v: _FloatArray) -> tuple[_FloatArray, _FloatArray, _FloatArray]:
            cdf = special.ndtr(v)
            pdf = _pdf(v)
            return (
                v * cdf + pdf,
                0.5 * ((v * v - 1.0) * cdf + v * pdf),
                (v * v * v * cdf + (v * v + 2.0) * pdf) / 3.0,
            )

        def probability(bound: float) -> float:
            total = float(weights @ special.ndtr((points - bound) / sd))
            if p0.size:
                g0a, g1a, g2a = antiderivatives((lower - bound) / sd)
                g0b, g1b, g2b = antiderivatives((upper - bound) / sd)
                e = bound - centres
                a0 = p0 + p1 * e + p2 * e * e
                a1 = sd * (p1 + 2.0 * p2 * e)
                a2 = sd * sd * p2
                total += sd * float(a0 @ (g0b - g0a) + a1 @ (g1b - g1a) + a2 @ (g2b - g2a))
            return total

        return probability

    def propagate(self, nodes: _FloatArray, sd: float) -> _FloatArray:
        """The density at ``nodes`` one increment ``N(0, sd²)`` later:
        ``∫ f(x) φ((y - x)/sd)/sd dx``.

        Exact panels: with ``x = y + sd·u`` the integrand is a quadratic in ``u`` times
        ``φ(u)``, whose antiderivatives are ``Φ``, ``-φ`` and ``Φ - uφ``. Other panels:
        Simpson's rule.
        """
        exact, p0, p1, p2 = self._split(sd)
        y = nodes[:, np.newaxis]
        smooth = ~exact
        result: _FloatArray = np.zeros(nodes.shape)
        if smooth.any():
            half = self.half[smooth]
            for points, values, weight in (
                (self.edges[:-1][smooth], self.left[smooth], half / 3.0),
                (self.midpoints[smooth], self.mid[smooth], half * 4.0 / 3.0),
                (self.edges[1:][smooth], self.right[smooth], half / 3.0),
            ):
                result += (_pdf((points - y) / sd) / sd) @ (weight * values)
        if p0.size:
            lower = (self.edges[:-1][exact] - y) / sd
            upper = (self.edges[1:][exact] - y) / sd
            pdf_lower, pdf_upper = _pdf(lower), _pdf(upper)
            m0 = special.ndtr(upper) - special.ndtr(lower)
            m1 = pdf_lower - pdf_upper
            m2 = m0 - (upper * pdf_upper - lower * pdf_lower)
            d = y - self.midpoints[exact]
            terms = (p0 + p1 * d + p2 * d * d) * m0 + sd * (p1 + 2.0 * p2 * d) * m1
            terms += sd * sd * p2 * m2
            result += terms.sum(axis=1)
        return result


def _panel_edges(
    bottom: float, top: float, spacing: float, zones: Sequence[tuple[float, float, float]]
) -> _FloatArray:
    """Panel edges from ``bottom`` to ``top``: nodes (edges and midpoints) ``spacing``
    apart, or closer within the ``(centre, reach, spacing)`` zones; at most
    ``_MAX_PANELS`` panels (every spacing is widened alike when more would be needed)."""
    cuts = sorted(
        {bottom, top}
        | {
            min(max(centre + side * reach, bottom), top)
            for centre, reach, _ in zones
            for side in (-1.0, 1.0)
        }
    )
    segments: list[tuple[float, float, float]] = []
    for a, b in itertools.pairwise(cuts):
        centre_ab = 0.5 * (a + b)
        local = min([spacing] + [zs for zc, zr, zs in zones if abs(centre_ab - zc) < zr])
        segments.append((a, b, local))
    widen = 1.0
    while True:
        counts = [max(1, math.ceil((b - a) / (2.0 * h * widen))) for a, b, h in segments]
        if sum(counts) <= _MAX_PANELS:
            break
        widen *= 1.05 * sum(counts) / _MAX_PANELS
    if sum(counts) < _MIN_PANELS:
        counts = [max(c, math.ceil(_MIN_PANELS / len(counts))) for c in counts]
    pieces = [np.linspace(a, b, n + 1)[1:] for (a, b, _), n in zip(segments, counts, strict=True)]
    return np.concatenate([np.array([bottom]), *pieces])


def _boundary(
    exceedance: Callable[[float], float], t: float, target: float, sides: int, tail: float
) -> float:
    """The ``c`` at which the chance of crossing first at this look is ``target``."""

    def excess(z: float) -> float:
        return sides * exceedance(z * math.sqrt(t)) - target

    # Crossing first here is no likelier than crossing here at all, so c is at most the
    # fixed-sample critical value of ``target``; at c = 0 (two-sided) or far below
    # (one-sided) the whole remaining mass, more than ``target``, crosses.
    high = _z_upper(target / sides)
    low = 0.0 if sides == 2 else min(-tail, high - 1.0)
    if excess(high) >= 0.0:  # the earlier looks removed (numerically) nothing
        return high
    if excess(low) <= 0.0:
        return low
    root: float = optimize.brentq(excess, low, high, xtol=_XTOL, rtol=_RTOL)
    return float(root)


def sequential_bounds(
    information_fractions: Sequence[float],
    *,
    alpha: float,
    alternative: SequentialAlternative = "two-sided",
    rho: float = 2.0,
) -> SequentialBounds:
    """Lan-DeMets boundaries for looks at the given information fractions.

    ``information_fractions`` are non-decreasing, in (0, 1] (see
    :func:`information_fractions`); the last one is normally 1, which spends all of
    ``alpha``. Look ``k`` spends ``alpha · (t_k**rho - t_{k-1}**rho)``: its critical value
    ``c_k`` is solved so that, under H0, the z statistics (``corr(Z_i, Z_j) =
    sqrt(t_i/t_j)``) first cross at look ``k`` with that probability — ``|Z_k| ≥ c_k`` for
    ``"two-sided"``, ``Z_k ≥ c_k`` for ``"one-sided"`` (also spelled ``"larger"`` or
    ``"smaller"``; the boundary is the same). A single look at ``t = 1`` gives the
    fixed-sample ``z_{1-alpha/2}`` (two-sided) or ``z_{1-alpha}``.

    A look at the same fraction as the previous one (no new units) repeats its boundary
    and spends nothing; a look whose share of alpha underflows to 0 gets an infinite
    boundary (adjusted alpha 0). The numerical method is described in the module
    docstring.
    """
    _check_alpha(alpha)
    _check_rho(rho)
    _check_alternative(alternative)
    fractions = [float(t) for t in information_fractions]
    if not fractions:
        raise ValueError("at least one look is needed")
    for t in fractions:
        if not 0.0 < t <= 1.0:
            raise ValueError(f"information fractions must be in (0, 1], got {t!r}")
    for previous, current in itertools.pairwise(fractions):
        if current < previous:
            raise ValueError(
                f"information fractions must not decrease, got {previous!r} then {current!r}"
            )

    two_sided = alternative == "two-sided"
    sides = 2 if two_sided else 1
    spent = [float(alpha * t**rho) for t in fractions]
    targets = [spent[0]] + [b - a for a, b in itertools.pairwise(spent)]
    smallest = min((target for target in targets if target > 0.0), default=alpha)
    tail = max(_TAIL, _z_upper(smallest / sides) + 1.0)
    boundaries: list[float] = []
    edges_left: list[tuple[float, float]] = []  # (t_j, S position of look j's boundary)
    density: _Density | None = None
    for k, t in enumerate(fractions):
        if k > 0 and t == fractions[k - 1]:
            boundaries.append(boundaries[-1])  # same statistic: nothing new to spend
            continue
        sd = math.sqrt(t - fractions[k - 1]) if k > 0 else math.sqrt(t)
        if targets[k] <= 0.0:
            boundary = math.inf
        elif density is None:
            boundary = _z_upper(targets[k] / sides)
        else:
            boundary = _boundary(density.exceedance(sd), t, targets[k], sides, tail)
        boundaries.append(boundary)
        if k == len(fractions) - 1:
            break

        scale = math.sqrt(t)
        if two_sided:
            top = max(min(boundary, tail), _MIN_HALF_WIDTH) * scale
            bottom = -top
        else:
            top = max(min(boundary, tail), _MIN_HALF_WIDTH - tail) * scale
            bottom = -tail * scale
        spacing = _STEP * scale
        zones = []
        for t_j, edge in edges_left:
            width = math.sqrt(t - t_j)
            if width < _EDGE_RESOLUTION * spacing:
                for centre in (edge, -edge) if two_sided else (edge,):
                    zones.append((centre, _EDGE_REACH * width, width / _EDGE_RESOLUTION))
        if math.isfinite(boundary):
            edges_left.append((t, top))
        panel_edges = _panel_edges(bottom, top, spacing, zones)
        nodes = np.empty(2 * panel_edges.size - 1)
        nodes[::2] = panel_edges
        nodes[1::2] = 0.5 * (panel_edges[:-1] + panel_edges[1:])
        values = (
            _pdf(nodes / scale) / scale  # the first look: S is N(0, t) there
            if density is None
            else density.propagate(nodes, sd)
        )
        density = _Density(panel_edges, values)

    adjusted = [sides * _upper_tail(c) for c in boundaries]
    return SequentialBounds(
        information_fractions=tuple(fractions),
        boundaries=tuple(boundaries),
        adjusted_alphas=tuple(adjusted),
        spent=tuple(spent),
        alpha=alpha,
        rho=rho,
        alternative=alternative,
    )


def sequential_test(
    z_statistics: Sequence[float],
    information_fractions: Sequence[float],
    *,
    alpha: float,
    alternative: Literal["two-sided", "larger", "smaller"] = "two-sided",
    rho: float = 2.0,
) -> SequentialTest:
    """Hold the cumulative z statistic of each look against its sequential boundary.

    ``z_statistics[k]`` is the z statistic of treatment - control computed on all data up
    to look ``k``; ``information_fractions`` the looks' fractions (see
    :func:`information_fractions`). A look crosses when ``|Z| ≥ c`` (``"two-sided"``),
    ``Z ≥ c`` (``"larger"``) or ``Z ≤ -c`` (``"smaller"``). Infinite statistics are
    allowed (they cross); NaN is refused.
    """
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(
            "alternative must be 'two-sided', 'larger' or 'smaller' (a one-sided test "
            f"needs a direction), got {alternative!r}"
        )
    statistics = [float(z) for z in z_statistics]
    if len(statistics) != len(information_fractions):
        raise ValueError(
            f"{len(statistics)} z statistics but {len(information_fractions)} information fractions"
        )
    if any(math.isnan(z) for z in statistics):
        raise ValueError("z statistics must not be NaN")
    bounds = sequential_bounds(information_fractions, alpha=alpha, alternative=alternative, rho=rho)
    if alternative == "two-sided":
        crossed = [abs(z) >= c for z, c in zip(statistics, bounds.boundaries, strict=True)]
    elif alternative == "larger":
        crossed = [z >= c for z, c in zip(statistics, bounds.boundaries, strict=True)]
    else:
        crossed = [z <= -c for z, c in zip(statistics, bounds.boundaries, strict=True)]
    first = next((k for k, hit in enumerate(crossed) if hit), None)
    return SequentialTest(
        bounds=bounds,
        z_statistics=tuple(statistics),
        significant=tuple(crossed),
        first_rejection=first,
    )
