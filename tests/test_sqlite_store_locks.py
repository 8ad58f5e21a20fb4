"""``SqliteMaterializationStore`` when another process holds the database's lock.

A real second process holds the lock (``BEGIN EXCLUSIVE``: every write waits; with
``PRAGMA locking_mode=EXCLUSIVE`` as well, every read waits too) while this process evaluates
a flag with sticky assignments. ``evaluate`` must come back within a bound far below the
store's 5 s lock timeout; the assignment it makes is queued, read back at once, and written
once the lock is released (never dropped); a read that times out makes the unit a new unit
only where the rule admits new units, never overwrites the record it could not read, and is
counted. Also: a file that is not a usable database is a ``ConfigError`` at construction,
``close()`` and the exit of ``multiprocessing`` children flush the queue.

What a unit "with no record" gets is asked of a client over an empty
``MemoryMaterializationStore`` (the same snapshot), not computed from the store under test.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import MemoryMaterializationStore, Reason, SqliteMaterializationStore
from tests import builders as b

OPEN = "materializations/open"
PAUSED = "materializations/paused"
OPEN_RULE = "flags/checkout/rules/sticky"
PAUSED_RULE = "flags/legacy/rules/sticky"
VARIANTS = ("control", "treatment")
BOUND = 1.0
"""Seconds an evaluate may take while the lock is held (it took the 5 s lock timeout)."""

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    path, mode = sys.argv[1], sys.argv[2]
    connection = sqlite3.connect(path, isolation_level=None, timeout=10)
    if mode == "readers-too":
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("BEGIN EXCLUSIVE")
    connection.execute("INSERT OR REPLACE INTO members VALUES ('holder', 'x', 1)")
    print("held", flush=True)
    sys.stdin.readline()
    connection.execute("COMMIT")
    """
)


def sticky_flag(flag: str, rule: str, materialization: str, *, must_match: bool) -> b.Doc:
    """A flag whose one rule splits units 50/50 and keeps them sticky in ``materialization``
    (admitting no new unit with ``must_match``)."""
    spec = {
        "readMaterialization": materialization,
        "writeMaterialization": "" if must_match else materialization,
        "mode": {"materializationMustMatch": must_match, "segmentTargetingCanBeIgnored": False},
    }
    split = b.rule(
        rule,
        [
            b.assignment("control", "control", (0, 1)),
            b.assignment("treatment", "treatment", (1, 2)),
        ],
        bucket_count=2,
        materialization=spec,
    )
    return b.flag(flag, {"control": {}, "treatment": {}}, [split])


DOCUMENT = b.snapshot(
    sticky_flag("checkout", OPEN_RULE, OPEN, must_match=False),
    sticky_flag("legacy", PAUSED_RULE, PAUSED, must_match=True),
    segments=[b.segment("everyone")],
)


def context(unit: str) -> dict[str, Any]:
    return {"targeting_key": unit}


def fresh_variant(flag: str, unit: str) -> str | None:
    """The variant ``unit`` gets when no store has a record of it."""
    client = flagstone.Client.from_dict(DOCUMENT, materializations=MemoryMaterializationStore())
    return client.evaluate(flag, context(unit)).variant


def other(variant: str | None) -> str:
    return VARIANTS[1] if variant == VARIANTS[0] else VARIANTS[0]


@contextlib.contextmanager
def lock_held(path: Path, mode: str) -> Iterator[None]:
    """Another process holds ``path``'s lock (``"writers"``: ``BEGIN EXCLUSIVE``;
    ``"readers-too"``: in exclusive locking mode) until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        assert holder.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            holder.stdin.write("\n")
            holder.stdin.close()
        assert holder.wait(30) == 0
        assert holder.stdout is not None
        holder.stdout.close()


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - start


# -- another process holds the write lock ----------------------------------------------------


def test_evaluate_does_not_wait_for_a_write_lock_and_the_write_lands_later(tmp_path) -> None:
    path = tmp_path / "sticky.db"
    store = SqliteMaterializationStore(path)  # writes wait up to 5 s for a lock
    client = flagstone.Client.from_dict(DOCUMENT, materializations=store)
    expected = fresh_variant("checkout", "user-1")

    with lock_held(path, "writers"):
        resolution, elapsed = timed(client.evaluate, "checkout", context("user-1"))
        assert elapsed < BOUND
        assert resolution.variant == expected and resolution.reason == Reason.MATCH
        # queued, not written: read back at once, and the store says so
        assert store.read("user-1", OPEN) == (True, {OPEN_RULE: expected})
        assert client.evaluate("checkout", context("user-1")).variant == expected
        assert not store.flush(0.2)
        assert store.stats()["pending"] == 1

    assert store.flush(10)
    stats = store.stats()
    assert (stats["pending"], stats["written"]) == (0, 1)
    assert SqliteMaterializationStore(path).read("user-1", OPEN) == (True, {OPEN_RULE: expected})


# -- another process holds every lock: reads time out ----------------------------------------


def seeded_store(path: Path, unit: str) -> tuple[SqliteMaterializationStore, str, str]:
    """A store (no connection open) where ``unit`` has the variant it would not get as a new
    unit, in both materializations; that variant and the new unit's."""
    fresh = fresh_variant("checkout", unit)
    kept = other(fresh)
    records = {
        unit: {
            OPEN: {"isUnitInMaterialization": True, "ruleToVariant": {OPEN_RULE: kept}},
            PAUSED: {"isUnitInMaterialization": True, "ruleToVariant": {PAUSED_RULE: kept}},
        }
    }
    return SqliteMaterializationStore(path, records=records), kept, fresh


def test_a_read_that_times_out_admits_the_unit_as_new_only_where_new_units_are_admitted(
    tmp_path,
) -> None:
    path = tmp_path / "sticky.db"
    store, kept, fresh = seeded_store(path, "user-1")
    client = flagstone.Client.from_dict(DOCUMENT, materializations=store)

    with lock_held(path, "readers-too"):
        admitting, elapsed = timed(client.evaluate, "checkout", context("user-1"))
        assert elapsed < BOUND
        must_match, elapsed = timed(client.evaluate, "legacy", context("user-1"))
        assert elapsed < BOUND
        assert store.stats()["read_timeouts"] >= 2

    assert (admitting.variant, admitting.reason) == (fresh, Reason.MATCH)
    assert (must_match.variant, must_match.reason) == (None, Reason.NO_SEGMENT_MATCH)
    # once the file answers: the record that could not be read was not overwritten
    assert store.flush(10)
    assert store.read("user-1", OPEN) == (True, {OPEN_RULE: kept})
    assert client.evaluate("checkout", context("user-1")).variant == kept
    assert client.evaluate("legacy", context("user-1")).variant == kept


def test_a_new_unit_assigned_while_reads_time_out_is_read_back_and_written(tmp_path) -> None:
    path = tmp_path / "sticky.db"
    store, _, _ = seeded_store(path, "someone-else")
    client = flagstone.Client.from_dict(DOCUMENT, materializations=store)
    fresh = fresh_variant("checkout", "newcomer")

    with lock_held(path, "readers-too"):
        assert client.evaluate("checkout", context("newcomer")).variant == fresh
        again, elapsed = timed(client.evaluate, "checkout", context("newcomer"))
        assert elapsed < BOUND
        assert store.read("newcomer", OPEN) == (True, {OPEN_RULE: fresh})  # from the queue

    assert again.variant == fresh
    assert store.flush(10)
    assert SqliteMaterializationStore(path).read("newcomer", OPEN) == (True, {OPEN_RULE: fresh})


def test_read_timeout_is_how_long_a_read_waits(tmp_path) -> None:
    path = tmp_path / "sticky.db"
    store = SqliteMaterializationStore(path, read_timeout=0.2)

    with lock_held(path, "readers-too"):
        record, elapsed = timed(store.read, "user-1", OPEN)

    assert record is flagstone.stores.UNAVAILABLE
    assert 0.15 < elapsed < BOUND
    assert store.stats()["read_timeouts"] == 1


# -- close and exit --------------------------------------------------------------------------


def test_close_that_cannot_write_says_so_and_the_writer_keeps_trying(tmp_path, caplog) -> None:
    path = tmp_path / "sticky.db"
    store = SqliteMaterializationStore(path, timeout=0.05)

    with lock_held(path, "writers"), caplog.at_level(logging.WARNING, "flagstone"):
        store.write("user-1", OPEN, OPEN_RULE, VARIANTS[0])
        assert store.close(timeout=0.2) is False
        assert store.stats()["unwritten_at_close"] == 1
        assert store.stats()["write_failures"] >= 1  # each attempt waits 0.05 s, then retries
        assert "1 sticky assignment(s) not yet written" in caplog.text

    assert store.flush(10)
    assert SqliteMaterializationStore(path).read("user-1", OPEN) == (True, {OPEN_RULE: VARIANTS[0]})


def test_close_writes_what_is_queued(tmp_path) -> None:
    path = tmp_path / "sticky.db"
    store = SqliteMaterializationStore(path)
    for index in range(300):
        store.write(f"user-{index}", OPEN, OPEN_RULE, VARIANTS[index % 2])

    assert store.close()
    assert store.stats()["written"] == 300
    assert len(SqliteMaterializationStore(path)) == 300


SCRIPT = textwrap.dedent(
    """
    import multiprocessing, subprocess, sys
    from flagstone import SqliteMaterializationStore

    path, holder = sys.argv[1], sys.argv[2]
    MAT, RULE = "materializations/open", "flags/checkout/rules/sticky"
    store = SqliteMaterializationStore(path, timeout=0.05)
    context = multiprocessing.get_context("fork")
    queued = context.Semaphore(0)  # inherited by every child

    def work(unit):
        assert store.read("parent", MAT) == (True, {RULE: "on"})  # the parent's, queued
        store.write(unit, MAT, RULE, "on")  # never flushed nor closed here
        queued.release()

    if __name__ == "__main__":
        lock = subprocess.Popen([sys.executable, "-c", holder, path, "writers"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert lock.stdout.readline() == "held\\n"
        store.write("parent", MAT, RULE, "on")
        children = [context.Process(target=work, args=(f"process-{n}",)) for n in range(2)]
        for child in children:
            child.start()
        pool = context.Pool(2)
        done = pool.map_async(work, [f"pool-{n}" for n in range(4)])
        for _ in range(6):  # every child has queued its write while the lock is held
            assert queued.acquire(timeout=60)
        lock.stdin.write("\\n"); lock.stdin.close()  # the exiting children wait for this
        assert lock.wait(30) == 0
        done.wait(60)
        pool.close(); pool.join()
        for child in children:
            child.join(30)
        assert [child.exitcode for child in children] == [0, 0] and done.successful()
        assert store.close(10)
    """
)


def test_forked_and_pool_children_write_what_they_queued_before_they_exit(tmp_path) -> None:
    path = tmp_path / "sticky.db"

    subprocess.run([sys.executable, "-c", SCRIPT, str(path), HOLDER], check=True, timeout=120)

    units = set(SqliteMaterializationStore(path).records())
    expected = {"parent", "holder", "process-0", "process-1"} | {f"pool-{n}" for n in range(4)}
    assert units == expected


# -- a file that is not a store ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"this is not an SQLite database, just some text" * 100,
        b"SQLite format 3\x00" + b"\xff" * 4080,  # the header, then garbage
    ],
    ids=["text", "torn-header"],
)
def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path, content) -> None:
    path = tmp_path / "sticky.db"
    path.write_bytes(content)

    with pytest.raises(flagstone.ConfigError, match="not a usable materialization store") as raised:
        SqliteMaterializationStore(path)
    assert raised.value.source == str(path)


def test_a_database_with_other_tables_of_the_same_names_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT)")
        connection.commit()

    with pytest.raises(flagstone.ConfigError, match="no such column"):
        SqliteMaterializationStore(path)


def test_a_path_that_cannot_be_opened_is_a_config_error(tmp_path) -> None:
    with pytest.raises(flagstone.ConfigError, match="not a usable materialization store"):
        SqliteMaterializationStore(tmp_path / "no-such-directory" / "sticky.db")
