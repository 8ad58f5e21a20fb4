"""The aggregation against a plain-Python reference (``tests/pipelinedata.py``, written from
issue 12's rules, record by record), on generated data with every edge: DuckDB over JSONL,
gzip, Parquet and CSV files and PostgreSQL over tables must agree with it exactly (counts,
sums of whole numbers) or to 1e-12 (the averages' sums of fractions), at the analysis time
and at every daily look of a sequential test, with and without an exposure filter.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from flagstone.analysis import Aggregated, DbApiEngine, TableSource, aggregate, parse_input
from flagstone.formats import parse_snapshot
from tests.pg import postgres, postgres_server  # noqa: F401  (fixtures)
from tests.pipelinedata import (
    AT,
    METRICS,
    TEST,
    Data,
    Reference,
    edge_case_data,
    reference,
    rfc3339,
    snapshot_document,
)

AVERAGES = {m["name"] for m in METRICS if m.get("aggregation") == "AVERAGE"}


@pytest.fixture(scope="module")
def data() -> Data:
    return edge_case_data(seed=20261207)


@pytest.fixture(scope="module")
def files(data: Data, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return data.write_jsonl(tmp_path_factory.mktemp("jsonl"))


def _expected_group(metric: dict[str, Any], sums: dict[str, float]) -> dict[str, Any] | None:
    binary = metric.get("aggregation") == "CONVERSION"
    n = int(sums.get("n", 0))
    group: dict[str, Any] = {"n": n, "sum": sums.get("sum", 0.0)}
    if not binary:
        group["sum_sq"] = sums.get("sum_sq", 0.0)
    if "covariateWindow" in metric:
        for key in ("x_sum", "x_sum_sq", "xy_sum"):
            group[key] = sums.get(key, 0.0)
    if "ratio" in metric:
        for key in ("d_sum", "d_sum_sq", "yd_sum"):
            group[key] = sums.get(key, 0.0)
        if group["d_sum"] == 0:
            return None
    needs_two = not binary or "covariateWindow" in metric
    return group if n >= (2 if needs_two else 1) else None


def _same(metric: str, got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert set(got) == set(expected), metric
    for key, value in expected.items():
        if metric in AVERAGES and key != "n":
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9), (metric, key)
        else:
            assert got[key] == value, (metric, key, got[key], value)


def check(result: Aggregated, ref: Reference, sequential: bool) -> None:
    """Everything ``result`` says against the reference."""
    parse_input(result.stats)  # exactly what analyze-stats reads
    last = len(ref.looks) - 1
    assert dict(result.units) == ref.units[last]
    assert [time for time, _ in result.timeline] == [rfc3339(t) for t in ref.looks]
    assert [dict(units) for _, units in result.timeline] == ref.units
    assert result.excluded_multi_variant == ref.multi_variant
    assert result.dropped_overrides == ref.overrides
    assert result.duplicates == ref.duplicates
    assert result.stats["control"] == "control"
    assert result.stats["expected_weights"] == {"control": 0.5, "treatment": 0.5}
    by_name = {m["name"]: m for m in METRICS}
    ready = [
        k
        for k in range(len(ref.looks))
        if all(
            _expected_group(by_name[name], ref.sums[k][name][group]) is not None
            for name in by_name
            for group in ("control", "treatment")
        )
    ]
    assert [m["id"] for m in result.stats["metrics"]] == list(by_name)
    for metric in result.stats["metrics"]:
        name = metric["id"]
        for group, got in metric["groups"].items():
            expected = _expected_group(by_name[name], ref.sums[last][name][group])
            assert expected is not None
            _same(name, got, expected)
        if not sequential:
            assert "interims" not in metric
            continue
        assert [i["time"] for i in metric["interims"]] == [rfc3339(ref.looks[k]) for k in ready]
        for interim, k in zip(metric["interims"], ready, strict=True):
            for group, got in interim["groups"].items():
                expected = _expected_group(by_name[name], ref.sums[k][name][group])
                assert expected is not None
                _same(name, got, expected)
    if sequential:
        assert result.stats["horizon"]["kind"] == "SEQUENTIAL"
        assert len(ready) >= 5  # the data has looks worth checking
    else:
        assert result.stats["horizon"] == {"kind": "FIXED"}


def test_the_data_has_every_edge(data: Data) -> None:
    ref = reference(data, METRICS, AT)
    assert ref.multi_variant > 0 and ref.overrides > 0 and ref.duplicates > 0
    last = ref.sums[-1]
    ratio = last["metrics/buyers-per-visitor"]["control"]
    assert 0 < ratio["d_sum"] < ratio["n"]  # units with a zero denominator
    assert any(parse_time_of(e) >= AT for e in data.events)


def parse_time_of(record: dict[str, Any]) -> Any:
    from tests.pipelinedata import parse

    return parse(record["time"])


@pytest.mark.parametrize("sequential", [False, True], ids=["fixed", "sequential"])
def test_duckdb_over_jsonl_agrees_with_the_reference(
    data: Data, files: tuple[Path, Path], sequential: bool
) -> None:
    snapshot = parse_snapshot(snapshot_document(sequential=sequential))
    result = aggregate(snapshot, TEST, str(files[0]), str(files[1]), at=AT)
    check(result, reference(data, METRICS, AT), sequential)
    assert result.malformed.total == 0


def test_duckdb_over_parquet_csv_and_gzip_agrees_with_the_reference(
    data: Data, files: tuple[Path, Path], tmp_path: Path
) -> None:
    import duckdb

    half = len(data.exposures) // 2
    gz = tmp_path / "exposures-1.jsonl.gz"
    with gzip.open(gz, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in data.exposures[:half])
    rest = tmp_path / "rest.jsonl"
    rest.write_text("".join(json.dumps(r) + "\n" for r in data.exposures[half:]))
    parquet = tmp_path / "exposures-2.parquet"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CAST(apply_time AS TIMESTAMPTZ) AS apply_time) "
        f"FROM read_json('{rest}', format='newline_delimited')) TO '{parquet}' (FORMAT parquet)"
    )
    events = tmp_path / "events.csv"
    with events.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "name", "amount", "at"])
        for e in data.events:
            writer.writerow(
                [e["unit"], e["event"], "" if e["value"] is None else e["value"], e["time"]]
            )
    snapshot = parse_snapshot(snapshot_document())
    result = aggregate(
        snapshot,
        TEST,
        [str(gz), str(parquet)],
        TableSource(
            paths=(str(events),),
            columns={"unit": "user_id", "event": "name", "value": "amount", "time": "at"},
        ),
        at=AT,
    )
    check(result, reference(data, METRICS, AT), sequential=False)


def test_an_exposure_filter_keeps_the_exposures_whose_context_matches(
    data: Data, files: tuple[Path, Path]
) -> None:
    filters = [
        {
            "displayName": "nordics but not Norway, on the web",
            "filter": {
                "criteria": {
                    "c": {
                        "attribute": {
                            "attribute": "country",
                            "setRule": {
                                "values": [
                                    {"stringValue": "SE"},
                                    {"stringValue": "NO"},
                                    {"stringValue": "DK"},
                                ]
                            },
                        }
                    },
                    "no": {
                        "attribute": {
                            "attribute": "country",
                            "eqRule": {"value": {"stringValue": "NO"}},
                        }
                    },
                    "web": {
                        "attribute": {"attribute": "platform", "startsWithRule": {"value": "we"}}
                    },
                },
                "expression": {
                    "and": {"operands": [{"ref": "c"}, {"not": {"ref": "no"}}, {"ref": "web"}]}
                },
            },
        }
    ]
    snapshot = parse_snapshot(snapshot_document(filters=filters))
    result = aggregate(
        snapshot,
        TEST,
        str(files[0]),
        str(files[1]),
        at=AT,
        filters="nordics but not Norway, on the web",
    )
    ref = reference(
        data,
        METRICS,
        AT,
        context_filter=lambda c: c.get("country") in ("SE", "DK") and c.get("platform") == "web",
    )
    check(result, ref, sequential=False)
    assert sum(result.units.values()) < sum(reference(data, METRICS, AT).units[-1].values())


def test_a_breakdown_is_the_aggregation_filtered_by_each_value(
    data: Data, files: tuple[Path, Path]
) -> None:
    snapshot = parse_snapshot(snapshot_document())
    result = aggregate(snapshot, TEST, str(files[0]), str(files[1]), at=AT, breakdown="country")
    assert result.breakdown is not None and set(result.breakdown) == {"SE", "NO", "DK"}
    origin = reference(data, METRICS, AT).looks[0] - timedelta(days=1)  # the overall one
    for country, part in result.breakdown.items():
        ref = reference(
            data,
            METRICS,
            AT,
            origin=origin,
            context_filter=lambda c, k=country: c.get("country") == k,
        )
        check(part, ref, False)


# -- PostgreSQL --------------------------------------------------------------------------------


def _load(connection: Any, data: Data) -> None:
    cursor = connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS exposure_log, event_log")
    cursor.execute(
        "CREATE TABLE exposure_log (resolve_id text, apply_time timestamptz, flag text, "
        "variant text, targeting_key text, abtest text, override boolean, context json)"
    )
    cursor.execute(
        "CREATE TABLE event_log (event_id text, event_name text, user_id text, "
        "amount double precision, happened timestamptz)"
    )

    def insert(table: str, rows: list[tuple[Any, ...]]) -> None:
        width = len(rows[0])
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            marks = ", ".join("(" + ", ".join(["%s"] * width) + ")" for _ in chunk)
            cursor.execute(f"INSERT INTO {table} VALUES {marks}", [v for r in chunk for v in r])

    insert(
        "exposure_log",
        [
            (
                r["resolve_id"],
                r["apply_time"],
                r["flag"],
                r["variant"],
                r["targeting_key"],
                r["abtest"],
                r["override"],
                json.dumps(r.get("context")),
            )
            for r in data.exposures
        ],
    )
    insert(
        "event_log",
        [(e["event_id"], e["event"], e["unit"], e["value"], e["time"]) for e in data.events],
    )
    cursor.close()


@pytest.fixture(scope="module")
def loaded(postgres: Any, data: Data) -> Iterator[Any]:  # noqa: F811
    _load(postgres, data)
    yield postgres


def _tables() -> tuple[TableSource, TableSource]:
    return (
        TableSource(table="exposure_log"),
        TableSource(
            table="event_log",
            columns={
                "unit": "user_id",
                "event": "event_name",
                "value": "amount",
                "time": "happened",
            },
        ),
    )


@pytest.mark.parametrize("sequential", [False, True], ids=["fixed", "sequential"])
def test_postgres_agrees_with_the_reference(data: Data, loaded: Any, sequential: bool) -> None:
    snapshot = parse_snapshot(snapshot_document(sequential=sequential))
    exposures, events = _tables()
    result = aggregate(snapshot, TEST, exposures, events, at=AT, engine=DbApiEngine(loaded))
    check(result, reference(data, METRICS, AT), sequential)


def test_postgres_applies_exposure_filters_on_the_recorded_context(data: Data, loaded: Any) -> None:
    targeting = {
        "criteria": {
            "se": {
                "attribute": {
                    "attributeName": "country",
                    "eqRule": {"value": {"stringValue": "SE"}},
                }
            }
        },
        "expression": {"ref": "se"},
    }
    filters = [{"displayName": "Sweden", "filter": targeting}]
    snapshot = parse_snapshot(snapshot_document(filters=filters))
    exposures, events = _tables()
    result = aggregate(
        snapshot, TEST, exposures, events, at=AT, engine=DbApiEngine(loaded), filters="Sweden"
    )
    check(
        result,
        reference(data, METRICS, AT, context_filter=lambda c: c.get("country") == "SE"),
        False,
    )


def test_hourly_looks_follow_the_hours(tmp_path: Path) -> None:
    data = edge_case_data(seed=7, units=60)
    exposures, events = data.write_jsonl(tmp_path)
    at = AT - timedelta(days=5)
    metrics = [m for m in METRICS if m["name"] in ("metrics/clicks", "metrics/conversion")]
    snapshot = parse_snapshot(snapshot_document(metrics=metrics, sequential=True, bucket="HOURS"))
    result = aggregate(snapshot, TEST, str(exposures), str(events), at=at)
    ref = reference(data, metrics, at, bucket=timedelta(hours=1))
    assert len(ref.looks) > 48
    assert [time for time, _ in result.timeline] == [rfc3339(t) for t in ref.looks]
    assert [dict(units) for _, units in result.timeline] == ref.units
    clicks = next(m for m in result.stats["metrics"] if m["id"] == "metrics/clicks")
    assert len(clicks["interims"]) > 24
    for interim in clicks["interims"]:
        k = [rfc3339(t) for t in ref.looks].index(interim["time"])
        for group, got in interim["groups"].items():
            sums = ref.sums[k]["metrics/clicks"][group]
            assert (got["n"], got["sum"], got["sum_sq"]) == (sums["n"], sums["sum"], sums["sum_sq"])
