"""``python -m flagstone abtest … --format experiments-api|alexa``: the lifecycle on a file
kept in the shape of seed 001 (Experiments API) or seed 002 (Alexa), run in this process
through ``flagstone.cli.main`` as ``tests/test_abtest_cli.py`` runs the native commands.

The file is read into a native document, the lifecycle acts on it, and the result is written
back in the same shape: after every edit the file is still a document of that shape, and what
a client built from its native reading serves is what the lifecycle says. A change the shape
cannot express, a file in another shape than ``--format`` says, and a create that repeats a
name or an id are refused with exit 1 and leave the file byte for byte as it was.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.abtests import AbTests
from flagstone.formats import alexa, experiments_api
from tests.test_abtest_cli import TIMESTAMP, abtest, failed, ok

UNITS = [f"user-{index}" for index in range(2000)]

# Seed 002's Create A/B test body (exposure 10 %, to ramp it to 20 % and 60 % later).
ALEXA_CREATE: dict[str, Any] = {
    "experiment": {
        "name": "my_first_experiment",
        "description": "experiment_1",
        "type": "ENDPOINT_BASED",
        "plannedDuration": "P4W",
        "exposurePercentage": 10,
        "metricConfigurations": [
            {
                "name": "Customer Friction",
                "metricTypes": ["GUARDRAIL"],
                "expectedChange": "INCREASE",
            }
        ],
    }
}

SWEDEN = {
    "criteria": {
        "country": {
            "attribute": {"attributeName": "country", "eqRule": {"value": {"stringValue": "SE"}}}
        }
    },
    "expression": {"ref": "country"},
}
AUDIENCE = {"id": "aud_xyz", "name": "Swedish users", "targeting": SWEDEN}

# Seed 001's Create Experiment body.
EXPERIMENTS_API_CREATE: dict[str, Any] = {
    "name": "Onboarding Flow Test",
    "description": "Compare short vs. detailed onboarding",
    "type": "ab_test",
    "audienceId": "aud_xyz",
    "variants": [
        {"name": "Control", "splitPercentage": 50, "flowId": "flow_a", "config": {}},
        {"name": "Detailed", "splitPercentage": 50, "flowId": "flow_b", "config": {}},
    ],
}
CREATED = "2025-01-28T10:00:00Z"


def alexa_entry(experiment_id: str, name: str, state: str = "CREATED") -> dict[str, Any]:
    """An entry of an Alexa file, written by hand (no command run)."""
    experiment = {**copy.deepcopy(ALEXA_CREATE["experiment"]), "name": name, "state": state}
    experiment["history"] = {"creationTime": CREATED}
    return {"experimentId": experiment_id, "experiment": experiment}


def experiments_api_experiment(
    experiment_id: str, name: str, status: str = "draft"
) -> dict[str, Any]:
    """An experiment of an Experiments-API file, written by hand (no command run)."""
    body = copy.deepcopy(EXPERIMENTS_API_CREATE)
    variants = [{"id": f"v{n}", **variant} for n, variant in enumerate(body["variants"], 1)]
    return {
        "id": experiment_id,
        **body,
        "status": status,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "variants": variants,
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


@pytest.fixture
def alexa_file(tmp_path: Path) -> Path:
    return write(tmp_path / "skill-experiments.json", {"experiments": []})


@pytest.fixture
def experiments_api_file(tmp_path: Path) -> Path:
    return write(tmp_path / "experiments.json", {"experiments": [], "audiences": [AUDIENCE]})


def alexa_in_file(path: Path) -> dict[str, Any]:
    """The (only) entry of an Alexa file, once ``alexa.read`` has accepted the file."""
    document = json.loads(path.read_text())
    alexa.read(document)
    (entry,) = document["experiments"]
    assert isinstance(entry, dict)
    return entry


def experiments_api_in_file(path: Path) -> dict[str, Any]:
    """The (only) experiment of an Experiments-API file, once ``experiments_api.read`` has
    accepted the file."""
    document = json.loads(path.read_text())
    experiments_api.read(document)
    (experiment,) = document["experiments"]
    assert isinstance(experiment, dict)
    return experiment


def served(
    native: dict[str, Any], flag: str, contexts: Iterable[dict[str, Any]]
) -> dict[str, tuple[str | None, flagstone.Reason]]:
    """unit → (short variant name or None, reason) as a client of ``native`` serves them."""
    client = flagstone.Client.from_dict(native)
    result = {}
    for context in contexts:
        resolution = client.evaluate(flag, context)
        variant = resolution.variant.rsplit("/", 1)[-1] if resolution.variant else None
        result[context["targeting_key"]] = (variant, resolution.reason)
    return result


def alexa_served(path: Path, units: Iterable[str] = UNITS) -> dict[str, tuple[str | None, Any]]:
    native = alexa.read(json.loads(path.read_text()))
    return served(native, "my_first_experiment", ({"targeting_key": unit} for unit in units))


def assigned(serving: dict[str, tuple[str | None, Any]]) -> dict[str, str]:
    """The units the test's buckets assigned (not overrides), with their treatment."""
    return {
        unit: variant
        for unit, (variant, reason) in serving.items()
        if reason == flagstone.Reason.MATCH and variant is not None
    }


# -- Alexa ------------------------------------------------------------------------------------


def test_alexa_walkthrough_create_override_enable_run_ramp_stop(alexa_file: Path) -> None:
    # create: a CREATED entry, created now
    created = ok(
        "create",
        alexa_file,
        "--format",
        "alexa",
        "--id",
        "exp-1",
        "--body",
        json.dumps(ALEXA_CREATE),
    )
    assert TIMESTAMP.match(created["experiment"]["history"]["creationTime"])
    assert created == {
        "experimentId": "exp-1",
        "experiment": {
            **ALEXA_CREATE["experiment"],
            "state": "CREATED",
            "history": {"creationTime": created["experiment"]["history"]["creationTime"]},
        },
    }
    assert alexa_in_file(alexa_file) == created
    assert set(alexa_served(alexa_file).values()) == {(None, flagstone.Reason.NO_SEGMENT_MATCH)}

    # overrides: kept in the file, not served while CREATED
    ok("override", alexa_file, "exp-1", "alice", "T1", "--format", "alexa")
    overridden = ok("override", alexa_file, "exp-1", "bob", "C", "--format", "alexa")
    assert overridden["treatmentOverrides"] == {"alice": "T1", "bob": "C"}
    assert alexa_in_file(alexa_file) == overridden
    assert alexa_served(alexa_file, ["alice"])["alice"][0] is None

    # ENABLED: the overrides are served, nobody else is
    enabled = ok("state", alexa_file, "exp-1", "ENABLED", "--format", "alexa")
    assert enabled["experiment"]["state"] == "ENABLED"
    assert alexa_in_file(alexa_file) == enabled
    preview = alexa_served(alexa_file, ["alice", "bob", *UNITS])
    assert preview.pop("alice") == ("T1", flagstone.Reason.OVERRIDE)
    assert preview.pop("bob") == ("C", flagstone.Reason.OVERRIDE)
    assert assigned(preview) == {}

    # RUNNING at 10 %: about a tenth of the units get C or T1, the overrides still hold
    running = ok("state", alexa_file, "exp-1", "RUNNING", "--format", "alexa")
    assert running["experiment"]["state"] == "RUNNING"
    assert TIMESTAMP.match(running["experiment"]["history"]["startTime"])
    assert alexa_in_file(alexa_file) == running
    at_10 = assigned(alexa_served(alexa_file))
    assert 100 <= len(at_10) <= 300
    assert set(at_10.values()) == {"C", "T1"}
    assert alexa_served(alexa_file, ["alice"])["alice"] == ("T1", flagstone.Reason.OVERRIDE)

    # ramps to 20 % and 60 %: every unit already in the test keeps its treatment
    previous = at_10
    for percentage, low, high in ((20, 300, 500), (60, 1100, 1300)):
        ramped = ok(
            "exposure", alexa_file, "exp-1", "--percentage", str(percentage), "--format", "alexa"
        )
        assert ramped["experiment"]["exposurePercentage"] == percentage
        assert alexa_in_file(alexa_file) == ramped
        now = assigned(alexa_served(alexa_file))
        assert low <= len(now) <= high
        assert {unit: now.get(unit) for unit in previous} == previous
        previous = now

    # a running test's exposure never shrinks
    before = alexa_file.read_bytes()
    refused = failed(3, "exposure", alexa_file, "exp-1", "--percentage", "40", "--format", "alexa")
    assert "only grow" in refused.stderr
    assert alexa_file.read_bytes() == before

    # STOPPED: nobody is served any more, the reason is kept
    stopped = ok(
        "state",
        alexa_file,
        "exp-1",
        "STOPPED",
        "--stopped-reason",
        "EXPERIMENT_SUCCESS",
        "--format",
        "alexa",
    )
    assert stopped["experiment"]["state"] == "STOPPED"
    assert stopped["experiment"]["history"]["stoppedReason"] == "EXPERIMENT_SUCCESS"
    assert stopped["treatmentOverrides"] == {"alice": "T1", "bob": "C"}
    assert alexa_in_file(alexa_file) == stopped
    assert {variant for variant, _ in alexa_served(alexa_file, ["alice", *UNITS]).values()} == {
        None
    }


def test_alexa_get_list_and_state_print_the_entries_and_the_state(tmp_path: Path) -> None:
    entries = [
        alexa_entry("exp-1", "first"),
        alexa_entry("exp-2", "second", "RUNNING"),
        alexa_entry("exp-3", "third", "RUNNING"),
    ]
    path = write(tmp_path / "skill.json", {"experiments": entries})

    assert ok("get", path, "exp-2", "--format", "alexa") == entries[1]
    assert ok("state", path, "exp-2", "--format", "alexa") == {
        "experimentId": "exp-2",
        "state": "RUNNING",
    }
    first = ok("list", path, "--state", "RUNNING", "--page-size", "1", "--format", "alexa")
    assert first["experiments"] == [entries[1]]
    assert first["nextPageToken"] != ""
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
    assert second == {"experiments": [entries[2]], "nextPageToken": ""}


def test_alexa_create_without_an_id_makes_one_of_twenty_lowercase_letters_and_digits(
    alexa_file: Path,
) -> None:
    created = ok("create", alexa_file, "--format", "alexa", "--body", json.dumps(ALEXA_CREATE))

    assert re.fullmatch(r"[a-z0-9]{20}", created["experimentId"])
    assert alexa_in_file(alexa_file) == created


def test_alexa_update_takes_the_seeds_update_body_while_created(tmp_path: Path) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first")]})
    body = {"experiment": {"description": "new hypothesis", "plannedDuration": "P2W"}}

    updated = ok("update", path, "exp-1", "--format", "alexa", "--body", json.dumps(body))

    expected = alexa_entry("exp-1", "first")
    expected["experiment"].update(description="new hypothesis", plannedDuration="P2W")
    assert updated == expected
    assert alexa_in_file(path) == expected


def test_alexa_update_of_a_field_the_seeds_update_does_not_change_is_refused(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first")]})
    before = path.read_bytes()

    result = failed(
        1,
        "update",
        path,
        "exp-1",
        "--format",
        "alexa",
        "--body",
        json.dumps({"experiment": {"name": "renamed"}}),
    )

    problems = json.loads(result.stdout)["problems"]
    assert [problem["path"] for problem in problems] == ["$.experiments[0].experiment.name"]
    assert path.read_bytes() == before


def test_alexa_update_of_a_running_test_is_refused_by_its_state(tmp_path: Path) -> None:
    path = write(
        tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first", "RUNNING")]}
    )
    before = path.read_bytes()

    result = failed(
        3,
        "update",
        path,
        "exp-1",
        "--format",
        "alexa",
        "--body",
        json.dumps({"experiment": {"description": "x"}}),
    )

    assert "exp-1 is RUNNING: it cannot update" in result.stderr
    assert path.read_bytes() == before


# -- Experiments API --------------------------------------------------------------------------


def test_experiments_api_walkthrough_create_launch_stop_end(experiments_api_file: Path) -> None:
    swedes = [{"targeting_key": f"se-{index}", "country": "SE"} for index in range(200)]
    others = [{"targeting_key": f"no-{index}", "country": "NO"} for index in range(50)]

    def serving() -> dict[str, tuple[str | None, flagstone.Reason]]:
        native = experiments_api.read(json.loads(experiments_api_file.read_text()))
        return served(native, "exp_abc123", swedes + others)

    # create: a draft whose variants are v1, v2, created now, aimed at the file's audience
    created = ok(
        "create",
        experiments_api_file,
        "--format",
        "experiments-api",
        "--id",
        "exp_abc123",
        "--body",
        json.dumps(EXPERIMENTS_API_CREATE),
    )
    assert TIMESTAMP.match(created["createdAt"])
    assert created == {
        "id": "exp_abc123",
        "name": "Onboarding Flow Test",
        "description": "Compare short vs. detailed onboarding",
        "type": "ab_test",
        "status": "draft",
        "audienceId": "aud_xyz",
        "createdAt": created["createdAt"],
        "updatedAt": created["createdAt"],
        "variants": [
            {
                "id": "v1",
                "name": "Control",
                "splitPercentage": 50,
                "flowId": "flow_a",
                "config": {},
            },
            {
                "id": "v2",
                "name": "Detailed",
                "splitPercentage": 50,
                "flowId": "flow_b",
                "config": {},
            },
        ],
    }
    assert experiments_api_in_file(experiments_api_file) == created
    assert {variant for variant, _ in serving().values()} == {None}

    # launch (start): running; the audience gets v1 and v2, everyone else nothing
    running = ok("launch", experiments_api_file, "exp_abc123", "--format", "experiments-api")
    assert running["status"] == "running"
    assert TIMESTAMP.match(running["startDate"])
    assert experiments_api_in_file(experiments_api_file) == running
    live = serving()
    assert {live[context["targeting_key"]][0] for context in swedes} == {"v1", "v2"}
    assert {live[context["targeting_key"]] for context in others} == {
        (None, flagstone.Reason.NO_SEGMENT_MATCH)
    }

    # pause (stop): no new unit enters
    stopped = ok("pause", experiments_api_file, "exp_abc123", "--format", "experiments-api")
    assert stopped["status"] == "stopped"
    assert experiments_api_in_file(experiments_api_file) == stopped

    # end: completed
    ended = ok("end", experiments_api_file, "exp_abc123", "--format", "experiments-api")
    assert ended["status"] == "completed"
    assert TIMESTAMP.match(ended["endDate"])
    assert ended["startDate"] == running["startDate"]
    assert experiments_api_in_file(experiments_api_file) == ended
    assert json.loads(experiments_api_file.read_text())["audiences"] == [AUDIENCE]


def test_experiments_api_update_replaces_the_fields_given_in_a_draft(tmp_path: Path) -> None:
    experiment = experiments_api_experiment("exp-1", "first")
    path = write(
        tmp_path / "experiments.json", {"experiments": [experiment], "audiences": [AUDIENCE]}
    )
    body = {
        "name": "renamed",
        "variants": [{"name": "A", "splitPercentage": 30}, {"name": "B", "splitPercentage": 70}],
    }

    updated = ok("update", path, "exp-1", "--format", "experiments-api", "--body", json.dumps(body))

    assert updated["name"] == "renamed"
    assert updated["variants"] == [
        {"id": "v1", "name": "A", "splitPercentage": 30},
        {"id": "v2", "name": "B", "splitPercentage": 70},
    ]
    assert updated["description"] == experiment["description"]
    assert updated["updatedAt"] != CREATED
    assert experiments_api_in_file(path) == updated


# -- refusals ---------------------------------------------------------------------------------


def test_an_override_in_an_experiments_api_file_is_refused_in_its_words_and_the_file_is_unchanged(
    tmp_path: Path,
) -> None:
    document = {
        "experiments": [experiments_api_experiment("exp-1", "first")],
        "audiences": [AUDIENCE],
    }
    path = write(tmp_path / "experiments.json", document)
    before = path.read_bytes()

    result = failed(3, "override", path, "exp-1", "alice", "v2", "--format", "experiments-api")

    assert "exp-1 is draft: the Experiments API has no override" in result.stderr
    assert path.read_bytes() == before


def test_targeting_in_an_alexa_file_is_refused_in_its_words_and_the_file_is_unchanged(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first")]})
    before = path.read_bytes()

    result = failed(
        3,
        "update-segment",
        path,
        "exp-1",
        "--format",
        "alexa",
        "--mask",
        "targeting",
        "--body",
        json.dumps({"targeting": SWEDEN}),
    )

    assert "exp-1 is CREATED: the Alexa skill A/B-testing API has no update-segment" in (
        result.stderr
    )
    assert path.read_bytes() == before


def test_an_exposure_the_alexa_shape_cannot_express_is_refused_and_the_file_is_unchanged(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first")]})
    before = path.read_bytes()

    result = failed(1, "exposure", path, "exp-1", "--percentage", "12.5", "--format", "alexa")

    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["path"] == "$.experiments[0]"
    assert "whole percentage" in problem["message"]
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("shape", "arguments"),
    [
        ("native", ("list",)),
        ("experiments-api", ("get", "exp-1")),
        ("experiments-api", ("launch", "exp-1")),
    ],
)
def test_a_file_in_another_shape_than_format_says_is_refused_with_its_problems(
    tmp_path: Path, shape: str, arguments: tuple[str, ...]
) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "first")]})
    before = path.read_bytes()
    command, *rest = arguments

    result = failed(1, command, path, *rest, "--format", shape)

    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["problems"]
    assert path.read_bytes() == before


def test_an_alexa_format_on_an_experiments_api_file_is_refused(tmp_path: Path) -> None:
    document = {"experiments": [experiments_api_experiment("exp-1", "first")]}
    path = write(tmp_path / "experiments.json", document)

    result = failed(1, "state", path, "exp-1", "RUNNING", "--format", "alexa")

    paths = {problem["path"] for problem in json.loads(result.stdout)["problems"]}
    assert "$.experiments[0].experimentId" in paths


def test_an_alexa_create_with_a_name_in_use_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "my_first_experiment")]}
    )
    before = path.read_bytes()

    result = failed(
        1, "create", path, "--format", "alexa", "--id", "exp-2", "--body", json.dumps(ALEXA_CREATE)
    )

    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["path"] == "$.experiments[1].experiment.name"
    assert "my_first_experiment" in problem["message"]
    assert path.read_bytes() == before


def test_an_experiments_api_create_with_an_id_and_a_name_in_use_is_refused(tmp_path: Path) -> None:
    document = {
        "experiments": [experiments_api_experiment("exp-1", "Onboarding Flow Test")],
        "audiences": [AUDIENCE],
    }
    path = write(tmp_path / "experiments.json", document)
    before = path.read_bytes()

    result = failed(
        1,
        "create",
        path,
        "--format",
        "experiments-api",
        "--id",
        "exp-1",
        "--body",
        json.dumps(EXPERIMENTS_API_CREATE),
    )

    problems = json.loads(result.stdout)["problems"]
    assert [problem["path"] for problem in problems] == [
        "$.experiments[1].id",
        "$.experiments[1].name",
    ]
    assert path.read_bytes() == before


def test_a_create_body_that_sets_what_the_lifecycle_sets_is_refused(
    experiments_api_file: Path,
) -> None:
    before = experiments_api_file.read_bytes()
    body = {**EXPERIMENTS_API_CREATE, "status": "running"}

    result = failed(
        1, "create", experiments_api_file, "--format", "experiments-api", "--body", json.dumps(body)
    )

    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["path"] == "$.experiments[0].status"
    assert experiments_api_file.read_bytes() == before


def test_a_create_body_the_shape_rejects_is_refused_with_the_readers_problems(
    alexa_file: Path,
) -> None:
    body = copy.deepcopy(ALEXA_CREATE)
    body["experiment"]["plannedDuration"] = "P9W"

    result = failed(1, "create", alexa_file, "--format", "alexa", "--body", json.dumps(body))

    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["path"] == "$.experiments[0].experiment.plannedDuration"
    assert json.loads(alexa_file.read_text()) == {"experiments": []}


# -- help -------------------------------------------------------------------------------------


def test_every_subcommand_describes_format() -> None:
    result = abtest("get", "--help")

    assert result.returncode == 0
    assert "--format" in result.stdout
    assert "experiments-api" in result.stdout and "alexa" in result.stdout


# -- known bugs elsewhere ---------------------------------------------------------------------


def test_stopping_an_alexa_experiment_schedules_no_end() -> None:
    native = alexa.read({"experiments": [alexa_entry("exp-1", "first", "RUNNING")]})
    tests = AbTests(native)
    tests.set_alexa_state("exp-1", "STOPPED")

    (entry,) = alexa.write(tests.document)["experiments"]

    assert "trigger" not in entry["experiment"]
