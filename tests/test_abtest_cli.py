"""``python -m flagstone abtest …``: the A/B-test lifecycle over a snapshot file.

The commands run in this process through ``flagstone.cli.main`` (what ``python -m flagstone``
runs), with stdin, stdout and stderr captured; a few smoke tests run the real command as a
subprocess, and the tests of concurrent editors and of editors killed mid-write run editors
as processes of their own (``tests/scripts/abtest_*.py``).

Exit codes: 0 done, 1 an invalid snapshot (the file, or what the change would make of it),
2 a usage or input error, 3 an action the test's state does not allow. Edits are atomic and
exclusive: two editors never lose each other's changes, and an editor killed at any point
leaves a valid file (see ``flagstone.abtests.storage``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flagstone.abtests.storage import lock_path
from flagstone.cli import main
from flagstone.formats import parse_snapshot

SCRIPTS = Path(__file__).parent / "scripts"
NAME = "workflows/abtest/instances/checkout-test"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")

CONTROL = "flags/checkout/variants/control"
NEW_CHECKOUT = "flags/checkout/variants/new-checkout"

# Seed 000's create body, on this snapshot's flag.
CREATE_BODY: dict[str, Any] = {
    "displayName": "Checkout Flow Experiment",
    "flags": {"targetingKeySelector": "targeting_key"},
    "stats": {"testHorizonStrategy": "SEQUENTIAL"},
    "abtest": {
        "treatments": [
            {"variant": CONTROL, "weight": "5000"},
            {"variant": NEW_CHECKOUT, "weight": "5000"},
        ]
    },
    "metrics": {
        "assignmentTable": "assignmentTables/my-assignment-table",
        "entity": "entities/user",
        "bucket": "DAYS",
        "metrics": [
            {
                "metric": "metrics/conversion-rate",
                "metricRole": {"metricKind": "SUCCESS", "minimumDetectableEffect": 0.01},
                "preferredDirection": "INCREASE",
            }
        ],
    },
}

SWEDEN = {
    "criteria": {
        "country": {
            "attribute": {"attributeName": "country", "eqRule": {"value": {"stringValue": "SE"}}}
        }
    },
    "expression": {"and": {"operands": [{"ref": "country"}]}},
}


def snapshot() -> dict[str, Any]:
    """One active flag ``checkout`` with the variants control and new-checkout, no tests."""
    return {
        "version": "1",
        "flags": {
            "flags/checkout": {
                "name": "flags/checkout",
                "state": "ACTIVE",
                "variants": [
                    {"name": "control", "value": {"layout": "classic"}},
                    {"name": "new-checkout", "value": {"layout": "one-page"}},
                ],
            }
        },
    }


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(snapshot(), indent=2) + "\n")
    return path


@dataclass(frozen=True)
class Ran:
    """What a command did: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def standard_input(text: str) -> Iterator[None]:
    previous = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = previous


def run(*arguments: str | Path, stdin: str | None = None) -> Ran:
    """``python -m flagstone ARGUMENTS``, run in this process (``flagstone.cli.main``) with
    ``stdin`` as its standard input and its output captured."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        standard_input(stdin or ""),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        code = main([str(argument) for argument in arguments])
    return Ran(code, stdout.getvalue(), stderr.getvalue())


def run_process(*arguments: str | Path, stdin: str | None = None) -> Ran:
    """``python -m flagstone ARGUMENTS`` as a subprocess, exactly as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "flagstone", *map(str, arguments)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def abtest(*arguments: str | Path, stdin: str | None = None) -> Ran:
    return run("abtest", *arguments, stdin=stdin)


def ok(*arguments: str | Path, stdin: str | None = None) -> Any:
    """Run ``abtest …``, require success and nothing on stderr; the JSON it printed."""
    result = abtest(*arguments, stdin=stdin)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


def failed(code: int, *arguments: str | Path, stdin: str | None = None) -> Ran:
    """Run ``abtest …``, require exit ``code`` and exactly one line on stderr."""
    result = abtest(*arguments, stdin=stdin)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("flagstone abtest: "), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result


def usage_error(*arguments: str | Path) -> Ran:
    """Run ``abtest …``, require argparse's refusal: exit 2, usage and the error on stderr."""
    result = abtest(*arguments)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "error:" in result.stderr
    assert result.stdout == ""
    return result


def without_times(instance: dict[str, Any]) -> dict[str, Any]:
    """The instance without its timestamps, after checking that each is RFC 3339 UTC."""
    for field, value in instance.items():
        if field.endswith("Time"):
            assert TIMESTAMP.match(value), (field, value)
    return {field: value for field, value in instance.items() if not field.endswith("Time")}


def in_file(path: Path) -> dict[str, Any]:
    """The (only) test as the file holds it."""
    (instance,) = json.loads(path.read_text())["abtests"]
    assert isinstance(instance, dict)
    return instance


def create(path: Path, **extra: Any) -> dict[str, Any]:
    body = {**CREATE_BODY, **extra}
    created: dict[str, Any] = ok(
        "create", path, "--id", "checkout-test", "--body", json.dumps(body)
    )
    return created


def evaluate(path: Path, unit: str) -> dict[str, Any]:
    result = run("evaluate", path, "checkout", "--context", json.dumps({"targeting_key": unit}))
    assert result.returncode == 0, result.stderr
    resolution: dict[str, Any] = json.loads(result.stdout)
    return resolution


def overrides_in(path: Path) -> dict[str, str]:
    """The test's overrides as the file holds them, once the file is checked to be a valid
    snapshot (read here, not through the command, to keep the crash tests quick)."""
    parse_snapshot(path.read_bytes())
    overrides: dict[str, str] = in_file(path).get("treatmentOverrides", {})
    return overrides


def temporaries(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp"))


# -- the walkthrough --------------------------------------------------------------------------


def test_walkthrough_create_preview_with_an_override_launch_ramp_end_archive(file: Path) -> None:
    created = create(file)
    assert without_times(created) == {
        "name": NAME,
        **CREATE_BODY,
        "state": "draft",
    }
    assert created["createTime"] == created["updateTime"]
    assert in_file(file) == created

    exposed = ok("exposure", file, "checkout-test", "--percentage", "10")
    assert exposed["segment"] == {"allocation": {"proportion": 0.1}}
    assert exposed["state"] == "draft"

    overridden = ok("override", file, "checkout-test", "alice", "new-checkout")
    assert overridden["treatmentOverrides"] == {"alice": "new-checkout"}
    assert ok("override", file, "checkout-test") == {
        "treatmentOverrides": {"alice": "new-checkout"},
        "treatmentOverrideCount": 1,
    }
    preview = evaluate(file, "alice")
    assert (preview["variant"], preview["reason"]) == ("new-checkout", "RESOLVE_REASON_OVERRIDE")

    launched = ok("launch", file, "checkout-test")
    assert launched["state"] == "live"
    assert launched["launchTime"] == launched["updateTime"]
    assert launched["createTime"] == created["createTime"]
    assert launched["launchTime"] >= created["createTime"]

    ramped = ok("exposure", file, "checkout-test", "--percentage", "50")
    assert ramped["segment"] == {"allocation": {"proportion": 0.5}}
    everyone = ok("exposure", file, "checkout-test", "--proportion", "1")
    assert everyone["segment"] == {"allocation": {"proportion": 1}}
    bob = evaluate(file, "bob")
    assert bob["reason"] == "RESOLVE_REASON_MATCH"
    assert bob["abtest"] == NAME

    ended = ok("end", file, "checkout-test")
    assert ended["state"] == "ended"
    assert ended["endTime"] == ended["updateTime"] >= launched["launchTime"]
    assert evaluate(file, "bob")["reason"] == "RESOLVE_REASON_NO_SEGMENT_MATCH"

    archived = ok("archive", file, "checkout-test")
    assert without_times(archived) == {
        "name": NAME,
        **CREATE_BODY,
        "state": "archived",
        "segment": {"allocation": {"proportion": 1}},
        "treatmentOverrides": {"alice": "new-checkout"},
    }
    assert in_file(file) == archived
    assert ok("list", file, "--state", "archived") == {"abtests": [archived], "nextPageToken": ""}
    assert ok("list", file, "--state", "live") == {"abtests": [], "nextPageToken": ""}


def test_every_edit_leaves_the_file_holding_exactly_what_was_printed(file: Path) -> None:
    create(file)
    for arguments in (
        ("override", file, "checkout-test", "alice", "control"),
        ("update", file, "checkout-test", "--body", '{"description": "one-page checkout"}'),
        ("launch", file, "checkout-test"),
        ("exposure", file, "checkout-test", "--percentage", "100"),
    ):
        printed = ok(*arguments)
        assert in_file(file) == printed == ok("get", file, "checkout-test")


def test_the_file_keeps_an_indent_of_two_and_a_trailing_newline(file: Path) -> None:
    create(file)

    text = file.read_text()

    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


# -- create, get, list ------------------------------------------------------------------------


def test_create_without_an_id_makes_one_of_twenty_lowercase_letters_and_digits(
    file: Path,
) -> None:
    created = ok("create", file, "--body", json.dumps(CREATE_BODY))

    assert re.fullmatch(r"workflows/abtest/instances/[a-z0-9]{20}", created["name"])


def test_create_reads_the_body_from_a_file_with_an_at_sign(file: Path, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps(CREATE_BODY))

    created = ok("create", file, "--id", "checkout-test", "--body", f"@{body}")

    assert created["displayName"] == "Checkout Flow Experiment"


def test_create_reads_the_body_from_stdin_with_a_dash(file: Path) -> None:
    created = ok(
        "create", file, "--id", "checkout-test", "--body", "-", stdin=json.dumps(CREATE_BODY)
    )

    assert created["name"] == NAME


def test_get_takes_the_id_or_the_full_name(file: Path) -> None:
    created = create(file)

    assert ok("get", file, "checkout-test") == ok("get", file, NAME) == created


def test_list_pages_with_the_next_page_token(file: Path) -> None:
    for index in range(3):
        body = {**CREATE_BODY, "displayName": f"Test {index}"}
        ok("create", file, "--id", f"test-{index}", "--body", json.dumps(body))

    first = ok("list", file, "--page-size", "2")
    second = ok("list", file, "--page-size", "2", "--page-token", first["nextPageToken"])

    assert [test["displayName"] for test in first["abtests"]] == ["Test 0", "Test 1"]
    assert first["nextPageToken"] != ""
    assert [test["displayName"] for test in second["abtests"]] == ["Test 2"]
    assert second["nextPageToken"] == ""


def test_list_filters_by_state(file: Path) -> None:
    for index in range(2):
        body = {**CREATE_BODY, "displayName": f"Test {index}"}
        ok("create", file, "--id", f"test-{index}", "--body", json.dumps(body))
    ok("launch", file, "test-1")

    listed = ok("list", file, "--state", "live")

    assert [test["name"] for test in listed["abtests"]] == ["workflows/abtest/instances/test-1"]


# -- update and update-segment ----------------------------------------------------------------


def test_update_changes_the_fields_given_in_a_draft(file: Path) -> None:
    create(file)

    updated = ok("update", file, "checkout-test", "--body", '{"displayName": "Checkout v2"}')

    assert updated["displayName"] == "Checkout v2"
    assert updated["metrics"] == CREATE_BODY["metrics"]


def test_update_segment_takes_the_seeds_request_with_its_update_mask(file: Path) -> None:
    create(file)
    request = {"updateMask": "targeting", "segment": {"targeting": SWEDEN}}

    updated = ok("update-segment", file, "checkout-test", "--body", json.dumps(request))

    assert updated["segment"] == {"targeting": SWEDEN}


def test_update_segment_takes_a_bare_segment_with_mask(file: Path) -> None:
    create(file)
    segment = {"targeting": SWEDEN, "allocation": {"proportion": 0.3}}

    updated = ok(
        "update-segment",
        file,
        "checkout-test",
        "--mask",
        "allocation",
        "--body",
        json.dumps(segment),
    )

    assert updated["segment"] == {"allocation": {"proportion": 0.3}}


def test_update_segment_without_a_mask_is_a_usage_error(file: Path) -> None:
    create(file)
    before = file.read_bytes()

    result = failed(2, "update-segment", file, "checkout-test", "--body", '{"targeting": {}}')

    assert "--mask" in result.stderr
    assert file.read_bytes() == before


def test_a_mask_that_disagrees_with_the_bodys_update_mask_is_a_usage_error(file: Path) -> None:
    create(file)
    request = {"updateMask": "targeting", "segment": {"targeting": SWEDEN}}

    failed(
        2,
        "update-segment",
        file,
        "checkout-test",
        "--mask",
        "allocation",
        "--body",
        json.dumps(request),
    )


# -- overrides --------------------------------------------------------------------------------


def test_override_of_one_unit_prints_its_variant_and_the_count(file: Path) -> None:
    create(file)
    ok("override", file, "checkout-test", "alice", "new-checkout")

    assert ok("override", file, "checkout-test", "alice") == {
        "unit": "alice",
        "treatmentId": "new-checkout",
        "treatmentOverrideCount": 1,
    }
    assert ok("override", file, "checkout-test", "bob")["treatmentId"] is None


def test_override_remove_takes_the_units_override_away(file: Path) -> None:
    create(file)
    ok("override", file, "checkout-test", "alice", "new-checkout")
    ok("override", file, "checkout-test", "bob", "control")

    removed = ok("override", file, "checkout-test", "alice", "--remove")

    assert removed["treatmentOverrides"] == {"bob": "control"}


def test_removing_an_override_the_test_does_not_have_is_an_input_error(file: Path) -> None:
    create(file)

    result = failed(2, "override", file, "checkout-test", "alice", "--remove")

    assert "alice" in result.stderr


def test_override_with_both_a_variant_and_remove_is_a_usage_error(file: Path) -> None:
    create(file)

    failed(2, "override", file, "checkout-test", "alice", "control", "--remove")


# -- exposure, delete, enable, pause, resume, state -------------------------------------------


def test_exposure_takes_a_percentage_or_a_proportion_not_both(file: Path) -> None:
    create(file)

    usage_error("exposure", file, "checkout-test", "--percentage", "10", "--proportion", "0.1")
    usage_error("exposure", file, "checkout-test")


def test_exposure_of_a_live_test_only_grows(file: Path) -> None:
    create(file)
    ok("exposure", file, "checkout-test", "--percentage", "40")
    ok("launch", file, "checkout-test")
    before = file.read_bytes()

    result = failed(3, "exposure", file, "checkout-test", "--percentage", "20")

    assert "live" in result.stderr
    assert file.read_bytes() == before


def test_delete_prints_an_empty_object_and_removes_the_test(file: Path) -> None:
    create(file)

    assert ok("delete", file, "checkout-test") == {}
    assert json.loads(file.read_text())["abtests"] == []


def test_a_draft_created_without_preview_is_enabled_to_serve_its_overrides(file: Path) -> None:
    create(file, preview=False)
    ok("override", file, "checkout-test", "alice", "new-checkout")
    assert evaluate(file, "alice")["reason"] != "RESOLVE_REASON_OVERRIDE"
    assert ok("state", file, "checkout-test") == {"name": NAME, "state": "CREATED"}

    enabled = ok("enable", file, "checkout-test")

    assert enabled["preview"] is True
    assert evaluate(file, "alice")["reason"] == "RESOLVE_REASON_OVERRIDE"
    assert ok("state", file, "checkout-test") == {"name": NAME, "state": "ENABLED"}


def test_pause_and_resume_the_intake_of_a_live_test_with_a_materialization(file: Path) -> None:
    create(file, materialization="materializations/checkout")
    ok("launch", file, "checkout-test")

    assert ok("pause", file, "checkout-test")["intake"] == "paused"
    assert ok("resume", file, "checkout-test").get("intake", "open") == "open"


def test_state_moves_the_test_by_its_alexa_target_state(file: Path) -> None:
    create(file)

    running = ok("state", file, "checkout-test", "RUNNING")
    assert running["state"] == "live"
    stopped = ok("state", file, "checkout-test", "STOPPED")
    assert stopped["state"] == "ended"
    assert ok("state", file, "checkout-test") == {"name": NAME, "state": "STOPPED"}


# -- exit codes -------------------------------------------------------------------------------


def test_the_top_level_help_lists_the_abtest_command() -> None:
    result = run_process("--help")

    assert result.returncode == 0
    assert "abtest" in result.stdout


def test_abtest_help_exits_zero_and_names_the_exit_codes() -> None:
    result = abtest("--help")

    assert result.returncode == 0
    assert "exit codes" in result.stdout


def test_an_unknown_subcommand_is_a_usage_error(file: Path) -> None:
    result = usage_error("frobnicate", file)

    assert "frobnicate" in result.stderr


def test_a_missing_file_is_an_input_error_and_no_lock_file_is_left(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    result = failed(2, "launch", missing, "checkout-test")

    assert str(missing) in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_an_input_error_for_a_read_too(tmp_path: Path) -> None:
    failed(2, "list", tmp_path / "missing.json")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_an_input_error(file: Path, body: str) -> None:
    before = file.read_bytes()

    result = failed(2, "create", file, "--body", body)

    assert "--body" in result.stderr
    assert file.read_bytes() == before


def test_a_body_file_that_cannot_be_read_is_an_input_error(file: Path, tmp_path: Path) -> None:
    result = failed(2, "create", file, "--body", f"@{tmp_path / 'nowhere.json'}")

    assert "nowhere.json" in result.stderr


def test_an_unknown_test_is_an_input_error(file: Path) -> None:
    create(file)

    for arguments in (("get", file, "nope"), ("launch", file, "nope")):
        result = failed(2, *arguments)
        assert "workflows/abtest/instances/nope" in result.stderr


def test_a_file_that_is_not_json_is_an_invalid_snapshot(file: Path) -> None:
    file.write_text("{not json")

    result = failed(1, "launch", file, "checkout-test")

    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [problem["path"] for problem in report["problems"]] == ["$"]
    assert file.read_text() == "{not json"


def test_a_change_that_would_make_the_snapshot_invalid_is_refused_and_nothing_is_written(
    file: Path,
) -> None:
    before = file.read_bytes()
    body = json.loads(json.dumps(CREATE_BODY))
    body["abtest"]["treatments"][1]["variant"] = "flags/checkout/variants/missing"

    result = failed(1, "create", file, "--id", "checkout-test", "--body", json.dumps(body))

    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["problems"]
    assert all(set(problem) == {"path", "message"} for problem in report["problems"])
    assert "missing" in result.stdout
    assert file.read_bytes() == before


def test_an_action_the_state_does_not_allow_names_the_state_and_the_allowed_actions(
    file: Path,
) -> None:
    create(file)
    ok("launch", file, "checkout-test")
    before = file.read_bytes()

    result = failed(3, "launch", file, "checkout-test")

    assert "live" in result.stderr
    assert "end" in result.stderr and "archive" in result.stderr
    assert result.stdout == ""
    assert file.read_bytes() == before


@pytest.mark.parametrize(
    ("action", "state"),
    [("end", "draft"), ("update", "live"), ("delete", "live"), ("launch", "ended")],
)
def test_each_refused_transition_exits_three(file: Path, action: str, state: str) -> None:
    create(file)
    if state in ("live", "ended"):
        ok("launch", file, "checkout-test")
    if state == "ended":
        ok("end", file, "checkout-test")
    extra = ("--body", "{}") if action == "update" else ()

    result = failed(3, action, file, "checkout-test", *extra)

    assert state in result.stderr


def test_an_edit_that_cannot_get_the_lock_in_time_is_an_input_error(file: Path) -> None:
    import fcntl

    create(file)
    before = file.read_bytes()
    with lock_path(file).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = failed(2, "launch", file, "checkout-test", "--lock-timeout", "0")

    assert "lock" in result.stderr
    assert file.read_bytes() == before


def test_reading_needs_no_lock(file: Path) -> None:
    import fcntl

    create(file)
    with lock_path(file).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listed = ok("list", file)

    assert [test["name"] for test in listed["abtests"]] == [NAME]


# -- as a user runs it ------------------------------------------------------------------------


def test_smoke_a_session_run_as_subprocesses_prints_json_and_exits_with_each_code(
    file: Path,
) -> None:
    created = run_process(
        "abtest",
        "create",
        file,
        "--id",
        "checkout-test",
        "--body",
        "-",
        stdin=json.dumps(CREATE_BODY),
    )
    assert (created.returncode, created.stderr) == (0, "")
    assert json.loads(created.stdout) == in_file(file)

    launched = run_process("abtest", "launch", file, "checkout-test")
    assert (launched.returncode, launched.stderr) == (0, "")
    assert json.loads(launched.stdout)["state"] == "live"

    refused = run_process("abtest", "launch", file, "checkout-test")
    assert refused.returncode == 3
    assert refused.stderr.startswith("flagstone abtest: ") and "live" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1

    unknown = run_process("abtest", "get", file, "nope")
    assert unknown.returncode == 2
    assert "workflows/abtest/instances/nope" in unknown.stderr

    body = json.loads(json.dumps(CREATE_BODY))
    body["abtest"]["treatments"][1]["variant"] = "flags/checkout/variants/missing"
    before = file.read_bytes()
    invalid = run_process("abtest", "create", file, "--body", json.dumps(body))
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout)["ok"] is False
    assert file.read_bytes() == before


# -- concurrent editors -----------------------------------------------------------------------


def test_two_concurrent_editors_lose_no_update(file: Path) -> None:
    create(file)
    editors = [
        subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "abtest_add_overrides.py"),
                str(file),
                "checkout-test",
                prefix,
                "40",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("a", "b")
    ]
    try:
        for editor in editors:
            assert editor.stdout is not None
            assert editor.stdout.readline().strip() == "ready"
        for editor in editors:  # both start at once
            assert editor.stdin is not None
            editor.stdin.write("go\n")
            editor.stdin.flush()
        reports = [json.loads(editor.communicate(timeout=300)[0]) for editor in editors]
    finally:
        for editor in editors:
            if editor.poll() is None:  # pragma: no cover - only when an assertion failed
                editor.kill()
                editor.wait()

    assert reports == [{"failed": []}, {"failed": []}]
    variants = ("control", "new-checkout")
    assert ok("override", file, "checkout-test")["treatmentOverrides"] == {
        f"{prefix}-{index}": variants[index % 2] for prefix in ("a", "b") for index in range(40)
    }
    assert run("validate", file).returncode == 0


# -- crashes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["mid-write", "before-fsync", "before-rename"])
def test_an_editor_killed_before_its_rename_leaves_the_previous_version(
    file: Path, point: str
) -> None:
    create(file)
    ok("override", file, "checkout-test", "alice", "new-checkout")
    previous = file.read_bytes()

    crash = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "abtest_crash_during_edit.py"),
            point,
            "override",
            str(file),
            "checkout-test",
            "bob",
            "control",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert crash.returncode == -signal.SIGKILL, crash.stderr
    assert len(temporaries(file)) == 1  # it died writing
    assert file.read_bytes() == previous
    assert overrides_in(file) == {"alice": "new-checkout"}


def test_an_editor_killed_after_its_rename_leaves_the_new_version(file: Path) -> None:
    create(file)

    crash = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "abtest_crash_during_edit.py"),
            "after-rename",
            "override",
            str(file),
            "checkout-test",
            "bob",
            "control",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert crash.returncode == -signal.SIGKILL, crash.stderr
    assert overrides_in(file) == {"bob": "control"}


def test_the_temporary_file_of_a_killed_editor_is_ignored_then_removed_by_the_next_edit(
    file: Path,
) -> None:
    create(file)
    subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "abtest_crash_during_edit.py"),
            "mid-write",
            "launch",
            str(file),
            "checkout-test",
        ],
        capture_output=True,
        timeout=120,
    )
    assert len(temporaries(file)) == 1
    assert ok("get", file, "checkout-test")["state"] == "draft"

    ok("launch", file, "checkout-test")

    assert temporaries(file) == []


@pytest.mark.parametrize("edits_before_kill", [1, 5, 20])
def test_a_loop_of_edits_killed_at_any_point_leaves_a_valid_file_with_every_finished_edit(
    file: Path, edits_before_kill: int
) -> None:
    create(file)
    start = 0
    for _ in range(3):  # kill it, start it again where it stopped, three times
        loop = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTS / "abtest_edit_loop.py"),
                str(file),
                "checkout-test",
                str(start),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert loop.stdout is not None
        done = [int(loop.stdout.readline()) for _ in range(edits_before_kill)]
        loop.kill()  # SIGKILL, somewhere in the next edit
        loop.wait()
        loop.stdout.close()
        assert loop.returncode == -signal.SIGKILL

        units = set(overrides_in(file))
        finished = {f"u-{index}" for index in range(done[-1] + 1)}
        assert finished <= units  # no finished edit is lost …
        assert units <= finished | {f"u-{done[-1] + 1}"}  # … and at most the one under way
        start = len(units)
