"""Paused intake (issue 5): a seed-001 experiment that ran with a sticky SQLite store is
stopped; a new process serving the stopped document with the same store file still gives
every unit assigned while it ran its variant, and no variant to a new unit. Without a store a
stopped experiment serves nobody and says so; a completed one serves nobody.

The seed's experiment is copied from seed 001 verbatim; its audience ``aud_xyz`` (which the
seed names without defining) is written beside it.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import Reason
from flagstone.formats import experiments_api
from tests.scripted import run_script

SCRIPTS = Path(__file__).resolve().parent / "scripts"

SEED_EXPERIMENT: dict[str, Any] = {
    "id": "exp_abc123",
    "name": "Onboarding Flow Test",
    "description": "Compare short vs. detailed onboarding",
    "type": "ab_test",
    "status": "running",
    "audienceId": "aud_xyz",
    "startDate": "2025-02-01T00:00:00Z",
    "endDate": None,
    "createdAt": "2025-01-28T10:00:00Z",
    "updatedAt": "2025-02-01T00:00:00Z",
    "variants": [
        {"id": "v1", "name": "Control", "splitPercentage": 50, "flowId": "flow_a"},
        {"id": "v2", "name": "Detailed", "splitPercentage": 50, "flowId": "flow_b"},
    ],
    "_count": {"assignments": 500},
}
AUDIENCE = {
    "id": "aud_xyz",
    "name": "Sweden",
    "targeting": {
        "criteria": {
            "country": {
                "attribute": {
                    "attributeName": "country",
                    "eqRule": {"value": {"stringValue": "SE"}},
                }
            }
        },
        "expression": {"ref": "country"},
    },
}
FLAG = "exp_abc123"
VARIANTS = {"v1", "v2"}
CONTEXT = {"country": "SE"}
ASSIGNED = [f"early-{index}" for index in range(2000)]
NEWCOMERS = [f"late-{index}" for index in range(2000)]


def document(status: str) -> dict[str, Any]:
    """The seed's experiment (as the list endpoint returns it) with ``status``."""
    experiment = copy.deepcopy(SEED_EXPERIMENT)
    experiment["status"] = status
    return {
        "data": [experiment],
        "meta": {"total": 1, "page": 1, "limit": 20, "totalPages": 1},
        "audiences": [copy.deepcopy(AUDIENCE)],
    }


def context(unit: str) -> dict[str, Any]:
    return {**CONTEXT, "targeting_key": unit}


def run_while_running(store_path: Path) -> dict[str, str | None]:
    """Serve ``ASSIGNED`` while the experiment runs with a SQLite store: unit → variant."""
    store = flagstone.SqliteMaterializationStore(store_path)
    client = flagstone.Client.from_dict(
        experiments_api.read(document("running")), materializations=store
    )
    try:
        return {unit: client.evaluate(FLAG, context(unit)).variant for unit in ASSIGNED}
    finally:
        client.close()
        store.close()


def serve_in_new_process(tmp_path: Path, status: str, units: list[str]) -> dict[str, Any]:
    """Each unit's variant and reason from a new process serving the document with
    ``status`` and the store file ``tmp_path / "sticky.db"``."""
    document_path = tmp_path / f"{status}.json"
    document_path.write_text(json.dumps(document(status)))
    request_path = tmp_path / "units.json"
    request_path.write_text(json.dumps({"flag": FLAG, "units": units, "context": CONTEXT}))
    run = run_script(
        SCRIPTS / "paused_intake_serve.py", document_path, tmp_path / "sticky.db", request_path
    )
    served: dict[str, Any] = run.report["units"]
    return served


@pytest.fixture
def assigned(tmp_path: Path) -> dict[str, str | None]:
    """The variants units got while the experiment ran (recorded in the store file)."""
    return run_while_running(tmp_path / "sticky.db")


def test_every_unit_is_assigned_a_variant_while_the_experiment_runs(
    assigned: dict[str, str | None],
) -> None:
    assert set(assigned.values()) == VARIANTS


def test_a_new_process_serving_the_stopped_experiment_keeps_every_assigned_units_variant(
    tmp_path: Path, assigned: dict[str, str | None]
) -> None:
    served = serve_in_new_process(tmp_path, "stopped", ASSIGNED)
    changed = {unit for unit in ASSIGNED if served[unit]["variant"] != assigned[unit]}
    assert not changed, f"{len(changed)} units changed variant, e.g. {sorted(changed)[:5]}"
    assert {served[unit]["reason"] for unit in ASSIGNED} == {Reason.MATCH.value}


def test_a_new_process_serving_the_stopped_experiment_gives_new_units_no_variant(
    tmp_path: Path, assigned: dict[str, str | None]
) -> None:
    served = serve_in_new_process(tmp_path, "stopped", NEWCOMERS)
    assert {(s["variant"], s["reason"]) for s in served.values()} == {
        (None, Reason.NO_SEGMENT_MATCH.value)
    }


def test_a_new_process_serving_the_still_running_experiment_enrols_new_units(
    tmp_path: Path, assigned: dict[str, str | None]
) -> None:
    served = serve_in_new_process(tmp_path, "running", NEWCOMERS[:200])
    assert {s["variant"] for s in served.values()} == VARIANTS


def test_a_completed_experiment_serves_nobody_even_units_in_the_store(
    tmp_path: Path, assigned: dict[str, str | None]
) -> None:
    served = serve_in_new_process(tmp_path, "completed", ASSIGNED[:200] + NEWCOMERS[:200])
    assert {(s["variant"], s["reason"]) for s in served.values()} == {
        (None, Reason.NO_SEGMENT_MATCH.value)
    }


def test_a_stopped_experiment_without_a_store_serves_nobody_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="flagstone.plan"):
        client = flagstone.Client.from_dict(experiments_api.read(document("stopped")))
    warnings = [r for r in caplog.records if r.name == "flagstone.plan"]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    assert "workflows/abtest/instances/exp_abc123" in warnings[0].getMessage()
    served = [client.evaluate(FLAG, context(unit), apply=False) for unit in ASSIGNED[:200]]
    assert {(r.variant, r.reason) for r in served} == {(None, Reason.NO_SEGMENT_MATCH)}


def test_a_completed_experiment_without_a_store_serves_nobody() -> None:
    client = flagstone.Client.from_dict(experiments_api.read(document("completed")))
    served = [client.evaluate(FLAG, context(unit), apply=False) for unit in ASSIGNED[:200]]
    assert {(r.variant, r.reason) for r in served} == {(None, Reason.NO_SEGMENT_MATCH)}


def test_a_running_experiment_without_a_store_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="flagstone.plan"):
        flagstone.Client.from_dict(experiments_api.read(document("running")))
    assert not [r for r in caplog.records if r.name == "flagstone.plan"]
