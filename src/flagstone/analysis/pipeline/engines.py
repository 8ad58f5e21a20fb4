"""The engines that run the aggregation: DuckDB in process, or any DB-API connection.

:class:`DuckDBEngine` (the default) reads the files straight from disk — JSONL (plain or
gzip), CSV (plain or gzip) and Parquet — into a staged relation per input, counting what
cannot be read, and runs the statements in DuckDB's own dialect. JSONL and CSV are parsed
once into a temporary table holding the test's exposures and the metrics' events; Parquet
is read where it lies, through a view. Tables already in the DuckDB connection can be named
instead of files.

:class:`DbApiEngine` runs the statements transpiled to its dialect (``postgres`` by default)
over the tables of a database reached through a DB-API 2.0 connection (psycopg, pg8000, a
Snowflake or Trino driver, …), the session's time zone set to UTC for PostgreSQL.

Records in files: a line that is not a JSON object (or has none of the fields), an exposure
of the test without a unit, with a time that is not a timestamp or an ``override`` that is
not a boolean, an event a metric reads without a unit or a time, or with a value that is not
a number, is *malformed*: counted, the first few reported with file, line and reason, and
left out. A time without a time zone is a :class:`~flagstone.errors.PipelineError`, as is a
mapped column that the files do not have.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from flagstone.analysis.pipeline.filters import sql_string
from flagstone.analysis.pipeline.plan import Plan
from flagstone.analysis.pipeline.sources import (
    EVENT_COLUMNS,
    EXPOSURE_COLUMNS,
    Malformed,
    MalformedRecord,
    TableSource,
)
from flagstone.analysis.pipeline.sql import Relations, transpile, units_query
from flagstone.errors import PipelineError

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "EXAMPLES",
    "DbApiEngine",
    "DuckDBEngine",
    "Engine",
    "Prepared",
    "table_relations",
]

EXAMPLES = 5
"""How many malformed records of each input are shown."""

_ZONE = "([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_ZONE_RE = re.compile(_ZONE)
_BOOLEANS = ("true", "false")
_NUMBERS = frozenset(
    (
        "DOUBLE",
        "FLOAT",
        "REAL",
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "HUGEINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
        "UHUGEINT",
    )
)
DEFAULT_MEMORY_LIMIT = "768MB"
"""DuckDB's memory limit unless one is given: it spills to a private temporary directory
beyond it, which keeps the peak RSS of the 10-million-exposure bench under 1 GB. Raise it
(``DuckDBEngine(memory_limit="8GB")``) for speed on a larger machine."""


@dataclass(frozen=True)
class Prepared:
    """The inputs as relations the statements read, and what could not be read."""

    relations: Relations
    malformed: Malformed = field(default_factory=Malformed)
    duplicate_events: int = 0


class Engine(Protocol):
    """Runs the aggregation: makes the two inputs readable, then runs statements written in
    DuckDB's dialect (transpiled to its own)."""

    dialect: str

    def prepare(
        self, plan: Plan, exposures: TableSource, events: TableSource, attributes: Sequence[str]
    ) -> Prepared:
        """The inputs as :class:`Relations`; ``attributes`` are the context attributes the
        exposure filter reads."""
        ...

    def run(self, sql: str) -> list[dict[str, Any]]:
        """Run one statement written in DuckDB's dialect; its rows as dicts."""
        ...

    def stage_units(self, plan: Plan, relations: Relations, dimension: str | None) -> str | None:
        """Compute the per-unit rows both statements start from once and name the relation
        holding them, or ``None`` to have each statement compute them."""
        ...

    dedup: str
    """The expression of ``resolve_id`` whose distinct values duplicates are counted on."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _mapping(defaults: Mapping[str, str], source: TableSource) -> dict[str, str]:
    """Ours → theirs, the defaults overridden by the source's ``columns``."""
    columns = dict(defaults)
    for ours, theirs in source.columns.items():
        if ours not in defaults and not ours.startswith("context."):
            known = ", ".join([*defaults, "context.<attribute>"])
            raise PipelineError(f"unknown column name {ours!r} in the mapping (ours are {known})")
        columns[ours] = theirs
    return columns


def _expression(theirs: str) -> str:
    """A mapped column as SQL: an identifier stays as written, anything else is SQL."""
    return theirs


def table_relations(
    exposures: TableSource, events: TableSource, attributes: Mapping[str, str]
) -> Relations:
    """The relations over two tables (a warehouse's, or tables in a DuckDB connection), the
    columns renamed and typed (``CAST(time AS TIMESTAMPTZ)``: a text column is read as
    RFC 3339, a timestamp without zone in the session's time zone, UTC)."""
    if exposures.table is None or events.table is None:
        raise PipelineError("a database engine reads tables: give both inputs as table=")
    e = _mapping(EXPOSURE_COLUMNS, exposures)
    parts = [
        f"CAST({e['unit']} AS VARCHAR) AS unit",
        f"CAST({e['variant']} AS VARCHAR) AS variant",
        f"CAST({e['time']} AS TIMESTAMPTZ) AS time",
        f"CAST({e['resolve_id']} AS VARCHAR) AS resolve_id",
        f"CAST({e['override']} AS BOOLEAN) AS override",
        f"CAST({e['abtest']} AS VARCHAR) AS abtest",
    ]
    for attribute, column in attributes.items():
        mapped = e.get(f"context.{attribute}")
        if mapped is not None:
            parts.append(f"CAST({mapped} AS VARCHAR) AS {column}")
        else:
            parts.append(f"{e['context']} ->> {sql_string('$.' + attribute)} AS {column}")
    v = _mapping(EVENT_COLUMNS, events)
    event_parts = [
        f"CAST({v['unit']} AS VARCHAR) AS unit",
        f"CAST({v['event']} AS VARCHAR) AS event",
        f"CAST({v['value']} AS DOUBLE) AS value",
        f"CAST({v['time']} AS TIMESTAMPTZ) AS time",
    ]
    return Relations(
        exposures=f"(SELECT {', '.join(parts)} FROM {exposures.table})",
        events=f"(SELECT {', '.join(event_parts)} FROM {events.table})",
        attributes=dict(attributes),
    )


# -- DuckDB ------------------------------------------------------------------------------------


class DuckDBEngine:
    """DuckDB in process (``pip install "flagstone[analysis]"``). ``connection`` is an open
    ``duckdb`` connection (by default a new in-memory one, limited to
    :data:`DEFAULT_MEMORY_LIMIT` and spilling to a private temporary directory removed by
    :meth:`close`); ``threads`` and ``memory_limit`` (e.g. ``"1GB"``) are DuckDB's
    settings."""

    dialect = "duckdb"

    def __init__(
        self,
        connection: Any = None,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        owned = connection is None
        if connection is None:
            try:
                import duckdb
            except ModuleNotFoundError:
                raise ModuleNotFoundError(
                    "the aggregation needs duckdb, which is not installed: "
                    'pip install "flagstone[analysis]"',
                    name="duckdb",
                ) from None
            connection = duckdb.connect()
        self.connection = connection
        self.connection.execute("SET TimeZone = 'UTC'")
        # DuckDB's own progress bar would write to stdout, which may be the statistics
        self.connection.execute("SET enable_progress_bar = false")
        self.connection.execute("SET preserve_insertion_order = false")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        if owned:
            self._spill = tempfile.TemporaryDirectory(prefix="flagstone-duckdb-")
            self.connection.execute(f"SET temp_directory = {sql_string(self._spill.name)}")
            memory_limit = memory_limit or DEFAULT_MEMORY_LIMIT
        if memory_limit is not None:
            self.connection.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        self._serial = 0

    def run(self, sql: str) -> list[dict[str, Any]]:
        try:
            cursor = self.connection.execute(sql)
        except Exception as error:
            raise _translated(error) from None
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Close the connection (and remove the spill directory of one it opened)."""
        self.connection.close()
        spill = getattr(self, "_spill", None)
        if spill is not None:
            spill.cleanup()

    def stage_units(self, plan: Plan, relations: Relations, dimension: str | None) -> str | None:
        """The per-unit rows as a temporary table, read once."""
        name = self._name("units")
        self.run(f"CREATE TEMP TABLE {name} AS {units_query(plan, relations, dimension)}")
        return name

    dedup = "hash(resolve_id)"
    """Duplicates are counted on a 64-bit hash of ``resolve_id``, which keeps the distinct
    set small (a collision among 10 million records, about one chance in 370 000, would
    count one duplicate too many)."""

    def _name(self, stem: str) -> str:
        self._serial += 1
        return f"fs_{stem}_{self._serial}"

    def prepare(
        self, plan: Plan, exposures: TableSource, events: TableSource, attributes: Sequence[str]
    ) -> Prepared:
        ctx = {name: f"ctx_{index}" for index, name in enumerate(attributes)}
        if exposures.table is not None or events.table is not None:
            return Prepared(table_relations(exposures, events, ctx))
        exposure = _Input("exposures", exposures, plan, ctx)
        event = _Input("events", events, plan, ctx)
        exposure_relation, exposure_bad, exposure_examples, _ = self._stage(exposure)
        event_relation, event_bad, event_examples, duplicates = self._stage(event)
        malformed = Malformed(
            exposures=exposure_bad,
            events=event_bad,
            examples=(*exposure_examples, *event_examples),
        )
        return Prepared(Relations(exposure_relation, event_relation, ctx), malformed, duplicates)

    # -- staging ---------------------------------------------------------------------------

    def _stage(self, spec: _Input) -> tuple[str, int, tuple[MalformedRecord, ...], int]:
        """Stage one input; ``(relation, malformed count, examples, duplicate events)``."""
        selects: list[str] = []
        kinds: set[str] = set()
        rejects: list[str] = []
        for kind, paths in spec.groups().items():
            kinds.add(kind)
            select, reject = self._select(spec, kind, paths)
            selects.append(select)
            if reject:
                rejects.append(reject)
        union = "\nUNION ALL BY NAME\n".join(f"({s})" for s in selects)
        stage = self._name(f"{spec.input}_stage")
        keep = spec.relevant()
        if kinds == {"parquet"}:
            self.run(f"CREATE TEMP VIEW {stage} AS SELECT * FROM ({union}) WHERE {keep}")
        else:
            self.run(f"CREATE TEMP TABLE {stage} AS SELECT * FROM ({union}) WHERE {keep}")
        bad = spec.malformed()
        ids = (
            "0 AS ids, 0 AS distinct_ids"
            if spec.exposures
            else f"COUNT(event_id) FILTER (WHERE NOT ({bad})) AS ids, "
            f"COUNT(DISTINCT event_id) FILTER (WHERE NOT ({bad})) AS distinct_ids"
        )
        checks = self.run(
            f"""SELECT COUNT(*) FILTER (WHERE {bad}) AS bad,
                       COUNT(*) FILTER (WHERE NOT ({bad}) AND naive) AS naive,
                       COUNT(*) FILTER (WHERE NOT ({bad}) AND NOT naive) AS aware,
                       MIN(CASE WHEN NOT ({bad}) AND naive THEN file || ': ' || time_text END)
                         AS example,
                       {ids}
                FROM {stage}"""
        )[0]
        if checks["naive"]:
            mixed = (
                f" ({checks['aware']} others have one: mixed time zones)" if checks["aware"] else ""
            )
            raise PipelineError(
                f"{spec.input}: {checks['naive']} timestamp(s) without a time zone{mixed}, "
                f"e.g. {checks['example']}; write UTC ('...Z') or an explicit offset"
            )
        count = int(checks["bad"])
        rejected, reject_examples = self._rejects(rejects, spec.input)
        count += rejected
        examples: tuple[MalformedRecord, ...] = reject_examples
        if count > rejected:
            examples += self._examples(spec, stage, bad, kinds)
        examples = examples[:EXAMPLES]
        relation = self._name(spec.input)
        columns = spec.output_columns()
        good = f"SELECT {columns} FROM {stage} WHERE NOT ({bad}) AND {spec.wanted()}"
        duplicates = int(checks["ids"]) - int(checks["distinct_ids"])
        if duplicates:
            with_ids = (
                f"SELECT {columns}, event_id FROM {stage} WHERE NOT ({bad}) AND {spec.wanted()}"
            )
            names = "unit, event, value, time"
            good = (
                f"SELECT {names} FROM ({with_ids}) WHERE event_id IS NULL UNION ALL "
                f"SELECT {names} FROM (SELECT DISTINCT ON (event_id) * FROM ({with_ids}) "
                "WHERE event_id IS NOT NULL)"
            )
        kind = "VIEW" if kinds == {"parquet"} else "TABLE"
        self.run(f"CREATE TEMP {kind} {relation} AS {good}")
        return relation, count, examples, duplicates

    def _select(self, spec: _Input, kind: str, paths: list[str]) -> tuple[str, str | None]:
        """The raw columns of one format's files, and the rejects table of a CSV scan."""
        listed = "[" + ", ".join(sql_string(p) for p in paths) + "]"
        reject = None
        if kind == "jsonl":
            wanted = {theirs: spec.json_type(ours) for ours, theirs in spec.raw().items()}
            struct = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in wanted.items())
            relation = (
                f"read_json({listed}, format = 'newline_delimited', columns = {{{struct}}}, "
                "ignore_errors = true, filename = true, maximum_object_size = 16777216)"
            )
            available = self._types(f"(SELECT * FROM {relation} LIMIT 0)")
            self._check_present(spec, relation)
            line = "NULL"
        elif kind == "csv":
            reject = self._name("rejects")
            tab = all(p.lower().removesuffix(".gz").endswith(".tsv") for p in paths)
            delimiter = "\t" if tab else ","
            options = (
                f"{listed}, header = true, all_varchar = true, filename = true, "
                f"delim = {sql_string(delimiter)}, quote = '\"'"
            )
            available = self._types(
                f"(SELECT * FROM read_csv({options}, ignore_errors = true) LIMIT 0)"
            )
            relation = (
                f"read_csv({options}, ignore_errors = true, store_rejects = true, "
                f"rejects_table = {sql_string(reject)}, "
                f"rejects_scan = {sql_string(reject + '_scan')})"
            )
            line = "NULL"
        else:
            relation = (
                f"read_parquet({listed}, filename = true, file_row_number = true, "
                "union_by_name = true)"
            )
            available = self._types(f"(SELECT * FROM {relation} LIMIT 0)")
            line = "file_row_number + 1"
        parts = ["filename AS file", f"{line} AS line"]
        for ours, theirs in spec.raw().items():
            if theirs in available:
                parts += spec.column(ours, _quote(theirs), available[theirs], paths[0])
            elif spec.required(ours):
                known = ", ".join(sorted(available))
                raise PipelineError(
                    f"unknown column {theirs!r} ({spec.input} {ours}) in {paths[0]}: it has {known}"
                )
            else:
                parts += spec.column(ours, "NULL", "VARCHAR", paths[0])
        return f"SELECT {', '.join(parts)} FROM {relation}", reject

    def _types(self, relation: str) -> dict[str, str]:
        described = self.run(f"DESCRIBE SELECT * FROM {relation}")
        return {str(row["column_name"]): str(row["column_type"]) for row in described}

    def _check_present(self, spec: _Input, relation: str) -> None:
        """A required field that none of the first 10 000 records has is a mapping error."""
        required = [(ours, theirs) for ours, theirs in spec.raw().items() if spec.required(ours)]
        counts = ", ".join(
            f"COUNT({_quote(theirs)}) AS {_quote(ours)}" for ours, theirs in required
        )
        row = self.run(
            f"SELECT COUNT(*) AS rows_, {counts} FROM (SELECT * FROM {relation} LIMIT 10000)"
        )[0]
        if not row["rows_"]:
            return
        missing = [f"{theirs!r} ({ours})" for ours, theirs in required if not row[ours]]
        if missing:
            raise PipelineError(
                f"unknown column {', '.join(missing)}: no {spec.input} record has it "
                f"in {spec.source.describe()}"
            )

    def _rejects(self, tables: list[str], name: str) -> tuple[int, tuple[MalformedRecord, ...]]:
        count = 0
        examples: list[MalformedRecord] = []
        for table in tables:
            rows = self.run(
                f"""SELECT s.file_path AS file, e.line AS line, MIN(e.error_message) AS why
                    FROM {table} AS e JOIN {table}_scan AS s
                      ON e.scan_id = s.scan_id AND e.file_id = s.file_id
                    GROUP BY s.file_path, e.line ORDER BY s.file_path, e.line"""
            )
            count += len(rows)
            examples += [
                MalformedRecord(name, str(r["file"]), int(r["line"]), str(r["why"]))
                for r in rows[:EXAMPLES]
            ]
        return count, tuple(examples)

    def _examples(
        self, spec: _Input, stage: str, bad: str, kinds: set[str]
    ) -> tuple[MalformedRecord, ...]:
        """The first few malformed records: rows with their row number from Parquet, lines
        found again by reading the JSONL and CSV files that hold some."""
        rows = self.run(
            f"SELECT file, line FROM {stage} WHERE {bad} ORDER BY file, line LIMIT {EXAMPLES}"
            if kinds == {"parquet"}
            else f"SELECT DISTINCT file FROM {stage} WHERE {bad} ORDER BY file"
        )
        if kinds == {"parquet"}:
            return tuple(
                MalformedRecord(spec.input, str(r["file"]), int(r["line"]), spec.parquet_reason())
                for r in rows
            )
        found: list[MalformedRecord] = []
        for row in rows:
            path = str(row["file"])
            found += spec.scan(path, EXAMPLES - len(found))
            if len(found) >= EXAMPLES:
                break
        return tuple(found)


def _translated(error: Exception) -> Exception:
    """DuckDB's binder, parser, IO and memory errors as one-line :class:`PipelineError`s."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else repr(error)
    if type(error).__name__ == "OutOfMemoryException":
        return PipelineError(
            f"{line}: give DuckDB more memory, DuckDBEngine(memory_limit='4GB') (the "
            f"default is {DEFAULT_MEMORY_LIMIT}), or fewer threads"
        )
    if type(error).__name__ in (
        "BinderException",
        "IOException",
        "InvalidInputException",
        "ConversionException",
        "ParserException",
        "CatalogException",
    ):
        return PipelineError(line)
    return error


# -- one input's rules ------------------------------------------------------------------------


class _Input:
    """The columns, relevance and validity rules of one input (exposures or events)."""

    def __init__(self, name: str, source: TableSource, plan: Plan, ctx: Mapping[str, str]) -> None:
        if source.paths is None:
            raise PipelineError("the DuckDB engine reads files or tables of its connection")
        self.input = name
        self.source = source
        self.plan = plan
        self.ctx = ctx
        self.exposures = name == "exposures"
        self.mapping = _mapping(EXPOSURE_COLUMNS if self.exposures else EVENT_COLUMNS, source)

    def groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for path, kind in self.source.files():
            groups.setdefault(kind, []).append(path)
        return groups

    def raw(self) -> dict[str, str]:
        """Ours → theirs for every column read."""
        m = self.mapping
        if self.exposures:
            names = ["unit", "time", "variant", "resolve_id", "override", "abtest"]
            raw = {name: m[name] for name in names}
            unmapped = [a for a in self.ctx if f"context.{a}" not in m]
            if unmapped:
                raw["context"] = m["context"]
            for attribute in self.ctx:
                if f"context.{attribute}" in m:
                    raw[f"context.{attribute}"] = m[f"context.{attribute}"]
        else:
            raw = {name: m[name] for name in ("unit", "event", "value", "time", "event_id")}
        raw.setdefault("type", "type")
        raw.setdefault("schema_version", "schema_version")
        return raw

    def required(self, ours: str) -> bool:
        if self.exposures:
            return ours in ("unit", "time", "variant", "abtest")
        return ours in ("unit", "event", "time") or (ours == "value" and self.plan.needs_values)

    def json_type(self, ours: str) -> str:
        return "JSON" if ours == "context" else "VARCHAR"

    def column(self, ours: str, expression: str, kind: str, path: str) -> list[str]:
        """The staged columns of one raw column."""
        if ours == "time":
            if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
                return [f"{expression} AS time", "NULL::VARCHAR AS time_text", "FALSE AS naive"]
            if kind != "VARCHAR":
                zone = "without a time zone" if kind.startswith(("TIMESTAMP", "DATE")) else ""
                raise PipelineError(
                    f"{self.input}: the time column of {path} is {kind} {zone}".rstrip()
                    + ": give an RFC 3339 text with a zone or a TIMESTAMP WITH TIME ZONE"
                )
            return [
                f"TRY_CAST({expression} AS TIMESTAMPTZ) AS time",
                f"{expression} AS time_text",
                f"COALESCE(TRY_CAST({expression} AS TIMESTAMPTZ) IS NOT NULL "
                f"AND NOT regexp_matches({expression}, '{_ZONE}'), FALSE) AS naive",
            ]
        if ours == "context":
            return [
                f"CAST({expression} AS JSON) ->> {sql_string('$.' + attribute)} AS {column}"
                for attribute, column in self.ctx.items()
                if f"context.{attribute}" not in self.mapping
            ]
        if ours.startswith("context."):
            return [f"CAST({expression} AS VARCHAR) AS {self.ctx[ours[len('context.') :]]}"]
        if ours == "value":
            if kind in _NUMBERS or kind.startswith("DECIMAL"):
                return [f"CAST({expression} AS DOUBLE) AS value", "FALSE AS value_bad"]
            return [
                f"TRY_CAST({expression} AS DOUBLE) AS value",
                f"({expression} IS NOT NULL AND TRY_CAST({expression} AS DOUBLE) IS NULL) "
                "AS value_bad",
            ]
        if ours == "override":
            if kind == "BOOLEAN":
                return [f"{expression} AS override", "FALSE AS override_bad"]
            text = f"CAST({expression} AS VARCHAR)"
            return [
                f"CASE {text} WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS override",
                f"({text} IS NOT NULL AND {text} NOT IN ('true', 'false')) AS override_bad",
            ]
        return [f"CAST({expression} AS VARCHAR) AS {ours}"]

    def _all_null(self) -> str:
        names = ["unit", "time_text", "type", "schema_version"]
        names += ["variant", "abtest", "resolve_id"] if self.exposures else ["event"]
        return "(" + " AND ".join(f"{n} IS NULL" for n in names) + " AND time IS NULL)"

    def wanted(self) -> str:
        if self.exposures:
            return f"abtest = {sql_string(self.plan.test)}"
        events = ", ".join(sql_string(e) for e in self.plan.events) or "NULL"
        return f"event IN ({events})"

    def relevant(self) -> str:
        return f"({self.wanted()} OR {self._all_null()})"

    def malformed(self) -> str:
        if self.exposures:
            broken = "unit IS NULL OR time IS NULL OR override_bad"
        else:
            broken = "unit IS NULL OR time IS NULL OR value_bad"
        return f"({self._all_null()} OR ({self.wanted()} AND ({broken})))"

    def output_columns(self) -> str:
        if self.exposures:
            ctx = "".join(f", {column}" for column in self.ctx.values())
            override = "COALESCE(override, FALSE) AS override"
            return f"unit, variant, time, resolve_id, {override}, abtest{ctx}"
        return "unit, event, value, time"

    def parquet_reason(self) -> str:
        fields = "a unit, a time" + (" and a test" if self.exposures else " and an event")
        return f"a row without {fields} (or with one that cannot be read)"

    # -- finding malformed lines again (only when there are some) --------------------------

    def scan(self, path: str, limit: int) -> list[MalformedRecord]:
        """The first ``limit`` malformed records of a JSONL or CSV file, by Python's rules
        (the same as the SQL's)."""
        found: list[MalformedRecord] = []
        if limit <= 0:
            return found
        kind = self.source.format or _kind(path)
        with _open(path) as handle:
            for line, record, error in _records(handle, kind):
                reason = error or self.problem(record)
                if reason is not None:
                    found.append(MalformedRecord(self.input, path, line, reason))
                    if len(found) >= limit:
                        break
        return found

    def problem(self, record: Any) -> str | None:
        """Why a decoded record is malformed, ``None`` if it is not (or is not relevant)."""
        if not isinstance(record, dict):
            return f"not a JSON object ({type(record).__name__})"
        raw = self.raw()
        if all(record.get(theirs) is None for theirs in raw.values()):
            return f"none of the {self.input} fields"

        def get(ours: str) -> Any:
            return record.get(raw[ours])

        if self.exposures:
            if get("abtest") != self.plan.test:
                return None
            if get("override") not in (None, True, False, *_BOOLEANS):
                return f"override {get('override')!r} is not a boolean"
        elif get("event") not in self.plan.events:
            return None
        if get("unit") is None:
            return f"no unit ({raw['unit']})"
        time = get("time")
        if not isinstance(time, str) or _parse_time(time) is None:
            return f"{raw['time']} {time!r} is not a timestamp"
        if not self.exposures:
            value = get("value")
            if value is not None and _number(value) is None:
                return f"value {value!r} is not a number"
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _kind(path: str) -> str:
    from flagstone.analysis.pipeline.sources import file_format

    return file_format(path)


def _open(path: str) -> IO[str]:
    if path.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _records(handle: IO[str], kind: str) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, record, parse error)`` of a JSONL or CSV file."""
    if kind == "csv":
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}, None
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except ValueError as error:
            yield number, None, f"not JSON ({error})"


# -- DB-API ------------------------------------------------------------------------------------


class DbApiEngine:
    """Any DB-API 2.0 ``connection`` whose SQL is ``dialect`` (one of
    :data:`~flagstone.analysis.pipeline.sql.DIALECTS`): the statements are transpiled to it
    and run over the tables the sources name."""

    def __init__(self, connection: Any, dialect: str = "postgres") -> None:
        self.connection = connection
        self.dialect = dialect
        if dialect == "postgres":
            cursor = connection.cursor()
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.close()

    def prepare(
        self, plan: Plan, exposures: TableSource, events: TableSource, attributes: Sequence[str]
    ) -> Prepared:
        ctx = {name: f"ctx_{index}" for index, name in enumerate(attributes)}
        return Prepared(table_relations(exposures, events, ctx))

    def stage_units(self, plan: Plan, relations: Relations, dimension: str | None) -> str | None:
        """``None``: the statements compute the units themselves (one statement each)."""
        return None

    dedup = "resolve_id"

    def run(self, sql: str) -> list[dict[str, Any]]:
        text = transpile(sql, self.dialect)
        cursor = self.connection.cursor()
        try:
            cursor.execute(text)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()


def engine_of(engine: str | Engine) -> Engine:
    """An engine by name (``"duckdb"``) or itself."""
    if isinstance(engine, str):
        if engine != "duckdb":
            raise PipelineError(
                f"unknown engine {engine!r}: 'duckdb', or a DbApiEngine(connection, dialect)"
            )
        return DuckDBEngine()
    return engine
