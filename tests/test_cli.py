"""``python -m flagstone``: exit codes, JSON on stdout and one-line reasons on stderr.

The command line runs in this process (``flagstone.cli.main``, through the ``cli`` fixture),
in the test's temporary directory; the last tests run the real ``python -m flagstone`` and
the ``flagstone`` console script, to show that the exit codes reach the shell. Exit codes:
0 success, 1 an invalid snapshot, 2 a usage or input error (see ``flagstone.cli``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flagstone.cli import main
from tests import builders as b
from tests.commandline import CliRunner, run_command


def snapshot() -> dict[str, Any]:
    """One flag for everyone in Sweden, one client, one live A/B test on another flag."""
    return b.snapshot(
        b.flag(
            "checkout",
            {"classic": {"layout": "classic"}, "new": {"layout": "new"}},
            [
                b.everyone_gets(
                    "flags/checkout/rules/se", "new", assignment_id="all-new", segment="sweden"
                )
            ],
            clients=["clients/web"],
        ),
        b.flag("banner", {"control": {"shown": False}, "treatment": {"shown": True}}),
        account="acme",
        segments=[b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))],
        clients=[b.credential("web-secret", "web", credential_id="1")],
        abtests=[
            b.abtest(
                "banner-test",
                flag="banner",
                weights=[("control", "5000"), ("treatment", "5000")],
                overrides={"qa-user": "treatment"},
            )
        ],
    )


def invalid_snapshot() -> dict[str, Any]:
    """Two problems that every mode reports: an unknown variant and an unknown field."""
    doc = snapshot()
    checkout = doc["flags"]["flags/checkout"]
    checkout["rules"][0]["assignmentSpec"]["assignments"][0]["variant"] = {"variant": "blue"}
    doc["flags"]["flags/banner"]["colour"] = "red"
    return doc


def strict_only_invalid_snapshot() -> dict[str, Any]:
    """A rule naming an unknown segment: rejected in strict mode, resolved when lenient."""
    doc = snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/nowhere"
    return doc


def write(tmp_path: Path, document: Any, name: str = "flags.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


def one_line(stderr: str) -> str:
    """The single line of ``stderr``; fails if there are more."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in the test's directory, so they name their files as a user would."""
    monkeypatch.chdir(tmp_path)


SE_USER = json.dumps({"targeting_key": "user-1", "country": "SE"})


# -- validate ---------------------------------------------------------------------------------


def test_validate_prints_ok_with_the_counts_and_exits_0(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("validate", path.name)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ok": True,
        "version": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        "flags": 2,
        "segments": 1,
        "abtests": 1,
        "warnings": [],
    }
    assert result.stderr == ""


def _with_zero_version_range(doc: dict[str, Any]) -> dict[str, Any]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["v"] = {
        "attribute": {
            "attributeName": "app_version",
            "rangeRule": {"startInclusive": {"versionValue": {"version": "v2.0.0"}}},
        }
    }
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {
        "and": {
            "operands": [
                doc["segments"]["segments/sweden"]["targeting"]["expression"],
                {"ref": "v"},
            ]
        }
    }
    return doc


VERSION_PATH = (
    '$.segments["segments/sweden"].targeting.criteria.v.attribute.rangeRule.startInclusive'
    ".versionValue.version"
)


def test_validate_lists_warnings_and_still_exits_0(tmp_path: Path) -> None:
    # a real process: the warning reaches stderr through logging's last-resort handler, which
    # pytest's own logging handlers replace in this process
    path = write(tmp_path, _with_zero_version_range(snapshot()))
    result = run_command("validate", path.name, cwd=tmp_path)
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert out["ok"] is True
    (warning,) = out["warnings"]
    assert warning["path"] == VERSION_PATH
    assert "'v2.0.0'" in warning["message"] and "compares as 0.0.0.0" in warning["message"]
    assert VERSION_PATH in result.stderr  # the flagstone logger's one WARNING record


def test_validate_lenient_has_no_warnings(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, _with_zero_version_range(snapshot()))
    result = cli("validate", path.name, "--lenient")
    assert result.returncode == 0
    assert json.loads(result.stdout)["warnings"] == []


def test_validate_reports_the_top_level_version(cli: CliRunner, tmp_path: Path) -> None:
    doc = snapshot()
    doc["version"] = "v42"
    result = cli("validate", write(tmp_path, doc).name)
    assert json.loads(result.stdout)["version"] == "v42"


def test_validate_counts_flags_and_segments_written_as_lists(
    cli: CliRunner, tmp_path: Path
) -> None:
    doc = snapshot()
    doc["flags"] = list(doc["flags"].values())
    doc["segments"] = list(doc["segments"].values())
    result = cli("validate", write(tmp_path, doc).name)
    out = json.loads(result.stdout)
    assert (out["flags"], out["segments"]) == (2, 1)


def test_validate_of_an_invalid_snapshot_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("validate", write(tmp_path, invalid_snapshot()).name)
    assert result.returncode == 1


def test_validate_of_an_invalid_snapshot_prints_every_problem_as_json(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli("validate", write(tmp_path, invalid_snapshot()).name)
    out = json.loads(result.stdout)
    assert out["ok"] is False
    assert sorted(problem["path"] for problem in out["problems"]) == [
        '$.flags["flags/banner"].colour',
        '$.flags["flags/checkout"].rules[0].assignmentSpec.assignments[0].variant.variant',
    ]
    assert all(set(problem) == {"path", "message"} for problem in out["problems"])


def test_validate_of_an_invalid_snapshot_summarises_on_one_stderr_line(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli("validate", write(tmp_path, invalid_snapshot()).name)
    line = one_line(result.stderr)
    assert "flags.json: 2 problems: " in line
    assert '$.flags["flags/banner"].colour: unknown field' in line


def test_validate_summary_of_many_problems_stays_on_one_line(
    cli: CliRunner, tmp_path: Path
) -> None:
    doc = snapshot()
    for index in range(10):
        doc["flags"]["flags/banner"][f"typo{index}"] = True
    result = cli("validate", write(tmp_path, doc).name)
    assert "10 problems" in one_line(result.stderr)
    assert len(json.loads(result.stdout)["problems"]) == 10


def test_validate_is_strict_by_default(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("validate", write(tmp_path, strict_only_invalid_snapshot()).name)
    assert result.returncode == 1
    assert "unknown segment 'segments/nowhere'" in result.stdout


def test_validate_lenient_accepts_what_confidence_tolerates(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, strict_only_invalid_snapshot())
    result = cli("validate", path.name, "--lenient")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_validate_lenient_still_rejects_what_every_mode_rejects(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, invalid_snapshot())
    assert cli("validate", path.name, "--lenient").returncode == 1


def test_validate_of_a_file_that_is_not_json_exits_1_with_a_problem_at_the_root(
    cli: CliRunner,
    tmp_path: Path,
) -> None:
    result = cli("validate", write(tmp_path, '{"flags": {').name)
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert [problem["path"] for problem in problems] == ["$"]
    assert "not valid JSON" in one_line(result.stderr)


def test_validate_of_a_missing_file_exits_2(cli: CliRunner) -> None:
    result = cli("validate", "absent.json")
    assert result.returncode == 2
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert "absent.json" in line and "cannot read" in line


def test_validate_of_a_directory_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    result = cli("validate", "snapshots")
    assert result.returncode == 2
    assert "snapshots: cannot read" in one_line(result.stderr)


# -- evaluate ---------------------------------------------------------------------------------


def test_evaluate_prints_the_resolution_and_exits_0(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "checkout", "--context", SE_USER)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["flag"] == "flags/checkout"
    assert out["variant"] == "new"
    assert out["value"] == {"layout": "new"}
    assert out["reason"] == "RESOLVE_REASON_MATCH"
    assert out["error"] is None
    assert out["targeting_key"] == "user-1"
    assert out["rule"] == "flags/checkout/rules/se"
    assert result.stderr == ""


def test_evaluate_prints_exactly_the_fields_of_resolution_to_dict(
    cli: CliRunner, tmp_path: Path
) -> None:
    import flagstone

    path = write(tmp_path, snapshot())
    expected = flagstone.Client.from_file(path).evaluate("checkout", json.loads(SE_USER))
    result = cli("evaluate", path.name, "checkout", "--context", SE_USER)
    assert json.loads(result.stdout) == json.loads(json.dumps(expected.to_dict()))


def test_evaluate_accepts_the_full_flag_name(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "flags/checkout", "--context", SE_USER)
    assert json.loads(result.stdout)["variant"] == "new"


def test_evaluate_without_context_uses_an_empty_one(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("evaluate", write(tmp_path, snapshot()).name, "checkout")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reason"] == "RESOLVE_REASON_NO_SEGMENT_MATCH"


def test_evaluate_resolves_a_live_abtest(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    context = json.dumps({"targeting_key": "user-1"})
    out = json.loads(cli("evaluate", path.name, "banner", "--context", context).stdout)
    assert out["abtest"] == "workflows/abtest/instances/banner-test"
    assert out["variant"] in {"control", "treatment"}


def test_evaluate_honours_an_abtest_treatment_override(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    context = json.dumps({"targeting_key": "qa-user"})
    out = json.loads(cli("evaluate", path.name, "banner", "--context", context).stdout)
    assert (out["variant"], out["reason"]) == ("treatment", "RESOLVE_REASON_OVERRIDE")


def test_evaluate_resolution_without_a_variant_still_exits_0(
    cli: CliRunner, tmp_path: Path
) -> None:
    document = snapshot()
    document["flags"]["flags/checkout"]["rules"][0]["targetingKeySelector"] = "targeting_key"
    path = write(tmp_path, document)
    context = json.dumps({"targeting_key": ["not", "a", "key"], "country": "SE"})
    result = cli("evaluate", path.name, "checkout", "--context", context)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reason"] == "RESOLVE_REASON_TARGETING_KEY_ERROR"


def test_evaluate_with_a_client_secret_resolves_as_that_client(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, snapshot())
    result = cli(
        "evaluate",
        path.name,
        "checkout",
        "--context",
        SE_USER,
        "--client-secret",
        "web-secret",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["variant"] == "new"


def test_evaluate_flag_the_client_may_not_see_is_not_found_and_exits_2(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "banner", "--client-secret", "web-secret")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "FLAG_NOT_FOUND"
    assert "banner" in one_line(result.stderr)


def test_evaluate_unknown_flag_prints_flag_not_found_and_exits_2(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli("evaluate", write(tmp_path, snapshot()).name, "chekout")
    assert result.returncode == 2
    out = json.loads(result.stdout)
    assert (out["reason"], out["error"]) == ("RESOLVE_REASON_FLAG_NOT_FOUND", "FLAG_NOT_FOUND")
    assert "chekout" in one_line(result.stderr)


def test_evaluate_unknown_client_secret_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "checkout", "--client-secret", "s3cr3t-guess")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "client secret" in one_line(result.stderr)


def test_evaluate_unknown_client_secret_is_not_echoed(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "checkout", "--client-secret", "s3cr3t-guess")
    assert "s3cr3t-guess" not in result.stderr + result.stdout


def test_evaluate_context_that_is_not_json_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "checkout", "--context", "{targeting_key: 1}")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--context is not valid JSON" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("context", "kind"),
    [('["user-1"]', "an array"), ('"user-1"', "a string"), ("42", "a number"), ("null", "null")],
)
def test_evaluate_context_that_is_not_an_object_exits_2(
    cli: CliRunner, tmp_path: Path, context: str, kind: str
) -> None:
    path = write(tmp_path, snapshot())
    result = cli("evaluate", path.name, "checkout", "--context", context)
    assert result.returncode == 2
    assert f"--context must be a JSON object, not {kind}" in one_line(result.stderr)


def test_evaluate_bad_context_is_reported_before_reading_the_file(cli: CliRunner) -> None:
    result = cli("evaluate", "absent.json", "checkout", "--context", "[]")
    assert "--context" in one_line(result.stderr)


def test_evaluate_with_an_invalid_snapshot_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("evaluate", write(tmp_path, invalid_snapshot()).name, "checkout")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "flags.json: 2 problems: " in one_line(result.stderr)


def test_evaluate_with_a_file_that_is_not_json_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("evaluate", write(tmp_path, "not json").name, "checkout")
    assert result.returncode == 1
    assert "not valid JSON" in one_line(result.stderr)


def test_evaluate_with_a_missing_file_exits_2(cli: CliRunner) -> None:
    result = cli("evaluate", "absent.json", "checkout")
    assert result.returncode == 2
    assert "absent.json: cannot read" in one_line(result.stderr)


def test_evaluate_is_strict_by_default(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, strict_only_invalid_snapshot())
    assert cli("evaluate", path.name, "checkout").returncode == 1


def test_evaluate_lenient_resolves_what_confidence_tolerates(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, strict_only_invalid_snapshot())
    result = cli("evaluate", path.name, "checkout", "--context", SE_USER, "--lenient")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reason"] == "RESOLVE_REASON_NO_SEGMENT_MATCH"


# -- usage ------------------------------------------------------------------------------------


def test_no_command_is_a_usage_error(cli: CliRunner) -> None:
    result = cli()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("flagstone: error:")


def test_unknown_command_is_a_usage_error(cli: CliRunner) -> None:
    assert cli("lint", "flags.json").returncode == 2


def test_evaluate_without_a_flag_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("evaluate", write(tmp_path, snapshot()).name)
    assert result.returncode == 2
    assert "FLAG" in result.stderr


def test_help_documents_the_exit_codes(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout
    assert "1  the snapshot is invalid" in result.stdout


def test_subcommand_help_documents_the_exit_codes(cli: CliRunner) -> None:
    result = cli("evaluate", "--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout


def test_main_returns_the_exit_code_instead_of_exiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = copy.deepcopy(invalid_snapshot())
    assert main(["validate", str(write(tmp_path, snapshot()))]) == 0
    assert main(["validate", str(write(tmp_path, bad, "bad.json"))]) == 1
    assert main(["validate", str(tmp_path / "absent.json")]) == 2
    capsys.readouterr()


# -- the real process -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"), [(snapshot(), 0), (invalid_snapshot(), 1), (None, 2)]
)
def test_python_m_flagstone_exit_codes_reach_the_shell(
    tmp_path: Path, document: dict[str, Any] | None, code: int
) -> None:
    path = write(tmp_path, document) if document is not None else tmp_path / "absent.json"
    result = run_command("validate", path.name, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    if code == 0:
        assert json.loads(result.stdout)["ok"] is True


def test_the_console_script_runs_the_command_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("flagstone")
    found = str(script) if script.is_file() else shutil.which("flagstone")
    assert found is not None, "the flagstone console script is not installed"
    result = subprocess.run(
        [found, "evaluate", str(write(tmp_path, snapshot())), "checkout", "--context", SE_USER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["variant"] == "new"


def test_a_reader_that_goes_away_is_no_error(tmp_path: Path) -> None:
    # `python -m flagstone abtest list … | head -1`: the rest of the output meets a closed
    # pipe; the command ends quietly (exit 0, no BrokenPipeError traceback)
    document = snapshot()
    document["abtests"] = [
        b.abtest(
            f"t{index}",
            flag="checkout",
            weights=[("classic", 5000), ("new", 5000)],
            state="draft",
            display_name=f"test {index}",
        )
        for index in range(400)
    ]
    path = write(tmp_path, document)
    command = [sys.executable, "-m", "flagstone", "abtest", "list", str(path), "--page-size", "400"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().strip() == b"{"
        process.stdout.close()  # what `head -1` does after its line
        stderr = process.stderr.read().decode()
        assert process.wait(60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
