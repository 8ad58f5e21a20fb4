"""Exposure and event records field by field against the README's tables, and the event
record builder against the slow reference (``json.dumps`` of ``MetricEvent.to_record()``).

The README's tables ("The exposure record (schema version 1)", "The event record (schema
version 1)") are read here: their first column, in order, is the list of fields every
record must have, in that order — for records written by a real client through
``MemorySink``, ``JsonlSink`` and ``BatchingSink(JsonlSink)``. The JSON examples above the
tables must have the same fields too, so the three cannot drift apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone.sinks import BatchingSink, JsonlSink, MemorySink, MetricEvent, RecordBatch
from flagstone.sinks.events import EventRecordBuilder
from flagstone.sinks.exposure import format_time
from tests.sinkdata import SNAPSHOT

README = Path(__file__).resolve().parent.parent / "README.md"
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None)


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    end = text.index("\n#", start + 4)
    return text[start:end]


def table_fields(title: str) -> list[str]:
    """The backticked names of the first column of the section's table, in order."""
    fields: list[str] = []
    for line in readme_section(title).splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            fields += re.findall(r"`([a-z_]+)`", first)
    return fields


def example_fields(title: str) -> list[str]:
    block = readme_section(title).split("```json\n", 1)[1].split("```", 1)[0]
    return list(json.loads(block))


EXPOSURE_FIELDS = table_fields("The exposure record (schema version 1)")
EVENT_FIELDS = table_fields("The event record (schema version 1)")


def test_the_readme_tables_name_the_fields_the_issue_asks_for() -> None:
    assert EVENT_FIELDS == [
        "schema_version",
        "type",
        "event_id",
        "event",
        "unit",
        "unit_selector",
        "value",
        "properties",
        "time",
        "snapshot_version",
    ]  # DESIGN_12.md, "Records the pipeline reads"
    assert EXPOSURE_FIELDS[:2] == ["schema_version", "type"]
    assert EXPOSURE_FIELDS[-1] == "context"


def test_the_readme_examples_have_the_fields_of_the_tables() -> None:
    assert example_fields("The event record (schema version 1)") == EVENT_FIELDS
    # the exposure example is a record without the opt-in context
    assert example_fields("The exposure record (schema version 1)") == EXPOSURE_FIELDS[:-1]


def written_by_a_client(tmp_path: Path, kind: str, **options: Any) -> dict[str, list[dict]]:
    """Records of one exposure and one event, as three sinks of a real client wrote them."""
    memory = MemorySink()
    plain = JsonlSink(tmp_path / f"{kind}-plain.jsonl")
    batched = BatchingSink(JsonlSink(tmp_path / f"{kind}-batched.jsonl"))
    client = flagstone.Client.from_dict(
        SNAPSHOT, sinks=[memory, plain, batched], event_unit_selector="user.id", **options
    )
    context = {"user": {"id": "user-1"}, "country": "SE"}
    client.evaluate("checkout", context)
    client.track("purchase", context, value=9.5, properties={"currency": "SEK"})
    client.close()

    def read(name: str) -> list[dict]:
        text = (tmp_path / name).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    return {
        "memory": memory.records,
        "jsonl": read(f"{kind}-plain.jsonl"),
        "batching": sorted(read(f"{kind}-batched.jsonl"), key=lambda r: r["type"] != "exposure"),
    }


def test_records_have_the_readme_fields_in_order(tmp_path: Path) -> None:
    for sink, records in written_by_a_client(tmp_path, "default").items():
        exposure, event = records
        assert list(exposure) == EXPOSURE_FIELDS[:-1], sink  # no context unless asked for
        assert list(event) == EVENT_FIELDS, sink
        assert (exposure["type"], event["type"]) == ("exposure", "event")
        assert exposure["schema_version"] == event["schema_version"] == 1


def test_with_exposure_context_the_exposure_has_every_field_of_the_table(
    tmp_path: Path,
) -> None:
    written = written_by_a_client(
        tmp_path, "context", exposure_context=("country",), event_properties=("currency",)
    )
    for sink, (exposure, event) in written.items():
        assert list(exposure) == EXPOSURE_FIELDS, sink
        assert exposure["context"] == {"country": "SE"}, sink
        assert event["properties"] == {"currency": "SEK"}, sink


def test_records_of_the_three_sinks_agree_but_for_their_ids(tmp_path: Path) -> None:
    written = written_by_a_client(tmp_path, "same")
    ids = ("resolve_id", "event_id")
    views = [
        [{k: v for k, v in record.items() if k not in ids} for record in records]
        for records in written.values()
    ]
    assert views[0] == views[1] == views[2]


# -- the event record builder ----------------------------------------------------------------

names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
events = st.builds(
    MetricEvent,
    names,
    names,
    st.sampled_from(["targeting_key", "user.id", 'we"ird\\']),
    st.one_of(st.none(), st.integers(-(10**15), 10**15), st.floats(-1e300, 1e300)),
    st.dictionaries(names, json_values, max_size=3),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.one_of(st.none(), names),
    st.one_of(st.none(), st.from_regex(r"[0-9a-f]{32}", fullmatch=True)),
)


@DETERMINISTIC
@given(st.lists(events, max_size=8))
def test_built_event_lines_are_the_compact_ascii_json_of_the_reference_records(
    items: list[MetricEvent],
) -> None:
    batch = EventRecordBuilder().build(items)
    assert batch.kind == "event" and len(batch) == len(items)
    for line, item in zip(batch.lines, items, strict=True):
        assert line.isascii()
        reference = item.to_record()  # the event id was made by the build: the same
        assert line == json.dumps(reference, separators=(",", ":"))
        assert json.loads(line) == reference


@DETERMINISTIC
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_event_time_is_the_exposures_apply_time_format(at: float) -> None:
    event = MetricEvent("e", "u", "targeting_key", None, {}, at, None)
    (record,) = EventRecordBuilder().build([event]).records
    assert record["time"] == format_time(at)


def test_an_event_in_the_last_second_of_1969_has_its_date() -> None:
    # datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc).timestamp() == -0.5;
    # the builder's "no second formatted yet" must not be that second (-1)
    event = MetricEvent("e", "u", "targeting_key", None, {}, -0.5, None)
    (record,) = EventRecordBuilder().build([event]).records
    assert record["time"] == "1969-12-31T23:59:59.500Z"


def test_made_event_ids_are_32_hex_digits_unique_and_kept_across_builds() -> None:
    items = [MetricEvent("e", "u", "targeting_key", None, {}, 0.0, None) for _ in range(50)]
    first = [r["event_id"] for r in EventRecordBuilder().build(items).records]
    again = [r["event_id"] for r in EventRecordBuilder().build(items).records]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in first)
    assert len(set(first)) == 50 and first == again  # a retry or a spool keeps the id


# -- RecordBatch.kind / kinds ----------------------------------------------------------------


def test_kinds_of_lines_and_records_including_records_without_a_type() -> None:
    exposure = {"schema_version": 1, "type": "exposure", "resolve_id": "r"}
    event = {"schema_version": 1, "type": "event", "event_id": "e"}
    old = {"schema_version": 1, "resolve_id": "r"}  # written before records had a type
    foreign = {"resolve_id": "r", "type": "event", "schema_version": 1}  # other key order
    records = [exposure, event, old, foreign]
    expected = ["exposure", "event", "exposure", "event"]
    assert RecordBatch(records).kinds() == expected
    assert RecordBatch(lines=[json.dumps(r) for r in records]).kinds() == expected
    compact = [json.dumps(r, separators=(",", ":")) for r in records]
    assert RecordBatch(lines=compact).kinds() == expected
    assert RecordBatch(records, kind="exposure").kinds() == ["exposure"] * 4
    assert RecordBatch(records, kind="event").tail(2).kind == "event"


@pytest.mark.parametrize("kind", ["exposure", "event"])
def test_batches_a_client_produces_carry_their_kind(kind: str) -> None:
    seen: list[str | None] = []

    class Writer:
        def write_batch(self, batch: RecordBatch) -> None:
            seen.append(batch.kind)
            assert batch.kinds() == [r["type"] for r in batch.records]

        def close(self) -> None:
            pass

    sink = BatchingSink(Writer())
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink], event_unit_selector="user.id")
    if kind == "exposure":
        client.evaluate("checkout", {"user": {"id": "u"}})
    else:
        client.track("visit", {"user": {"id": "u"}})
    client.close()
    assert seen == [kind]
