"""One behavioural suite for every built-in exposure sink.

Each sink is driven through the same harness (``SinkUnderTest``): build it, emit exposures,
read back the records it delivered (``MemorySink.events``, the lines of ``JsonlSink``'s
file, the records ``CallbackSink`` handed to its callback). Exposures are built directly as
``Exposure(resolution, applied_at)`` so apply times are fixed; the resolutions come from a
real ``Client`` over a snapshot whose one rule gives every unit the same variant.

The tests after the suite cover what only one sink does (JSONL files, failing callbacks).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

import flagstone
from flagstone.sinks import (
    SCHEMA_VERSION,
    BatchingSink,
    CallbackSink,
    Exposure,
    ExposureSink,
    JsonlSink,
    MemorySink,
)
from tests.sinkdata import INSTANCE, RULE, SEGMENT, SNAPSHOT, abtest_snapshot, fallthrough_snapshot

T0 = datetime(2026, 11, 23, 14, 36, 1, tzinfo=timezone.utc).timestamp()


RECORD_FIELDS = [
    "schema_version",
    "type",
    "resolve_id",
    "apply_time",
    "flag",
    "variant",
    "reason",
    "rule",
    "segment",
    "assignment_id",
    "targeting_key",
    "targeting_key_selector",
    "fallthrough",
    "abtest",
    "override",
    "snapshot_version",
]
"""The exposure record's fields, in the order the README's table and every sink give them."""


def resolve(
    unit: str = "user-1", *, document: dict[str, Any] = SNAPSHOT, **context: Any
) -> flagstone.Resolution:
    client = flagstone.Client.from_dict(document)
    return client.evaluate("checkout", {"user": {"id": unit}, **context}, apply=False)


def exposure(at: float = T0, unit: str = "user-1") -> Exposure:
    return Exposure(resolve(unit), at)


# -- the harness -----------------------------------------------------------------------------


@dataclass
class SinkUnderTest:
    sink: Any
    read: Callable[[], list[dict[str, Any]]]

    def emit(self, *exposures: Exposure) -> None:
        for item in exposures:
            self.sink.emit(item)

    def records(self) -> list[dict[str, Any]]:
        return self.read()


def _memory(tmp_path: Path, **options: Any) -> SinkUnderTest:
    sink = MemorySink(**options)
    return SinkUnderTest(sink, lambda: sink.events)


def _jsonl(tmp_path: Path, **options: Any) -> SinkUnderTest:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, **options)

    def read() -> list[dict[str, Any]]:
        sink.flush()
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return SinkUnderTest(sink, read)


def _callback(tmp_path: Path, **options: Any) -> SinkUnderTest:
    received: list[dict[str, Any]] = []
    sink = CallbackSink(received.append, **options)
    return SinkUnderTest(sink, lambda: list(received))


@pytest.fixture(params=[_memory, _jsonl, _callback], ids=["memory", "jsonl", "callback"])
def make_sink(request, tmp_path) -> Callable[..., SinkUnderTest]:
    def make(**options: Any) -> SinkUnderTest:
        return request.param(tmp_path, **options)

    return make


# -- the shared suite: records ---------------------------------------------------------------


def test_sink_follows_the_exposure_sink_protocol(make_sink) -> None:
    assert isinstance(make_sink().sink, ExposureSink)


def test_record_has_exactly_the_documented_fields(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    assert [list(record) for record in under_test.records()] == [RECORD_FIELDS]


def test_record_carries_the_schema_version(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    assert [record["schema_version"] for record in under_test.records()] == [SCHEMA_VERSION]


def test_schema_version_is_one() -> None:
    assert SCHEMA_VERSION == 1


def test_record_describes_the_resolution(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure(unit="user-1"))
    (record,) = under_test.records()
    assert {
        key: value
        for key, value in record.items()
        if key not in ("schema_version", "resolve_id", "apply_time")
    } == {
        "type": "exposure",
        "flag": "flags/checkout",
        "variant": "new-checkout",
        "reason": "RESOLVE_REASON_MATCH",
        "rule": RULE,
        "segment": SEGMENT,
        "assignment_id": "treatment",
        "targeting_key": "user-1",
        "targeting_key_selector": "user.id",
        "fallthrough": [],
        "abtest": None,
        "override": False,
        "snapshot_version": "2026-11-23.1",
    }


def test_record_lists_the_fallthrough_rules_passed(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(Exposure(resolve("user-1", document=fallthrough_snapshot()), T0))
    assert [record["fallthrough"] for record in under_test.records()] == [
        [
            {
                "rule": "flags/checkout/rules/holdout",
                "assignment_id": "passed",
                "targeting_key": "user-1",
                "targeting_key_selector": "user.id",
            }
        ]
    ]


def test_record_names_the_abtest_instance_of_the_matching_rule(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(Exposure(resolve("user-1", document=abtest_snapshot({})), T0))
    (record,) = under_test.records()
    assert (record["abtest"], record["rule"], record["override"]) == (
        INSTANCE,
        f"{INSTANCE}/rule",
        False,
    )


def test_record_marks_a_treatment_override(make_sink) -> None:
    document = abtest_snapshot({"user-1": "new-checkout"})
    under_test = make_sink()
    under_test.emit(Exposure(resolve("user-1", document=document), T0))
    (record,) = under_test.records()
    assert (record["override"], record["reason"]) == (True, "RESOLVE_REASON_OVERRIDE")


def test_record_leaves_out_context_attributes(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(Exposure(resolve("user-1", email="alice@example.com"), T0))
    (record,) = under_test.records()
    assert "alice@example.com" not in json.dumps(record)


def test_record_carries_a_resolve_id(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    (record,) = under_test.records()
    assert isinstance(record["resolve_id"], str) and record["resolve_id"]


def test_record_keeps_a_resolve_id_given_with_the_exposure(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(Exposure(resolve(), T0, "evaluation-42"))
    assert [record["resolve_id"] for record in under_test.records()] == ["evaluation-42"]


def test_record_is_json_ready(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    (record,) = under_test.records()
    assert json.loads(json.dumps(record)) == record


# -- the shared suite: apply time ------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0.123, "2026-11-23T14:36:01.123Z"),
        (0.0, "2026-11-23T14:36:01.000Z"),
        (0.5, "2026-11-23T14:36:01.500Z"),
    ],
    ids=["milliseconds", "whole second", "half second"],
)
def test_apply_time_is_utc_rfc3339_with_milliseconds(make_sink, offset, expected) -> None:
    under_test = make_sink()
    under_test.emit(exposure(at=T0 + offset))
    assert [record["apply_time"] for record in under_test.records()] == [expected]


def test_apply_time_of_a_client_exposure_is_the_wall_clock_when_applied(make_sink) -> None:
    under_test = make_sink()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[under_test.sink])
    with freeze_time("2026-11-23 14:36:01.123"):
        client.evaluate("checkout", {"user": {"id": "user-1"}})
    assert [record["apply_time"] for record in under_test.records()] == ["2026-11-23T14:36:01.123Z"]


@pytest.fixture
def local_zone_tokyo(monkeypatch) -> Iterator[None]:
    """The process's local time zone is UTC+9 (a POSIX TZ string: no tz database needed)."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_apply_time_is_utc_when_the_local_zone_is_not(make_sink, local_zone_tokyo) -> None:
    under_test = make_sink()
    under_test.emit(exposure(at=T0 + 0.123))
    assert [record["apply_time"] for record in under_test.records()] == ["2026-11-23T14:36:01.123Z"]


# -- the shared suite: deduplication ---------------------------------------------------------


def test_same_exposure_within_120_seconds_is_recorded_once(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure(at=T0), exposure(at=T0 + 119))
    assert [record["apply_time"] for record in under_test.records()] == ["2026-11-23T14:36:01.000Z"]


def test_same_exposure_after_120_seconds_is_recorded_again(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure(at=T0), exposure(at=T0 + 121))
    assert [record["apply_time"] for record in under_test.records()] == [
        "2026-11-23T14:36:01.000Z",
        "2026-11-23T14:38:02.000Z",
    ]


def test_deduplication_goes_by_apply_times_not_the_wall_clock(make_sink) -> None:
    under_test = make_sink()
    with freeze_time("2026-11-23 14:36:01") as clock:
        under_test.emit(exposure(at=T0))
        clock.tick(3600)
        under_test.emit(exposure(at=T0 + 119))
    assert len(under_test.records()) == 1


def test_same_exposure_from_two_evaluations_is_recorded_once(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(Exposure(resolve(), T0, "first"), Exposure(resolve(), T0 + 1, "second"))
    assert [record["resolve_id"] for record in under_test.records()] == ["first"]


def test_exposures_of_different_targeting_keys_are_both_recorded(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure(unit="user-1"), exposure(unit="user-2"))
    assert [record["targeting_key"] for record in under_test.records()] == ["user-1", "user-2"]


def test_override_marker_distinguishes_otherwise_identical_exposures(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(
        Exposure(resolve("user-1", document=abtest_snapshot({})), T0),
        Exposure(resolve("user-1", document=abtest_snapshot({"user-1": "new-checkout"})), T0),
    )
    assert [record["override"] for record in under_test.records()] == [False, True]


def test_dedup_false_records_every_exposure(make_sink) -> None:
    under_test = make_sink(dedup=False)
    under_test.emit(exposure(at=T0), exposure(at=T0), exposure(at=T0 + 1))
    assert len(under_test.records()) == 3


# -- the shared suite: counters and failures -------------------------------------------------


def test_duplicates_are_counted_as_deduplicated(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure(at=T0), exposure(at=T0 + 1), exposure(at=T0 + 2))
    stats = under_test.sink.stats()
    assert (stats["delivered"], stats["deduplicated"]) == (1, 2)


def test_emit_after_close_is_counted_as_dropped_and_not_delivered(make_sink) -> None:
    under_test = make_sink()
    under_test.sink.close()
    under_test.emit(exposure())
    stats = under_test.sink.stats()
    assert (stats["delivered"], stats["dropped_by_reason"], under_test.records()) == (
        0,
        {"closed": 1},
        [],
    )


def test_counters_account_for_every_emitted_exposure(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(
        exposure(at=T0, unit="user-1"),
        exposure(at=T0 + 1, unit="user-1"),
        exposure(at=T0 + 2, unit="user-2"),
    )
    under_test.sink.close()
    under_test.emit(exposure(at=T0 + 3, unit="user-3"))
    stats = under_test.sink.stats()
    assert stats["emitted"] == 4
    assert stats["emitted"] == stats["delivered"] + stats["deduplicated"] + stats["dropped"]


def test_close_keeps_what_was_delivered(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    under_test.sink.close()
    assert len(under_test.records()) == 1


def test_flush_reports_everything_delivered(make_sink) -> None:
    under_test = make_sink()
    under_test.emit(exposure())
    assert under_test.sink.flush(1.0) is True


# -- failures that only some sinks can have --------------------------------------------------


def _raising_callback(tmp_path: Path) -> Any:
    def callback(record: dict[str, Any]) -> None:
        raise RuntimeError("downstream is down")

    return CallbackSink(callback)


def _unwritable_jsonl(tmp_path: Path) -> Any:
    return JsonlSink(tmp_path / "no-such-directory" / "exposures.jsonl")


@pytest.mark.parametrize(
    "make_failing",
    [_raising_callback, _unwritable_jsonl],
    ids=["callback raises", "jsonl cannot open its file"],
)
def test_emit_does_not_raise_when_delivery_fails(tmp_path, make_failing) -> None:
    sink = make_failing(tmp_path)
    sink.emit(exposure())  # must not raise


@pytest.mark.parametrize(
    "make_failing",
    [_raising_callback, _unwritable_jsonl],
    ids=["callback raises", "jsonl cannot open its file"],
)
def test_failed_delivery_is_counted_as_dropped(tmp_path, make_failing) -> None:
    sink = make_failing(tmp_path)
    sink.emit(exposure(unit="user-1"))
    sink.emit(exposure(unit="user-2"))
    stats = sink.stats()
    assert (stats["emitted"], stats["delivered"], stats["dropped_by_reason"]) == (
        2,
        0,
        {"delivery_failed": 2},
    )


def test_failing_sink_does_not_break_client_evaluate(tmp_path) -> None:
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[_raising_callback(tmp_path)])
    assert client.evaluate("checkout", {"user": {"id": "user-1"}}).variant == "new-checkout"


# -- JsonlSink -------------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_jsonl_sink_writes_one_json_object_per_line(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.emit(exposure(unit="user-1"))
    sink.emit(exposure(unit="user-2"))
    sink.close()
    assert [json.loads(line)["targeting_key"] for line in _lines(path)] == ["user-1", "user-2"]


def test_jsonl_sink_appends_to_an_existing_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    sink = JsonlSink(path)
    sink.emit(exposure())
    sink.close()
    lines = _lines(path)
    assert (lines[0], [json.loads(line)["flag"] for line in lines[1:]]) == (
        '{"earlier": true}',
        ["flags/checkout"],
    )


def test_two_jsonl_sinks_on_one_file_both_append_whole_lines(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    first, second = JsonlSink(path), JsonlSink(path)
    for index in range(50):
        first.emit(exposure(unit=f"first-{index}"))
        second.emit(exposure(unit=f"second-{index}"))
    first.close()
    second.close()
    keys = sorted(json.loads(line)["targeting_key"] for line in _lines(path))
    assert keys == sorted([f"first-{i}" for i in range(50)] + [f"second-{i}" for i in range(50)])


def test_jsonl_sink_close_writes_out_buffered_records(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.emit(exposure())
    sink.close()
    assert len(_lines(path)) == 1


def test_jsonl_sink_flush_writes_out_buffered_records(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.emit(exposure())
    sink.flush()
    assert len(_lines(path)) == 1


def test_jsonl_sink_creates_no_file_before_the_first_exposure(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    JsonlSink(path).close()
    assert not path.exists()


def test_jsonl_sink_writes_non_ascii_units_as_utf8(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.emit(exposure(unit="användare-ø"))
    sink.close()
    assert json.loads(path.read_bytes().decode("utf-8"))["targeting_key"] == "användare-ø"


# -- MemorySink ------------------------------------------------------------------------------


def test_callback_sink_with_batch_on_its_own_gets_a_list_of_one_record_per_exposure() -> None:
    batches: list[Any] = []
    sink = CallbackSink(batches.append, batch=True)
    sink.emit(exposure(unit="user-1"))
    sink.emit(exposure(unit="user-1"))  # a repeat: no call
    sink.emit(exposure(unit="user-2"))
    assert [[record["targeting_key"] for record in batch] for batch in batches] == [
        ["user-1"],
        ["user-2"],
    ]
    assert sink.stats()["delivered"] == 2
    assert sink.stats()["deduplicated"] == 1


def test_a_callback_on_its_own_and_one_behind_a_batching_sink_get_the_same_records(
    tmp_path,
) -> None:
    # the calling thread builds one record dict (RecordBuilder.record), the worker a batch
    # (RecordBuilder.build): same fields, same values, the same resolve id for one exposure
    alone: list[dict[str, Any]] = []
    behind: list[dict[str, Any]] = []
    path = tmp_path / "exposures.jsonl"
    client = flagstone.Client.from_dict(
        fallthrough_snapshot(),
        sinks=[
            CallbackSink(alone.append),
            BatchingSink(CallbackSink(behind.append)),
            BatchingSink(JsonlSink(path)),
        ],
        exposure_context=("country",),
    )
    for unit in ("user-1", "user-2", "user-1", "user-3"):
        client.evaluate("checkout", {"user": {"id": unit}, "country": "SE"})
    client.close()
    assert len(alone) == 3
    assert alone == behind
    assert [json.loads(line) for line in path.read_text().splitlines()] == alone


def test_memory_sink_exposures_are_the_delivered_exposure_objects() -> None:
    sink = MemorySink()
    first = exposure(at=T0)
    sink.emit(first)
    sink.emit(exposure(at=T0 + 1))
    assert sink.exposures == [first]


def test_memory_sink_clear_forgets_records_and_the_dedup_window() -> None:
    sink = MemorySink()
    sink.emit(exposure(at=T0))
    sink.clear()
    sink.emit(exposure(at=T0 + 1))
    assert len(sink.events) == 1
