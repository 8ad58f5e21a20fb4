"""The aggregation as SQL text (``aggregation_sql``): one definition written for every
dialect, each statement parsing back in its dialect, the one patched construct patched, and
the text itself — run as printed on tables named as asked — giving ``aggregate``'s rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from flagstone.analysis import TableSource, aggregate, aggregation_sql
from flagstone.analysis.pipeline import DIALECTS
from flagstone.formats import parse_snapshot
from tests.pipelinedata import AT, TEST, edge_case_data, snapshot_document


def _statements(text: str) -> list[str]:
    return [s.strip() for s in text.split(";") if s.strip() and not s.strip().startswith("--")]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_gets_two_statements_that_parse_back(dialect: str) -> None:
    snapshot = parse_snapshot(snapshot_document(sequential=True))
    text = aggregation_sql(
        snapshot, TEST, "analytics.exposures", "analytics.events", dialect=dialect, at=AT
    )
    statements = _statements(
        "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    )
    assert len(statements) == 2
    import sqlglot

    for statement in statements:
        sqlglot.parse_one(statement, read=dialect)  # raises on text the dialect cannot read
    assert "analytics.exposures" in text and "analytics.events" in text
    if dialect == "bigquery":
        assert "UNIX_SECONDS(" in text and "TIME_TO_UNIX" not in text


def test_an_unknown_dialect_is_refused() -> None:
    snapshot = parse_snapshot(snapshot_document())
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        aggregation_sql(snapshot, TEST, dialect="oracle", at=AT)


def test_the_printed_duckdb_text_runs_and_gives_the_aggregation(tmp_path: Path) -> None:
    import duckdb

    data = edge_case_data(seed=3, units=80)
    exposures, events = data.write_jsonl(tmp_path)
    snapshot = parse_snapshot(snapshot_document(sequential=True))
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TABLE exposure_log AS SELECT * REPLACE "
        "(CAST(apply_time AS TIMESTAMPTZ) AS apply_time) "
        f"FROM read_json('{exposures}', format='newline_delimited')"
    )
    connection.execute(
        f"CREATE TABLE event_log AS SELECT event_id, event AS name, unit AS who, value, "
        f"CAST(time AS TIMESTAMPTZ) AS at FROM read_json('{events}', format='newline_delimited')"
    )
    event_table = TableSource(
        table="event_log", columns={"unit": "who", "event": "name", "time": "at"}
    )
    text = aggregation_sql(snapshot, TEST, "exposure_log", event_table, dialect="duckdb", at=AT)
    counts_sql, aggregate_sql = _statements(
        "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    )
    counts = connection.execute(counts_sql).fetchall()
    rows = connection.execute(aggregate_sql).fetchall()
    expected = aggregate(snapshot, TEST, str(exposures), str(events), at=AT)
    assert len(counts) == 1 and counts[0][3] == expected.unknown_variants
    names = [d[0] for d in connection.description]
    units: dict[str, int] = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        units[record["variant"]] = units.get(record["variant"], 0) + int(record["units"])
    assert units == dict(expected.units)
    assert json.dumps(expected.stats)  # the statistics are plain JSON
