"""``JsonlSink``: rotation by size and by age, pruning, ``{pid}`` paths, the fsync policy,
use inside ``BatchingSink`` and after ``close``.

Time is injected: ``timer`` (how long the file has been open, when to fsync) is a fake
monotonic clock the test moves by hand, and ``clock`` (the wall-clock time in a rotated file's
name) a fixed or stepping function. ``os.fsync`` is replaced by a counter where the policy is
under test.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

import flagstone
from flagstone.sinks import (
    BatchingSink,
    Exposure,
    JsonlSink,
    PartialDelivery,
    RecordBatch,
    RetryPolicy,
    SinkError,
)
from tests.sinkdata import SNAPSHOT

CLIENT = flagstone.Client.from_dict(SNAPSHOT)

T0 = datetime(2026, 11, 23, 14, 36, 1, 123000, tzinfo=timezone.utc).timestamp()
"""2026-11-23T14:36:01.123Z: a rotation at this wall-clock time is stamped 20261123T143601.123Z"""

WAIT = 30.0

ROTATED = re.compile(r"^exposures\.\d{8}T\d{6}\.\d{3}Z(-\d+)?\.jsonl$")


def exposure(unit: str = "user-1", at: float = T0) -> Exposure:
    return Exposure(CLIENT.evaluate("checkout", {"user": {"id": unit}}, apply=False), at)


def units(count: int, prefix: str = "user") -> list[str]:
    return [f"{prefix}-{index:04d}" for index in range(count)]


def read_keys(path: Path) -> list[str]:
    return [json.loads(line)["targeting_key"] for line in path.read_text("ascii").splitlines()]


def rotated_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if ROTATED.match(path.name))


class FakeTimer:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stepping_clock(start: float = T0, step: float = 1.0) -> Callable[[], float]:
    """A wall clock that moves ``step`` seconds every time it is read."""
    moments = iter(start + index * step for index in range(1_000_000))
    return lambda: next(moments)


@pytest.fixture
def fsync_calls(monkeypatch) -> dict[str, list[int]]:
    """Replace ``os.fsync``: record the inode of every descriptor fsynced, regular files and
    directories apart (nothing reaches the disk)."""
    calls: dict[str, list[int]] = {"files": [], "directories": []}

    def fake_fsync(fd: int) -> None:
        status = os.fstat(fd)
        calls["directories" if stat.S_ISDIR(status.st_mode) else "files"].append(status.st_ino)

    monkeypatch.setattr(os, "fsync", fake_fsync)
    return calls


@pytest.fixture
def fsyncs(fsync_calls) -> list[int]:
    """The inodes of the regular files fsynced, in order."""
    return fsync_calls["files"]


# -- rotation by size ------------------------------------------------------------------------


def test_size_rotation_keeps_every_record_in_exactly_one_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1500, clock=stepping_clock())
    for unit in units(40):
        sink.emit(exposure(unit))
    sink.close()
    keys = [key for file in [*rotated_files(tmp_path), path] for key in read_keys(file)]
    assert keys == units(40)


def test_size_rotation_never_lets_a_file_exceed_max_bytes(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1500, clock=stepping_clock())
    for unit in units(40):
        sink.emit(exposure(unit))
    sink.close()
    rotated = rotated_files(tmp_path)
    assert len(rotated) > 1
    assert all(file.stat().st_size <= 1500 for file in [*rotated, path])


def test_rotated_files_are_named_after_the_utc_time_of_rotation(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, clock=stepping_clock(T0, step=61.5))
    for unit in units(3):
        sink.emit(exposure(unit))
    sink.close()
    assert sorted(file.name for file in tmp_path.iterdir()) == [
        "exposures.20261123T143601.123Z.jsonl",
        "exposures.20261123T143702.623Z.jsonl",
        "exposures.jsonl",
    ]


def test_rotation_leaves_the_newest_records_in_the_current_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, clock=stepping_clock())
    for unit in units(3):
        sink.emit(exposure(unit))
    sink.close()
    assert (
        [read_keys(file) for file in rotated_files(tmp_path)],
        read_keys(path),
    ) == ([["user-0000"], ["user-0001"]], ["user-0002"])


def test_a_batch_larger_than_max_bytes_is_written_whole_to_an_empty_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=100)
    batch = RecordBatch([exposure(unit).to_record() for unit in units(5)])
    sink.write_batch(batch)
    sink.close()
    assert (read_keys(path), rotated_files(tmp_path)) == (units(5), [])


def test_a_batch_larger_than_max_bytes_goes_whole_into_a_fresh_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=100, clock=stepping_clock())
    sink.emit(exposure("first"))
    sink.write_batch(RecordBatch([exposure(unit).to_record() for unit in units(5)]))
    sink.close()
    assert [read_keys(file) for file in rotated_files(tmp_path)] == [["first"]]
    assert read_keys(path) == units(5)


def test_no_rotation_while_the_file_stays_within_max_bytes(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1 << 20)
    for unit in units(20):
        sink.emit(exposure(unit))
    sink.close()
    assert rotated_files(tmp_path) == []


def test_an_existing_file_is_rotated_before_a_write_would_exceed_max_bytes(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    earlier = JsonlSink(path)
    earlier.emit(exposure("earlier"))
    earlier.close()
    size = path.stat().st_size
    sink = JsonlSink(path, max_bytes=size + 10, clock=stepping_clock())  # room for no record
    sink.emit(exposure("later"))
    sink.close()
    assert path.stat().st_size <= size + 10


# -- rotation by age -------------------------------------------------------------------------


def test_file_is_rotated_once_it_has_been_open_rotate_every_seconds(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    timer = FakeTimer()
    sink = JsonlSink(path, rotate_every=60, timer=timer, clock=stepping_clock())
    sink.emit(exposure("user-a"))
    timer.advance(59.9)
    sink.emit(exposure("user-b"))
    timer.advance(0.1)
    sink.emit(exposure("user-c"))
    sink.close()
    assert [read_keys(file) for file in rotated_files(tmp_path)] == [["user-a", "user-b"]]
    assert read_keys(path) == ["user-c"]


def test_age_is_counted_from_when_the_new_file_was_opened(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    timer = FakeTimer()
    sink = JsonlSink(path, rotate_every=60, timer=timer, clock=stepping_clock())
    sink.emit(exposure("user-a"))
    timer.advance(100)
    sink.emit(exposure("user-b"))  # rotates; the new file opens now
    timer.advance(59)
    sink.emit(exposure("user-c"))
    sink.close()
    assert [read_keys(file) for file in rotated_files(tmp_path)] == [["user-a"]]
    assert read_keys(path) == ["user-b", "user-c"]


def test_an_old_file_is_not_rotated_before_a_write(tmp_path) -> None:
    # rotation happens on the next write, never on a timer: no empty files appear
    path = tmp_path / "exposures.jsonl"
    timer = FakeTimer()
    sink = JsonlSink(path, rotate_every=60, timer=timer, clock=stepping_clock())
    sink.emit(exposure("user-a"))
    timer.advance(3600)
    sink.flush()
    sink.close()
    assert (rotated_files(tmp_path), read_keys(path)) == ([], ["user-a"])


def test_age_rotation_uses_the_injected_clock_for_the_name(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    timer = FakeTimer()
    sink = JsonlSink(path, rotate_every=1, timer=timer, clock=lambda: T0)
    sink.emit(exposure("user-a"))
    timer.advance(1)
    sink.emit(exposure("user-b"))
    sink.close()
    assert [file.name for file in rotated_files(tmp_path)] == [
        "exposures.20261123T143601.123Z.jsonl"
    ]


# -- names and pruning -----------------------------------------------------------------------


def test_a_name_collision_gets_a_numbered_suffix(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, clock=lambda: T0)
    for unit in units(4):
        sink.emit(exposure(unit))
    sink.close()
    assert sorted(file.name for file in rotated_files(tmp_path)) == [
        "exposures.20261123T143601.123Z-1.jsonl",
        "exposures.20261123T143601.123Z-2.jsonl",
        "exposures.20261123T143601.123Z.jsonl",
    ]


def test_a_name_collision_loses_no_records(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, clock=lambda: T0)
    for unit in units(4):
        sink.emit(exposure(unit))
    sink.close()
    keys = [key for file in tmp_path.iterdir() for key in read_keys(file)]
    assert sorted(keys) == units(4)


def test_keep_prunes_the_oldest_rotated_files(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, keep=2, clock=stepping_clock())
    for unit in units(6):
        sink.emit(exposure(unit))
    sink.close()
    assert [read_keys(file) for file in rotated_files(tmp_path)] == [
        ["user-0003"],
        ["user-0004"],
    ]
    assert read_keys(path) == ["user-0005"]


def test_keep_zero_keeps_only_the_current_file(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, keep=0, clock=stepping_clock())
    for unit in units(4):
        sink.emit(exposure(unit))
    sink.close()
    assert sorted(tmp_path.iterdir()) == [path]


def test_keep_leaves_unrelated_files_alone(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    others = [tmp_path / "other.20261123T143601.123Z.jsonl", tmp_path / "exposures.copy.jsonl"]
    for other in others:
        other.write_text("{}\n")
    sink = JsonlSink(path, max_bytes=1, keep=0, clock=stepping_clock())
    for unit in units(3):
        sink.emit(exposure(unit))
    sink.close()
    assert sorted(tmp_path.iterdir()) == sorted([path, *others])


def test_keep_keeps_the_newest_rotated_file_when_names_collide(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, max_bytes=1, keep=1, clock=lambda: T0)
    for unit in units(4):
        sink.emit(exposure(unit))
    sink.close()
    assert [read_keys(file) for file in rotated_files(tmp_path)] == [["user-0002"]]


# -- {pid} -----------------------------------------------------------------------------------


def test_pid_in_the_path_is_the_current_process_id(tmp_path) -> None:
    sink = JsonlSink(tmp_path / "exposures-{pid}.jsonl")
    sink.emit(exposure())
    sink.close()
    expected = tmp_path / f"exposures-{os.getpid()}.jsonl"
    assert (sink.path, read_keys(expected)) == (str(expected), ["user-1"])


def test_a_pid_path_rotates_next_to_itself(tmp_path) -> None:
    sink = JsonlSink(tmp_path / "exposures-{pid}.jsonl", max_bytes=1, clock=lambda: T0)
    sink.emit(exposure("user-a"))
    sink.emit(exposure("user-b"))
    sink.close()
    rotated = tmp_path / f"exposures-{os.getpid()}.20261123T143601.123Z.jsonl"
    assert read_keys(rotated) == ["user-a"]


# -- the fsync policy ------------------------------------------------------------------------


def test_fsync_always_fsyncs_the_file_after_every_write(tmp_path, fsyncs) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, fsync="always")
    for unit in units(3):
        sink.emit(exposure(unit))
    assert fsyncs == [path.stat().st_ino] * 3
    sink.close()


def test_fsync_never_never_fsyncs(tmp_path, fsyncs) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync="never")
    for unit in units(3):
        sink.emit(exposure(unit))
    sink.flush()
    sink.close()
    assert fsyncs == []


def test_fsync_is_never_by_default(tmp_path, fsyncs) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl")
    sink.emit(exposure())
    sink.flush()
    sink.close()
    assert fsyncs == []


def test_fsync_seconds_fsyncs_at_a_write_once_the_interval_has_passed(tmp_path, fsyncs) -> None:
    timer = FakeTimer()
    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync=10, timer=timer)
    counts = []
    for unit, step in zip(units(6), [1, 4, 5, 5, 4, 1], strict=True):
        timer.advance(step)  # writes at 1, 5, 10, 15, 19, 20 s after construction
        sink.emit(exposure(unit))
        counts.append(len(fsyncs))
    assert counts == [0, 0, 1, 1, 1, 2]
    sink.close()


def test_fsync_seconds_fsyncs_on_flush(tmp_path, fsyncs) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, fsync=10, timer=FakeTimer())
    sink.emit(exposure())
    assert sink.flush() is True
    assert fsyncs == [path.stat().st_ino]
    sink.close()


def test_flush_without_new_writes_does_not_fsync_again(tmp_path, fsyncs) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync=10, timer=FakeTimer())
    sink.emit(exposure())
    sink.flush()
    sink.flush()
    sink.close()
    assert len(fsyncs) == 1


def test_fsync_seconds_fsyncs_on_close(tmp_path, fsyncs) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, fsync=10, timer=FakeTimer())
    sink.emit(exposure())
    sink.close()
    assert fsyncs == [path.stat().st_ino]


def test_fsync_seconds_fsyncs_a_file_before_rotating_it(tmp_path, fsyncs) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path, fsync=10, max_bytes=1, timer=FakeTimer(), clock=lambda: T0)
    sink.emit(exposure("user-a"))
    sink.emit(exposure("user-b"))
    (rotated,) = rotated_files(tmp_path)
    assert fsyncs == [rotated.stat().st_ino]
    sink.close()


def test_flush_reports_a_failed_fsync(tmp_path, monkeypatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError("disk on fire")

    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync=10, timer=FakeTimer())
    sink.emit(exposure())
    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert sink.flush() is False
    sink.close()  # does not raise either


def test_fsync_zero_seconds_fsyncs_every_write(tmp_path, fsyncs) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync=0, timer=FakeTimer())
    for unit in units(3):
        sink.emit(exposure(unit))
    assert len(fsyncs) == 3
    sink.close()


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"max_bytes": 0},
        {"max_bytes": -1},
        {"rotate_every": 0},
        {"rotate_every": -5},
        {"keep": -1},
        {"fsync": "sometimes"},
        {"fsync": -1},
    ],
    ids=repr,
)
def test_invalid_options_are_rejected(tmp_path, options) -> None:
    with pytest.raises(ValueError):
        JsonlSink(tmp_path / "exposures.jsonl", **options)


# -- inside BatchingSink ---------------------------------------------------------------------


def test_batching_sink_writes_complete_lines_in_order(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = BatchingSink(JsonlSink(path), max_batch=7, max_latency=0.01)
    for unit in units(200):
        sink.emit(exposure(unit))
    assert sink.flush(WAIT) is True
    sink.close()
    data = path.read_bytes()
    assert data.endswith(b"\n")
    assert read_keys(path) == units(200)


def test_batching_sink_with_rotation_keeps_every_record_once(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = BatchingSink(
        JsonlSink(path, max_bytes=4000, clock=stepping_clock()), max_batch=5, max_latency=0.01
    )
    for unit in units(100):
        sink.emit(exposure(unit))
    assert sink.flush(WAIT) is True
    sink.close()
    keys = [key for file in [*rotated_files(tmp_path), path] for key in read_keys(file)]
    assert keys == units(100)


# -- after close -----------------------------------------------------------------------------


def test_write_batch_after_close_raises_partial_delivery_of_nothing(tmp_path) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl")
    sink.close()
    with pytest.raises(PartialDelivery) as raised:
        sink.write_batch(RecordBatch([exposure().to_record()]))
    assert (isinstance(raised.value, SinkError), raised.value.delivered) == (True, 0)


def test_emit_after_close_is_dropped_as_closed(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.close()
    sink.emit(exposure())
    stats = sink.stats()
    assert (stats["emitted"], stats["dropped_by_reason"], path.exists()) == (
        1,
        {"closed": 1},
        False,
    )


def test_batching_sink_counts_records_refused_by_a_closed_jsonl_sink_as_dropped(
    tmp_path,
) -> None:
    inner = JsonlSink(tmp_path / "exposures.jsonl")
    inner.close()
    retry = RetryPolicy(attempts=2, initial_backoff=0.001, max_backoff=0.01)
    sink = BatchingSink(inner, retry=retry)
    sink.emit(exposure())
    assert sink.flush(WAIT) is False
    sink.close()
    assert sink.stats()["dropped_by_reason"] == {"delivery_failed": 1}


def test_close_is_idempotent(tmp_path) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl")
    sink.emit(exposure())
    sink.close()
    sink.close()


# -- encoding --------------------------------------------------------------------------------


def test_lines_are_ascii_and_non_ascii_units_round_trip(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    unit = 'användare-ø ☃ 😀 "quoted" \\ \t'
    sink = JsonlSink(path)
    sink.emit(exposure(unit))
    sink.close()
    data = path.read_bytes()
    assert data.isascii()
    assert json.loads(data)["targeting_key"] == unit


def test_each_line_equals_the_compact_json_of_its_record(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    sink = JsonlSink(path)
    sink.emit(exposure("user-1", at=time.time()))
    sink.close()
    (line,) = path.read_text("ascii").splitlines()
    assert line == json.dumps(json.loads(line), separators=(",", ":"))


def test_fsync_always_also_fsyncs_the_directory_of_a_new_file(tmp_path, fsync_calls) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl", fsync="always")
    sink.emit(exposure())
    sink.close()
    assert fsync_calls["directories"] == [tmp_path.stat().st_ino]


def test_fsync_never_does_not_fsync_the_directory(tmp_path, fsync_calls) -> None:
    sink = JsonlSink(tmp_path / "exposures.jsonl")
    sink.emit(exposure())
    sink.close()
    assert fsync_calls == {"files": [], "directories": []}


def test_fsync_true_is_refused_rather_than_read_as_one_second(tmp_path) -> None:
    with pytest.raises(ValueError):
        JsonlSink(tmp_path / "exposures.jsonl", fsync=True)  # type: ignore[arg-type]
