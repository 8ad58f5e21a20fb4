"""Fork safety of the exposure pipeline: a forked child gets a working, empty sink.

Each scenario runs as a script under ``tests/scripts/`` in its own interpreter (pytest's
own threads must not be in the forking process) and prints a JSON report; the tests read
that report and the files the processes wrote. A script that fails or hangs fails the
test with its output. What the sinks promise after ``os.fork()``: the child's
``BatchingSink`` starts with an empty queue, zeroed counters and no worker (one starts
with the child's first exposure); the parent keeps delivering what it had queued, once.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scripted import ScriptRun
from tests.scripted import run_script as run_scripted

SCRIPTS = Path(__file__).resolve().parent / "scripts"

PARENT_UNITS = 40  # "p-0" … : one delivered before the fork, the rest held or queued
CHILD_UNITS = 25  # "c-0" …
FORKS = 20


def run_script(name: str, *args: object) -> ScriptRun:
    """Run ``tests/scripts/<name>``; its last stdout line is its JSON report."""
    return run_scripted(SCRIPTS / name, *args)


def targeting_keys(path: Path) -> list[str]:
    return [
        json.loads(line)["targeting_key"] for line in path.read_text(encoding="ascii").splitlines()
    ]


@dataclass
class InFlightFork:
    run: ScriptRun
    keys: list[str]  # targeting keys in the shared output file, in file order

    @property
    def details(self) -> str:
        return f"keys in the output file: {self.keys}\n{self.run.details}"

    @property
    def parent_keys(self) -> list[str]:
        return [key for key in self.keys if key.startswith("p-")]

    @property
    def child_keys(self) -> list[str]:
        return [key for key in self.keys if key.startswith("c-")]


@pytest.fixture(scope="module", params=["fork", "multiprocessing"])
def in_flight_fork(request, tmp_path_factory) -> InFlightFork:
    """A fork (``os.fork`` or a multiprocessing "fork" child) taken while the parent's worker
    is held inside a write and more of its exposures are queued."""
    out = tmp_path_factory.mktemp(f"in-flight-{request.param}") / "exposures.jsonl"
    run = run_script(
        "fork_with_parent_batch_in_flight.py", out, PARENT_UNITS, CHILD_UNITS, request.param
    )
    facts = run.report
    # The scenario really happened: the parent's file was open, its worker was held inside
    # a write, and exposures of the parent were still in memory when it forked.
    assert facts["first_flushed"] and facts["held"], run.details
    assert facts["stats_before_fork"]["queued"] == PARENT_UNITS - 1, run.details
    assert facts["child"] is not None, run.details  # the child wrote its report
    return InFlightFork(run, targeting_keys(out))


def test_child_delivers_every_exposure_it_emits_in_order(in_flight_fork) -> None:
    assert in_flight_fork.child_keys == [f"c-{unit}" for unit in range(CHILD_UNITS)], (
        in_flight_fork.details
    )


def test_parent_exposures_queued_at_the_fork_are_delivered_exactly_once(in_flight_fork) -> None:
    assert Counter(in_flight_fork.parent_keys) == Counter(
        f"p-{unit}" for unit in range(PARENT_UNITS)
    ), in_flight_fork.details


def test_parent_delivers_only_its_own_exposures(in_flight_fork) -> None:
    stats = in_flight_fork.run.report["parent_stats"]
    assert (stats["emitted"], stats["delivered"], stats["dropped"]) == (
        PARENT_UNITS,
        PARENT_UNITS,
        0,
    ), in_flight_fork.details


def test_child_exits_cleanly_in_time(in_flight_fork) -> None:
    assert in_flight_fork.run.report["child_status"] == 0, in_flight_fork.details


def test_child_flush_reports_everything_delivered(in_flight_fork) -> None:
    assert in_flight_fork.run.report["child"]["flushed"] is True, in_flight_fork.details


def test_child_stats_start_at_zero(in_flight_fork) -> None:
    stats = in_flight_fork.run.report["child"]["stats_at_start"]
    by_kind = stats.pop("by_kind")
    assert {key: value for key, value in stats.items() if value} == {}, in_flight_fork.details
    for kind in ("exposure", "event"):
        counters = by_kind[kind]
        assert {key: value for key, value in counters.items() if value} == {}, kind


def test_child_stats_count_only_the_childs_exposures(in_flight_fork) -> None:
    stats = in_flight_fork.run.report["child"]["stats_after_close"]
    assert (stats["emitted"], stats["delivered"], stats["queued"], stats["dropped"]) == (
        CHILD_UNITS,
        CHILD_UNITS,
        0,
        0,
    ), in_flight_fork.details


def test_no_exposure_worker_thread_is_alive_after_close_in_parent_or_child(
    in_flight_fork,
) -> None:
    facts = in_flight_fork.run.report
    assert (facts["parent_threads_after_close"], facts["child"]["threads_after_close"]) == (
        [],
        [],
    ), in_flight_fork.details


@pytest.fixture(scope="module")
def forks_while_emitting(tmp_path_factory) -> ScriptRun:
    out_dir = tmp_path_factory.mktemp("while-emitting")
    run = run_script("fork_while_emitting.py", out_dir, FORKS, CHILD_UNITS)
    assert run.report["started"], run.details
    return run


def test_children_forked_while_another_thread_emits_deliver_flush_and_exit(
    forks_while_emitting,
) -> None:
    # each child exits 0 only if flush(10) was True and its file holds exactly its records
    assert forks_while_emitting.report["statuses"] == [0] * FORKS, forks_while_emitting.details


def test_parent_sink_still_delivers_after_the_forks(forks_while_emitting) -> None:
    facts = forks_while_emitting.report
    assert facts["final_flushed"] is True, forks_while_emitting.details
    assert "parent-final" in targeting_keys(Path(facts["parent_file"])), (
        forks_while_emitting.details
    )


def test_client_without_sinks_evaluates_in_a_forked_child() -> None:
    run = run_script("fork_without_sinks.py")
    assert (run.report["parent_variant"], run.report["child_status"]) == ("new-checkout", 0), (
        run.details
    )


def test_a_forked_child_draws_resolve_ids_of_its_own(tmp_path) -> None:
    # a standalone CallbackSink takes resolve ids from a pool of random bytes: a child that
    # kept the parent's pool would give its exposures the parent's next ids
    output = tmp_path / "records.jsonl"
    run = run_script("fork_callback_ids.py", output)
    assert run.report["child_status"] == 0, run.details
    records = [json.loads(line) for line in output.read_text(encoding="ascii").splitlines()]
    ids = {
        side: [r["resolve_id"] for r in records if r["targeting_key"].startswith(side)]
        for side in ("c-", "p-")
    }
    assert len(ids["c-"]) == len(ids["p-"]) == 20, run.details
    assert set(ids["c-"]).isdisjoint(ids["p-"]), run.details


def test_a_child_forked_during_a_spool_replay_does_not_keep_the_segment_locked(
    tmp_path,
) -> None:
    run = run_script("fork_during_replay.py", tmp_path / "spool")
    facts = run.report
    assert facts["spooled"] and facts["held"] and facts["segments"] == 1, run.details
    assert facts["child"] == 0, run.details
    # The parent has closed its sink and holds nothing of the spool; the child never used it.
    assert facts["locked"] == [False], run.details
