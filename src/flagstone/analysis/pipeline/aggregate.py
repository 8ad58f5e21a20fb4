"""The entry points: :func:`aggregate` and :func:`aggregation_sql`.

``aggregate`` resolves the test and its metrics (:mod:`.plan`), has the engine make the
inputs readable (:mod:`.engines`), runs the two statements (:mod:`.sql`) and turns their
rows into an :class:`~flagstone.analysis.pipeline.result.Aggregated` (:mod:`.result`),
whose ``stats`` is checked with :func:`flagstone.analysis.parse_input` before it is
returned. ``aggregation_sql`` gives the same statements as text for a warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from flagstone.analysis.inputs import parse_input
from flagstone.analysis.pipeline.engines import Engine, engine_of, table_relations
from flagstone.analysis.pipeline.filters import attributes as filter_attributes
from flagstone.analysis.pipeline.plan import Plan, make_plan
from flagstone.analysis.pipeline.result import Aggregated, Counts, build
from flagstone.analysis.pipeline.sources import TableSource, source_of
from flagstone.analysis.pipeline.sql import MISSING, queries, transpile
from flagstone.errors import ConfigError, PipelineError
from flagstone.model.abtests import AbTestInstance
from flagstone.model.metrics import ExposureFilter, MetricDefinitions
from flagstone.model.snapshot import Snapshot
from flagstone.model.targeting import Targeting

__all__ = ["MISSING", "aggregate", "aggregation_sql"]

Source = TableSource | str | os.PathLike[str] | Sequence[str]
Filters = str | ExposureFilter | Targeting | Sequence[str | ExposureFilter | Targeting] | None


def _snapshot(value: Any) -> Snapshot | AbTestInstance:
    model = getattr(value, "model", value)  # a ParsedSnapshot
    if not isinstance(model, Snapshot | AbTestInstance):
        raise PipelineError(
            f"expected a parsed snapshot or an A/B test, not {type(value).__name__}"
        )
    return model


def aggregate(
    snapshot_or_test: Any,
    test: str | None,
    exposures: Source,
    events: Source,
    *,
    metrics: MetricDefinitions | None = None,
    at: datetime | None = None,
    engine: str | Engine = "duckdb",
    breakdown: str | None = None,
    filters: Filters = None,
    progress: Callable[[str], None] | None = None,
    settings: Mapping[str, Any] | None = None,
    expected_final_total: int | None = None,
) -> Aggregated:
    """Turn an A/B test's exposures and metric events into per-variant statistics.

    ``snapshot_or_test`` is a :class:`~flagstone.model.Snapshot` (or the ``ParsedSnapshot``
    of :func:`flagstone.formats.parse_snapshot`, or one ``AbTestInstance``), ``test`` the
    test's name or id. ``exposures`` and ``events`` are files (a glob, a path, a list of
    them) or :class:`TableSource` s. ``metrics`` gives the metric definitions (else the
    snapshot's ``metrics``); ``at`` the analysis time (aware; default now): exposures and
    events from then on are ignored, and metrics without a window end count up to it.
    ``engine`` is ``"duckdb"`` or an engine object (:class:`DuckDBEngine`,
    :class:`DbApiEngine`). ``filters`` keeps only exposures whose recorded context matches
    (a filter of the test's block by display name, an ``ExposureFilter``, a ``Targeting``, or
    a list of them, all to hold); ``breakdown`` names a context attribute and adds one
    aggregation per value of it (``MISSING`` for exposures without it; values for which some
    group has no units are left out), all in one pass, each unit assigned by its earliest
    exposure with that value and the looks counted from the overall first bucket.
    ``progress`` is called with a short line before each step. ``settings`` go into
    ``stats`` as they are (``alpha``, ``method``, ``correction``,
    …); ``expected_final_total`` is the sequential horizon's (default: the largest
    comparison's units so far, which treats the latest look as the last).

    Raises :class:`~flagstone.errors.PipelineError` (one line) for an unknown test, metric,
    filter or column, no exposures, an empty window, timestamps without a time zone,
    unreadable files; malformed records are counted in ``malformed``, not raised.
    """
    say = progress or (lambda _message: None)
    model = _snapshot(snapshot_or_test)
    plan = make_plan(model, test, metrics=metrics, at=at, filters=filters)
    if len(plan.groups) < 2:
        raise PipelineError(f"A/B test {plan.test!r} has one treatment: nothing to compare")
    runner = engine_of(engine)
    try:
        return _run(plan, runner, exposures, events, breakdown, say, settings, expected_final_total)
    finally:
        close = getattr(runner, "close", None)
        if isinstance(engine, str) and close is not None:
            close()  # an engine made here, with its spill directory


def _run(
    plan: Plan,
    runner: Engine,
    exposures: Source,
    events: Source,
    breakdown: str | None,
    say: Callable[[str], None],
    settings: Mapping[str, Any] | None,
    expected_final_total: int | None,
) -> Aggregated:
    attributes: list[str] = []
    for targeting in plan.filters:
        attributes += [a for a in filter_attributes(targeting) if a not in attributes]
    if breakdown is not None and breakdown not in attributes:
        attributes.append(breakdown)
    say(f"reading exposures and events of {plan.test}")
    prepared = runner.prepare(plan, source_of(exposures), source_of(events), attributes)

    def results(dimension: str | None) -> dict[str, Aggregated | PipelineError]:
        """Per value of the dimension (``''`` without one), the aggregation or why not."""
        staged = runner.stage_units(plan, prepared.relations, dimension)
        statements = queries(plan, prepared.relations, dimension, units=staged, dedup=runner.dedup)
        counts = {str(row["dim"]): Counts.of(row) for row in runner.run(statements.counts)}
        say(f"aggregating {sum(c.assigned for c in counts.values())} units of {plan.test}")
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in runner.run(statements.aggregate):
            rows.setdefault(str(row.pop("dim")), []).append(row)
        found: dict[str, Aggregated | PipelineError] = {}
        for key in counts or {"": Counts.of(None)}:
            try:
                found[key] = _checked(
                    build(
                        plan,
                        counts.get(key, Counts.of(None)),
                        rows.get(key, []),
                        prepared.malformed,
                        duplicate_events=prepared.duplicate_events,
                        settings=settings,
                        expected_final_total=expected_final_total,
                    )
                )
            except PipelineError as error:
                found[key] = error
        return found

    overall = results(None)[""]
    if isinstance(overall, PipelineError):
        raise overall
    if breakdown is None:
        return overall
    say(f"breakdown by {breakdown}")
    parts = {
        key: value for key, value in results(breakdown).items() if isinstance(value, Aggregated)
    }
    return replace(overall, breakdown=parts)


def _checked(result: Aggregated) -> Aggregated:
    """``result`` once its statistics are known to be what ``analyze-stats`` reads."""
    try:
        parse_input(result.stats)
    except ConfigError as error:
        raise PipelineError(f"the statistics cannot be analysed: {error.problems[0]}") from None
    return result


def aggregation_sql(
    snapshot_or_test: Any,
    test: str | None,
    exposures: TableSource | str = "exposures",
    events: TableSource | str = "events",
    *,
    dialect: str = "postgres",
    metrics: MetricDefinitions | None = None,
    at: datetime | None = None,
    filters: Filters = None,
) -> str:
    """The aggregation's two statements (``counts``, then ``aggregate``) as SQL text in
    ``dialect`` (``postgres``, ``bigquery``, ``snowflake``, ``spark``, ``trino``,
    ``duckdb``), over two tables: ``exposures`` and ``events`` are table names or
    :class:`TableSource` s with a ``table`` and a column mapping (file sources become the
    tables ``exposures`` and ``events``). The analysis time is written into the text."""
    model = _snapshot(snapshot_or_test)
    plan = make_plan(model, test, metrics=metrics, at=at, filters=filters)

    def table(source: TableSource | str, name: str) -> TableSource:
        if isinstance(source, str):
            return TableSource(table=source)
        if source.table is None:
            return TableSource(table=name, columns=source.columns)
        return source

    attributes: list[str] = []
    for targeting in plan.filters:
        attributes += [a for a in filter_attributes(targeting) if a not in attributes]
    relations = table_relations(
        table(exposures, "exposures"),
        table(events, "events"),
        {name: f"ctx_{index}" for index, name in enumerate(attributes)},
    )
    statements = queries(plan, relations)
    header = (
        f"-- flagstone aggregation of {plan.test} at {plan.at.isoformat()} ({dialect})\n"
        "-- 1. counts: exposures, overrides, unknown variants, duplicates, units with two "
        "variants, units assigned\n"
    )
    second = (
        "-- 2. aggregate: per variant and bucket k (days or hours since the first assignment), "
        "the units and each metric's sums; cumulate over k\n"
    )
    return (
        header
        + transpile(statements.counts, dialect)
        + ";\n\n"
        + second
        + transpile(statements.aggregate, dialect)
        + ";\n"
    )
