"""A live client in a forked process (pre-fork servers, ``multiprocessing``): the child keeps
its snapshot fresh with an updater thread of its own.

Each scenario runs as a script under ``tests/live_scripts/`` in its own interpreter (pytest's
own threads must not be in the forking process) and prints a JSON report; the tests assert
on it. ``fork_follows_updates.py`` forks a client that follows a URL (an in-process
``flagstone.sources.server`` server) or watches a file, and changes the snapshot from A to B only
after the child has looked at its state, so B can reach the child only through the child's
own updater. ``fork_closed_client.py`` forks a client that was closed first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.live_scripts.livelib import THREAD_NAME
from tests.scripted import ScriptRun
from tests.scripted import run_script as run_scripted

SCRIPTS = Path(__file__).resolve().parent / "live_scripts"
# what a status says about the snapshot, as opposed to when it was last checked
SNAPSHOT_FIELDS = ("ready", "source", "snapshot_version", "loaded_from", "updates", "failures")


def run_script(name: str, *args: object) -> ScriptRun:
    """Run ``tests/live_scripts/<name>``; its last stdout line is its JSON report."""
    return run_scripted(SCRIPTS / name, *args)


def snapshot_part(status: dict[str, Any]) -> dict[str, Any]:
    return {name: status[name] for name in SNAPSHOT_FIELDS}


@pytest.fixture(scope="module", params=["url", "file"])
def forked(request, tmp_path_factory) -> ScriptRun:
    """One run of ``fork_follows_updates.py`` per kind of source."""
    return run_script("fork_follows_updates.py", request.param, tmp_path_factory.mktemp("fork"))


def test_forked_child_sees_a_change_made_after_the_fork(forked):
    child = forked.child

    assert forked.report["child_went_on"], forked.details
    assert forked.report["child_exit"] == 0, forked.details
    assert child["saw_new"], forked.details
    assert child["updates_seen"] == ["B"], forked.details
    assert child["answers_b"], forked.details


def test_forked_child_runs_an_updater_thread_of_its_own(forked):
    assert forked.report["parent_updater_threads"] == [THREAD_NAME], forked.details
    assert forked.child["updater_threads"] == [THREAD_NAME], forked.details


def test_forked_child_starts_from_the_parents_snapshot_and_status(forked):
    child = forked.child
    before_fork = forked.report["status_before_fork"]

    assert forked.report["ready_before_fork"], forked.details
    assert before_fork["snapshot_version"] == "A", forked.details
    assert child["version_at_start"] == "A", forked.details
    assert child["answers_a_at_start"], forked.details
    assert snapshot_part(child["status_at_start"]) == snapshot_part(before_fork), forked.details


def test_forked_childs_status_reports_its_own_update(forked):
    after = forked.child["status_after_update"]
    before_fork = forked.report["status_before_fork"]

    assert after["snapshot_version"] == "B", forked.details
    assert after["updates"] == before_fork["updates"] + 1, forked.details
    assert after["loaded_from"] == forked.report["mode"], forked.details
    assert after["consecutive_failures"] == 0, forked.details


def test_parent_keeps_following_changes_after_forking(forked):
    assert forked.report["parent_saw_new"], forked.details
    assert forked.report["parent_answers_b"], forked.details


def test_closing_the_client_in_the_child_stops_the_childs_updater(forked):
    assert forked.child["updater_stopped_by_close"], forked.details


def test_child_of_a_closed_client_starts_no_updater(tmp_path):
    run = run_script("fork_closed_client.py", tmp_path)

    assert run.report["parent_updater_stopped"], run.details
    assert run.report["child_exit"] == 0, run.details
    assert run.child["updater_threads"] == [], run.details
    assert run.child["answers_a"], run.details  # it still serves what it had
