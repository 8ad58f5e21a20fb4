"""Two-group comparisons: :func:`compare` and :func:`non_inferiority`.

From the sufficient statistics of a control and a treatment group
(:class:`~flagstone.analysis.groups.GroupStats`) this module tests the difference of means
``treatment - control`` and gives its confidence interval, absolute and relative. The
conventions are spotify-confidence's:

* the standard error is unpooled, ``sqrt(v_c/n_c + v_t/n_t)``, for the test and the
  interval alike (a 0/1 metric has ``v = p(1 - p)``). ``pooled=True`` gives a 0/1 metric
  the pooled z-test instead (statsmodels' ``proportions_ztest``): the test's standard
  error is ``sqrt(p̄(1 - p̄)(1/n_c + 1/n_t))`` with the pooled rate ``p̄ = (s_c + s_t) /
  (n_c + n_t)``, the variance of the difference when both groups share one rate; the
  interval keeps the unpooled standard error (a pooled rate describes no difference), so
  ``interval_standard_error`` tells it apart;
* ``method="z"`` (the default) uses the normal distribution; ``method="t"`` is Welch's test,
  with the Welch-Satterthwaite degrees of freedom;
* ``alternative`` is ``"two-sided"``, ``"larger"`` (H1: treatment - control >
  ``null_difference``) or ``"smaller"``; a one-sided test has a one-sided ``1 - alpha``
  interval, open (``±inf``) on the other side;
* the relative difference is ``treatment/control - 1``. With ``relative="delta"`` (the
  default) its interval is ``r ± q·se_r`` with the first-order delta-method standard error
  of a ratio of independent means, ``se_r² = v_t/(n_t m_c²) + m_t² v_c/(n_c m_c⁴)``, and ``q``
  the same quantile as the absolute interval. ``relative="spotify"`` reproduces
  spotify-confidence: the absolute interval divided by the control mean (its standard
  error is then ``interval_standard_error / |control mean|``). Both keep ``lower <= upper``
  for a negative control mean, where a one-sided relative interval is open on the other
  side (``treatment - control > 0`` is then a negative relative change);
* every interval is ``estimate ± critical_value · standard error``, with ``critical_value``
  the normal (or t) quantile ``q_{1-alpha/2}`` two-sided and ``q_{1-alpha}`` one-sided;
* a **ratio metric** (groups with ``d_sum``: ``R = Σy/Σd``) is compared on the ratios
  with the delta method: each group's ``variance / n`` is ``Var(R)``, the first-order
  Taylor variance of a ratio of two correlated sums (see
  :mod:`flagstone.analysis.groups`), the difference's variance their sum (the groups are
  independent), and the relative difference's the same ratio-of-means formula as above with
  ``m = R`` and ``v/n = Var(R)`` — the delta method applied twice, as in Deng, Knoblich & Lu
  (KDD 2018). Welch's degrees of freedom then use ``n - 1`` of each group as if the
  linearised metric were observed.

Degenerate data give defined, NaN-free results rather than exceptions:

* a control mean of 0 leaves the relative fields ``None``;
* a standard error of 0 (no variance in either group, e.g. no conversions at all) makes the
  statistic ``+inf``/``-inf`` when the difference is above/below ``null_difference`` — a
  p-value of 0 for an alternative pointing that way, 1 otherwise — and 0 when it equals
  ``null_difference``, with a p-value of 1 whatever the alternative. The interval collapses
  to the difference (still open on one side for one-sided tests), and Welch's degrees of
  freedom, undefined then, are reported as ``n_c + n_t - 2``.

Tail probabilities of the normal distribution use :func:`math.erfc` (accurate far into the
tails), its quantiles :class:`statistics.NormalDist`; the t distribution comes from scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any, Literal

from scipy import stats

from flagstone.analysis.groups import GroupStats, real_number
from flagstone.analysis.normal import Alternative, normal_sf

__all__ = [
    "Alternative",
    "Comparison",
    "Method",
    "NonInferiority",
    "Preferred",
    "RelativeMode",
    "compare",
    "non_inferiority",
]

Method = Literal["z", "t"]
RelativeMode = Literal["delta", "spotify"]
Preferred = Literal["increase", "decrease"]

_METHODS = ("z", "t")
_ALTERNATIVES = ("two-sided", "larger", "smaller")
_RELATIVE_MODES = ("delta", "spotify")
_PREFERRED = ("increase", "decrease")
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Comparison:
    """The comparison of a treatment group with a control group.

    ``difference`` is ``treatment_mean - control_mean``; ``statistic`` is
    ``(difference - null_difference) / standard_error``, the test's standard error (pooled
    when ``pooled``); ``degrees_of_freedom`` is ``None`` for the z-test. ``ci_lower``/
    ``ci_upper`` bound the absolute difference at level ``1 - alpha``, ``difference ±
    critical_value · interval_standard_error`` (one bound infinite for a one-sided test);
    the ``relative_*`` fields are the relative difference ``treatment/control - 1``, its
    standard error and its interval (``relative ± critical_value ·
    relative_standard_error``), ``None`` when the control mean is 0. ``significant`` is
    ``p_value < alpha``.
    """

    control_mean: float
    treatment_mean: float
    difference: float
    standard_error: float
    statistic: float
    degrees_of_freedom: float | None
    p_value: float
    ci_lower: float
    ci_upper: float
    relative_difference: float | None
    relative_ci_lower: float | None
    relative_ci_upper: float | None
    alpha: float
    method: Method
    alternative: Alternative
    relative: RelativeMode
    null_difference: float
    significant: bool
    critical_value: float
    interval_standard_error: float
    relative_standard_error: float | None
    pooled: bool


@dataclass(frozen=True)
class NonInferiority(Comparison):
    """A one-sided test that the treatment is not worse than control by more than a margin.

    A :class:`Comparison` whose null hypothesis is "worse by exactly the margin"
    (``null_difference``); ``significant`` — also available as :attr:`non_inferior` — means
    that hypothesis is rejected. ``margin`` is as given: a fraction of the control mean when
    ``relative_margin`` is true, else in the metric's units.
    """

    margin: float
    relative_margin: bool
    preferred: Preferred

    @property
    def non_inferior(self) -> bool:
        """True when non-inferiority is shown (the null of an inferior treatment rejected)."""
        return self.significant


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _check_alpha(alpha: object) -> float:
    value = real_number("alpha", alpha)
    if not 0 < value < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    return value


def _welch_df(control: GroupStats, treatment: GroupStats, se2_c: float, se2_t: float) -> float:
    """Welch-Satterthwaite degrees of freedom (``n_c + n_t - 2`` when both variances are 0)."""
    total = se2_c + se2_t
    if total == 0:
        return float(control.n + treatment.n - 2)
    w_c, w_t = se2_c / total, se2_t / total
    return 1.0 / (w_c * w_c / (control.n - 1) + w_t * w_t / (treatment.n - 1))


def _upper_tail(statistic: float, df: float | None) -> float:
    """P(X >= statistic) for a standard normal (df None) or a t with df degrees of freedom."""
    if df is None:
        return normal_sf(statistic)
    return float(stats.t.sf(statistic, df))


def _p_value(statistic: float, alternative: Alternative, df: float | None) -> float:
    if alternative == "larger":
        return _upper_tail(statistic, df)
    if alternative == "smaller":
        return _upper_tail(-statistic, df)
    return min(1.0, 2.0 * _upper_tail(abs(statistic), df))


def _quantile(tail: float, df: float | None) -> float:
    """The critical value leaving probability ``tail`` above it."""
    if df is None:
        return -_STANDARD_NORMAL.inv_cdf(tail)
    return float(stats.t.isf(tail, df))


def _interval(
    point: float, se: float, q: float, alternative: Alternative, *, flip: bool = False
) -> tuple[float, float]:
    """``point ± q·se``, open above for "larger" and below for "smaller" (swapped by flip)."""
    lower, upper = point - q * se, point + q * se
    if alternative == "two-sided":
        return lower, upper
    if (alternative == "larger") != flip:
        return lower, math.inf
    return -math.inf, upper


def compare(
    control: GroupStats,
    treatment: GroupStats,
    *,
    method: Method = "z",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
    relative: RelativeMode = "delta",
    null_difference: float = 0.0,
    pooled: bool = False,
) -> Comparison:
    """Test ``treatment - control`` against ``null_difference`` and bound it.

    H0: ``treatment - control = null_difference`` (``<=`` for ``"larger"``, ``>=`` for
    ``"smaller"``); H1: it differs (is larger, is smaller). See the module docstring for
    the conventions and the degenerate cases. References: statsmodels'
    ``CompareMeans.ztest_ind``/``ttest_ind`` (``usevar="unequal"``) and
    ``proportions_ztest`` (``pooled=True``; with a ``null_difference`` it subtracts it from
    the difference and keeps the pooled variance, as here), scipy's ``ttest_ind``
    (``equal_var=False``).

    Raises :class:`ValueError` for an unknown ``method``/``alternative``/``relative``,
    ``alpha`` outside ``(0, 1)``, a non-finite ``null_difference``, a 0/1 metric compared
    with a continuous one, a continuous group with ``n < 2``, ``method="t"`` with a group
    of ``n < 2`` (Welch's degrees of freedom need it), ``pooled=True`` for a continuous
    metric or with ``method="t"`` (the pooled test is the z-test of two proportions), or a
    ratio metric compared with one that is not.
    """
    if not isinstance(control, GroupStats) or not isinstance(treatment, GroupStats):
        raise ValueError("control and treatment must be GroupStats")
    _choice("method", method, _METHODS)
    _choice("alternative", alternative, _ALTERNATIVES)
    _choice("relative", relative, _RELATIVE_MODES)
    alpha = _check_alpha(alpha)
    null = real_number("null_difference", null_difference)
    if control.is_binary != treatment.is_binary:
        raise ValueError("control and treatment must both be 0/1 metrics (sum_sq=None) or both not")
    if control.is_ratio != treatment.is_ratio:
        raise ValueError("control and treatment must both be ratio metrics (d_sum) or both not")
    if method == "t" and min(control.n, treatment.n) < 2:
        raise ValueError(
            f"the t-test needs n >= 2 in each group, got n_c={control.n}, n_t={treatment.n}"
        )
    if pooled and (method != "z" or not control.is_binary):
        raise ValueError(
            "pooled=True is the z-test of two proportions: it needs 0/1 metrics "
            "(sum_sq=None) and method='z'"
        )

    m_c, m_t = control.mean, treatment.mean
    se2_c, se2_t = control.variance / control.n, treatment.variance / treatment.n
    interval_se = math.sqrt(se2_c + se2_t)
    se = _pooled_standard_error(control, treatment) if pooled else interval_se
    difference = m_t - m_c
    df = _welch_df(control, treatment, se2_c, se2_t) if method == "t" else None

    excess = difference - null
    if se > 0:
        statistic = excess / se
        p_value = _p_value(statistic, alternative, df)
    elif excess == 0:
        statistic, p_value = 0.0, 1.0
    else:
        statistic = math.copysign(math.inf, excess)
        p_value = _p_value(statistic, alternative, df)

    q = _quantile(alpha / 2 if alternative == "two-sided" else alpha, df)
    ci_lower, ci_upper = _interval(difference, interval_se, q, alternative)

    rel: float | None = None
    rel_lower: float | None = None
    rel_upper: float | None = None
    se_rel: float | None = None
    if m_c != 0:
        rel = difference / m_c
        if relative == "spotify":
            se_rel = interval_se / abs(m_c)
            rel_lower, rel_upper = sorted((ci_lower / m_c, ci_upper / m_c))
        else:
            ratio = m_t / m_c
            se_rel = math.sqrt(se2_t + ratio * ratio * se2_c) / abs(m_c)
            rel_lower, rel_upper = _interval(rel, se_rel, q, alternative, flip=m_c < 0)

    return Comparison(
        control_mean=m_c,
        treatment_mean=m_t,
        difference=difference,
        standard_error=se,
        statistic=statistic,
        degrees_of_freedom=df,
        p_value=p_value,
        ci_lower=ci_lower,
        ci_upper=ci_upper,
        relative_difference=rel,
        relative_ci_lower=rel_lower,
        relative_ci_upper=rel_upper,
        alpha=alpha,
        method=method,
        alternative=alternative,
        relative=relative,
        null_difference=null,
        significant=p_value < alpha,
        critical_value=q,
        interval_standard_error=interval_se,
        relative_standard_error=se_rel,
        pooled=bool(pooled),
    )


def _pooled_standard_error(control: GroupStats, treatment: GroupStats) -> float:
    """``sqrt(p̄(1 - p̄)(1/n_c + 1/n_t))`` with the pooled rate ``p̄`` of two 0/1 groups."""
    rate = (control.sum + treatment.sum) / (control.n + treatment.n)
    return math.sqrt(max(0.0, rate * (1.0 - rate)) * (1.0 / control.n + 1.0 / treatment.n))


def non_inferiority(
    control: GroupStats,
    treatment: GroupStats,
    *,
    margin: float,
    preferred: Preferred = "increase",
    relative_margin: bool = True,
    alpha: float = 0.05,
    method: Method = "z",
    relative: RelativeMode = "delta",
) -> NonInferiority:
    """Test that the treatment is not worse than control by more than ``margin``.

    One-sided: with ``preferred="increase"`` H0 is ``difference <= -margin`` against H1
    ``difference > -margin`` (alternative "larger"); with ``"decrease"`` H0 is
    ``difference >= +margin`` (alternative "smaller"). A relative margin (the default) is a
    fraction of the control mean's size, ``margin·|control mean|`` (the same as
    spotify-confidence's ``margin·control mean`` for a positive mean; a control mean of 0
    makes it 0). Raises :class:`ValueError` for a margin that is not finite and > 0, an
    unknown ``preferred`` and everything :func:`compare` refuses.
    """
    size = real_number("margin", margin)
    if size <= 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    _choice("preferred", preferred, _PREFERRED)
    if not isinstance(control, GroupStats):
        raise ValueError("control and treatment must be GroupStats")
    if relative_margin:
        size *= abs(control.mean)
    increase = preferred == "increase"
    result = compare(
        control,
        treatment,
        method=method,
        alternative="larger" if increase else "smaller",
        alpha=alpha,
        relative=relative,
        null_difference=-size if increase else size,
    )
    values: dict[str, Any] = {f.name: getattr(result, f.name) for f in fields(result)}
    return NonInferiority(
        **values, margin=float(margin), relative_margin=bool(relative_margin), preferred=preferred
    )
