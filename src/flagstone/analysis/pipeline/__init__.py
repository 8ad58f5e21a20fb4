"""From exposure logs and metric events to the statistics of an experiment.

:func:`aggregate` reads an A/B test's exposures (flagstone's records, in JSONL, gzip or
Parquet files, or a warehouse table) and its metric events (flagstone's event records, or
any table of events with its columns mapped), assigns each unit to the variant of its
first exposure, joins the events inside each metric's window, and returns per variant the
sufficient statistics ``python -m flagstone analyze-stats`` reads, with what it left out.
:func:`aggregation_sql` writes the same aggregation as SQL for PostgreSQL, BigQuery,
Snowflake, Spark SQL or Trino. DuckDB (in process) is the default engine; a DB-API
connection runs the SQL where the data lives. Modules: ``plan`` (the test and metrics
resolved), ``sources`` (files and tables, malformed records), ``filters`` (exposure
filters as SQL), ``sql`` (the one definition of the query, transpiled with sqlglot),
``engines`` (DuckDB, DB-API), ``result`` (rows → :class:`Aggregated`), ``aggregate``.
"""

from flagstone.analysis.pipeline.aggregate import MISSING, aggregate, aggregation_sql
from flagstone.analysis.pipeline.engines import DbApiEngine, DuckDBEngine, Engine
from flagstone.analysis.pipeline.result import Aggregated
from flagstone.analysis.pipeline.sources import Malformed, MalformedRecord, TableSource
from flagstone.analysis.pipeline.sql import DIALECTS

__all__ = [
    "DIALECTS",
    "MISSING",
    "Aggregated",
    "DbApiEngine",
    "DuckDBEngine",
    "Engine",
    "Malformed",
    "MalformedRecord",
    "TableSource",
    "aggregate",
    "aggregation_sql",
]
