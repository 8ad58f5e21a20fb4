"""The aggregation's Spark SQL, run once on Spark in local mode (when pyspark is installed;
skipped otherwise): the statements transpiled by sqlglot to ``spark`` over two temporary
views give the plain-Python reference's numbers, as DuckDB and PostgreSQL do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("duckdb")

from flagstone.analysis import TableSource, aggregate
from flagstone.analysis.pipeline.engines import Prepared, table_relations
from flagstone.analysis.pipeline.plan import Plan
from flagstone.analysis.pipeline.sql import transpile
from flagstone.formats import parse_snapshot
from tests.pipelinedata import (
    AT,
    METRICS,
    TEST,
    edge_case_data,
    parse,
    reference,
    snapshot_document,
)
from tests.test_pipeline_reference import check


class SparkEngine:
    """The statements transpiled to Spark SQL, run by a local SparkSession."""

    dialect = "spark"
    dedup = "resolve_id"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.statements: list[str] = []

    def prepare(
        self, plan: Plan, exposures: TableSource, events: TableSource, attributes: Sequence[str]
    ) -> Prepared:
        ctx = {name: f"ctx_{index}" for index, name in enumerate(attributes)}
        return Prepared(table_relations(exposures, events, ctx))

    def stage_units(self, plan: Plan, relations: Any, dimension: str | None) -> str | None:
        return None

    def run(self, sql: str) -> list[dict[str, Any]]:
        text = transpile(sql, "spark")
        self.statements.append(text)
        return [row.asDict() for row in self.spark.sql(text).collect()]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", "python3")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("flagstone-pipeline")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


@pytest.mark.parametrize("sequential", [False, True], ids=["fixed", "sequential"])
def test_spark_agrees_with_the_reference(spark: Any, sequential: bool) -> None:
    data = edge_case_data(seed=20261207)
    exposures = [
        (
            r["resolve_id"],
            parse(r["apply_time"]),
            r["flag"],
            r["variant"],
            r["targeting_key"],
            r["abtest"],
            r["override"],
        )
        for r in data.exposures
    ]
    events = [(e["event"], e["unit"], e["value"], parse(e["time"])) for e in data.events]
    spark.createDataFrame(
        exposures,
        "resolve_id string, apply_time timestamp, flag string, variant string, "
        "targeting_key string, abtest string, override boolean",
    ).createOrReplaceTempView("exposure_log")
    spark.createDataFrame(
        events, "event string, unit string, value double, time timestamp"
    ).createOrReplaceTempView("event_log")
    engine = SparkEngine(spark)
    snapshot = parse_snapshot(snapshot_document(sequential=sequential))
    result = aggregate(
        snapshot,
        TEST,
        TableSource(table="exposure_log"),
        TableSource(table="event_log"),
        at=AT,
        engine=engine,
    )
    check(result, reference(data, METRICS, AT), sequential)
    assert any("UNIX_TIMESTAMP" in s for s in engine.statements)
    summary = {m["id"]: m["groups"] for m in result.stats["metrics"]}
    print("spark:", datetime.now().isoformat(), result.units, summary["metrics/conversion"])
