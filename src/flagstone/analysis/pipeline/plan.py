"""What an aggregation is asked to compute, resolved once from the snapshot: :class:`Plan`.

A plan names the test (its full name, its flag, its treatments with their short names and
weights, the control), the metrics with their definitions and roles, the look bucket
(``DAYS`` or ``HOURS``) and horizon, the exposure filter and the analysis time. Everything
the SQL and the result need, and nothing read from data yet. Unknown tests and metrics are
refused here with a one-line :class:`~flagstone.errors.PipelineError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flagstone.errors import PipelineError
from flagstone.model.abtests import AbTestInstance
from flagstone.model.metrics import (
    AbTestMetric,
    ExposureFilter,
    MetricDefinition,
    MetricDefinitions,
    MetricPart,
)
from flagstone.model.snapshot import Snapshot
from flagstone.model.targeting import Targeting
from flagstone.model.validation import metric_definition_problems, short_variant_name

__all__ = ["BUCKET_SECONDS", "MetricPlan", "Plan", "aware_utc", "make_plan"]

BUCKET_SECONDS = {"DAYS": 86_400, "HOURS": 3_600}


@dataclass(frozen=True)
class MetricPlan:
    """One metric of the test: its definition, role and direction."""

    definition: MetricDefinition
    kind: str
    direction: str
    minimum_detectable_effect: float | None
    non_inferiority_margin: float | None

    @property
    def id(self) -> str:
        """The metric's full name (``metrics/conversion-rate``), its id in the statistics."""
        return self.definition.name

    @property
    def parts(self) -> tuple[MetricPart, ...]:
        return self.definition.parts

    @property
    def covariate(self) -> bool:
        return self.definition.covariate_window is not None


@dataclass(frozen=True)
class Plan:
    """A resolved aggregation (see the module docstring). ``variants`` maps every spelling
    of a treatment's variant an exposure may carry (full and short name) to the short name,
    the group id in the statistics; ``weights`` are fractions summing to 1."""

    test: str
    flag: str | None
    variants: Mapping[str, str]
    groups: tuple[str, ...]
    weights: Mapping[str, float]
    control: str
    metrics: tuple[MetricPlan, ...]
    bucket: str
    sequential: bool
    filters: tuple[Targeting, ...]
    at: datetime

    @property
    def bucket_seconds(self) -> int:
        return BUCKET_SECONDS[self.bucket]

    @property
    def events(self) -> tuple[str, ...]:
        """Every event name a metric reads, sorted."""
        return tuple(sorted({part.event for m in self.metrics for part in m.parts}))

    @property
    def needs_values(self) -> bool:
        """Whether some metric reads event values (SUM or AVERAGE)."""
        return any(part.aggregation in ("SUM", "AVERAGE") for m in self.metrics for part in m.parts)


def aware_utc(moment: datetime, what: str) -> datetime:
    """``moment`` in UTC; a naive datetime is a :class:`PipelineError`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PipelineError(f"{what} {moment.isoformat()} has no time zone: give an aware time")
    return moment.astimezone(timezone.utc)


def find_test(snapshot: Snapshot, test: str) -> AbTestInstance:
    """The test named ``test``: its full name or its id."""
    for instance in snapshot.abtests:
        if test in (instance.name, instance.instance_id):
            return instance
    known = ", ".join(repr(i.name) for i in snapshot.abtests) or "none"
    raise PipelineError(f"unknown A/B test {test!r} (the snapshot has {known})")


def make_plan(
    snapshot: Snapshot | AbTestInstance,
    test: str | None,
    *,
    metrics: MetricDefinitions | None = None,
    at: datetime | None = None,
    filters: str | ExposureFilter | Targeting | Sequence[str | ExposureFilter | Targeting] | None,
    metric_names: Sequence[str] | None = None,
    sequential: bool | None = None,
) -> Plan:
    """Resolve the test, its metrics (from ``metrics``, else the snapshot's ``metrics``) and
    the filters. ``metric_names`` restricts or replaces the metrics the test's block names
    (each becomes a SUCCESS metric if the block does not name it)."""
    if isinstance(snapshot, AbTestInstance):
        instance = snapshot
        if test is not None and test not in (instance.name, instance.instance_id):
            raise PipelineError(f"unknown A/B test {test!r} (this one is {instance.name!r})")
        definitions = metrics or MetricDefinitions()
    else:
        if test is None:
            raise PipelineError("name the A/B test to aggregate")
        instance = find_test(snapshot, test)
        definitions = metrics if metrics is not None else snapshot.metric_definitions
    problems = metric_definition_problems(definitions.metrics)
    if problems:
        raise PipelineError(f"invalid metric definitions: {problems[0]}")
    block = instance.metrics
    wanted: list[AbTestMetric] = list(block.metrics) if block is not None else []
    if metric_names is not None:
        by_name = {m.metric: m for m in wanted}
        wanted = [by_name.get(name) or AbTestMetric(metric=name) for name in metric_names]
    if not wanted:
        raise PipelineError(
            f"A/B test {instance.name!r} names no metrics (its metrics block lists none)"
        )
    planned: list[MetricPlan] = []
    for metric in wanted:
        definition = definitions.get(metric.metric)
        if definition is None:
            known = ", ".join(repr(d.name) for d in definitions.metrics) or "none"
            raise PipelineError(f"unknown metric {metric.metric!r} (the definitions have {known})")
        role = metric.metric_role
        planned.append(
            MetricPlan(
                definition=definition,
                kind=role.metric_kind,
                direction=metric.preferred_direction,
                minimum_detectable_effect=role.minimum_detectable_effect,
                non_inferiority_margin=role.non_inferiority_margin,
            )
        )
    treatments = instance.abtest.treatments
    if not treatments:
        raise PipelineError(f"A/B test {instance.name!r} has no treatments")
    variants: dict[str, str] = {}
    groups: list[str] = []
    weights: dict[str, float] = {}
    for treatment in treatments:
        short = short_variant_name(treatment.variant)
        groups.append(short)
        variants[treatment.variant] = short
        variants[short] = short
        weights[short] = treatment.weight / 10_000
    control = "control" if "control" in groups else groups[0]
    if at is None:
        at = datetime.now(timezone.utc)
    stats: Mapping[str, Any] = instance.stats or {}
    if sequential is None:
        sequential = stats.get("testHorizonStrategy") == "SEQUENTIAL"
    return Plan(
        test=instance.name,
        flag=instance.flag,
        variants=variants,
        groups=tuple(groups),
        weights=weights,
        control=control,
        metrics=tuple(planned),
        bucket=block.bucket if block is not None else "DAYS",
        sequential=sequential,
        filters=_filters(instance, filters),
        at=aware_utc(at, "the analysis time"),
    )


def _filters(
    instance: AbTestInstance,
    filters: str | ExposureFilter | Targeting | Sequence[str | ExposureFilter | Targeting] | None,
) -> tuple[Targeting, ...]:
    if filters is None:
        return ()
    items = [filters] if isinstance(filters, str | ExposureFilter | Targeting) else filters
    found: list[Targeting] = []
    block = instance.metrics
    for item in items:
        if isinstance(item, str):
            named = [f for f in (block.filters if block else []) if f.display_name == item]
            if not named:
                known = ", ".join(repr(f.display_name) for f in (block.filters if block else []))
                raise PipelineError(
                    f"unknown exposure filter {item!r} of {instance.name!r} "
                    f"(it has {known or 'none'})"
                )
            item = named[0]
        targeting = item.filter if isinstance(item, ExposureFilter) else item
        if targeting is not None:
            found.append(targeting)
    return tuple(found)
