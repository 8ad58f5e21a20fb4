"""What an analysis produces, independent of any output format.

``flagstone.analysis.engine.analyze`` builds an ``AnalysisOutcome``;
``flagstone.analysis.outputs`` renders it as the APIs' documents (Confidence's
AnalysisResult, Alexa's metric snapshot, the Experiments API's computed results) or as a
terminal table. Enum-like strings use the APIs' names (``METRIC_TYPE_SUCCESS``,
``METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE``, ``METHOD_Z_TEST``, …).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "METRIC_STATUSES",
    "RECOMMENDATIONS",
    "AnalysisOutcome",
    "Annotation",
    "Estimate",
    "IntervalResult",
    "MetricComparison",
    "Recommendation",
    "SrmCheck",
]

METRIC_STATUSES = (
    "METRIC_RESULT_STATUS_SIGNIFICANT_POSITIVE",  # a significant change in the preferred direction
    "METRIC_RESULT_STATUS_SIGNIFICANT_NEGATIVE",  # a significant change against it
    "METRIC_RESULT_STATUS_NOT_SIGNIFICANT",  # powered, and no significant change
    "METRIC_RESULT_STATUS_UNDERPOWERED",  # not significant, and the sample is too small
    "METRIC_RESULT_STATUS_GUARDRAIL_DETERIORATION",  # a guardrail not shown non-inferior
)
RECOMMENDATIONS = (
    "TREATMENT_RECOMMENDATION_SHIP",  # a success metric improved, no guardrail deteriorated
    "TREATMENT_RECOMMENDATION_DO_NOT_SHIP",  # a success metric worsened or a guardrail failed
    "TREATMENT_RECOMMENDATION_INCONCLUSIVE",  # nothing decided yet (not significant/powered)
)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (bounds may be ``±inf`` for one-sided tests, and
    all ``None`` where undefined, e.g. a relative difference against a zero control mean)."""

    value: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class IntervalResult:
    """The comparison at one analysis time (one per interim of a sequential test; a single
    one for a fixed-horizon test). Means are CUPED-adjusted when variance reduction is on.
    ``standard_error`` and ``statistic`` are the test's (the pooled one's for a pooled
    z-test): ``statistic = difference / standard_error``, a z or Welch's t."""

    time: str | None
    baseline_n: int
    compared_n: int
    baseline_mean: float
    compared_mean: float
    difference: Estimate
    relative_difference: Estimate
    p_value: float
    adjusted_alpha: float
    significant: bool
    standard_error: float
    statistic: float


@dataclass(frozen=True)
class MetricComparison:
    """One metric, one treatment against the control, at the latest analysis time."""

    metric: str
    kind: str  # METRIC_TYPE_SUCCESS | METRIC_TYPE_GUARDRAIL
    direction: str  # INCREASE | DECREASE (the preferred direction)
    baseline: str  # the control group's id
    compared: str  # the treatment group's id
    method: str  # METHOD_Z_TEST | METHOD_T_TEST
    unadjusted_baseline_mean: float
    unadjusted_compared_mean: float
    latest: IntervalResult
    intervals: tuple[IntervalResult, ...]
    adjusted_alpha: float  # after the multiple-testing correction (and alpha spending)
    adjusted_beta: float  # 1 - power
    significant: bool
    powered: bool | None  # None without a minimum detectable effect
    current_sample_size: int  # baseline + compared units
    required_sample_size: int | None  # total (both groups) for the MDE at adjusted alpha, power
    powered_effect_abs: float | None
    powered_effect_rel: float | None
    variance_reduction_rate: float | None  # None without covariates
    non_inferiority_p_value: float | None  # guardrails with a margin
    status: str  # one of METRIC_STATUSES
    message: str  # why, in a sentence
    required_per_group: tuple[int, int] | None = None  # (control, treatment) for the MDE
    ratio: bool = False  # a ratio metric (Σy/Σd): the means are the groups' ratios


@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio mismatch over the groups' unit counts."""

    groups: tuple[tuple[str, int, float], ...]  # (group, observed, expected)
    statistic: float
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class Recommendation:
    """What to do with one treatment, from its success and guardrail metrics."""

    treatment: str
    status: str  # one of RECOMMENDATIONS
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Annotation:
    """Something the experimenter should know: an SRM, a too-small sample, zero variance…"""

    level: str  # info | warning | error
    message: str
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisOutcome:
    """Everything an analysis found."""

    alpha: float
    power: float
    method: str
    horizon: str  # FIXED | SEQUENTIAL
    correction: str  # bonferroni | holm
    control: str
    treatments: tuple[str, ...]
    comparisons: tuple[MetricComparison, ...]
    srm: SrmCheck | None
    recommendations: tuple[Recommendation, ...]
    annotations: tuple[Annotation, ...]
