"""``SqliteMaterializationStore``: the materialization-store contract, kept in a file.

The same behaviour as ``MemoryMaterializationStore`` (one parametrised contract for both),
plus what only a file gives: assignments survive a new store and a new process, concurrent
writers (threads and processes) lose nothing, and a forked child opens its own connection.
Every conformance case resolves the same, and leaves the same records, with either store.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import MemoryMaterializationStore, SqliteMaterializationStore

from .conftest import SUITE_DIR, require_suite, suite_present

MAT = "materializations/sticky"
RULE = "flags/checkout/rules/sticky"


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path) -> Any:
    if request.param == "memory":
        return MemoryMaterializationStore()
    return SqliteMaterializationStore(tmp_path / "sticky.db")


def test_an_unknown_unit_has_no_record(store) -> None:
    assert store.read("user-1", MAT) is None


def test_a_write_puts_the_unit_in_the_materialization_with_its_variant(store) -> None:
    store.write("user-1", MAT, RULE, "treatment")
    assert store.read("user-1", MAT) == (True, {RULE: "treatment"})


def test_a_second_rule_adds_to_the_record(store) -> None:
    store.write("user-1", MAT, RULE, "treatment")
    store.write("user-1", MAT, "flags/other/rules/r", "")
    assert store.read("user-1", MAT) == (True, {RULE: "treatment", "flags/other/rules/r": ""})


def test_writing_a_rule_again_replaces_its_variant(store) -> None:
    store.write("user-1", MAT, RULE, "control")
    store.write("user-1", MAT, RULE, "treatment")
    assert store.read("user-1", MAT) == (True, {RULE: "treatment"})


def test_records_are_per_unit_and_materialization(store) -> None:
    store.write("user-1", MAT, RULE, "treatment")
    assert (store.read("user-2", MAT), store.read("user-1", "materializations/other")) == (
        None,
        None,
    )


def test_seeded_records_read_back_in_the_suite_shape(tmp_path) -> None:
    records = {
        "user-1": {MAT: {"isUnitInMaterialization": False, "ruleToVariant": {}}},
        "user-2": {MAT: {"isUnitInMaterialization": True, "ruleToVariant": {RULE: "on"}}},
    }
    store = SqliteMaterializationStore(tmp_path / "seeded.db", records=records)
    assert store.records() == MemoryMaterializationStore(records).records() == records
    assert store.read("user-1", MAT) == (False, {})


def test_assignments_survive_a_new_store_on_the_same_file(tmp_path) -> None:
    store = SqliteMaterializationStore(tmp_path / "s.db")
    store.write("user-1", MAT, RULE, "treatment")
    assert store.close()
    assert SqliteMaterializationStore(tmp_path / "s.db").read("user-1", MAT) == (
        True,
        {RULE: "treatment"},
    )


def test_assignments_written_by_another_process_are_read(tmp_path) -> None:
    path = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        from flagstone import SqliteMaterializationStore
        SqliteMaterializationStore({str(path)!r}).write("user-1", {MAT!r}, {RULE!r}, "treatment")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert SqliteMaterializationStore(path).read("user-1", MAT) == (True, {RULE: "treatment"})


def test_threads_writing_concurrently_lose_no_rule(tmp_path) -> None:
    store = SqliteMaterializationStore(tmp_path / "s.db")

    def write(thread: int) -> None:
        for index in range(50):
            store.write("user-1", MAT, f"flags/f/rules/t{thread}-{index}", "on")

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    record = store.read("user-1", MAT)
    assert record is not None and len(record.rule_to_variant) == 200


def test_processes_writing_concurrently_lose_no_rule(tmp_path) -> None:
    path = tmp_path / "s.db"
    SqliteMaterializationStore(path)  # the schema exists before the writers start
    script = textwrap.dedent(
        f"""
        import sys
        from flagstone import SqliteMaterializationStore
        store = SqliteMaterializationStore({str(path)!r}, timeout=30)
        for index in range(50):
            store.write("user-1", {MAT!r}, f"flags/f/rules/p{{sys.argv[1]}}-{{index}}", "on")
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(number)]) for number in range(4)]
    assert [writer.wait(120) for writer in writers] == [0, 0, 0, 0]
    record = SqliteMaterializationStore(path).read("user-1", MAT)
    assert record is not None and len(record.rule_to_variant) == 200


def test_a_forked_child_uses_the_store_with_its_own_connection(tmp_path) -> None:
    path = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        import os, sys
        from flagstone import SqliteMaterializationStore
        store = SqliteMaterializationStore({str(path)!r})
        store.write("parent", {MAT!r}, {RULE!r}, "on")
        pid = os.fork()
        if pid == 0:
            store.write("child", {MAT!r}, {RULE!r}, "on")
            ok = store.read("parent", {MAT!r}) is not None
            sys.exit(0 if ok else 3)  # a normal exit: the child's writer is flushed
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert SqliteMaterializationStore(path).read("child", MAT) == (True, {RULE: "on"})


def _cases() -> list[dict[str, Any]]:
    if not suite_present():
        return []
    import json

    return json.loads((SUITE_DIR / "tests.json").read_text())


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_conformance_cases_resolve_and_record_the_same_with_either_store(
    case: dict[str, Any], suite_snapshot: Any, tmp_path: Path
) -> None:
    require_suite()
    request = case["resolveRequest"]
    memory = MemoryMaterializationStore(case.get("materializations"))
    sqlite = SqliteMaterializationStore(tmp_path / "case.db", records=case.get("materializations"))
    answers = []
    for store in (memory, sqlite):
        client = flagstone.Client(
            suite_snapshot, client_secret=request["clientSecret"], materializations=store
        )
        answers.append(
            [
                client.evaluate(flag, request["evaluationContext"]).to_dict()
                for flag in request["flags"] or client.flags
            ]
        )
    assert answers[0] == answers[1]
    assert sqlite.records() == memory.records()
