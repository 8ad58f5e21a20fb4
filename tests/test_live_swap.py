"""Swapping a new snapshot in while other threads evaluate: every answer comes from one whole
snapshot, never from a mix of the old and the new one.

Snapshots A and B differ in every one of their five flags (each flag's variant names its
version), so an ``evaluate_all`` that read some flags from A and others from B, or a
resolution whose variant and ``snapshot_version`` disagree, is caught. Four reader threads
evaluate in a loop while the snapshot is swapped hundreds of times, first directly with
``client.install`` (the swap every update path ends in), then through a watched file that
a writer thread replaces over and over.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import flagstone
from flagstone.formats.native import parse_snapshot
from tests.live_scripts.livelib import (
    CONTEXT,
    FLAG_IDS,
    PATIENCE,
    answers,
    document,
    eventually,
    expected_answers,
    variant_of,
    write_atomically,
)

READERS = 4
MIN_SWAPS = 300
MAX_SWAPS = 100_000  # keep swapping until every reader saw both versions, but not forever
MIN_FILE_WRITES = 40
MAX_FILE_WRITES = 2_000
VERSIONS = ("A", "B")


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    """Let the interpreter switch threads far more often than every 5 ms, so that swaps land
    in the middle of evaluations."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


class Readers:
    """``READERS`` threads running ``read(client)`` in a loop until stopped. ``read`` returns
    the version its answer came from, or raises ``AssertionError`` for an answer from no
    single snapshot; anything raised is collected in ``errors``."""

    def __init__(self, client: flagstone.Client, read: Callable[[flagstone.Client], str]) -> None:
        self._client = client
        self._read = read
        self._stop = threading.Event()
        self.started = threading.Barrier(READERS + 1)
        self.seen: list[set[str]] = [set() for _ in range(READERS)]
        self.reads = [0] * READERS
        self.errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._loop, args=(index,), name=f"reader-{index}")
            for index in range(READERS)
        ]

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        self.started.wait(PATIENCE)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(PATIENCE)
        assert not any(thread.is_alive() for thread in self._threads), "a reader hung"

    def _loop(self, index: int) -> None:
        try:
            self.started.wait(PATIENCE)
            while not self._stop.is_set():
                self.seen[index].add(self._read(self._client))
                self.reads[index] += 1
        except BaseException as error:
            self.errors.append(error)

    def all_saw(self, versions: tuple[str, ...]) -> bool:
        """Every reader has seen every one of ``versions`` (or a reader failed)."""
        return bool(self.errors) or all(set(versions) <= seen for seen in self.seen)


def read_all(client: flagstone.Client) -> str:
    """One ``evaluate_all``; the version whose answers it is exactly."""
    got = answers(client.evaluate_all(CONTEXT))
    for version in VERSIONS:
        if got == expected_answers(version):
            return version
    raise AssertionError(f"evaluate_all mixed snapshots or answered wrongly: {got}")


def read_each(client: flagstone.Client) -> str:
    """One ``evaluate`` of every flag in turn; each must be A's or B's answer, with the
    variant of the version it reports."""
    versions = set()
    for flag_id in FLAG_IDS:
        result = client.evaluate(flag_id, CONTEXT)
        assert result.error is None, result.error_message
        assert result.snapshot_version in VERSIONS, result
        assert result.variant == variant_of(flag_id, result.snapshot_version), (
            f"{flag_id}: variant {result.variant!r} with version {result.snapshot_version!r}"
        )
        versions.add(result.snapshot_version)
    return versions.pop() if len(versions) == 1 else "both"


def swap_until_all_saw_both(client: flagstone.Client, readers: Readers) -> int:
    """Swap A and B in turn (parsed once each), at least ``MIN_SWAPS`` times and then until
    every reader saw both versions; the number of swaps."""
    parsed = {version: parse_snapshot(document(version)) for version in VERSIONS}
    swaps = 0
    while swaps < MIN_SWAPS or (not readers.all_saw(VERSIONS) and swaps < MAX_SWAPS):
        client.install(parsed["B" if swaps % 2 == 0 else "A"])  # A is served first
        swaps += 1
    return swaps


def assert_clean(readers: Readers) -> None:
    assert not readers.errors, (
        f"{len(readers.errors)} reader failures, first: {readers.errors[0]!r}"
    )
    for index, seen in enumerate(readers.seen):
        assert set(VERSIONS) <= seen, f"reader {index} only saw {seen} in {readers.reads[index]}"


def test_evaluate_all_during_swaps_answers_from_one_whole_snapshot(clients):
    client = flagstone.Client(parse_snapshot(document("A")))
    clients.append(client)

    with Readers(client, read_all) as readers:
        swaps = swap_until_all_saw_both(client, readers)

    assert swaps >= MIN_SWAPS
    assert_clean(readers)


def test_evaluate_during_swaps_never_fails_and_answers_with_its_own_version(clients):
    client = flagstone.Client(parse_snapshot(document("A")))
    clients.append(client)

    with Readers(client, read_each) as readers:
        swap_until_all_saw_both(client, readers)

    assert_clean(readers)


def test_watched_file_replaced_over_and_over_never_yields_a_mixed_answer(tmp_path, clients):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    client = flagstone.Client.from_file(path, watch=True, poll_interval=0.01)
    clients.append(client)
    writer_errors: list[BaseException] = []
    writes: list[str] = []

    def write(readers: Readers) -> None:
        try:
            while len(writes) < MIN_FILE_WRITES or (
                not readers.all_saw(VERSIONS) and len(writes) < MAX_FILE_WRITES
            ):
                version = "B" if len(writes) % 2 == 0 else "A"  # A is served first
                write_atomically(path, document(version))
                writes.append(version)
                assert eventually(lambda version=version: client.snapshot_version == version), (
                    f"write {len(writes)} ({version}) was never served: {client.status()}"
                )
        except BaseException as error:
            writer_errors.append(error)

    with Readers(client, read_all) as readers:
        writer = threading.Thread(target=write, args=(readers,), name="writer")
        writer.start()
        writer.join(PATIENCE * 4)
        assert not writer.is_alive(), "the writer hung"

    assert not writer_errors, writer_errors[0]
    assert len(writes) >= MIN_FILE_WRITES
    assert_clean(readers)
    status = client.status()
    assert status.failures == 0, f"an atomic replace was seen half-done: {status}"
    assert status.updates >= len(writes) + 1  # the first load counts too


def test_readers_see_each_swap_through_the_update_listener(clients):
    """An ``on_update`` listener runs after the swap: an evaluation it makes already answers
    from the version it is told about."""
    client = flagstone.Client(parse_snapshot(document("A")))
    clients.append(client)
    seen: list[tuple[str, Any]] = []
    client.on_update(lambda version: seen.append((version, read_all(client))))

    client.install(parse_snapshot(document("B")))
    client.install(parse_snapshot(document("A")))

    assert seen == [("B", "B"), ("A", "A")]
