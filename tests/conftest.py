"""Shared test fixtures: where the conformance suite is, the clients a test made, the
command line run in process (``cli``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import freezegun
import pytest

from tests.commandline import CliRunner

pytest_plugins = ["pytester"]  # test_examples runs the example test file in a session of its own

# freezegun walks every loaded module at each freeze_time start to patch its datetime
# references; once the analysis tests have loaded scipy, statsmodels and pandas that walk
# dominated the A/B-test lifecycle tests (4 s alone, 17 s after them). Packages that never
# read the clock for flagstone are skipped (and, inside them, time is real).
freezegun.configure(
    extend_ignore_list=[
        "scipy",
        "numpy",
        "pandas",
        "statsmodels",
        "patsy",
        "spotify_confidence",
        "chartify",
        "bokeh",
        "IPython",
        "ipykernel",
        "ipywidgets",
        "jedi",
        "selenium",
        "trio",
        "tornado",
        "zmq",
        "jupyter_client",
        "matplotlib",
        "PIL",
        "duckdb",
        "sqlglot",
        "pyarrow",
        "mypy",
        "hypothesis",
    ]
)

ROOT = Path(__file__).resolve().parent.parent
SUITE_DIR = Path(
    os.environ.get(
        "FLAGSTONE_CONFORMANCE_DIR",
        ROOT.parent / "shared" / "conformance" / "confidence-resolver-spec",
    )
)
SUITE_REQUIRED = os.environ.get("FLAGSTONE_REQUIRE_CONFORMANCE") == "1"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (in addopts): the whole suite runs on one worker per core (xdist's own
    count, or ``PYTEST_XDIST_AUTO_NUM_WORKERS``); a run of chosen files or tests stays in
    this process, where starting workers would cost more than it saves."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    whole = {ROOT, ROOT / "tests"}
    invocation = config.invocation_params.dir
    chosen = [(invocation / argument.split("::")[0]).resolve() for argument in config.args]
    return None if chosen and all(path in whole for path in chosen) else 0


def suite_present() -> bool:
    return (SUITE_DIR / "state.json").is_file() and (SUITE_DIR / "tests.json").is_file()


def require_suite() -> None:
    """Skip (or, under FLAGSTONE_REQUIRE_CONFORMANCE=1, fail) when the suite is absent."""
    if suite_present():
        return
    message = (
        f"the Confidence resolver suite is not at {SUITE_DIR}. It is Spotify's public "
        "suite: state.json and tests.json from the repository spotify/confidence-resolver, "
        "path confidence-resolver/test-payloads/resolver-spec/ (commit 1ac8d80a65d5, Apache "
        "2.0). Put those two files in a directory and set FLAGSTONE_CONFORMANCE_DIR to it"
    )
    if SUITE_REQUIRED:
        pytest.fail(message + " (FLAGSTONE_REQUIRE_CONFORMANCE=1 requires it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def suite_state() -> dict[str, Any]:
    require_suite()
    return json.loads((SUITE_DIR / "state.json").read_text())


@pytest.fixture(scope="session")
def suite_snapshot(suite_state: dict[str, Any]) -> Any:
    """The suite's state parsed once, leniently (it holds unknown segments, cycles and
    unrecognised rules on purpose): a ``ParsedSnapshot`` for ``flagstone.Client(...)``."""
    from flagstone.formats import parse_snapshot

    return parse_snapshot(suite_state, strict=False)


@pytest.fixture(autouse=True)
def _no_leftover_test_overrides(monkeypatch: pytest.MonkeyPatch):
    """Every test starts and ends without process-wide test overrides, and its overrides are
    checked against the clients it opens: not against those other tests of the worker still
    hold (module-level clients, cycles not yet collected), which would make a test's answer
    depend on which tests ran before it in the same process."""
    import weakref

    from flagstone import overrides

    monkeypatch.setattr(overrides, "_CLIENTS", weakref.WeakSet())
    overrides.clear()
    yield
    overrides.clear()


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    """Clients a test made (append them); all closed afterwards, which stops their updater
    threads and flushes their sinks."""
    made: list[Any] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """``cli(*argv, stdin=None)``: ``python -m flagstone *argv`` run in this process
    (``flagstone.cli.main``), returning its exit code, stdout and stderr."""
    return CliRunner(capsys, monkeypatch)
