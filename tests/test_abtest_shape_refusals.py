"""``python -m flagstone abtest … --format alexa|experiments-api`` speaks the shape's language:
which command each state of the shape allows, what a refusal says, what ``list --state`` and
``state`` take and print.

The expected tables are written here from the APIs' own texts (``../shared/seeds/``), not
read from flagstone:

* Alexa skill A/B-testing API (``002_…txt``): "Update A/B test … the test must be in the
  CREATED state. You can't update an active test"; "Update exposure … CREATED - Increase or
  decrease the exposure value … RUNNING - Increase your exposure value"; ``targetState``
  ENABLED from CREATED, RUNNING and STOPPED from ENABLED (ENABLING is on its way to ENABLED),
  STOPPED from RUNNING; a customer treatment override is set for testing (flagstone: until
  the test stops); delete any test that is not running (flagstone's rule: never a serving
  test).
* Experiments API (``001_…txt``): "Update Experiment … Only allowed while the experiment is
  in draft status"; Start launches it, Stop stops variant assignment (flagstone: Start again
  resumes it), ``completed`` ends it (flagstone's ``end``); delete what is not running or
  stopped.

Every refusal names the shape's state and exactly the commands that state allows, in the
shape's words, and none of the native words (live, draft, ended, archived, preview, intake,
the native test name).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flagstone import LifecycleError
from flagstone.abtests import Document, transitions
from flagstone.formats import alexa, experiments_api
from tests.test_abtest_cli import abtest, failed, ok
from tests.test_abtest_cli_formats import AUDIENCE, alexa_entry, experiments_api_experiment

ID = "exp-1"

# -- Alexa (seed file 002) ------------------------------------------------------------------

ALEXA_STATES = ["CREATED", "ENABLING", "ENABLED", "RUNNING", "STOPPING", "STOPPED", "FAILED"]

ALEXA_ALLOWED: dict[str, set[str]] = {
    "CREATED": {"state ENABLED", "update", "exposure", "override", "delete"},
    "ENABLING": {"state RUNNING", "state STOPPED", "override", "delete"},
    "ENABLED": {"state RUNNING", "state STOPPED", "override", "delete"},
    "RUNNING": {"state STOPPED", "exposure (up only)", "override"},
    "STOPPING": {"delete"},
    "STOPPED": {"delete"},
    "FAILED": {"delete"},
}
"""Alexa state → the commands it allows, as a refusal lists them."""

ALEXA_COMMANDS: dict[str, list[str]] = {
    "update": ["update", ID, "--body", json.dumps({"experiment": {"description": "changed"}})],
    "exposure up": ["exposure", ID, "--percentage", "30"],
    "exposure down": ["exposure", ID, "--percentage", "5"],
    "override": ["override", ID, "alice", "T1"],
    "state ENABLED": ["state", ID, "ENABLED"],
    "state RUNNING": ["state", ID, "RUNNING"],
    "state STOPPED": ["state", ID, "STOPPED"],
    "delete": ["delete", ID],
    # commands the Alexa shape does not have: its state commands say the same
    "launch": ["launch", ID],
    "end": ["end", ID],
    "enable": ["enable", ID],
    "archive": ["archive", ID],
    "pause": ["pause", ID],
    "resume": ["resume", ID],
    "update-segment": [
        "update-segment",
        ID,
        "--mask",
        "allocation",
        "--body",
        json.dumps({"allocation": {"proportion": 0.5}}),
    ],
}
"""Each command, run on an entry whose exposure is 10 %."""


def alexa_runs(state: str, command: str) -> bool:
    """Whether the Alexa API lets ``command`` act on a test in ``state``."""
    allowed = ALEXA_ALLOWED[state]
    if command == "exposure up":
        return "exposure" in allowed or "exposure (up only)" in allowed
    if command == "exposure down":
        return "exposure" in allowed
    return command in allowed


# -- Experiments API (seed file 001) --------------------------------------------------------

STATUSES = ["draft", "running", "stopped", "completed"]

EXPERIMENTS_API_ALLOWED: dict[str, set[str]] = {
    "draft": {"update", "launch (start)", "delete"},
    "running": {"pause (stop)", "end"},
    "stopped": {"resume (start)", "end"},
    "completed": {"delete"},
}

EXPERIMENTS_API_COMMANDS: dict[str, list[str]] = {
    "update": ["update", ID, "--body", json.dumps({"description": "changed"})],
    "launch (start)": ["launch", ID],
    "pause (stop)": ["pause", ID],
    "resume (start)": ["resume", ID],
    "end": ["end", ID],
    "delete": ["delete", ID],
    # commands the Experiments API does not have
    "override": ["override", ID, "alice", "v2"],
    "exposure": ["exposure", ID, "--percentage", "50"],
    "enable": ["enable", ID],
    "archive": ["archive", ID],
    "update-segment": [
        "update-segment",
        ID,
        "--mask",
        "targeting",
        "--body",
        json.dumps({"targeting": AUDIENCE["targeting"]}),
    ],
    "state ENABLED": ["state", ID, "ENABLED"],
    "state RUNNING": ["state", ID, "RUNNING"],
    "state STOPPED": ["state", ID, "STOPPED"],
}

NATIVE_WORDS = re.compile(
    r"\blive\b|\bdraft\b|\bended\b|\barchived\b|preview|intake|workflows/abtest/instances"
)
"""What a refusal in an Alexa file never says."""
EXPERIMENTS_API_NATIVE_WORDS = re.compile(
    r"\blive\b|\bended\b|\barchived\b|preview|intake|workflows/abtest/instances"
)
"""What a refusal in an Experiments-API file never says (``draft`` is one of its statuses)."""


def allowed_in(message: str) -> set[str]:
    """The commands a refusal lists after ``allowed: ``."""
    match = re.search(r"; allowed: (.*)$", message.strip())
    assert match is not None, message
    listed = match.group(1)
    return set() if listed.startswith("nothing") else set(listed.split(", "))


def alexa_file(tmp_path: Path, state: str) -> Path:
    path = tmp_path / "skill.json"
    path.write_text(json.dumps({"experiments": [alexa_entry(ID, "greeting", state)]}, indent=2))
    return path


def experiments_api_file(tmp_path: Path, status: str) -> Path:
    path = tmp_path / "experiments.json"
    document = {
        "experiments": [experiments_api_experiment(ID, "Onboarding", status)],
        "audiences": [AUDIENCE],
    }
    path.write_text(json.dumps(document, indent=2))
    return path


# -- which commands run, and what a refusal says ----------------------------------------------


@pytest.mark.parametrize("command", list(ALEXA_COMMANDS))
@pytest.mark.parametrize("state", ALEXA_STATES)
def test_an_alexa_file_allows_what_the_alexa_api_allows(
    tmp_path: Path, state: str, command: str
) -> None:
    path = alexa_file(tmp_path, state)
    before = path.read_bytes()

    name, *rest = ALEXA_COMMANDS[command]
    result = abtest(name, path, *rest, "--format", "alexa")

    if alexa_runs(state, command):
        assert result.returncode == 0, result.stderr
        alexa.read(json.loads(path.read_text()))  # still an Alexa file
        return
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert path.read_bytes() == before
    message = result.stderr
    assert f"{ID} is {state}" in message, message
    assert allowed_in(message) == ALEXA_ALLOWED[state], message
    assert not NATIVE_WORDS.search(message), message


@pytest.mark.parametrize("command", list(EXPERIMENTS_API_COMMANDS))
@pytest.mark.parametrize("status", STATUSES)
def test_an_experiments_api_file_allows_what_the_experiments_api_allows(
    tmp_path: Path, status: str, command: str
) -> None:
    path = experiments_api_file(tmp_path, status)
    before = path.read_bytes()

    name, *rest = EXPERIMENTS_API_COMMANDS[command]
    result = abtest(name, path, *rest, "--format", "experiments-api")

    if command in EXPERIMENTS_API_ALLOWED[status]:
        assert result.returncode == 0, result.stderr
        experiments_api.read(json.loads(path.read_text()))
        return
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert path.read_bytes() == before
    message = result.stderr
    assert f"{ID} is {status}" in message, message
    assert allowed_in(message) == EXPERIMENTS_API_ALLOWED[status], message
    assert not EXPERIMENTS_API_NATIVE_WORDS.search(message), message


def test_shrinking_a_running_alexa_test_is_refused_in_alexa_words(tmp_path: Path) -> None:
    path = alexa_file(tmp_path, "RUNNING")
    ok("exposure", path, ID, "--percentage", "60", "--format", "alexa")
    before = path.read_bytes()

    refused = failed(3, "exposure", path, ID, "--percentage", "40", "--format", "alexa")

    assert f"{ID} is RUNNING" in refused.stderr
    assert "exposurePercentage" in refused.stderr and "60 → 40" in refused.stderr
    assert allowed_in(refused.stderr) == ALEXA_ALLOWED["RUNNING"]
    assert not NATIVE_WORDS.search(refused.stderr), refused.stderr
    assert path.read_bytes() == before


def test_an_alexa_refusal_carries_the_alexa_state_and_commands_in_the_python_api() -> None:
    native = alexa.read({"experiments": [alexa_entry(ID, "greeting", "ENABLED")]})
    document = Document.parse(native, shape="alexa")

    with pytest.raises(LifecycleError) as refused:
        transitions.update(document, ID, {"description": "x"})

    assert refused.value.state == "ENABLED"
    assert set(refused.value.allowed) == ALEXA_ALLOWED["ENABLED"]


def test_a_native_document_keeps_the_native_words() -> None:
    native = alexa.read({"experiments": [alexa_entry(ID, "greeting", "RUNNING")]})

    with pytest.raises(LifecycleError) as refused:
        transitions.update(Document.parse(native), ID, {"description": "x"})

    assert refused.value.state == "live"
    assert "update-segment" in refused.value.allowed


# -- the native lifecycle's drafts: Alexa's ENABLED rule is Alexa's ---------------------------


def test_a_native_draft_that_serves_its_overrides_still_takes_updates_and_exposure() -> None:
    native = alexa.read({"experiments": [alexa_entry(ID, "greeting", "ENABLED")]})
    document = Document.parse(native)  # native rules: a draft, preview on

    updated = transitions.update(document, ID, {"description": "x"}).document
    ramped = transitions.set_exposure(updated, ID, percentage=50)

    assert ramped.test is not None
    assert ramped.test["segment"]["allocation"]["proportion"] == 0.5


# -- list --state and state in the shape's names ----------------------------------------------


@pytest.fixture
def every_alexa_state(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    entries = [
        alexa_entry(f"exp-{index}", f"greeting-{index}", state)
        for index, state in enumerate([*ALEXA_STATES, "RUNNING", "CREATED"])
    ]
    path = tmp_path / "skill.json"
    path.write_text(json.dumps({"experiments": entries}, indent=2))
    return path, entries


@pytest.mark.parametrize("state", ALEXA_STATES)
def test_list_state_takes_the_alexa_state_names(
    every_alexa_state: tuple[Path, list[dict[str, Any]]], state: str
) -> None:
    path, entries = every_alexa_state

    listed = ok("list", path, "--state", state, "--format", "alexa")

    expected = [entry for entry in entries if entry["experiment"]["state"] == state]
    assert listed == {"experiments": expected, "nextPageToken": ""}


def test_list_state_pages_through_one_alexa_state(
    every_alexa_state: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, entries = every_alexa_state
    running = [entry for entry in entries if entry["experiment"]["state"] == "RUNNING"]

    first = ok("list", path, "--state", "RUNNING", "--page-size", "1", "--format", "alexa")
    second = ok(
        "list",
        path,
        "--state",
        "RUNNING",
        "--page-size",
        "1",
        "--page-token",
        first["nextPageToken"],
        "--format",
        "alexa",
    )

    assert first["experiments"] + second["experiments"] == running
    assert second["nextPageToken"] == ""


@pytest.mark.parametrize("native", ["live", "draft", "ended", "archived", "running"])
def test_list_state_in_an_alexa_file_refuses_other_names_and_lists_the_alexa_ones(
    every_alexa_state: tuple[Path, list[dict[str, Any]]], native: str
) -> None:
    path, _ = every_alexa_state

    refused = failed(2, "list", path, "--state", native, "--format", "alexa")

    assert all(state in refused.stderr for state in ALEXA_STATES), refused.stderr


@pytest.fixture
def every_status(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    experiments = [
        experiments_api_experiment(f"exp-{index}", f"Onboarding {index}", status)
        for index, status in enumerate([*STATUSES, "stopped", "running"])
    ]
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps({"experiments": experiments, "audiences": [AUDIENCE]}, indent=2))
    return path, experiments


@pytest.mark.parametrize("status", STATUSES)
def test_list_state_takes_the_experiments_api_statuses(
    every_status: tuple[Path, list[dict[str, Any]]], status: str
) -> None:
    path, experiments = every_status

    listed = ok("list", path, "--state", status, "--format", "experiments-api")

    expected = [experiment for experiment in experiments if experiment["status"] == status]
    assert listed == {"experiments": expected, "nextPageToken": ""}


@pytest.mark.parametrize("native", ["live", "ended", "archived", "RUNNING"])
def test_list_state_in_an_experiments_api_file_refuses_other_names(
    every_status: tuple[Path, list[dict[str, Any]]], native: str
) -> None:
    path, _ = every_status

    refused = failed(2, "list", path, "--state", native, "--format", "experiments-api")

    assert all(status in refused.stderr for status in STATUSES), refused.stderr


def test_state_of_an_experiments_api_experiment_is_its_status(
    every_status: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, experiments = every_status

    for experiment in experiments:
        shown = ok("state", path, experiment["id"], "--format", "experiments-api")
        assert shown == {"id": experiment["id"], "status": experiment["status"]}


def test_state_of_an_alexa_experiment_is_its_alexa_state(
    every_alexa_state: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, entries = every_alexa_state

    for entry in entries:
        shown = ok("state", path, entry["experimentId"], "--format", "alexa")
        assert shown == {
            "experimentId": entry["experimentId"],
            "state": entry["experiment"]["state"],
        }
