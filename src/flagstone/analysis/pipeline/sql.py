"""The aggregation as SQL: written once, in DuckDB's dialect, and transpiled by sqlglot.

:func:`queries` turns a :class:`~flagstone.analysis.pipeline.plan.Plan` and the two input
relations into two ``SELECT`` statements over the same chain of CTEs:

``counts``
    one row: the test's exposures, the override exposures dropped, the exposures with a
    variant that is not one of the test's treatments, the duplicates by ``(resolve_id,
    flag)``, the units exposed to more than one variant (excluded), the units assigned and
    the earliest assignment time.
``aggregate``
    one row per variant and bucket ``k`` (the day or hour since the UTC start of the day or
    hour of the earliest assignment): ``units`` and, per metric ``i``, the sums ``m{i}_n``,
    ``m{i}_y``, ``m{i}_yy`` and, with a covariate, ``m{i}_x``, ``m{i}_xx``, ``m{i}_xy``, for
    a ratio ``m{i}_d``, ``m{i}_dd``, ``m{i}_yd``.

The CTE chain: the test's exposures (its ``abtest``, before the analysis time, through the
exposure filter; variants named fully or shortly mapped to the short name); without
override exposures; per unit the earliest time and the smallest and largest variant (units
whose two differ saw two variants and are excluded); each unit's bucket; its events (the
metrics' event names, before the analysis time, inside the widest window), aggregated per
unit into, per distinct (event, window), the count, the sum of values and the count of
values; the per-unit values of each metric (units without events are 0).

With a fixed horizon the rows are per *assignment* bucket (a cohort): summed over ``k``
they are the statistics at the analysis time, and their ``units`` cumulated give the units
per variant over time. With a sequential horizon the rows are *increments* per bucket: a
unit's aggregates are cumulated over its buckets (one window function, a running sum), and
each row holds the change of every per-unit quantity (``y``, ``y²``, ``x·y``, …) since the
unit's previous bucket — its value from the running sums minus its value from the running
sums without this bucket's increments — so that the sums cumulated over ``k`` are exactly
the statistics at the end of bucket ``k``: the units assigned by then with their events up
to then.

Timestamps: the windows compare timestamps with ``INTERVAL 'n' SECOND`` arithmetic (exact
to the microsecond), the buckets come from ``EPOCH(time)`` (seconds since 1970, UTC).
:func:`transpile` writes the statements for ``postgres``, ``bigquery``, ``snowflake``,
``spark``, ``trino`` (or ``duckdb``), fixing the one place where sqlglot's output is not
valid for a target (BigQuery has no ``TIME_TO_UNIX``: ``UNIX_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flagstone.analysis.pipeline.filters import predicate, sql_string
from flagstone.analysis.pipeline.plan import Plan
from flagstone.model.metrics import Aggregation, MetricPart

__all__ = [
    "DIALECTS",
    "MISSING",
    "Queries",
    "Relations",
    "queries",
    "timestamp_literal",
    "transpile",
    "units_query",
]

DIALECTS = ("duckdb", "postgres", "bigquery", "snowflake", "spark", "trino")
"""The dialects :func:`transpile` writes."""


@dataclass(frozen=True)
class Relations:
    """The two inputs as SQL relations (a table name or a parenthesised ``SELECT``) with the
    canonical columns: exposures ``unit, variant, time, resolve_id, override, abtest`` plus
    one text column per context attribute the filter reads (``attributes`` maps the
    attribute to its column); events ``unit, event, value, time``."""

    exposures: str
    events: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class Queries:
    """The two statements, in DuckDB's dialect."""

    counts: str
    aggregate: str


def timestamp_literal(moment: datetime) -> str:
    """An aware datetime as a ``TIMESTAMPTZ`` literal (UTC, microseconds)."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"CAST('{text}+00' AS TIMESTAMPTZ)"


@dataclass(frozen=True)
class _Key:
    """One distinct (event, window) whose per-unit count and sums are aggregated."""

    event: str
    start: int
    end: int | None


def _shift(column: str, seconds: int) -> str:
    if seconds == 0:
        return column
    sign = "+" if seconds > 0 else "-"
    return f"{column} {sign} INTERVAL '{abs(seconds)}' SECOND"


def _condition(key: _Key) -> str:
    parts = [f"j.event = {sql_string(key.event)}", f"j.time >= {_shift('j.first_time', key.start)}"]
    if key.end is not None:
        parts.append(f"j.time < {_shift('j.first_time', key.end)}")
    return " AND ".join(parts)


class _Columns:
    """The aggregate columns of every (event, window) key, named ``c{j}``, ``s{j}``, ``v{j}``."""

    def __init__(self) -> None:
        self.keys: list[_Key] = []
        self.needs: dict[int, set[str]] = {}

    def key(self, part: MetricPart, start: int, end: int | None) -> int:
        key = _Key(part.event, start, end)
        if key not in self.keys:
            self.keys.append(key)
            self.needs[len(self.keys) - 1] = {"c"}
        index = self.keys.index(key)
        if part.aggregation in ("SUM", "AVERAGE"):
            self.needs[index].add("s")
        if part.aggregation == "AVERAGE":
            self.needs[index].add("v")
        return index

    def aggregates(self) -> list[tuple[str, str]]:
        """``(name, aggregate expression)`` over the ``joined`` rows ``j``."""
        found = []
        for index, key in enumerate(self.keys):
            condition = _condition(key)
            needs = self.needs[index]
            found.append(
                (f"c{index}", f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)")
            )
            if "s" in needs:
                found.append(
                    (
                        f"s{index}",
                        f"SUM(CASE WHEN {condition} AND j.value IS NOT NULL "
                        "THEN j.value ELSE 0.0 END)",
                    )
                )
            if "v" in needs:
                found.append(
                    (
                        f"v{index}",
                        f"CAST(SUM(CASE WHEN {condition} AND j.value IS NOT NULL THEN 1 ELSE 0 END)"
                        " AS BIGINT)",
                    )
                )
        return found


def _value(aggregation: Aggregation, index: int, col: Callable[[str], str]) -> str:
    """A unit's value of one part from its aggregates (``col`` names their columns)."""
    c, s, v = col(f"c{index}"), col(f"s{index}"), col(f"v{index}")
    if aggregation == "CONVERSION":
        return f"CASE WHEN {c} > 0 THEN 1 ELSE 0 END"
    if aggregation == "COUNT":
        return c
    if aggregation == "SUM":
        return s
    return f"CASE WHEN {v} > 0 THEN {s} / {v} ELSE 0.0 END"


def _quantities(plan: Plan, columns: _Columns, col: Callable[[str], str]) -> list[tuple[str, str]]:
    """Per metric, the per-unit quantities whose sums the statistics need."""
    found: list[tuple[str, str]] = []
    for i, metric in enumerate(plan.metrics):
        definition = metric.definition
        window = definition.window
        parts = metric.parts
        first = parts[0]
        j = columns.key(first, window.start, window.end)
        y = _value(first.aggregation, j, col)
        if first.aggregation == "AVERAGE" and len(parts) == 1:
            counted = f"CASE WHEN {col(f'v{j}')} > 0 THEN 1 ELSE 0 END"
        else:
            counted = "1"
        found += [(f"m{i}_n", counted), (f"m{i}_y", y), (f"m{i}_yy", f"({y}) * ({y})")]
        covariate = definition.covariate_window
        if covariate is not None and len(parts) == 1:
            jc = columns.key(first, covariate.start, covariate.end)
            x = _value(first.aggregation, jc, col)
            if counted != "1":
                x = f"CASE WHEN {col(f'v{j}')} > 0 THEN {x} ELSE 0.0 END"
            found += [
                (f"m{i}_x", x),
                (f"m{i}_xx", f"({x}) * ({x})"),
                (f"m{i}_xy", f"({x}) * ({y})"),
            ]
        if len(parts) == 2:
            second = parts[1]
            jd = columns.key(second, window.start, window.end)
            d = _value(second.aggregation, jd, col)
            found += [
                (f"m{i}_d", d),
                (f"m{i}_dd", f"({d}) * ({d})"),
                (f"m{i}_yd", f"({y}) * ({d})"),
            ]
    return found


MISSING = "(none)"
"""The breakdown value of the exposures that do not record the attribute."""


def _marked(plan: Plan, relations: Relations, dimension: str | None, dedup: str) -> str:
    """The CTEs of the test's exposures: ``marked`` has each with ``kept`` (not an override,
    a treatment's variant, a time) and its ``dedup_key``."""
    at = timestamp_literal(plan.at)
    cases = " ".join(
        f"WHEN {sql_string(spelling)} THEN {sql_string(short)}"
        for spelling, short in plan.variants.items()
    )
    conditions = [f"abtest = {sql_string(plan.test)}", f"time < {at}"]
    for targeting in plan.filters:
        conditions.append(predicate(targeting, lambda name: relations.attributes[name]))
    where = " AND ".join(conditions)
    dim = (
        "''"
        if dimension is None
        else f"COALESCE({relations.attributes[dimension]}, {sql_string(MISSING)})"
    )
    key = dedup.replace("resolve_id", "t.resolve_id")
    return f"""WITH exposures AS (SELECT * FROM {relations.exposures} AS exposure_source),
test_exposures AS (
  SELECT {dim} AS dim, unit, CASE variant {cases} ELSE NULL END AS variant, time, resolve_id,
         COALESCE(override, FALSE) AS override
  FROM exposures
  WHERE {where}
),
marked AS (
  SELECT t.*, NOT t.override AND t.variant IS NOT NULL AND t.time IS NOT NULL AS kept,
         {key} AS dedup_key
  FROM test_exposures AS t
)"""


_UNITS = """units AS (
  SELECT dim, unit,
         MIN(CASE WHEN kept THEN variant END) AS variant,
         MAX(CASE WHEN kept THEN variant END) AS other,
         MIN(CASE WHEN kept THEN time END) AS first_time,
         COUNT(*) AS records,
         SUM(CASE WHEN override THEN 1 ELSE 0 END) AS overrides,
         SUM(CASE WHEN NOT override AND variant IS NULL THEN 1 ELSE 0 END) AS unknown_variants
  FROM marked GROUP BY dim, unit
)"""
"""Per unit (and breakdown value): its variants, its first exposure, its records."""


def _prefix(plan: Plan, relations: Relations, start: str) -> str:
    """``start`` (CTEs ending with ``units``) followed by the units assigned, their bucket
    and the events."""
    bucket = plan.bucket_seconds
    return f"""{start},
events AS (SELECT * FROM {relations.events} AS event_source),
single AS (
  SELECT dim, unit, variant, first_time FROM units
  WHERE variant = other AND unit IS NOT NULL
),
origin AS (
  SELECT FLOOR(EPOCH(MIN(first_time)) / {bucket}) * {bucket} AS o FROM single
),
assigned AS (
  SELECT u.dim, u.unit, u.variant, u.first_time,
         CAST(FLOOR((EPOCH(u.first_time) - origin.o) / {bucket}) AS BIGINT) AS k
  FROM single AS u CROSS JOIN origin
)"""


def units_query(plan: Plan, relations: Relations, dimension: str | None = None) -> str:
    """The per-unit rows both statements start from, for an engine that stages them once."""
    return f"{_marked(plan, relations, dimension, 'resolve_id')},\n{_UNITS}\nSELECT * FROM units"


def queries(
    plan: Plan,
    relations: Relations,
    dimension: str | None = None,
    *,
    units: str | None = None,
    dedup: str = "resolve_id",
) -> Queries:
    """The ``counts`` and ``aggregate`` statements of ``plan`` over ``relations``; with a
    ``dimension`` (a context attribute the relations carry), one result per value of it:
    every row starts with ``dim``. ``units`` names a relation holding
    :func:`units_query`'s rows (staged by the engine) instead of computing them; ``dedup``
    is the expression of ``resolve_id`` whose distinct values the duplicates are counted
    on (an engine may use a 64-bit hash of it to save memory)."""
    staged = f"units AS (SELECT * FROM {units} AS staged_units)" if units else _UNITS
    marked = _marked(plan, relations, dimension, dedup) + ",\n" + staged
    counts = f"""{_prefix(plan, relations, marked)},
repeated AS (
  SELECT dim, SUM(CASE WHEN kept THEN 1 ELSE 0 END)
           - COUNT(DISTINCT CASE WHEN kept THEN dedup_key END) AS duplicates
  FROM marked GROUP BY dim
),
per_dim AS (
  SELECT u.dim, SUM(u.records) AS exposures, SUM(u.overrides) AS overrides,
         SUM(u.unknown_variants) AS unknown_variants,
         SUM(CASE WHEN u.variant <> u.other THEN 1 ELSE 0 END) AS multi_variant,
         SUM(CASE WHEN u.variant = u.other AND u.unit IS NOT NULL THEN 1 ELSE 0 END)
           AS assigned,
         MIN(CASE WHEN u.variant = u.other AND u.unit IS NOT NULL THEN u.first_time END)
           AS first_exposure
  FROM units AS u GROUP BY u.dim
)
SELECT d.dim, d.exposures, d.overrides, d.unknown_variants,
       COALESCE(r.duplicates, 0) AS duplicates, d.multi_variant, d.assigned,
       d.first_exposure, origin.o AS origin
FROM per_dim AS d LEFT JOIN repeated AS r ON r.dim = d.dim CROSS JOIN origin
ORDER BY d.dim"""
    if units:
        start = f"WITH {staged}"
    else:
        start = _marked(plan, relations, dimension, "resolve_id") + ",\n" + _UNITS
    return Queries(counts=counts, aggregate=_aggregate(plan, _prefix(plan, relations, start)))


def _aggregate(plan: Plan, prefix: str) -> str:
    at = timestamp_literal(plan.at)
    bucket = plan.bucket_seconds
    columns = _Columns()
    plain = _quantities(plan, columns, str)  # registers every key first
    starts = [key.start for key in columns.keys]
    ends = [key.end for key in columns.keys]
    window = [f"j.time >= {_shift('j.first_time', min(starts))}"] if starts else []
    if ends and None not in ends:
        window.append(f"j.time < {_shift('j.first_time', max(e for e in ends if e is not None))}")
    events = ", ".join(sql_string(event) for event in plan.events) or "NULL"
    joined = f""",
joined AS (
  SELECT a.dim, a.unit, a.variant, a.first_time, a.k AS ak,
         CAST(FLOOR((EPOCH(e.time) - origin.o) / {bucket}) AS BIGINT) AS ek,
         e.event, CAST(e.value AS DOUBLE) AS value, e.time
  FROM assigned AS a JOIN events AS e ON e.unit = a.unit CROSS JOIN origin
  WHERE e.event IN ({events}) AND e.time < {at}
),
windowed AS (
  SELECT * FROM joined AS j WHERE {" AND ".join(window) or "TRUE"}
)"""
    aggregates = columns.aggregates()
    sums = [name for name, _ in plain]
    if not plan.sequential:
        per_unit = ",\n         ".join(f"{expr} AS {name}" for name, expr in aggregates)
        qualified = _quantities(plan, _Columns(), lambda name: f"COALESCE(p.{name}, 0)")
        values = ",\n         ".join(f"{expr} AS {name}" for name, expr in qualified)
        totals = ",\n       ".join(f"SUM({name}) AS {name}" for name in sums)
        return f"""{prefix}{joined},
per_unit AS (
  SELECT j.dim, j.unit,
         {per_unit}
  FROM windowed AS j GROUP BY j.dim, j.unit
),
unit_values AS (
  SELECT a.dim, a.variant, a.k,
         {values}
  FROM assigned AS a LEFT JOIN per_unit AS p ON p.unit = a.unit AND p.dim = a.dim
)
SELECT dim, variant, k, COUNT(*) AS units,
       {totals}
FROM unit_values GROUP BY dim, variant, k ORDER BY dim, variant, k"""
    names = [name for name, _ in aggregates]
    increments = ",\n         ".join(f"{expr} AS {name}" for name, expr in aggregates)
    zeros = ",\n         ".join(f"0 AS {name}" for name in names)
    summed = ",\n         ".join(
        f"CAST(SUM({name}) AS {'DOUBLE' if name.startswith('s') else 'BIGINT'}) AS {name}"
        for name in names
    )
    over = (
        "OVER (PARTITION BY dim, unit ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    running = ",\n         ".join(
        f"{name} AS i_{name}, SUM({name}) {over} AS {name}" for name in names
    )
    # the change of each quantity since the unit's previous bucket: its value from the
    # running sums minus its value from the running sums before this bucket's increments
    # (nothing before the unit's first bucket, the one it was assigned in)
    before = _quantities(plan, _Columns(), lambda name: f"({name} - i_{name})")
    changes = ",\n       ".join(
        f"SUM(({now}) - CASE WHEN opened = 1 THEN 0 ELSE ({then}) END) AS {name}"
        for (name, now), (_, then) in zip(plain, before, strict=True)
    )
    return f"""{prefix}{joined},
increments AS (
  SELECT j.dim, j.unit, j.variant, GREATEST(j.ek, j.ak) AS k, 0 AS opened,
         {increments}
  FROM windowed AS j GROUP BY j.dim, j.unit, j.variant, GREATEST(j.ek, j.ak)
  UNION ALL
  SELECT dim, unit, variant, k, 1 AS opened,
         {zeros}
  FROM assigned
),
per_bucket AS (
  SELECT dim, unit, variant, k, CAST(SUM(opened) AS BIGINT) AS opened,
         {summed}
  FROM increments GROUP BY dim, unit, variant, k
),
running AS (
  SELECT dim, variant, k, opened,
         {running}
  FROM per_bucket
)
SELECT dim, variant, k, SUM(opened) AS units,
       {changes}
FROM running GROUP BY dim, variant, k ORDER BY dim, variant, k"""


def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB's dialect) in ``dialect``, pretty-printed."""
    import sqlglot
    from sqlglot import exp

    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    tree = sqlglot.parse_one(sql, read="duckdb")
    if dialect == "bigquery":
        tree = tree.transform(
            lambda node: (
                exp.UnixSeconds(this=node.this) if isinstance(node, exp.TimeToUnix) else node
            )
        )
    return tree.sql(dialect=dialect, pretty=True)
