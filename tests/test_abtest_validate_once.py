"""An A/B-test edit of a large snapshot file validates the snapshot once and writes back only
the test it changed (``python -m flagstone abtest``, through ``flagstone.cli.main``).

The file (10 000 flags, three tests) is written here by hand, in a style of its own (flags on
one line each, tests indented by four), so the position of each test in the text is known
without the code under test. A full validation is a pass of the whole-snapshot validator:
``SNAPSHOT.validate_python``/``validate_json`` (the types) or ``check_snapshot``'s checker
(the semantic rules); both are counted.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.cli import main
from flagstone.model import validation
from flagstone.model.snapshot import SNAPSHOT

FLAGS = 10_000
PREFIX = "workflows/abtest/instances/"


def flag(index: int) -> str:
    name = f"flags/f{index}"
    return (
        f'"{name}": {{"name": "{name}", "variants": [{{"name": "off", "value": {{}}}}, '
        f'{{"name": "on", "value": {{"level": {index}}}}}]}}'
    )


def abtest_json(test_id: str, flag_index: int) -> dict[str, Any]:
    return {
        "name": PREFIX + test_id,
        "displayName": f"Test {test_id}",
        "abtest": {
            "treatments": [
                {"variant": f"flags/f{flag_index}/variants/off", "weight": "5000"},
                {"variant": f"flags/f{flag_index}/variants/on", "weight": "5000"},
            ]
        },
        "segment": {"allocation": {"proportion": 0.25}},
        "state": "draft",
        "createTime": "2026-01-05T10:00:00Z",
        "updateTime": "2026-01-05T10:00:00Z",
    }


TESTS = [abtest_json("t0", 0), abtest_json("t1", 1), abtest_json("t2", 2)]


def indented(value: Any) -> str:
    """A test as this file writes it: indent 4, on a line indented by 8."""
    return json.dumps(value, indent=4).replace("\n", "\n        ")


HEAD = (
    '{\n    "version": "41",\n    "account": {"name": "accounts/acme"},\n    "flags": {\n        '
    + ",\n        ".join(flag(index) for index in range(FLAGS))
    + '\n    },\n    "abtests": [\n        '
)
SEPARATOR = ",\n        "
TAIL = "\n    ]\n}\n"
ORIGINAL = HEAD + SEPARATOR.join(indented(test) for test in TESTS) + TAIL


def next_version(text: str) -> str:
    """``text`` with the version an edit gives it: "41" → "42" (the same length, so every
    span stays where it was)."""
    return text.replace('"version": "41"', '"version": "42"', 1)


def span(index: int) -> tuple[int, int]:
    """Where test ``index`` is in ``ORIGINAL``."""
    start = len(HEAD) + sum(len(indented(test)) + len(SEPARATOR) for test in TESTS[:index])
    return start, start + len(indented(TESTS[index]))


@pytest.fixture(scope="module")
def original() -> str:
    json.loads(ORIGINAL)  # the hand-written text is JSON
    for index, test in enumerate(TESTS):
        start, end = span(index)
        assert json.loads(ORIGINAL[start:end]) == test
    return ORIGINAL


@pytest.fixture
def snapshot_file(tmp_path: Path, original: str) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(original)
    return path


@pytest.fixture
def full_validations(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of whole-snapshot validations, and of the checks of one changed test."""
    counts = {"types": 0, "rules": 0, "changed test": 0}

    def counting(key: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(SNAPSHOT, "validate_python", counting("types", SNAPSHOT.validate_python))
    monkeypatch.setattr(SNAPSHOT, "validate_json", counting("types", SNAPSHOT.validate_json))
    checker = validation._Checker
    monkeypatch.setattr(checker, "run", counting("rules", checker.run))
    monkeypatch.setattr(
        checker, "check_abtest_change", counting("changed test", checker.check_abtest_change)
    )
    return counts


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield out


def abtest(*arguments: str | Path) -> Any:
    with quiet() as out:
        assert main(["abtest", *map(str, arguments)]) == 0
    return json.loads(out.getvalue())


def test_a_launch_validates_the_file_once_and_rewrites_only_the_launched_test(
    snapshot_file: Path, original: str, full_validations: dict[str, int]
) -> None:
    launched = abtest("launch", snapshot_file, "t1")

    assert full_validations == {"types": 1, "rules": 1, "changed test": 1}
    text = snapshot_file.read_text()
    start, end = span(1)
    after = len(original) - end
    assert text[:start] == next_version(original[:start])
    assert text[len(text) - after :] == original[end:]
    assert json.loads(text[start : len(text) - after]) == launched
    assert launched == {
        **TESTS[1],
        "state": "live",
        "updateTime": launched["updateTime"],
        "launchTime": launched["updateTime"],
    }


def test_a_create_validates_the_file_once_and_appends_the_test_after_the_last(
    snapshot_file: Path, original: str, full_validations: dict[str, int]
) -> None:
    body = {key: value for key, value in abtest_json("t3", 3).items() if key != "name"}
    for key in ("state", "createTime", "updateTime"):
        del body[key]

    created = abtest("create", snapshot_file, "--id", "t3", "--body", json.dumps(body))

    assert full_validations == {"types": 1, "rules": 1, "changed test": 1}
    text = snapshot_file.read_text()
    _, end = span(2)
    assert text.startswith(next_version(original[:end]) + SEPARATOR)
    assert text.endswith(TAIL)
    assert json.loads(text[end + len(SEPARATOR) : len(text) - len(TAIL)]) == created
    assert created["name"] == PREFIX + "t3"


def test_a_delete_validates_the_file_once_and_removes_the_test_with_its_separator(
    snapshot_file: Path, original: str, full_validations: dict[str, int]
) -> None:
    assert abtest("delete", snapshot_file, "t0") == {}

    assert full_validations == {"types": 1, "rules": 1, "changed test": 1}
    start, _ = span(0)
    next_start, _ = span(1)
    assert snapshot_file.read_text() == next_version(original[:start]) + original[next_start:]


def test_the_lifecycle_object_validates_its_document_once_for_many_changes(
    full_validations: dict[str, int],
) -> None:
    document = json.loads(ORIGINAL)
    tests = flagstone.AbTests(document)

    tests.set_exposure("t0", percentage=40)
    tests.set_override("t0", "qa-1", "on")
    tests.launch("t0")
    tests.set_exposure("t0", percentage=60)
    tests.end("t0")
    tests.delete("t2")

    assert full_validations == {"types": 1, "rules": 1, "changed test": 6}
    assert tests.get("t0")["state"] == "ended"
    assert flagstone.formats.parse_snapshot(tests.document).model.abtests[0].state == "ended"
