"""Every A/B-test edit that changes a snapshot gives it a new ``version``, so exposures recorded
before and after a ramp carry different snapshot versions.

The rule (``flagstone.abtests.version``, the README's "Managing A/B tests"): an integer
becomes the next integer; a string ending in a number after ``.``, ``+``, a letter or nothing
has that number incremented at its width; any other non-empty string gets ``.1``; without a
version (or with an empty one) the snapshot's version is its content hash and nothing is
added. The expected versions below are worked out by hand from that statement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.abtests import AbTests, Document, transitions
from flagstone.abtests.storage import edit_document, patch_document
from flagstone.abtests.version import next_version
from flagstone.formats import parse_snapshot
from tests.test_abtest_cli import CREATE_BODY, failed, ok, snapshot
from tests.test_abtest_cli_formats import AUDIENCE, alexa_entry, experiments_api_experiment

NAME = "workflows/abtest/instances/checkout-test"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("2026-11-23.1", "2026-11-23.2"),
        ("7", "8"),
        ("9", "10"),
        ("v9", "v10"),
        ("1.0.0-rc1", "1.0.0-rc2"),
        ("0099", "0100"),
        ("1.9", "1.10"),
        ("build+41", "build+42"),
        ("2026-11-23", "2026-11-23.1"),  # a date is not turned into the next day
        ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z.1"),
        ("blue", "blue.1"),
        ("blue.1", "blue.2"),
        (7, 8),
        (0, 1),
        ("9" * 5000, "1" + "0" * 5000),  # longer than int() converts
    ],
)
def test_the_next_version(before: Any, after: Any) -> None:
    assert next_version(before) == after
    assert type(next_version(before)) is type(after)


@pytest.mark.parametrize("version", [None, "", True, 1.5, [], {}])
def test_no_next_version_where_the_snapshot_version_is_its_hash_or_not_a_version(
    version: Any,
) -> None:
    assert next_version(version) is None


# -- python -m flagstone abtest on a native file ---------------------------------------------


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def with_test(version: Any = "2026-11-23.1", **extra: Any) -> dict[str, Any]:
    """The CLI tests' snapshot with ``version`` (absent when ``None``) and a draft test."""
    document = {**snapshot(), **extra}
    if version is None:
        del document["version"]
    else:
        document["version"] = version
    tests = AbTests(document)
    tests.create({**CREATE_BODY, "segment": {"allocation": {"proportion": 0.1}}}, abtest_id="t")
    raw = tests.document
    if version is None:
        raw.pop("version", None)
    else:
        raw["version"] = version
    return raw


def test_each_edit_of_a_native_file_advances_its_version(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test("2026-11-23.1"))

    ok("launch", path, "t")
    assert json.loads(path.read_text())["version"] == "2026-11-23.2"
    ok("exposure", path, "t", "--percentage", "50")
    assert json.loads(path.read_text())["version"] == "2026-11-23.3"
    ok("override", path, "t", "qa-1", "control")
    assert json.loads(path.read_text())["version"] == "2026-11-23.4"


def test_the_version_is_replaced_in_place_and_the_rest_of_the_file_keeps_its_bytes(
    tmp_path: Path,
) -> None:
    document = with_test("2026-11-23.1")
    text = json.dumps(document, indent=2) + "\n"
    path = tmp_path / "flags.json"
    path.write_text(text)
    head, _, _ = text.partition('  "abtests"')

    ok("launch", path, "t")

    new = path.read_text()
    assert new.startswith(head.replace('"2026-11-23.1"', '"2026-11-23.2"'))
    assert json.loads(new)["abtests"][0]["state"] == "live"


def test_an_integer_version_stays_an_integer(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test(7))

    ok("launch", path, "t")

    assert json.loads(path.read_text())["version"] == 8


def test_a_file_without_a_version_gets_none_and_its_hash_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test(None))
    before = parse_snapshot(path.read_bytes()).version

    ok("launch", path, "t")

    assert "version" not in json.loads(path.read_text())
    assert parse_snapshot(path.read_bytes()).version != before


def test_the_version_advances_with_issued_at(tmp_path: Path) -> None:
    issued = "2020-01-01T00:00:00.000000Z"
    path = write(tmp_path / "flags.json", {**with_test("3"), "issuedAt": issued})

    ok("launch", path, "t")

    document = json.loads(path.read_text())
    assert document["version"] == "4"
    assert document["issuedAt"] > issued


def test_a_refused_edit_leaves_the_version(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test("5"))
    before = path.read_bytes()

    failed(3, "end", path, "t")  # a draft cannot end

    assert path.read_bytes() == before


def test_exposures_before_and_after_a_ramp_carry_different_snapshot_versions(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "flags.json", with_test("2026-11-23.1"))
    ok("launch", path, "t")

    def exposure_versions() -> set[str]:
        sink = flagstone.sinks.MemorySink()
        client = flagstone.Client.from_file(path, sinks=[sink])
        for unit in range(300):
            client.evaluate("checkout", {"targeting_key": f"user-{unit}"})
        client.close()
        return {event["snapshot_version"] for event in sink.events}

    before = exposure_versions()
    ok("exposure", path, "t", "--percentage", "60")
    after = exposure_versions()

    assert before == {"2026-11-23.2"}
    assert after == {"2026-11-23.3"}


# -- the Python API -----------------------------------------------------------------------------


def test_every_abtests_operation_advances_the_version() -> None:
    tests = AbTests(with_test("1"))

    tests.launch(NAME.replace("checkout-test", "t"))
    tests.set_exposure("t", percentage=30)

    assert tests.document["version"] == "3"


def test_a_transition_advances_the_version_of_the_document_and_of_its_model() -> None:
    change = transitions.launch(Document.parse(with_test("v1")), "t")

    assert change.document.raw["version"] == "v2"
    assert change.document.model.version == "v2"


def test_a_refused_transition_leaves_the_document_and_its_version() -> None:
    tests = AbTests(with_test("1"))
    before = tests.document

    with pytest.raises(flagstone.LifecycleError):
        tests.end("t")

    assert tests.document == before


# -- storage: edits other than the lifecycle's ---------------------------------------------------


def test_a_whole_document_edit_advances_a_version_it_left(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test("1"))

    def rename(document: dict[str, Any]) -> None:
        document["abtests"][0]["displayName"] = "Renamed"

    edit_document(path, rename)

    assert json.loads(path.read_text())["version"] == "2"


def test_an_edit_that_sets_a_version_of_its_own_keeps_it(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test("1"))

    patch_document(path, lambda document: ({**document, "version": "release-9"}, None))

    assert json.loads(path.read_text())["version"] == "release-9"


def test_an_edit_that_changes_nothing_keeps_the_version(tmp_path: Path) -> None:
    path = write(tmp_path / "flags.json", with_test("1"))
    before = path.read_bytes()

    edit_document(path, lambda document: None)
    patch_document(path, lambda document: (dict(document), None))

    assert path.read_bytes() == before


# -- the other shapes have no version key: nothing is added -----------------------------------


def test_an_alexa_edit_adds_no_version(tmp_path: Path) -> None:
    path = write(tmp_path / "skill.json", {"experiments": [alexa_entry("exp-1", "greeting")]})

    ok("exposure", path, "exp-1", "--percentage", "30", "--format", "alexa")

    assert set(json.loads(path.read_text())) == {"experiments"}


def test_an_experiments_api_edit_adds_no_version(tmp_path: Path) -> None:
    document = {"experiments": [experiments_api_experiment("exp-1", "x")], "audiences": [AUDIENCE]}
    path = write(tmp_path / "experiments.json", document)

    ok("launch", path, "exp-1", "--format", "experiments-api")

    assert set(json.loads(path.read_text())) == {"experiments", "audiences"}
