"""The examples in ``examples/`` run as the README says they do."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.util import setup_testing_defaults

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


def test_quickstart_prints_variants_and_the_exposures_it_wrote() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "qa-tester-1" in result.stdout and "(OVERRIDE)" in result.stdout
    first_record = result.stdout[result.stdout.index("{") :]
    record = json.loads(first_record)
    assert record["schema_version"] == flagstone.sinks.SCHEMA_VERSION
    assert record["flag"] == "flags/checkout-flag"


def test_the_override_example_passes_under_pytest() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "test_with_overrides.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


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


def test_the_lifecycle_example_creates_previews_launches_ramps_and_ends_a_test() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "abtest_lifecycle.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created workflows/abtest/instances/") and lines[0].endswith("draft")
    assert lines[1] == "preview qa-1: on"
    in_test = int(lines[2].split(": ")[1].split(" of ")[0])
    assert 400 < in_test < 600  # half of 1 000 users, well inside binomial bounds
    assert lines[3].startswith("refused:") and "can only grow" in lines[3]
    assert lines[4].startswith("ended at ") and lines[4].endswith("live tests now: 1")
