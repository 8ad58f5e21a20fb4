"""Rendering an :class:`~flagstone.analysis.results.AnalysisOutcome`: the APIs' documents
and a terminal table.

This module owns the output formats, nothing statistical: every number comes from the
outcome as the engine computed it.

* :func:`to_analysis_result` — Confidence's ``AnalysisResult`` (the Analysis Results API);
* :func:`to_metric_snapshot` — Alexa's metric snapshot (``RELIABLE``/``UNRELIABLE``);
* :func:`to_computed_results` — the Experiments API's ``compute-results`` answer;
* :func:`to_table` — a fixed-width table for the terminal.

Every document is plain JSON: ``json.dumps(document, allow_nan=False)`` works. A value the
outcome does not have (``None``), and a number that is not finite (the ``±inf`` bound of a
one-sided interval, or a NaN), is **omitted** with its field, never written as ``null``.
Lists are always present (possibly empty).

Choices made where the APIs leave the shape open (kept consistent throughout):

``AnalysisResult``
    * ``annotations`` follow the schema literally: ``{"context": [{"value": …}], "info":
      "…"}``, ``"warning": "…"`` or ``"error": {"details": "…"}`` — one of the three by the
      annotation's level. The top level lists every annotation; a metric's entry in
      ``results`` also repeats those whose context names that metric.
    * ``results`` has one entry per metric (in the order the comparisons come), with one
      ``result`` entry per treatment compared with the control.
    * ``statsSettings`` also carries ``method`` (``METHOD_Z_TEST``/``METHOD_T_TEST``, as in
      the Experiments API's example). ``adjustedAlpha`` is per metric in the schema but per
      comparison in the outcome (Holm and alpha spending differ by comparison): it is the
      smallest over the metric's comparisons. ``hasVarianceReduction`` is true when any of
      them used CUPED.
    * A comparison's ``status`` carries the enums as in the Experiments API's example,
      ``status`` (``METRIC_RESULT_STATUS_…``) and ``metricType`` (``METRIC_TYPE_…``), next
      to ``message``; ``decisionIsSignificant`` is the two-sided test, ``decisionPowered``
      is present when a minimum detectable effect was given, ``validationIsSignificant``
      only for a guardrail with a non-inferiority margin (the treatment was shown
      non-inferior: its non-inferiority p-value is below the adjusted alpha).
    * ``differenceEstimateAbs``/``Rel`` hold ``estimate``, ``lower``, ``upper`` (the
      difference, treatment - control, and relative, treatment/control - 1, as fractions),
      ``powered`` (the powered effect, absolute or relative) and ``isSignificant``.
    * Values the outcome has for the latest analysis time only — ``powered``,
      ``varianceReductionRate`` and, with CUPED, ``unadjustedEstimate…`` — appear in
      ``lastResult`` and in the ``result`` entry equal to it. Without CUPED the unadjusted
      estimates are the interval's own means, so every entry has them.
    * ``baselineEstimateRel``/``comparedEstimateRel`` and ``lastDeteriorationResult`` are
      not written: the outcome has no per-group relative estimate and no separate
      deterioration test. ``resultTime`` is the interim's time, or ``result_time`` for a
      fixed-horizon result (omitted when neither is known).
    * ``comparisonId`` is ``"<compared>-vs-<baseline>"``; ``groupStats`` lists both groups'
      units at the latest time; ``metricDetails`` is ``{"hasRun": true}``.
    * The SRM check is experiment-wide in the outcome; each metric's entry carries it as
      ``srmResult: [{"status": {"message"}, "isSignificant", "result": [{"group",
      "observed", "expected", "isSignificant"}]}]``, every group's ``isSignificant`` being
      the overall mismatch. ``treatments[].recommendation.status`` is the
      ``TREATMENT_RECOMMENDATION_…`` string.

Alexa metric snapshot
    The control is ``treatmentId`` ``"C"`` and the chosen treatment ``"T1"`` (Alexa's only
    values); each metric has a ``C`` entry (``mean``, ``userCount``) and a ``T1`` entry with
    also ``percentDiff`` (percent), ``confidenceIntervalLower``/``Upper`` (the interval of
    ``percentDiff``, in percent too) and ``pValue``. ``mean`` is the group's sample mean
    (not CUPED-adjusted); the difference, interval and p-value are the test's. The status is
    ``UNRELIABLE`` on an SRM mismatch or when a group has fewer than
    :data:`MIN_RELIABLE_UNITS` units on some metric, and ``statusReason`` is then a JSON
    list of the reasons encoded as a string (as in Alexa's example).

A ratio metric (``Σy/Σd``) is written like any other, its means being the groups' ratios;
the Experiments API's computed results, which count conversions, refuse it.

Experiments API computed results
    ``{"data": {"experimentId"?, "variants": [{"variantId", "sampleSize", "conversions",
    "conversionRate"}]}}``, control first: the units, the conversions (``mean * n``, which
    must be a whole number) and the conversion rate of one 0/1 metric, unadjusted, at the
    latest analysis time. ``variantName`` is not written (the outcome only has ids).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from flagstone.analysis.results import (
    AnalysisOutcome,
    Annotation,
    Estimate,
    IntervalResult,
    MetricComparison,
    SrmCheck,
)

__all__ = [
    "MIN_RELIABLE_UNITS",
    "to_analysis_result",
    "to_computed_results",
    "to_metric_snapshot",
    "to_table",
]

MIN_RELIABLE_UNITS = 100
"""Fewer units than this in a group makes an Alexa snapshot ``UNRELIABLE`` (the engine's
"too small sample" threshold)."""

_STATUS_PREFIX = "METRIC_RESULT_STATUS_"
_RECOMMENDATION_PREFIX = "TREATMENT_RECOMMENDATION_"


# -- helpers -------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """``value`` as a float when it is a finite number, else ``None``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _compact(fields: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A dict of the fields whose value is not ``None``."""
    return {key: value for key, value in fields if value is not None}


def _wrapped(value: float | None) -> dict[str, float] | None:
    """``{"value": value}`` for a finite number, else ``None`` (the field is omitted)."""
    number = _finite(value)
    return None if number is None else {"value": number}


def _flag(value: bool | None) -> dict[str, bool] | None:
    return None if value is None else {"value": bool(value)}


def _metric_ids(outcome: AnalysisOutcome) -> list[str]:
    """The metrics in the order their comparisons come."""
    return list(dict.fromkeys(comparison.metric for comparison in outcome.comparisons))


def _comparisons_of(outcome: AnalysisOutcome, metric: str) -> list[MetricComparison]:
    return [c for c in outcome.comparisons if c.metric == metric]


# -- Confidence's AnalysisResult ------------------------------------------------------------


def to_analysis_result(
    outcome: AnalysisOutcome, *, name: str | None = None, result_time: str | None = None
) -> dict[str, Any]:
    """Confidence's ``AnalysisResult`` for ``outcome`` (see the module docstring for the
    choices made). ``name`` is the resource name, ``result_time`` the ``resultTime`` of a
    fixed-horizon result (an interim's own time wins); both are omitted when ``None``."""
    recommendations = {r.treatment: r for r in outcome.recommendations}
    treatments = [
        {"id": treatment, "recommendation": {"status": recommendations[treatment].status}}
        if treatment in recommendations
        else {"id": treatment}
        for treatment in outcome.treatments
    ]
    document = _compact([("name", name)])
    document["annotations"] = [_annotation(a) for a in outcome.annotations]
    document["results"] = [
        _metric_result(outcome, metric, result_time) for metric in _metric_ids(outcome)
    ]
    document["treatments"] = treatments
    return document


def _annotation(annotation: Annotation) -> dict[str, Any]:
    document: dict[str, Any] = {"context": [{"value": c} for c in annotation.context]}
    if annotation.level == "error":
        document["error"] = {"details": annotation.message}
    elif annotation.level in ("info", "warning"):
        document[annotation.level] = annotation.message
    else:
        raise ValueError(
            f"annotation level must be info, warning or error, got {annotation.level!r}"
        )
    return document


def _metric_result(
    outcome: AnalysisOutcome, metric: str, result_time: str | None
) -> dict[str, Any]:
    comparisons = _comparisons_of(outcome, metric)
    settings = _compact(
        [
            ("method", comparisons[0].method),
            ("adjustedAlpha", _finite(min(c.adjusted_alpha for c in comparisons))),
            ("adjustedBeta", _wrapped(comparisons[0].adjusted_beta)),
            (
                "hasVarianceReduction",
                any(c.variance_reduction_rate is not None for c in comparisons),
            ),
        ]
    )
    document: dict[str, Any] = {
        "id": metric,
        "statsSettings": settings,
        "result": [_comparison(c, result_time) for c in comparisons],
        "annotations": [_annotation(a) for a in outcome.annotations if metric in a.context],
        "metricDetails": {"hasRun": True},
    }
    if outcome.srm is not None:
        document["srmResult"] = [_srm_result(outcome.srm)]
    return document


def _comparison(comparison: MetricComparison, result_time: str | None) -> dict[str, Any]:
    validated: bool | None = None
    if comparison.non_inferiority_p_value is not None:
        validated = comparison.non_inferiority_p_value < comparison.adjusted_alpha
    status = _compact(
        [
            ("status", comparison.status),
            ("metricType", comparison.kind),
            ("message", comparison.message),
            ("decisionPowered", _flag(comparison.powered)),
            ("decisionIsSignificant", _flag(comparison.significant)),
            ("validationIsSignificant", _flag(validated)),
        ]
    )
    sample_size = _compact(
        [
            ("current", comparison.current_sample_size),
            ("required", comparison.required_sample_size),
            ("poweredEffectRel", _wrapped(comparison.powered_effect_rel)),
            ("poweredEffectAbs", _wrapped(comparison.powered_effect_abs)),
        ]
    )
    latest = comparison.latest
    return {
        "status": status,
        "groups": {"baseline": comparison.baseline, "compared": comparison.compared},
        "result": [_interval(comparison, i, result_time) for i in comparison.intervals],
        "lastResult": _interval(comparison, latest, result_time),
        "sampleSize": sample_size,
        "isSignificant": {"value": bool(comparison.significant)},
        "comparisonId": f"{comparison.compared}-vs-{comparison.baseline}",
        "groupStats": [
            {"id": comparison.baseline, "sampleSize": latest.baseline_n},
            {"id": comparison.compared, "sampleSize": latest.compared_n},
        ],
    }


def _interval(
    comparison: MetricComparison, interval: IntervalResult, result_time: str | None
) -> dict[str, Any]:
    is_latest = interval == comparison.latest
    cuped = comparison.variance_reduction_rate is not None
    unadjusted_baseline: float | None = interval.baseline_mean
    unadjusted_compared: float | None = interval.compared_mean
    if cuped:
        unadjusted_baseline = comparison.unadjusted_baseline_mean if is_latest else None
        unadjusted_compared = comparison.unadjusted_compared_mean if is_latest else None
    return _compact(
        [
            ("resultTime", interval.time if interval.time is not None else result_time),
            ("baselineEstimateAbs", _wrapped(interval.baseline_mean)),
            ("comparedEstimateAbs", _wrapped(interval.compared_mean)),
            (
                "differenceEstimateAbs",
                _difference(
                    interval.difference,
                    comparison.powered_effect_abs if is_latest else None,
                    interval.significant,
                ),
            ),
            (
                "differenceEstimateRel",
                _difference(
                    interval.relative_difference,
                    comparison.powered_effect_rel if is_latest else None,
                    interval.significant,
                ),
            ),
            (
                "varianceReductionRate",
                _wrapped(comparison.variance_reduction_rate if is_latest else None),
            ),
            ("unadjustedEstimateBaseline", _wrapped(unadjusted_baseline)),
            ("unadjustedEstimateCompared", _wrapped(unadjusted_compared)),
            ("baselineSampleSize", {"value": interval.baseline_n}),
            ("comparedSampleSize", {"value": interval.compared_n}),
        ]
    )


def _difference(estimate: Estimate, powered: float | None, significant: bool) -> dict[str, Any]:
    return _compact(
        [
            ("estimate", _wrapped(estimate.value)),
            ("lower", _wrapped(estimate.lower)),
            ("upper", _wrapped(estimate.upper)),
            ("powered", _wrapped(powered)),
            ("isSignificant", {"value": bool(significant)}),
        ]
    )


def _srm_message(srm: SrmCheck) -> str:
    verdict = "sample ratio mismatch" if srm.mismatch else "no sample ratio mismatch"
    return f"{verdict} (chi-square {srm.statistic:.4g}, p = {srm.p_value:.4g})"


def _srm_result(srm: SrmCheck) -> dict[str, Any]:
    return {
        "status": {"message": _srm_message(srm)},
        "isSignificant": bool(srm.mismatch),
        "result": [
            _compact(
                [
                    ("group", group),
                    ("observed", observed),
                    ("expected", _finite(expected)),
                    ("isSignificant", bool(srm.mismatch)),
                ]
            )
            for group, observed, expected in srm.groups
        ],
    }


# -- Alexa's metric snapshot ----------------------------------------------------------------


def to_metric_snapshot(outcome: AnalysisOutcome, treatment: str) -> dict[str, Any]:
    """Alexa's metric snapshot of ``treatment`` (``"T1"``) against the control (``"C"``).

    Raises :class:`ValueError` when ``treatment`` is not one of the outcome's treatments.
    """
    if treatment not in outcome.treatments:
        known = ", ".join(outcome.treatments) or "none"
        raise ValueError(f"unknown treatment {treatment!r} (treatments: {known})")
    comparisons = [c for c in outcome.comparisons if c.compared == treatment]
    reasons: list[str] = []
    if outcome.srm is not None and outcome.srm.mismatch:
        reasons.append(_srm_message(outcome.srm))
    for comparison in comparisons:
        latest = comparison.latest
        for group, units in (
            (comparison.baseline, latest.baseline_n),
            (comparison.compared, latest.compared_n),
        ):
            if units < MIN_RELIABLE_UNITS:
                reasons.append(
                    f"too small sample: {group} has {units} units on {comparison.metric} "
                    f"(fewer than {MIN_RELIABLE_UNITS})"
                )
    metrics: list[dict[str, Any]] = []
    for comparison in comparisons:
        latest = comparison.latest
        relative = latest.relative_difference
        metrics.append(
            {
                "name": comparison.metric,
                "treatmentId": "C",
                "values": _compact(
                    [
                        ("mean", _finite(comparison.unadjusted_baseline_mean)),
                        ("userCount", latest.baseline_n),
                    ]
                ),
            }
        )
        metrics.append(
            {
                "name": comparison.metric,
                "treatmentId": "T1",
                "values": _compact(
                    [
                        ("mean", _finite(comparison.unadjusted_compared_mean)),
                        ("percentDiff", _percent(relative.value)),
                        ("confidenceIntervalLower", _percent(relative.lower)),
                        ("confidenceIntervalUpper", _percent(relative.upper)),
                        ("pValue", _finite(latest.p_value)),
                        ("userCount", latest.compared_n),
                    ]
                ),
            }
        )
    document: dict[str, Any] = {"status": "UNRELIABLE" if reasons else "RELIABLE"}
    if reasons:
        document["statusReason"] = json.dumps(reasons)
    document["metrics"] = metrics
    return document


def _percent(fraction: float | None) -> float | None:
    number = _finite(fraction)
    return None if number is None else number * 100.0


# -- the Experiments API's computed results -------------------------------------------------


def to_computed_results(
    outcome: AnalysisOutcome, metric_id: str, *, experiment_id: str | None = None
) -> dict[str, Any]:
    """The Experiments API's ``compute-results`` answer for the 0/1 metric ``metric_id``.

    Raises :class:`ValueError` for an unknown metric, and for a metric that is not a
    conversion (a ratio metric, a mean outside [0, 1], or ``mean * n`` not a whole number).
    """
    comparisons = _comparisons_of(outcome, metric_id)
    if not comparisons:
        known = ", ".join(_metric_ids(outcome)) or "none"
        raise ValueError(f"unknown metric {metric_id!r} (metrics: {known})")
    if comparisons[0].ratio:
        raise ValueError(f"metric {metric_id!r} is a ratio metric, not a conversion (0/1) metric")
    first = comparisons[0]
    groups: list[tuple[str, int, float]] = [
        (first.baseline, first.latest.baseline_n, first.unadjusted_baseline_mean)
    ]
    groups += [(c.compared, c.latest.compared_n, c.unadjusted_compared_mean) for c in comparisons]
    variants = [
        {
            "variantId": group,
            "sampleSize": units,
            "conversions": _conversions(metric_id, group, units, mean),
            "conversionRate": float(mean),
        }
        for group, units, mean in groups
    ]
    return {"data": _compact([("experimentId", experiment_id), ("variants", variants)])}


def _conversions(metric: str, group: str, units: int, mean: float) -> int:
    total = mean * units
    count = round(total) if math.isfinite(total) else -1
    if not 0.0 <= mean <= 1.0 or abs(total - count) > 1e-6 * max(1.0, abs(total)):
        raise ValueError(
            f"metric {metric!r} is not a conversion (0/1) metric: {group} has mean {mean!r} "
            f"over {units} units"
        )
    return int(count)


# -- the terminal table ---------------------------------------------------------------------

_COLUMNS = (
    "metric",
    "treatment",
    "control mean",
    "treatment mean",
    "abs diff [CI]",
    "rel diff % [CI]",
    "SE",
    "statistic",
    "p-value",
    "adj. alpha",
    "status",
)


def _number(value: float | None) -> str:
    """A number as the table prints it: ``f"{value:.4g}"`` (``inf``/``-inf`` for open
    interval bounds), ``n/a`` when undefined."""
    return "n/a" if value is None else f"{value:.4g}"


def _with_interval(estimate: Estimate, scale: float = 1.0) -> str:
    def scaled(value: float | None) -> float | None:
        return None if value is None else value * scale

    return (
        f"{_number(scaled(estimate.value))} "
        f"[{_number(scaled(estimate.lower))}, {_number(scaled(estimate.upper))}]"
    )


def _row(comparison: MetricComparison) -> tuple[str, ...]:
    latest = comparison.latest
    return (
        comparison.metric,
        comparison.compared,
        _number(latest.baseline_mean),
        _number(latest.compared_mean),
        _with_interval(latest.difference),
        _with_interval(latest.relative_difference, 100.0),
        _number(latest.standard_error),
        _number(latest.statistic),
        _number(latest.p_value),
        _number(comparison.adjusted_alpha),
        comparison.status.removeprefix(_STATUS_PREFIX),
    )


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header, a rule of dashes and the rows, in left-aligned columns."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    rule = ["-" * width for width in widths]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, rule, *rows)
    ]


def to_table(outcome: AnalysisOutcome) -> str:
    """A plain fixed-width table: the settings, one row per metric and treatment at the
    latest analysis time (means CUPED-adjusted when variance reduction is on; differences
    treatment - control, relative ones in percent, with their intervals; the test's standard
    error and statistic, the p-value, the adjusted alpha and the status without its
    ``METRIC_RESULT_STATUS_`` prefix), then the
    SRM check (expected counts to one decimal), the annotations and the recommendations.
    Numbers are printed as ``f"{x:.4g}"``, undefined ones as ``n/a``. Ends with a newline."""
    lines = [
        f"alpha {outcome.alpha:.4g}, power {outcome.power:.4g}, {outcome.method}, "
        f"{outcome.horizon} horizon, {outcome.correction} correction, "
        f"control group {outcome.control}",
        "",
    ]
    lines += _aligned(_COLUMNS, [_row(c) for c in outcome.comparisons])
    lines.append("")
    srm = outcome.srm
    if srm is None:
        lines.append("SRM: not checked")
    else:
        counts = ", ".join(
            f"{group} {observed} (expected {expected:.1f})"
            for group, observed, expected in srm.groups
        )
        verdict = "MISMATCH" if srm.mismatch else "ok"
        lines.append(
            f"SRM: {verdict}: {counts}; chi-square {_number(srm.statistic)}, "
            f"p {_number(srm.p_value)}"
        )
    for annotation in outcome.annotations:
        context = f" ({', '.join(annotation.context)})" if annotation.context else ""
        lines.append(f"{annotation.level}: {annotation.message}{context}")
    for recommendation in outcome.recommendations:
        reasons = "; ".join(recommendation.reasons)
        status = recommendation.status.removeprefix(_RECOMMENDATION_PREFIX)
        lines.append(
            f"recommendation for {recommendation.treatment}: {status}"
            + (f" ({reasons})" if reasons else "")
        )
    return "\n".join(lines) + "\n"
