"""The analysis engine: :func:`analyze` turns an :class:`AnalysisInput` into decisions.

This module owns the decision rules; the statistics come from the other modules of
:mod:`flagstone.analysis` (comparisons, corrections, power, CUPED, sequential bounds, SRM),
and the result is the output model of :mod:`flagstone.analysis.results`.

**Comparisons.** Every treatment (every group but the control) is compared with the control
on every metric: ``treatment - control``, two-sided, with the input's method (z or Welch),
relative interval and, with ``pooled``, the pooled z-test of two proportions, the interval
at the comparison's adjusted alpha. Each look reports its test's standard error and
statistic.

**Multiple testing.** The success metrics form one family of ``m = success metrics x
treatments`` hypotheses, the guardrails another (``guardrails x treatments``, as Confidence
corrects its validation tests separately). Bonferroni tests each at ``alpha/m``; Holm's
step-down ranks a family by the latest p-values (ascending) and reports for each the alpha
at its rank, ``alpha/(m - rank)`` (tied p-values share the first of their ranks: the
``levels`` of :func:`~flagstone.analysis.corrections.holm`). The
decisions of a fixed horizon are :func:`~flagstone.analysis.corrections.bonferroni`'s and
:func:`~flagstone.analysis.corrections.holm`'s (``p <= level``, as statsmodels'
``multipletests``): under Holm, a comparison whose p-value is below its own level is still
not significant once a smaller p-value failed.

**Sequential horizon.** Each look's information fraction is the comparison's cumulative
units (control + treatment) over ``max(expected_final_total, the largest observed)``;
:func:`~flagstone.analysis.sequential.sequential_bounds` at the comparison's corrected alpha
gives each look its adjusted alpha, and a look is significant when its p-value is at most
that (and the alpha is positive). The latest look decides (with Holm's step-down gating it
as above); earlier looks are reported as they were.

**Statuses.** A success metric is SIGNIFICANT_POSITIVE (significant, in the preferred
direction), SIGNIFICANT_NEGATIVE (significant, against it), else UNDERPOWERED when it has a
minimum detectable effect (MDE) and fewer units than that MDE needs, else NOT_SIGNIFICANT.
A guardrail without a margin is the same, except that a significant change against the
preferred direction is a GUARDRAIL_DETERIORATION. A guardrail with a non-inferiority margin
is tested one-sided against it (:func:`~flagstone.analysis.comparison.non_inferiority`,
relative margin, at the guardrail family's level — the hypothesis its correction counts —
and, sequentially, at the one-sided bound of the latest look): shown non-inferior, it is
NOT_SIGNIFICANT (fine), or SIGNIFICANT_POSITIVE/NEGATIVE when the two-sided test is
significant (worse but within the margin is SIGNIFICANT_NEGATIVE, which does not block
shipping); not shown non-inferior, it is a GUARDRAIL_DETERIORATION when it is also
significantly worse or the sample is powered for its MDE, else UNDERPOWERED or
NOT_SIGNIFICANT as above.

**Power.** With an MDE (a fraction of the control mean): the required sample size is
:func:`~flagstone.analysis.power.required_sample_size` for ``mde · |control mean|``, the two
groups' variances, the corrected alpha (before alpha spending), the power, two-sided, at the
observed ratio ``n_t/n_c``; ``powered`` is ``n_c + n_t >= total``. The powered effect,
always reported, is :func:`~flagstone.analysis.power.powered_effect` for the observed sizes
(relative: over ``|control mean|``). A control mean of 0 leaves the relative quantities and
``powered`` as ``None``.

**spotify-confidence compatibility.** ``relative_interval="spotify"`` reproduces
spotify-confidence where its formulas differ from the consistent ones: the relative
interval is the absolute one over the control mean, CUPED's variances are
:func:`~flagstone.analysis.cuped.cuped`'s ``variance="spotify"``, and the powered effect is
:func:`~flagstone.analysis.spotify.spotify_powered_effect` (the control's variance for
both groups; for a 0/1 metric without a non-inferiority margin — ``Σy² = Σy`` in the
control — its search over the treatment's rate), with every group's units as the
experiment's.

**Ratio metrics.** A metric whose groups carry a denominator's sums (``d_sum``, …) is
compared on the ratios ``Σy/Σd`` with the delta method's variances
(:mod:`flagstone.analysis.groups`); everything else — corrections, power for a relative
MDE of the control's ratio, sequential looks, non-inferiority — treats the ratio as the
metric's mean and the delta-method variance as its per-unit variance.

**CUPED.** When a metric's groups carry covariate sums, each look is adjusted with
:func:`~flagstone.analysis.cuped.cuped` (a 0/1 metric's ``Σy²`` is its ``Σy``) and compared
on the adjusted means and variances; the unadjusted means stay in ``unadjusted_*``, and
``variance_reduction_rate`` is the reduction of the difference's variance. The adjusted
groups are passed to :func:`~flagstone.analysis.comparison.compare` as sums
(``sum = n·mean``, ``sum_sq = (n - 1)·v + n·mean²``), which costs a little precision when
the variance is tiny against the squared mean.

**Checks.** A sample-ratio mismatch (chi-square at alpha 0.001 over each group's largest
``n`` across the metrics, against ``expected_weights``) is an error annotation and makes every
treatment DO_NOT_SHIP. Warnings: a group with fewer than 100 units in a metric, a comparison
whose two groups both have zero variance; info: a metric without an MDE (powered unknown), an
MDE against a zero control mean.

**Recommendations.** Per treatment: DO_NOT_SHIP on an SRM, a SIGNIFICANT_NEGATIVE success
metric or a GUARDRAIL_DETERIORATION; SHIP when a success metric is SIGNIFICANT_POSITIVE;
else INCONCLUSIVE. The reasons name the metrics and statuses that decided.

All outputs are NaN-free: degenerate data (zero variance, no conversions) follow
:func:`~flagstone.analysis.comparison.compare`'s definitions; interval bounds may be
infinite (a look with no alpha to spend has an unbounded interval).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flagstone.analysis.comparison import Comparison, NonInferiority, compare, non_inferiority
from flagstone.analysis.corrections import bonferroni, bonferroni_alpha, holm
from flagstone.analysis.cuped import CovariateSums, CupedResult, cuped
from flagstone.analysis.groups import GroupStats
from flagstone.analysis.inputs import AnalysisInput, GroupInput, MetricInput
from flagstone.analysis.power import powered_effect, required_sample_size
from flagstone.analysis.results import (
    AnalysisOutcome,
    Annotation,
    Estimate,
    IntervalResult,
    MetricComparison,
    Recommendation,
    SrmCheck,
)
from flagstone.analysis.sequential import (
    SequentialAlternative,
    information_fractions,
    sequential_bounds,
)
from flagstone.analysis.spotify import spotify_powered_effect
from flagstone.analysis.srm import sample_ratio_mismatch

__all__ = [
    "DO_NOT_SHIP",
    "GUARDRAIL_DETERIORATION",
    "INCONCLUSIVE",
    "METHODS",
    "METRIC_TYPES",
    "NOT_SIGNIFICANT",
    "SHIP",
    "SIGNIFICANT_NEGATIVE",
    "SIGNIFICANT_POSITIVE",
    "SMALL_SAMPLE",
    "SRM_ALPHA",
    "UNDERPOWERED",
    "analyze",
]

SIGNIFICANT_POSITIVE = "METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE"
SIGNIFICANT_NEGATIVE = "METRIC_RESULT_STATUS_SIGNIFICANT_NEGATIVE"
NOT_SIGNIFICANT = "METRIC_RESULT_STATUS_NOT_SIGNIFICANT"
UNDERPOWERED = "METRIC_RESULT_STATUS_UNDERPOWERED"
GUARDRAIL_DETERIORATION = "METRIC_RESULT_STATUS_GUARDRAIL_DETERIORATION"
SHIP = "TREATMENT_RECOMMENDATION_SHIP"
DO_NOT_SHIP = "TREATMENT_RECOMMENDATION_DO_NOT_SHIP"
INCONCLUSIVE = "TREATMENT_RECOMMENDATION_INCONCLUSIVE"
METRIC_TYPES = {"SUCCESS": "METRIC_TYPE_SUCCESS", "GUARDRAIL": "METRIC_TYPE_GUARDRAIL"}
METHODS = {"z": "METHOD_Z_TEST", "t": "METHOD_T_TEST"}

SRM_ALPHA = 0.001
"""The sample-ratio check's alpha: strict, a mismatch means broken assignment or logging."""
SMALL_SAMPLE = 100
"""Fewer units than this in a group earns a warning (normal approximations get rough)."""


@dataclass(frozen=True)
class _Look:
    """One look of one comparison: the groups as tested (CUPED-adjusted when covariates
    are given) and as observed."""

    time: str | None
    control: GroupStats
    treatment: GroupStats
    observed_control: GroupStats
    observed_treatment: GroupStats
    variance_control: float
    variance_treatment: float
    cuped: CupedResult | None
    units: int  # every group's units at this look (spotify-confidence's powered effect)


@dataclass
class _Pending:
    """A metric x treatment comparison between the two passes of :func:`analyze`."""

    metric: MetricInput
    treatment: str
    looks: list[_Look]
    latest: Comparison  # the latest look at the family's Bonferroni level
    non_inferiority_p: float | None  # guardrails with a margin

    @property
    def guardrail(self) -> bool:
        return self.metric.kind == "GUARDRAIL"

    @property
    def family_p(self) -> float:
        """The p-value the family's correction counts: non-inferiority's for a guardrail
        with a margin, the two-sided test's otherwise."""
        if self.non_inferiority_p is not None:
            return self.non_inferiority_p
        return self.latest.p_value


@dataclass(frozen=True)
class _Correction:
    """A family's correction: per hypothesis its level and its fixed-horizon decision, and
    for Holm the step-down order (ascending p-values)."""

    levels: list[float]
    rejected: list[bool]
    order: list[int] | None


def analyze(spec: AnalysisInput) -> AnalysisOutcome:
    """Analyse every metric for every treatment against the control (see the module
    docstring for the rules)."""
    treatments = spec.treatments
    sizes = {
        kind: sum(1 for metric in spec.metrics if metric.kind == kind) * len(treatments)
        for kind in METRIC_TYPES
    }
    pending = []
    for metric in spec.metrics:
        level = bonferroni_alpha(spec.alpha, sizes[metric.kind])
        pending += _comparisons(spec, metric, treatments, level)
    families = {"success": [p for p in pending if not p.guardrail]}
    families["guardrail"] = [p for p in pending if p.guardrail]
    bounds = _BoundsCache()
    comparisons: dict[int, MetricComparison] = {}
    for members in families.values():
        if not members:
            continue
        correction = _correct([p.family_p for p in members], spec.alpha, spec.correction)
        decided = _decide(spec, members, correction, bounds)
        for member, result in zip(members, decided, strict=True):
            comparisons[id(member)] = result
    ordered = tuple(comparisons[id(p)] for p in pending)

    srm = _srm(spec)
    annotations = _annotations(spec, pending, srm)
    recommendations = tuple(_recommend(t, ordered, srm) for t in treatments)
    return AnalysisOutcome(
        alpha=spec.alpha,
        power=spec.power,
        method=METHODS[spec.method],
        horizon=spec.horizon.kind,
        correction=spec.correction,
        control=spec.control,
        treatments=tuple(treatments),
        comparisons=ordered,
        srm=srm,
        recommendations=recommendations,
        annotations=annotations,
    )


# -- first pass: the looks and the latest p-values --------------------------------------------


def _comparisons(
    spec: AnalysisInput, metric: MetricInput, treatments: Sequence[str], level: float
) -> list[_Pending]:
    """The metric's comparisons, each with its latest look compared at ``level`` (the
    family's Bonferroni level, final for a fixed horizon with Bonferroni)."""
    looks = [
        (time, {g: (group, group.stats()) for g, group in groups.items()}, _units(groups))
        for time, groups in metric.looks()
    ]
    covariates = all(group.has_covariate for group in metric.latest.values())
    guardrail = metric.kind == "GUARDRAIL"
    spotify = spec.relative_interval == "spotify"
    result = []
    for treatment in treatments:
        metric_looks = [
            _look(time, *stats[spec.control], *stats[treatment], covariates, spotify, units)
            for time, stats, units in looks
        ]
        last = metric_looks[-1]
        latest = _compare(spec, last, level)
        ni_p = None
        if guardrail and metric.non_inferiority_margin is not None:
            ni_p = _non_inferiority(spec, metric, last, level).p_value
        result.append(_Pending(metric, treatment, metric_looks, latest, ni_p))
    return result


def _look(
    time: str | None,
    control_input: GroupInput,
    control: GroupStats,
    treatment_input: GroupInput,
    treatment: GroupStats,
    covariates: bool,
    spotify: bool,
    units: int,
) -> _Look:
    if not covariates:
        return _Look(
            time,
            control,
            treatment,
            control,
            treatment,
            control.variance,
            treatment.variance,
            None,
            units,
        )
    adjusted = cuped(
        _covariate_sums(control_input),
        _covariate_sums(treatment_input),
        variance="spotify" if spotify else "sample",
    )
    return _Look(
        time,
        _group_with(control.n, adjusted.mean_control, adjusted.variance_control),
        _group_with(treatment.n, adjusted.mean_treatment, adjusted.variance_treatment),
        control,
        treatment,
        adjusted.variance_control,
        adjusted.variance_treatment,
        adjusted,
        units,
    )


def _units(groups: Mapping[str, GroupInput]) -> int:
    return sum(group.n for group in groups.values())


def _covariate_sums(group: GroupInput) -> CovariateSums:
    """A group's CUPED sums; for a 0/1 metric ``Σy² = Σy``."""
    assert group.x_sum is not None and group.x_sum_sq is not None and group.xy_sum is not None
    return CovariateSums(
        n=group.n,
        y_sum=group.sum,
        y_sum_sq=group.sum if group.sum_sq is None else group.sum_sq,
        x_sum=group.x_sum,
        x_sum_sq=group.x_sum_sq,
        xy_sum=group.xy_sum,
    )


def _group_with(n: int, mean: float, variance: float) -> GroupStats:
    """The sums of a continuous group of ``n`` units with this mean and sample variance."""
    return GroupStats(n=n, sum=n * mean, sum_sq=(n - 1) * variance + n * mean * mean)


def _compare(spec: AnalysisInput, look: _Look, alpha: float) -> Comparison:
    """The two-sided comparison of a look with its interval at ``alpha``; an ``alpha`` of 0
    (nothing to spend) gives an unbounded interval and no significance."""
    result = compare(
        look.control,
        look.treatment,
        method=spec.method,
        alpha=alpha if alpha > 0 else 0.5,
        relative=spec.relative_interval,
        pooled=spec.pooled,
    )
    if alpha > 0:
        return result
    relative = result.relative_difference is not None
    return dataclasses.replace(
        result,
        critical_value=math.inf,
        ci_lower=-math.inf,
        ci_upper=math.inf,
        relative_ci_lower=-math.inf if relative else None,
        relative_ci_upper=math.inf if relative else None,
        alpha=0.0,
        significant=False,
    )


def _non_inferiority(
    spec: AnalysisInput, metric: MetricInput, look: _Look, alpha: float
) -> NonInferiority:
    """The one-sided test against the metric's margin, preferred from its direction."""
    assert metric.non_inferiority_margin is not None
    return non_inferiority(
        look.control,
        look.treatment,
        margin=metric.non_inferiority_margin,
        preferred="increase" if metric.direction == "INCREASE" else "decrease",
        alpha=alpha if alpha > 0 else 0.5,
        method=spec.method,
        relative=spec.relative_interval,
    )


# -- second pass: corrections, decisions, power ------------------------------------------------


def _rejects(p_value: float, level: float) -> bool:
    """Significant at ``level``: ``p <= level`` (as multipletests), never at level 0."""
    return level > 0 and p_value <= level


def _correct(p_values: list[float], alpha: float, method: str) -> _Correction:
    """Bonferroni's or Holm's levels and decisions for one family."""
    m = len(p_values)
    if method == "bonferroni":
        return _Correction([bonferroni_alpha(alpha, m)] * m, bonferroni(p_values, alpha), None)
    result = holm(p_values, alpha)
    return _Correction(result.levels, result.reject, result.order)


class _BoundsCache:
    """Sequential bounds by (fractions, alpha, alternative): comparisons with the same units
    per look share them, and each costs milliseconds."""

    def __init__(self) -> None:
        self._found: dict[tuple[tuple[float, ...], float, str], tuple[float, ...]] = {}

    def alphas(
        self, fractions: tuple[float, ...], alpha: float, alternative: SequentialAlternative
    ) -> tuple[float, ...]:
        key = (fractions, alpha, alternative)
        found = self._found.get(key)
        if found is None:
            bounds = sequential_bounds(fractions, alpha=alpha, alternative=alternative)
            found = self._found[key] = bounds.adjusted_alphas
        return found


@dataclass(frozen=True)
class _Levels:
    """One comparison's corrected alpha, its looks' adjusted alphas (two-sided) and the
    latest look's one-sided level for non-inferiority."""

    corrected: float
    looks: tuple[float, ...]
    non_inferiority: float


def _levels(
    spec: AnalysisInput, member: _Pending, corrected: float, bounds: _BoundsCache
) -> _Levels:
    final = spec.horizon.expected_final_total
    if spec.horizon.kind != "SEQUENTIAL" or final is None:
        return _Levels(corrected, (corrected,), corrected)
    totals = [look.control.n + look.treatment.n for look in member.looks]
    fractions = tuple(information_fractions(totals, final))
    one_sided = corrected
    if member.non_inferiority_p is not None:
        one_sided = bounds.alphas(fractions, corrected, "one-sided")[-1]
    return _Levels(corrected, bounds.alphas(fractions, corrected, "two-sided"), one_sided)


def _decide(
    spec: AnalysisInput,
    members: list[_Pending],
    correction: _Correction,
    bounds: _BoundsCache,
) -> list[MetricComparison]:
    """The family's decisions (the hypotheses its correction counts) and each comparison."""
    levels = [
        _levels(spec, member, level, bounds)
        for member, level in zip(members, correction.levels, strict=True)
    ]
    if spec.horizon.kind == "SEQUENTIAL":
        decisions = [
            _rejects(
                member.family_p,
                level.non_inferiority if member.non_inferiority_p is not None else level.looks[-1],
            )
            for member, level in zip(members, levels, strict=True)
        ]
        if correction.order is not None:  # Holm: the first failure stops the step-down
            still = True
            for index in correction.order:
                still = still and decisions[index]
                decisions[index] = still
    else:
        decisions = list(correction.rejected)
    return [
        _result(spec, member, level, decision)
        for member, level, decision in zip(members, levels, decisions, strict=True)
    ]


def _interval(spec: AnalysisInput, member: _Pending, k: int, alpha: float) -> Comparison:
    """Look ``k``'s comparison with its interval at ``alpha``."""
    if k == len(member.looks) - 1 and member.latest.alpha == alpha:
        return member.latest
    return _compare(spec, member.looks[k], alpha)


def _interval_result(
    look: _Look, result: Comparison, alpha: float, significant: bool
) -> IntervalResult:
    return IntervalResult(
        time=look.time,
        baseline_n=look.control.n,
        compared_n=look.treatment.n,
        baseline_mean=result.control_mean,
        compared_mean=result.treatment_mean,
        difference=Estimate(result.difference, result.ci_lower, result.ci_upper),
        relative_difference=Estimate(
            result.relative_difference, result.relative_ci_lower, result.relative_ci_upper
        ),
        p_value=result.p_value,
        adjusted_alpha=alpha,
        significant=significant,
        standard_error=result.standard_error,
        statistic=result.statistic,
    )


@dataclass(frozen=True)
class _Power:
    required: int | None
    powered: bool | None
    effect_abs: float
    effect_rel: float | None
    required_per_group: tuple[int, int] | None = None


def _power(spec: AnalysisInput, metric: MetricInput, look: _Look, alpha: float) -> _Power:
    """Sample size for the metric's MDE and the powered effect, at the corrected alpha."""
    n_c, n_t = look.control.n, look.treatment.n
    v_c, v_t = look.variance_control, look.variance_treatment
    scale = abs(look.control.mean)
    if spec.relative_interval == "spotify":
        observed = look.observed_control
        effect = spotify_powered_effect(
            observed.mean,
            v_c,
            n_c,
            n_t,
            binary=observed.sum_sq in (None, observed.sum)
            and not observed.is_ratio
            and metric.non_inferiority_margin is None,
            alpha=alpha,
            power=spec.power,
            total_units=look.units,
        )
    else:
        effect = powered_effect(n_c, n_t, v_c, v_t, alpha=alpha, power=spec.power)
    relative = effect / scale if scale > 0 else None
    mde = metric.minimum_detectable_effect
    if mde is None or not mde * scale > 0:
        return _Power(None, None, effect, relative)
    try:
        size = required_sample_size(
            mde * scale, v_c, v_t, alpha=alpha, power=spec.power, ratio=n_t / n_c
        )
    except (OverflowError, ZeroDivisionError):  # an MDE too small for any sample
        return _Power(None, False, effect, relative)
    return _Power(
        size.total,
        n_c + n_t >= size.total,
        effect,
        relative,
        (size.per_group_control, size.per_group_treatment),
    )


def _status(
    metric: MetricInput,
    difference: float,
    significant: bool,
    non_inferior: bool | None,
    powered: bool | None,
) -> str:
    toward = 1.0 if metric.direction == "INCREASE" else -1.0
    better, worse = difference * toward > 0, difference * toward < 0
    if significant and better:
        return SIGNIFICANT_POSITIVE
    if non_inferior is None:  # a success metric, or a guardrail without a margin
        if significant and worse:
            return GUARDRAIL_DETERIORATION if metric.kind == "GUARDRAIL" else SIGNIFICANT_NEGATIVE
    elif non_inferior:
        return SIGNIFICANT_NEGATIVE if significant and worse else NOT_SIGNIFICANT
    elif (significant and worse) or powered:
        return GUARDRAIL_DETERIORATION
    return UNDERPOWERED if powered is False else NOT_SIGNIFICANT


def _result(
    spec: AnalysisInput, member: _Pending, levels: _Levels, decision: bool
) -> MetricComparison:
    metric = member.metric
    margin = member.non_inferiority_p is not None
    last = len(member.looks) - 1
    intervals = []
    for k, (look, alpha) in enumerate(zip(member.looks, levels.looks, strict=True)):
        result = _interval(spec, member, k, alpha)
        significant = _rejects(result.p_value, alpha)
        if k == last and not margin:
            significant = decision  # the family's decision (Holm's step-down)
        intervals.append(_interval_result(look, result, alpha, significant))
    latest = intervals[-1]
    look = member.looks[-1]
    power = _power(spec, metric, look, levels.corrected)
    non_inferior = decision if margin else None
    status = _status(
        metric, latest.difference.value or 0.0, latest.significant, non_inferior, power.powered
    )
    current = look.control.n + look.treatment.n
    return MetricComparison(
        metric=metric.id,
        kind=METRIC_TYPES[metric.kind],
        direction=metric.direction,
        baseline=spec.control,
        compared=member.treatment,
        method=METHODS[spec.method],
        unadjusted_baseline_mean=look.observed_control.mean,
        unadjusted_compared_mean=look.observed_treatment.mean,
        latest=latest,
        intervals=tuple(intervals),
        adjusted_alpha=latest.adjusted_alpha,
        adjusted_beta=1.0 - spec.power,
        significant=latest.significant,
        powered=power.powered,
        current_sample_size=current,
        required_sample_size=power.required,
        required_per_group=power.required_per_group,
        powered_effect_abs=power.effect_abs,
        powered_effect_rel=power.effect_rel,
        variance_reduction_rate=None if look.cuped is None else look.cuped.variance_reduction,
        non_inferiority_p_value=member.non_inferiority_p,
        status=status,
        message=_message(status, member, latest, power, current, levels, non_inferior),
        ratio=look.observed_control.is_ratio,
    )


def _change(latest: IntervalResult) -> str:
    text = f"{latest.difference.value:+.4g}"
    relative = latest.relative_difference.value
    return text if relative is None else f"{text} ({relative:+.2%})"


def _message(
    status: str,
    member: _Pending,
    latest: IntervalResult,
    power: _Power,
    current: int,
    levels: _Levels,
    non_inferior: bool | None,
) -> str:
    """Why the status, in a sentence."""
    metric = member.metric
    what = f"{metric.id} changed by {_change(latest)} for {member.treatment}"
    test = f"p = {latest.p_value:.3g}, adjusted alpha {latest.adjusted_alpha:.3g}"
    margin = f"the non-inferiority margin of {metric.non_inferiority_margin or 0.0:.3g}"
    ni_test = ""
    if non_inferior is not None:
        ni_test = (
            f"non-inferiority p = {member.non_inferiority_p or 0.0:.3g}, "
            f"adjusted alpha {levels.non_inferiority:.3g}"
        )
    if status == SIGNIFICANT_POSITIVE:
        return f"{what}: significant, in the preferred direction ({test})."
    if status == SIGNIFICANT_NEGATIVE:
        if non_inferior:
            return (
                f"{what}: significant, against the preferred direction ({test}), but within "
                f"{margin} ({ni_test})."
            )
        return f"{what}: significant, against the preferred direction ({test})."
    if non_inferior:
        return f"{what}: within {margin} ({ni_test})."
    if status == GUARDRAIL_DETERIORATION:
        if non_inferior is None or latest.significant:
            return f"{what}: significantly worse ({test})."
        return (
            f"{what}: not shown within {margin} ({ni_test}) although {current} units are "
            "enough for its minimum detectable effect."
        )
    if non_inferior is not None:
        what = f"{what}: not shown within {margin} ({ni_test}),"
    else:
        what = f"{what}:"
    if status == UNDERPOWERED:
        needed = (
            "no sample is large enough for"
            if power.required is None
            else (f"{current} units are fewer than the {power.required}")
        )
        return f"{what} not significant ({test}), and {needed} its minimum detectable effect needs."
    if power.powered is None:
        why = (
            "no minimum detectable effect"
            if metric.minimum_detectable_effect is None
            else "a relative minimum detectable effect of a zero control mean"
        )
        return f"{what} not significant ({test}); powered unknown ({why})."
    return f"{what} not significant ({test}), with enough units for its minimum detectable effect."


# -- checks and recommendations ----------------------------------------------------------------


def _srm(spec: AnalysisInput) -> SrmCheck:
    """The chi-square test of each group's units (its largest n over the metrics)."""
    groups = spec.groups
    observed = [max(metric.latest[group].n for metric in spec.metrics) for group in groups]
    weights = spec.expected_weights
    expected_weights = [1.0 if weights is None else weights[group] for group in groups]
    result = sample_ratio_mismatch(observed, expected_weights, alpha=SRM_ALPHA)
    return SrmCheck(
        groups=tuple(zip(groups, observed, result.expected_counts, strict=True)),
        statistic=result.statistic,
        p_value=result.p_value,
        mismatch=result.mismatch,
    )


def _annotations(
    spec: AnalysisInput, pending: Sequence[_Pending], srm: SrmCheck
) -> tuple[Annotation, ...]:
    """The SRM error, then per metric: small groups, zero variance, no (usable) MDE."""
    found: list[Annotation] = []
    if srm.mismatch:
        counts = ", ".join(f"{group} {n} (expected {e:.0f})" for group, n, e in srm.groups)
        found.append(
            Annotation(
                "error",
                f"sample ratio mismatch: {counts}, chi-square p = {srm.p_value:.3g} < "
                f"{SRM_ALPHA}; the assignment or the logging is broken, so the comparisons "
                "cannot be trusted",
                tuple(group for group, _, _ in srm.groups),
            )
        )
    by_metric: dict[int, list[_Pending]] = {id(metric): [] for metric in spec.metrics}
    for member in pending:
        by_metric[id(member.metric)].append(member)
    for metric in spec.metrics:
        small = [(g, group.n) for g, group in metric.latest.items() if group.n < SMALL_SAMPLE]
        if small:
            listed = ", ".join(f"{g} ({n})" for g, n in small)
            found.append(
                Annotation(
                    "warning",
                    f"too small sample: in {metric.id}, {listed} have fewer than "
                    f"{SMALL_SAMPLE} units; the tests' normal approximation may be poor",
                    (metric.id, *(g for g, _ in small)),
                )
            )
        for member in by_metric[id(metric)]:
            look = member.looks[-1]
            if look.variance_control == look.variance_treatment == 0:
                found.append(
                    Annotation(
                        "warning",
                        f"zero variance: in {metric.id}, {spec.control} and {member.treatment} "
                        "both have no variance, so the test is degenerate (p = 1 unless the "
                        "means differ, then 0)",
                        (metric.id, member.treatment),
                    )
                )
        if metric.minimum_detectable_effect is None:
            found.append(
                Annotation(
                    "info",
                    f"{metric.id} has no minimum detectable effect: whether its sample is "
                    "large enough (powered) is unknown",
                    (metric.id,),
                )
            )
        elif any(member.looks[-1].control.mean == 0 for member in by_metric[id(metric)]):
            found.append(
                Annotation(
                    "info",
                    f"{metric.id}: the control mean is 0, so a relative minimum detectable "
                    "effect (and powered) is undefined",
                    (metric.id,),
                )
            )
    return tuple(found)


def _recommend(
    treatment: str, comparisons: Sequence[MetricComparison], srm: SrmCheck
) -> Recommendation:
    """DO_NOT_SHIP, SHIP or INCONCLUSIVE for one treatment (see the module docstring)."""
    mine = [c for c in comparisons if c.compared == treatment]
    success = [c for c in mine if c.kind == METRIC_TYPES["SUCCESS"]]
    guardrails = [c for c in mine if c.kind == METRIC_TYPES["GUARDRAIL"]]
    blocking = [c for c in success if c.status == SIGNIFICANT_NEGATIVE]
    blocking += [c for c in guardrails if c.status == GUARDRAIL_DETERIORATION]
    reasons = [f"{c.metric}: {c.status}" for c in blocking]
    if srm.mismatch:
        reasons.insert(0, f"sample ratio mismatch (p = {srm.p_value:.3g} < {SRM_ALPHA})")
    if reasons:
        return Recommendation(treatment, DO_NOT_SHIP, tuple(reasons))
    positive = [c for c in success if c.status == SIGNIFICANT_POSITIVE]
    shown = positive + guardrails if positive else success + guardrails
    reasons = [f"{c.metric}: {c.status}" for c in shown]
    return Recommendation(treatment, SHIP if positive else INCONCLUSIVE, tuple(reasons))
