"""How long does the aggregation of exposures and events take, and how much memory? Printed,
never asserted.

    pip install -e ".[analysis,bench]"      # duckdb, sqlglot; pyarrow and pandas for the bench
    python bench/bench_pipeline.py           # both scenarios
    python bench/bench_pipeline.py --quick   # a tenth of the sizes

1. **Parquet**: 10 million exposure records (1 million units, ten exposures each, 0.1 % of
   them override exposures, 1 000 units exposed to both variants) and 20 million events
   (purchases with a value, clicks, visits over 30 days, some before the exposures), five
   metrics — a conversion with a 7-day window and a 14-day CUPED covariate, a revenue sum, a
   click count over 3 days, an average order value, revenue per click (a ratio). Goal:
   ≤ 10 s and ≤ 1 GB peak RSS.
2. **JSONL**: 1 million exposure records in flagstone's schema (about 500 MB; 250 000
   units) and 2 million event records, the same five metrics. Goal: ≤ 3 s. Beside it, a
   straightforward pandas implementation of the same aggregation (``read_json(lines=True)``
   with the pyarrow engine, then filters, group-bys and merges), checked to give the same
   sums.

Each measurement runs in a fresh process: the wall time of ``aggregate`` (or of the pandas
code, reading included) and the process's peak RSS (``ru_maxrss``), the interpreter with its
imports included (printed apart). The data are generated once with DuckDB into a cache
directory (``$TMPDIR/flagstone-bench-pipeline``) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TEST = "workflows/abtest/instances/checkout-test"
FLAG = "flags/checkout"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
AT = datetime(2026, 11, 29, tzinfo=timezone.utc)

METRICS: list[dict[str, Any]] = [
    {
        "name": "metrics/conversion",
        "event": "purchase",
        "aggregation": "CONVERSION",
        "window": {"end": "7d"},
        "covariateWindow": {"start": "-14d"},
    },
    {"name": "metrics/revenue", "event": "purchase", "aggregation": "SUM"},
    {"name": "metrics/clicks", "event": "click", "aggregation": "COUNT", "window": {"end": "3d"}},
    {
        "name": "metrics/order-value",
        "event": "purchase",
        "aggregation": "AVERAGE",
        "window": {"end": "7d"},
    },
    {
        "name": "metrics/revenue-per-click",
        "ratio": {
            "numerator": {"event": "purchase", "aggregation": "SUM"},
            "denominator": {"event": "click", "aggregation": "COUNT"},
        },
    },
]


def snapshot() -> dict[str, Any]:
    return {
        "flags": {
            FLAG: {
                "name": FLAG,
                "state": "ACTIVE",
                "variants": [
                    {"name": f"{FLAG}/variants/control"},
                    {"name": f"{FLAG}/variants/treatment"},
                ],
            }
        },
        "abtests": [
            {
                "name": TEST,
                "state": "live",
                "abtest": {
                    "treatments": [
                        {"variant": f"{FLAG}/variants/control", "weight": 5000},
                        {"variant": f"{FLAG}/variants/treatment", "weight": 5000},
                    ]
                },
                "metrics": {"bucket": "DAYS", "metrics": [{"metric": m["name"]} for m in METRICS]},
            }
        ],
        "metrics": METRICS,
    }


# -- data --------------------------------------------------------------------------------------

_EXPOSURES = """
SELECT 1 AS schema_version, 'exposure' AS type,
       md5(CAST(i AS VARCHAR)) AS resolve_id,
       {time} AS apply_time,
       '{flag}' AS flag, variant, 'RESOLVE_REASON_MATCH' AS reason,
       '{test}/rule' AS rule, 'segments/checkout-test' AS segment, variant AS assignment_id,
       'user-' || u AS targeting_key, 'targeting_key' AS targeting_key_selector,
       '{test}' AS abtest, i % 1000 = 7 AS override, '2026-11-01.1' AS snapshot_version
FROM (
  SELECT i, i % {units} AS u,
         CASE WHEN (i % {units}) < 1000 AND i % 7 = 3 THEN 'control'
              WHEN hash(i % {units}) % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant,
         TIMESTAMPTZ '{start}' + to_milliseconds(CAST(hash(i % {units}) % 864000000 AS BIGINT)
           + CAST((i // {units}) * 3600000 + hash(i) % 3600000 AS BIGINT)) AS t
  FROM range({rows}) AS r(i)
)
"""

_EVENTS = """
SELECT 1 AS schema_version, 'event' AS type, {event_id}
       name AS event, 'user-' || u AS unit,
       CASE WHEN name = 'purchase' THEN round(5 + (hash(i) % 10000) / 100.0, 2) END AS value,
       {time} AS time
FROM (
  SELECT i, hash(i * 7919) % {units} AS u,
         CASE WHEN i % 10 < 3 THEN 'purchase' WHEN i % 10 < 8 THEN 'click' ELSE 'visit' END
           AS name,
         TIMESTAMPTZ '{start}' + to_milliseconds(CAST(hash(i * 31) % 2592000000 AS BIGINT)) AS t
  FROM range({rows}) AS r(i)
)
"""


def generate(
    directory: Path, kind: str, exposures: int, units: int, events: int
) -> tuple[str, str]:
    """Write (once) the exposure and event files of a scenario; their paths."""
    import duckdb

    directory.mkdir(parents=True, exist_ok=True)
    suffix = "parquet" if kind == "parquet" else "jsonl"
    exposure_path = directory / f"exposures-{exposures}.{suffix}"
    event_path = directory / f"events-{events}-{units}.{suffix}"
    start = START.strftime("%Y-%m-%d %H:%M:%S+00")
    text = "strftime(t, '%Y-%m-%dT%H:%M:%S.%gZ')"
    time_expr = "t" if kind == "parquet" else text
    form = "(FORMAT parquet)" if kind == "parquet" else "(FORMAT json)"
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for path, template, rows in (
        (exposure_path, _EXPOSURES, exposures),
        (event_path, _EVENTS, events),
    ):
        if path.exists():
            continue
        started = time.perf_counter()
        # an application's own Parquet events have no event_id; flagstone's records do
        event_id = "" if kind == "parquet" else "md5('e' || CAST(i AS VARCHAR)) AS event_id,"
        query = template.format(
            time=time_expr,
            flag=FLAG,
            test=TEST,
            units=units,
            rows=rows,
            start=start,
            event_id=event_id,
        )
        partial = path.with_suffix(".partial")
        connection.execute(f"COPY ({query}) TO '{partial}' {form}")
        partial.rename(path)
        size = path.stat().st_size / 1e6
        print(
            f"  generated {path.name}: {rows:,} rows, {size:,.0f} MB "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    connection.close()
    return str(exposure_path), str(event_path)


# -- the measured programs (run in a child process) --------------------------------------------


def run_flagstone(exposures: str, events: str, sequential: bool) -> dict[str, Any]:
    from flagstone.analysis import DuckDBEngine, aggregate
    from flagstone.formats import parse_snapshot

    document = snapshot()
    if sequential:
        document["abtests"][0]["stats"] = {"testHorizonStrategy": "SEQUENTIAL"}
    parsed = parse_snapshot(document)
    started = time.perf_counter()
    import duckdb  # noqa: F401  (imported once per process; timed apart)

    imported = time.perf_counter() - started
    before = _rss_mb()
    started = time.perf_counter()
    # a sequential analysis keeps every unit's running sums per day: DuckDB's window
    # operator needs the memory (the default limit is for the fixed horizon)
    engine = DuckDBEngine(memory_limit="4GB") if sequential else "duckdb"
    result = aggregate(parsed, TEST, exposures, events, at=AT, engine=engine)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "import": imported,
        "baseline_mb": before,
        "units": dict(result.units),
        "stats": result.stats,
        "excluded": result.excluded_multi_variant,
        "overrides": result.dropped_overrides,
    }


def run_pandas(exposures: str, events: str) -> dict[str, Any]:
    """The same aggregation written plainly with pandas (FIXED horizon)."""
    import numpy as np
    import pandas as pd

    before = _rss_mb()
    started = time.perf_counter()
    at = pd.Timestamp(AT)
    columns = ["resolve_id", "apply_time", "variant", "targeting_key", "abtest", "override"]
    ex = pd.read_json(exposures, lines=True, engine="pyarrow")[columns]
    ex["apply_time"] = pd.to_datetime(ex["apply_time"], utc=True)
    ex = ex[(ex["abtest"] == TEST) & (ex["apply_time"] < at)]
    overrides = int(ex["override"].sum())
    ex = ex[~ex["override"]]
    duplicates = int(ex.duplicated("resolve_id").sum())
    per_unit = ex.groupby("targeting_key").agg(
        first=("apply_time", "min"), variants=("variant", "nunique"), variant=("variant", "first")
    )
    excluded = int((per_unit["variants"] > 1).sum())
    assigned = per_unit[per_unit["variants"] == 1][["first", "variant"]]
    ev = pd.read_json(events, lines=True, engine="pyarrow")[["event", "unit", "value", "time"]]
    ev["time"] = pd.to_datetime(ev["time"], utc=True)
    ev = ev[ev["time"] < at].merge(assigned, left_on="unit", right_index=True)
    offset = ev["time"] - ev["first"]
    day = pd.Timedelta(days=1)

    def part(event: str, aggregation: str, start: Any, end: Any) -> tuple[Any, Any]:
        mask = (ev["event"] == event) & (offset >= start)
        if end is not None:
            mask &= offset < end
        chosen = ev[mask].groupby("unit")["value"]
        counts = chosen.size().reindex(assigned.index, fill_value=0)
        sums = chosen.sum().reindex(assigned.index, fill_value=0.0)
        valued = chosen.count().reindex(assigned.index, fill_value=0)
        if aggregation == "CONVERSION":
            return (counts > 0).astype(float), None
        if aggregation == "COUNT":
            return counts.astype(float), None
        if aggregation == "SUM":
            return sums, None
        return (sums / valued.where(valued > 0)).fillna(0.0), valued > 0

    groups: dict[str, Any] = {}
    variant = assigned["variant"]
    for metric in METRICS:
        window = metric.get("window", {})
        start = pd.Timedelta(0) if "start" not in window else day * int(window["start"][:-1])
        end = day * int(window["end"][:-1]) if "end" in window else None
        frame = pd.DataFrame({"variant": variant})
        if "ratio" in metric:
            frame["y"], _ = part(
                metric["ratio"]["numerator"]["event"],
                metric["ratio"]["numerator"]["aggregation"],
                start,
                end,
            )
            frame["d"], _ = part(
                metric["ratio"]["denominator"]["event"],
                metric["ratio"]["denominator"]["aggregation"],
                start,
                end,
            )
        else:
            frame["y"], counted = part(metric["event"], metric["aggregation"], start, end)
            if counted is not None:
                frame = frame[counted]
            if "covariateWindow" in metric:
                frame["x"], _ = part(
                    metric["event"],
                    metric["aggregation"],
                    day * int(metric["covariateWindow"]["start"][:-1]),
                    pd.Timedelta(0),
                )
        frame["yy"] = frame["y"] ** 2
        if "x" in frame:
            frame["xx"], frame["xy"] = frame["x"] ** 2, frame["x"] * frame["y"]
        if "d" in frame:
            frame["dd"], frame["yd"] = frame["d"] ** 2, frame["y"] * frame["d"]
        sums = frame.groupby("variant").agg(["sum", "size"])
        groups[metric["name"]] = {
            g: {c: float(sums.loc[g, (c, "sum")]) for c in frame.columns if c != "variant"}
            | {"n": int(sums.loc[g, ("y", "size")])}
            for g in sums.index
        }
    seconds = time.perf_counter() - started
    units = {str(k): int(v) for k, v in variant.value_counts().items()}
    del np
    return {
        "seconds": seconds,
        "baseline_mb": before,
        "units": units,
        "groups": groups,
        "excluded": excluded,
        "overrides": overrides,
        "duplicates": duplicates,
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(program: str, exposures: str, events: str, sequential: bool) -> dict[str, Any]:
    """Run ``program`` in a fresh interpreter; its result with the peak RSS."""
    here = str(Path(__file__).parent)
    extra = f", {sequential}" if program == "flagstone" else ""
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import bench_pipeline as b; "
        f"r = b.run_{program}({exposures!r}, {events!r}{extra}); r['peak_mb'] = b._rss_mb(); "
        "print(json.dumps(r))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _same(flagstone: dict[str, Any], pandas: dict[str, Any]) -> str:
    """Whether the pandas sums equal flagstone's (relative 1e-9)."""
    names = {
        "sum": "y",
        "sum_sq": "yy",
        "x_sum": "x",
        "x_sum_sq": "xx",
        "xy_sum": "xy",
        "d_sum": "d",
        "d_sum_sq": "dd",
        "yd_sum": "yd",
    }
    worst = 0.0
    for metric in flagstone["stats"]["metrics"]:
        for group, sums in metric["groups"].items():
            theirs = pandas["groups"][metric["id"]][group]
            if sums["n"] != theirs["n"]:
                return f"no: n of {metric['id']} {group} {sums['n']} != {theirs['n']}"
            for key, value in sums.items():
                if key in names:
                    other = theirs[names[key]]
                    worst = max(worst, abs(value - other) / max(1.0, abs(other)))
    return "yes" if worst < 1e-9 else f"no (relative difference {worst:.2g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--only", choices=("parquet", "jsonl"), default=None)
    arguments = parser.parse_args()
    scale = 10 if arguments.quick else 1
    cache = Path(tempfile.gettempdir()) / "flagstone-bench-pipeline"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; data in {cache}")
    if arguments.only in (None, "parquet"):
        print(
            "\n1. Parquet: 10M exposures (1M units), 20M events, 5 metrics (goal <= 10 s, <= 1 GB)"
        )
        exposures, events = generate(
            cache, "parquet", 10_000_000 // scale, 1_000_000 // scale, 20_000_000 // scale
        )
        for sequential in (False, True):
            r = child("flagstone", exposures, events, sequential)
            label = "sequential, daily looks, memory_limit 4GB" if sequential else "fixed horizon"
            print(
                f"  flagstone, {label}: {r['seconds']:.2f} s, peak RSS {r['peak_mb']:.0f} MB "
                f"(before aggregating {r['baseline_mb']:.0f} MB; importing duckdb "
                f"{r['import']:.2f} s); units {r['units']}, {r['excluded']} excluded, "
                f"{r['overrides']} overrides dropped"
            )
    if arguments.only in (None, "jsonl"):
        print("\n2. JSONL: 1M exposure records, 2M events, 5 metrics (goal <= 3 s)")
        exposures, events = generate(
            cache, "jsonl", 1_000_000 // scale, 250_000 // scale, 2_000_000 // scale
        )
        size = (Path(exposures).stat().st_size + Path(events).stat().st_size) / 1e6
        print(f"  ({size:,.0f} MB of JSON)")
        ours = child("flagstone", exposures, events, False)
        print(
            f"  flagstone: {ours['seconds']:.2f} s, peak RSS {ours['peak_mb']:.0f} MB "
            f"(before {ours['baseline_mb']:.0f} MB; importing duckdb {ours['import']:.2f} s)"
        )
        theirs = child("pandas", exposures, events, False)
        print(
            f"  pandas:    {theirs['seconds']:.2f} s, peak RSS {theirs['peak_mb']:.0f} MB "
            f"(before {theirs['baseline_mb']:.0f} MB); same sums: {_same(ours, theirs)}"
        )


if __name__ == "__main__":
    main()
