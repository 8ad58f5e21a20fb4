"""The examples in ``examples/`` run as the README says they do (each script's ``main()`` in
this process, the example test file in a pytest session of its own)."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

import flagstone

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_snapshot_is_valid_in_strict_mode() -> None:
    client = flagstone.Client.from_file(EXAMPLES / "flags.json")
    assert client.flags == ["flags/checkout-flag", "flags/new-search", "flags/payments-enabled"]


def run_example(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``examples/{name}.py``'s ``main()`` (what ``python examples/{name}.py`` runs) in
    this process; its standard output."""
    capsys.readouterr()
    load_example(name).main()
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_quickstart_prints_variants_and_the_exposures_it_wrote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdout = run_example("quickstart", capsys)
    assert "qa-tester-1" in stdout and "(OVERRIDE)" in stdout
    first_record = stdout[stdout.index("{") :]
    record = json.loads(first_record)
    assert record["schema_version"] == flagstone.sinks.SCHEMA_VERSION
    assert record["flag"] == "flags/checkout-flag"


def test_the_override_example_passes_under_pytest(pytester: pytest.Pytester) -> None:
    # a pytest session of its own (in this process, without this suite's addopts: no
    # workers), which finds the flag_overrides fixture through the plugin that installing
    # flagstone registers
    result = pytester.runpytest_inprocess(
        "-q", "-p", "no:cacheprovider", "-o", "addopts=", str(EXAMPLES / "test_with_overrides.py")
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=4)


def call(app: Any, path: str, query: str) -> tuple[str, dict[str, Any]]:
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers: status.append(s)))
    return status[0], json.loads(body) if status[0].startswith("200") else {}


def test_the_wsgi_handler_serves_the_overridden_users_layout() -> None:
    web = load_example("web_handler")
    client = flagstone.Client.from_file(EXAMPLES / "flags.json")
    status, body = call(web.make_app(client), "/checkout", "user=qa-tester-1&country=SE")
    assert status.startswith("200")
    assert body["variant"] == "new-checkout"
    assert body["layout"] == "one-page"


def test_the_wsgi_handler_falls_back_to_the_apps_default_outside_the_test() -> None:
    web = load_example("web_handler")
    client = flagstone.Client.from_file(EXAMPLES / "flags.json")
    status, body = call(web.make_app(client), "/checkout", "user=u1&country=US")
    assert status.startswith("200")
    assert body["reason"] == flagstone.Reason.NO_SEGMENT_MATCH.value
    assert body["layout"] == "classic"


def test_the_wsgi_handler_answers_404_elsewhere() -> None:
    web = load_example("web_handler")
    status, _ = call(web.make_app(flagstone.Client.from_file(EXAMPLES / "flags.json")), "/", "")
    assert status.startswith("404")


def test_the_lifecycle_example_creates_previews_launches_ramps_and_ends_a_test(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = run_example("abtest_lifecycle", capsys).splitlines()
    assert lines[0].startswith("created workflows/abtest/instances/") and lines[0].endswith("draft")
    assert lines[1] == "preview qa-1: on"
    in_test = int(lines[2].split(": ")[1].split(" of ")[0])
    assert 400 < in_test < 600  # half of 1 000 users, well inside binomial bounds
    assert lines[3].startswith("refused:") and "can only grow" in lines[3]
    assert lines[4].startswith("ended at ") and lines[4].endswith("live tests now: 1")
