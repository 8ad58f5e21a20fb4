"""Bad input to the aggregation: malformed records are counted and reported (the first few,
with file, line and reason) and left out, never a crash; an unknown test, metric, filter or
column, no exposures, an empty window, naive or mixed timestamps are a one-line
``PipelineError``; nothing is written next to or over the inputs.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")

from flagstone.analysis import TableSource, aggregate
from flagstone.errors import PipelineError
from flagstone.formats import parse_snapshot
from flagstone.formats.metrics import parse_metrics
from tests.pipelinedata import AT, START, TEST, rfc3339, snapshot_document

METRIC = {"name": "metrics/buy", "event": "purchase", "aggregation": "SUM"}


def _exposure(unit: str, variant: str, minutes: int, **extra: Any) -> dict[str, Any]:
    record = {
        "schema_version": 1,
        "resolve_id": hashlib.md5(f"{unit}{variant}{minutes}".encode()).hexdigest(),
        "apply_time": rfc3339(START + timedelta(minutes=minutes)),
        "flag": "flags/checkout",
        "variant": variant,
        "targeting_key": unit,
        "abtest": TEST,
        "override": False,
    }
    record.update(extra)
    return record


def _event(unit: str, minutes: int, value: Any = 10.0, **extra: Any) -> dict[str, Any]:
    record = {
        "schema_version": 1,
        "type": "event",
        "event": "purchase",
        "unit": unit,
        "value": value,
        "time": rfc3339(START + timedelta(minutes=minutes)),
    }
    record.update(extra)
    return record


def _clean() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    exposures = [_exposure(f"u{i}", "control" if i % 2 else "treatment", i) for i in range(40)]
    events = [_event(f"u{i}", i + 30, float(i % 7)) for i in range(40) if i % 3]
    return exposures, events


def _write(path: Path, lines: list[Any]) -> str:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return str(path)


def _snapshot(**options: Any) -> Any:
    return parse_snapshot(snapshot_document(metrics=[METRIC], **options))


def test_malformed_lines_are_counted_reported_and_left_out(tmp_path: Path) -> None:
    exposures, events = _clean()
    clean = aggregate(
        _snapshot(),
        TEST,
        _write(tmp_path / "e0.jsonl", exposures),
        _write(tmp_path / "v0.jsonl", events),
        at=AT,
    )
    bad_exposures = [
        *exposures[:10],
        "not json at all",
        "[1, 2, 3]",
        {"something": "else"},
        _exposure("u900", "control", 5, apply_time="yesterday"),
        _exposure("u901", "control", 5, targeting_key=None),
        _exposure("u902", "control", 5, override="yes"),
        *exposures[10:],
        _exposure("u903", "control", 5, apply_time="never", abtest="workflows/abtest/instances/x"),
    ]
    bad_events = [
        "{broken",
        *events,
        _event("u1", 40, value="a lot"),
        _event(None, 40),  # type: ignore[arg-type]
        _event("u1", 40, time="soon"),
        _event("u1", 40, value="not a number either", event="page_view"),  # not a metric's
    ]
    exposure_file = _write(tmp_path / "e.jsonl", bad_exposures)
    event_file = _write(tmp_path / "v.jsonl", bad_events)
    result = aggregate(_snapshot(), TEST, exposure_file, event_file, at=AT)
    assert result.stats == clean.stats
    assert (result.malformed.exposures, result.malformed.events) == (6, 4)
    examples = [(e.input, Path(e.file or "").name, e.line) for e in result.malformed.examples]
    assert examples[:5] == [("exposures", "e.jsonl", line) for line in (11, 12, 13, 14, 15)]
    reasons = [e.reason for e in result.malformed.examples]
    assert reasons[0].startswith("not JSON") and "not a JSON object" in reasons[1]
    assert "yesterday" in reasons[3] and "unit" in reasons[4]
    assert ("events", "v.jsonl", 1) in [
        (e.input, Path(e.file or "").name, e.line) for e in result.malformed.examples
    ]
    assert result.malformed.lines()[0] == "6 malformed exposure record(s), 4 malformed event(s)"


def test_malformed_csv_and_parquet_rows_are_counted_with_their_lines(tmp_path: Path) -> None:
    import duckdb

    exposures, events = _clean()
    source = _write(
        tmp_path / "e.jsonl", [*exposures, _exposure("u950", "control", 3, targeting_key=None)]
    )
    parquet = tmp_path / "e.parquet"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CAST(apply_time AS TIMESTAMPTZ) AS apply_time) FROM "
        f"read_json('{source}', format='newline_delimited')) TO '{parquet}' (FORMAT parquet)"
    )
    table = tmp_path / "events.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit", "event", "value", "time"])
        for e in events[:5]:
            writer.writerow([e["unit"], e["event"], e["value"], e["time"]])
        writer.writerow(["u1", "purchase", "1", e["time"], "one column too many"])
        for e in events[5:]:
            writer.writerow([e["unit"], e["event"], e["value"], e["time"]])
        writer.writerow(["u2", "purchase", "x", e["time"]])
    result = aggregate(_snapshot(), TEST, str(parquet), str(table), at=AT)
    assert (result.malformed.exposures, result.malformed.events) == (1, 2)
    found = {(e.input, Path(e.file or "").name, e.line) for e in result.malformed.examples}
    assert ("exposures", "e.parquet", 41) in found  # the 41st row
    assert ("events", "events.csv", 7) in found  # the line with a column too many
    assert ("events", "events.csv", len(events) + 3) in found  # value "x"


def test_events_delivered_twice_are_counted_once(tmp_path: Path) -> None:
    exposures, events = _clean()
    with_ids = [dict(e, event_id=f"{i:032x}") for i, e in enumerate(events)]
    once = aggregate(
        _snapshot(),
        TEST,
        _write(tmp_path / "e.jsonl", exposures),
        _write(tmp_path / "v1.jsonl", with_ids),
        at=AT,
    )
    twice = aggregate(
        _snapshot(),
        TEST,
        str(tmp_path / "e.jsonl"),
        _write(tmp_path / "v2.jsonl", with_ids + with_ids[:7]),
        at=AT,
    )
    assert twice.stats == once.stats
    assert (once.duplicate_events, twice.duplicate_events) == (0, 7)


def _error(tmp_path: Path, **overrides: Any) -> str:
    exposures, events = _clean()
    arguments: dict[str, Any] = {
        "snapshot_or_test": _snapshot(),
        "test": TEST,
        "exposures": _write(tmp_path / "e.jsonl", overrides.pop("exposure_records", exposures)),
        "events": _write(tmp_path / "v.jsonl", overrides.pop("event_records", events)),
        "at": AT,
    }
    arguments.update(overrides)
    with pytest.raises(PipelineError) as raised:
        aggregate(**arguments)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_an_unknown_test_or_filter(tmp_path: Path) -> None:
    assert "unknown A/B test 'nope'" in _error(tmp_path, test="nope")
    assert "unknown exposure filter 'mobile'" in _error(tmp_path, filters="mobile")


def test_an_unknown_metric(tmp_path: Path) -> None:
    document = snapshot_document(metrics=[METRIC])
    del document["metrics"]
    other = parse_metrics(
        {"metrics": [{"name": "metrics/other", "event": "x", "aggregation": "COUNT"}]}
    )
    message = _error(tmp_path, snapshot_or_test=parse_snapshot(document), metrics=other)
    assert "unknown metric 'metrics/buy'" in message


def test_unknown_columns(tmp_path: Path) -> None:
    table = tmp_path / "events.csv"
    table.write_text("user,event,value,time\nu1,purchase,1,2026-11-03T00:00:00Z\n")
    message = _error(tmp_path, events=TableSource(paths=(str(table),)))
    assert "unknown column 'unit'" in message and "user" in message
    message = _error(tmp_path, events=TableSource(paths=(str(table),), columns={"who": "user"}))
    assert "unknown column name 'who'" in message
    message = _error(
        tmp_path,
        events=TableSource(paths=(str(tmp_path / "v.jsonl"),), columns={"unit": "user_id"}),
    )
    assert "unknown column 'user_id' (unit)" in message


def test_no_exposures(tmp_path: Path) -> None:
    exposures, _ = _clean()
    others = [dict(e, abtest="workflows/abtest/instances/other") for e in exposures]
    assert "no exposures of A/B test" in _error(tmp_path, exposure_records=others)
    before = START - timedelta(days=1)
    assert "no exposures of A/B test" in _error(tmp_path, at=before)


def test_an_empty_window(tmp_path: Path) -> None:
    late = {**METRIC, "window": {"start": "30d"}}
    message = _error(tmp_path, snapshot_or_test=parse_snapshot(snapshot_document(metrics=[late])))
    assert "window is empty for every unit" in message


def test_naive_and_mixed_timestamps(tmp_path: Path) -> None:
    exposures, events = _clean()
    naive = [dict(e, apply_time=e["apply_time"].rstrip("Z")) for e in exposures]
    message = _error(tmp_path, exposure_records=naive)
    assert "40 timestamp(s) without a time zone" in message
    assert "mixed time zones" not in message
    mixed = [*exposures[:30], *naive[30:]]
    assert "mixed time zones" in _error(tmp_path, exposure_records=mixed)
    naive_events = [dict(e, time=e["time"].replace("Z", "")) for e in events]
    assert "events: " in _error(tmp_path, event_records=naive_events)
    assert "has no time zone" in _error(tmp_path, at=datetime(2026, 11, 20))


def test_files_that_are_not_there(tmp_path: Path) -> None:
    assert "no file matches" in _error(tmp_path, exposures=str(tmp_path / "missing-*.jsonl"))
    odd = tmp_path / "exposures.txt"
    odd.write_text("")
    assert "cannot tell the format" in _error(tmp_path, exposures=str(odd))


def test_offsets_other_than_utc_are_converted(tmp_path: Path) -> None:
    exposures, events = _clean()
    shifted = []
    for e in exposures:
        moment = datetime.fromisoformat(e["apply_time"].replace("Z", "+00:00"))
        shifted.append(
            dict(e, apply_time=moment.astimezone(timezone(timedelta(hours=2))).isoformat())
        )
    utc = aggregate(
        _snapshot(),
        TEST,
        _write(tmp_path / "a.jsonl", exposures),
        _write(tmp_path / "v.jsonl", events),
        at=AT,
    )
    plus_two = aggregate(
        _snapshot(), TEST, _write(tmp_path / "b.jsonl", shifted), str(tmp_path / "v.jsonl"), at=AT
    )
    assert plus_two.stats == utc.stats and plus_two.timeline == utc.timeline


def test_nothing_is_written_over_or_beside_the_inputs(tmp_path: Path) -> None:
    exposures, events = _clean()
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = [_write(inputs / "e.jsonl", exposures), _write(inputs / "v.jsonl", events)]
    table = inputs / "v.csv"
    table.write_text("unit,event,value,time\nu1,purchase,1,2026-11-03T00:00:00Z\nbad\n")

    def state() -> dict[str, tuple[str, int]]:
        return {
            p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(inputs.iterdir())
        }

    before = state()
    aggregate(_snapshot(), TEST, files[0], files[1], at=AT)
    aggregate(_snapshot(), TEST, files[0], str(table), at=AT)
    assert state() == before
