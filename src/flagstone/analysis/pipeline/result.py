"""From the aggregation's rows to :class:`Aggregated`: the statistics ``analyze-stats`` reads,
the units per variant over time, and what was left out.

The rows are per variant and bucket (see :mod:`flagstone.analysis.pipeline.sql`); the sums
cumulated over the buckets are the statistics at the end of each bucket (a sequential
test's looks), the last look ending at the analysis time. A look is kept as an interim
from the first one at which every group of every metric can be analysed (a unit in each
group, two where a variance is needed, a non-zero ratio denominator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from flagstone.analysis.pipeline.plan import MetricPlan, Plan
from flagstone.analysis.pipeline.sources import Malformed
from flagstone.errors import PipelineError

__all__ = ["Aggregated", "Counts", "build", "rfc3339"]


@dataclass(frozen=True)
class Aggregated:
    """What the aggregation gives the analysis and the report.

    ``stats`` is exactly the JSON ``python -m flagstone analyze-stats`` reads
    (:func:`flagstone.analysis.parse_input`), with interims for a sequential test and
    ``expected_weights`` from the test's treatment weights; ``units`` the units assigned
    per variant (after the exclusions); ``timeline`` one ``(look end, units per variant
    exposed by then)`` per day or hour; the counts of what was left out; ``breakdown`` the
    same per value of a context attribute, when asked.
    """

    stats: dict[str, Any]
    units: Mapping[str, int]
    timeline: tuple[tuple[str, Mapping[str, int]], ...]
    excluded_multi_variant: int
    dropped_overrides: int
    duplicates: int
    malformed: Malformed
    breakdown: Mapping[str, Aggregated] | None = None
    exposures: int = 0
    """The test's exposure records read (before any exclusion)."""
    duplicate_events: int = 0
    """Events dropped because an event with the same ``event_id`` was read before."""
    unknown_variants: int = 0
    """The test's exposures whose variant is not one of its treatments (left out)."""
    analysis_time: str = ""
    """The analysis time (RFC 3339, UTC): events and exposures before it count."""


@dataclass(frozen=True)
class Counts:
    """The ``counts`` statement's row."""

    exposures: int
    overrides: int
    unknown_variants: int
    duplicates: int
    multi_variant: int
    assigned: int
    first_exposure: datetime | None
    origin: float | None = None
    """The start of the first bucket, seconds since 1970 (UTC)."""

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> Counts:
        """The counts of a ``counts`` row (``None``: no exposure of the test at all)."""
        if row is None:
            return cls(0, 0, 0, 0, 0, 0, None)
        first = row.get("first_exposure")
        if isinstance(first, datetime):
            # a driver that gives the session's (UTC) time without its zone: UTC
            first = (
                first.astimezone(timezone.utc)
                if first.tzinfo
                else first.replace(tzinfo=timezone.utc)
            )
        return cls(
            exposures=_int(row["exposures"]),
            overrides=_int(row["overrides"]),
            unknown_variants=_int(row["unknown_variants"]),
            duplicates=_int(row["duplicates"]),
            multi_variant=_int(row["multi_variant"]),
            assigned=_int(row["assigned"]),
            first_exposure=first if isinstance(first, datetime) else None,
            origin=None if row.get("origin") is None else _number(row["origin"]),
        )


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def rfc3339(moment: datetime) -> str:
    """UTC, milliseconds, ``Z`` (as exposure records write times)."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def look_ends(plan: Plan, origin_seconds: float) -> list[datetime]:
    """The end of each bucket from ``origin_seconds`` (the start of the one holding the
    earliest assignment), the last being the analysis time."""
    size = plan.bucket_seconds
    origin = datetime.fromtimestamp(origin_seconds, tz=timezone.utc)
    count = max(1, math.ceil((plan.at - origin).total_seconds() / size))
    ends = [origin + timedelta(seconds=size * (k + 1)) for k in range(count)]
    ends[-1] = plan.at
    return ends


def _check_windows(plan: Plan, first_exposure: datetime) -> None:
    for metric in plan.metrics:
        start = metric.definition.window.start
        if first_exposure + timedelta(seconds=start) >= plan.at:
            raise PipelineError(
                f"metric {metric.id!r}: its window opens {start} s after a unit's first "
                f"exposure, but the earliest exposure ({rfc3339(first_exposure)}) is too close "
                f"to the analysis time {rfc3339(plan.at)}: the window is empty for every unit"
            )


def build(
    plan: Plan,
    counts: Counts,
    rows: Sequence[Mapping[str, Any]],
    malformed: Malformed,
    *,
    duplicate_events: int = 0,
    settings: Mapping[str, Any] | None = None,
    expected_final_total: int | None = None,
) -> Aggregated:
    """The :class:`Aggregated` of the statements' results (see the module docstring)."""
    if counts.first_exposure is None or counts.assigned == 0:
        raise PipelineError(
            f"no exposures of A/B test {plan.test!r} before {rfc3339(plan.at)}"
            + (" (after the exposure filter)" if plan.filters else "")
        )
    _check_windows(plan, counts.first_exposure)
    size = plan.bucket_seconds
    origin = counts.origin
    if origin is None:
        origin = math.floor(counts.first_exposure.timestamp() / size) * size
    ends = look_ends(plan, origin)
    looks = len(ends)
    names = ["units"] + [str(key) for key in rows[0] if str(key).startswith("m")] if rows else []
    table: dict[str, dict[str, list[float]]] = {
        group: {name: [0.0] * looks for name in names} for group in plan.groups
    }
    for row in rows:
        group = row["variant"]
        k = int(row["k"])
        if group not in table or not 0 <= k < looks:
            raise PipelineError(f"the aggregation returned an unexpected row: {dict(row)}")
        for name in names:
            table[group][name][k] += _number(row[name])
    for group_sums in table.values():
        for values in group_sums.values():
            total = 0.0
            for k, value in enumerate(values):
                total += value
                values[k] = total
    units = {group: int(table[group]["units"][-1]) if names else 0 for group in plan.groups}
    empty = [group for group, n in units.items() if n == 0]
    if empty:
        raise PipelineError(
            f"no units assigned to {', '.join(map(repr, empty))} of {plan.test!r}: "
            "there is nothing to compare"
        )
    timeline = tuple(
        (
            rfc3339(end),
            {group: int(table[group]["units"][k]) for group in plan.groups},
        )
        for k, end in enumerate(ends)
    )
    stats = _stats(plan, table, ends, units, settings or {}, expected_final_total)
    return Aggregated(
        stats=stats,
        units=units,
        timeline=timeline,
        excluded_multi_variant=counts.multi_variant,
        dropped_overrides=counts.overrides,
        duplicates=counts.duplicates,
        malformed=malformed,
        exposures=counts.exposures,
        duplicate_events=duplicate_events,
        unknown_variants=counts.unknown_variants,
        analysis_time=rfc3339(plan.at),
    )


def _group(
    metric: MetricPlan, i: int, sums: Mapping[str, list[float]], k: int
) -> dict[str, Any] | None:
    """One group's statistics at look ``k``; ``None`` when it cannot be analysed yet."""
    n = round(sums[f"m{i}_n"][k])
    parts = metric.parts
    binary = len(parts) == 1 and parts[0].aggregation == "CONVERSION"
    group: dict[str, Any] = {"n": n, "sum": sums[f"m{i}_y"][k]}
    if not binary:
        group["sum_sq"] = sums[f"m{i}_yy"][k]
    if f"m{i}_x" in sums:
        group.update(
            x_sum=sums[f"m{i}_x"][k], x_sum_sq=sums[f"m{i}_xx"][k], xy_sum=sums[f"m{i}_xy"][k]
        )
    if f"m{i}_d" in sums:
        group.update(
            d_sum=sums[f"m{i}_d"][k], d_sum_sq=sums[f"m{i}_dd"][k], yd_sum=sums[f"m{i}_yd"][k]
        )
        if group["d_sum"] == 0:
            return None
    if binary:
        group["sum"] = round(group["sum"])
    needs_two = not binary or "x_sum" in group
    if n < (2 if needs_two else 1):
        return None
    return group


def _stats(
    plan: Plan,
    table: Mapping[str, Mapping[str, list[float]]],
    ends: list[datetime],
    units: Mapping[str, int],
    settings: Mapping[str, Any],
    expected_final_total: int | None,
) -> dict[str, Any]:
    looks = len(ends)
    ready = []
    for k in range(looks):
        if all(
            _group(metric, i, table[group], k) is not None
            for i, metric in enumerate(plan.metrics)
            for group in plan.groups
        ):
            ready.append(k)
    last = looks - 1
    if last not in ready:
        for i, metric in enumerate(plan.metrics):
            for group in plan.groups:
                if _group(metric, i, table[group], last) is None:
                    raise PipelineError(
                        f"metric {metric.id!r} cannot be analysed: group {group!r} has too few "
                        "units with a value (or a ratio denominator of 0)"
                    )
    metrics = []
    for i, metric in enumerate(plan.metrics):
        entry: dict[str, Any] = {
            "id": metric.id,
            "kind": metric.kind,
            "direction": metric.direction,
        }
        if metric.minimum_detectable_effect is not None:
            entry["minimum_detectable_effect"] = metric.minimum_detectable_effect
        if metric.non_inferiority_margin is not None:
            entry["non_inferiority_margin"] = metric.non_inferiority_margin
        final = {group: _group(metric, i, table[group], last) for group in plan.groups}
        entry["groups"] = final
        if plan.sequential:
            entry["interims"] = [
                {
                    "time": rfc3339(ends[k]),
                    "groups": {group: _group(metric, i, table[group], k) for group in plan.groups},
                }
                for k in ready
            ]
        metrics.append(entry)
    stats: dict[str, Any] = {key: value for key, value in settings.items() if key != "metrics"}
    stats["control"] = plan.control
    stats["expected_weights"] = dict(plan.weights)
    if plan.sequential:
        observed = max(
            units[plan.control] + units[group] for group in plan.groups if group != plan.control
        )
        stats["horizon"] = {
            "kind": "SEQUENTIAL",
            "expected_final_total": expected_final_total or observed,
        }
    else:
        stats.setdefault("horizon", {"kind": "FIXED"})
    stats["metrics"] = metrics
    return stats
