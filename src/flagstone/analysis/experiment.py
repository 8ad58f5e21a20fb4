"""An experiment analysed end to end: exposures and events in, decisions out.

:func:`analyze_experiment` is the Python face of ``python -m flagstone analyze``: it
aggregates a test's exposure and event logs into per-variant sufficient statistics
(:func:`flagstone.analysis.aggregate`), reads them as the analysis input
(:func:`flagstone.analysis.parse_input`, the JSON ``analyze-stats`` reads) and analyses
them (:func:`flagstone.analysis.analyze`). The result, :class:`ExperimentAnalysis`, keeps
all three, so a caller prints the same table, writes the same documents and draws the same
report (:func:`flagstone.analysis.report.to_html`) as the command does.

The aggregation, the engine and their libraries (duckdb, scipy) are imported when the
function runs, so this module imports with the standard library and pydantic alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flagstone.model.abtests import AbTestInstance
from flagstone.model.metrics import MetricDefinition, MetricDefinitions
from flagstone.model.snapshot import Snapshot

if TYPE_CHECKING:
    from flagstone.analysis.inputs import AnalysisInput
    from flagstone.analysis.pipeline import Aggregated, Engine, TableSource
    from flagstone.analysis.results import AnalysisOutcome
    from flagstone.model.metrics import ExposureFilter
    from flagstone.model.targeting import Targeting

    Filters = str | ExposureFilter | Targeting | Sequence[str | ExposureFilter | Targeting] | None

__all__ = ["ExperimentAnalysis", "analyze_experiment"]


@dataclass(frozen=True)
class ExperimentAnalysis:
    """One A/B test analysed from its logs.

    ``test`` is the test's full name (``workflows/abtest/instances/<id>``), ``display_name``
    its ``displayName`` when it has one, ``at`` the analysis time (aware, UTC: exposures and
    events from then on were not counted). ``aggregated`` is what the aggregation found (the
    statistics, the units per variant and over time, what it left out and why), ``input``
    its statistics as the engine read them, ``outcome`` the comparisons, checks and
    recommendations; ``metrics`` the definitions of the analysed metrics by their id in the
    statistics (``metrics/<id>``), for the report to say what each one counts.
    """

    test: str
    display_name: str | None
    at: datetime
    aggregated: Aggregated
    input: AnalysisInput
    outcome: AnalysisOutcome
    metrics: Mapping[str, MetricDefinition] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, Any]:
        """The analysis input as JSON: exactly what ``analyze-stats`` reads
        (``analyze --format stats``)."""
        stats: dict[str, Any] = self.aggregated.stats
        return stats


def analyze_experiment(
    snapshot: Snapshot | AbTestInstance | str | os.PathLike[str] | Any,
    test: str,
    *,
    exposures: TableSource | str | os.PathLike[str] | Sequence[str],
    events: TableSource | str | os.PathLike[str] | Sequence[str],
    metrics: MetricDefinitions | str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    engine: str | Engine = "duckdb",
    filters: Filters = None,
    settings: Mapping[str, Any] | None = None,
    expected_final_total: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExperimentAnalysis:
    """Aggregate ``test``'s exposures and events, and analyse every treatment against the
    control on every metric of the test.

    ``snapshot`` is a parsed :class:`~flagstone.model.Snapshot` (or the ``ParsedSnapshot``
    of :func:`flagstone.formats.parse_snapshot`, or one ``AbTestInstance``) or the path of
    a snapshot file; ``test`` the test's full name or id. ``exposures`` and ``events`` are
    files (a path, a glob, a list of them) or :class:`~flagstone.analysis.TableSource` s
    (an events table of your own maps its columns there). ``metrics`` are the metric
    definitions (a :class:`~flagstone.model.metrics.MetricDefinitions` or the path of a
    metrics file; default: the snapshot's own ``metrics``). ``at`` is the analysis time
    (aware; default now). ``engine``, ``filters``, ``settings`` (the analysis settings:
    ``alpha``, ``power``, ``method``, ``correction``, …), ``expected_final_total`` (a
    sequential test's planned units per comparison) and ``progress`` (called with a short
    line before each step) go to :func:`~flagstone.analysis.aggregate`.

    Raises :class:`~flagstone.errors.PipelineError` (one line) for an unknown test,
    metric or column, no exposures, an empty window, timestamps without a time zone or
    unreadable files, and :class:`~flagstone.errors.ConfigError` for a snapshot or metrics
    file that is invalid. Malformed exposure or event records are counted in
    ``result.aggregated.malformed``, not raised. Needs the ``analysis`` extra.
    """
    from flagstone.analysis.engine import analyze
    from flagstone.analysis.inputs import parse_input
    from flagstone.analysis.pipeline import aggregate
    from flagstone.errors import PipelineError

    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise PipelineError(f"the analysis time {at.isoformat()} has no time zone")
    moment = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    model = _snapshot(snapshot)
    definitions = _metrics(metrics)
    aggregated = aggregate(
        model,
        test,
        exposures,
        events,
        metrics=definitions,
        at=moment,
        engine=engine,
        filters=filters,
        progress=progress,
        settings=settings,
        expected_final_total=expected_final_total,
    )
    spec = parse_input(aggregated.stats, source=f"the statistics of {test}")
    outcome = analyze(spec)
    instance = _instance(model, test)
    known = definitions if definitions is not None else _definitions_of(model)
    used = {metric.id: known.get(metric.id) for metric in spec.metrics}
    return ExperimentAnalysis(
        test=instance.name,
        display_name=instance.display_name,
        at=moment,
        aggregated=aggregated,
        input=spec,
        outcome=outcome,
        metrics={key: value for key, value in used.items() if value is not None},
    )


def _snapshot(value: Any) -> Snapshot | AbTestInstance:
    """A parsed snapshot or test from what the caller gave: a model, a ``ParsedSnapshot``,
    or a snapshot file's path (parsed leniently: only the test is read)."""
    from flagstone.errors import PipelineError

    if isinstance(value, str | os.PathLike):
        from flagstone.formats.reading import parse_snapshot

        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise PipelineError(f"{path}: cannot read: {error.strerror or error}") from None
        return parse_snapshot(data, strict=False, source=str(path)).model
    model = getattr(value, "model", value)  # a ParsedSnapshot
    if not isinstance(model, Snapshot | AbTestInstance):
        raise PipelineError(
            f"expected a snapshot (parsed, or a file's path) or an A/B test, "
            f"not {type(value).__name__}"
        )
    return model


def _metrics(value: MetricDefinitions | str | os.PathLike[str] | None) -> MetricDefinitions | None:
    if value is None or isinstance(value, MetricDefinitions):
        return value
    from flagstone.errors import PipelineError
    from flagstone.formats.metrics import parse_metrics

    path = Path(value)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PipelineError(f"{path}: cannot read: {error.strerror or error}") from None
    return parse_metrics(data, source=str(path))


def _instance(model: Snapshot | AbTestInstance, test: str) -> AbTestInstance:
    """The test (the aggregation found it, so it is there)."""
    if isinstance(model, AbTestInstance):
        return model
    return next(i for i in model.abtests if test in (i.name, i.instance_id))


def _definitions_of(model: Snapshot | AbTestInstance) -> MetricDefinitions:
    return model.metric_definitions if isinstance(model, Snapshot) else MetricDefinitions()
