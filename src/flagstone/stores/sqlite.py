"""``SqliteMaterializationStore``: sticky assignments that outlive the process.

The same contract as ``MemoryMaterializationStore``, kept in an SQLite file (stdlib
``sqlite3``), so a unit keeps its variant across restarts and deploys, and several processes
(pre-fork workers) share one store. Two tables: ``members`` (a unit is in a
materialization) and ``assignments`` (which variant a rule gave the unit there). The database
runs in WAL mode, so readers do not wait for a writer.

The request path never waits long for another process:

* **Reads** wait at most ``read_timeout`` (5 ms) for a lock. A read that cannot be answered
  in time (or fails) returns ``UNAVAILABLE`` and is counted; the resolver then treats the unit
  as new only where the rule admits new units, and writes its assignment only if none is
  recorded (``write_if_absent``).
* **Writes** are queued for a background writer thread, which commits them in batches (one
  transaction each: the membership and the rule's variant together, so concurrent writers
  never lose each other's rules) and retries, with backoff, until they are written. A write
  is never dropped: ``flush()`` waits for the queue, ``close()`` and the exit of the
  interpreter or of a ``multiprocessing`` worker flush it (within a timeout, 5 s at exit;
  what is still queued then is counted and logged). The thread ends after a second without
  writes; the next write starts another.
* **Read your writes.** A read looks at the queue first: a unit written a moment ago reads
  back its variant even before the writer has committed it.

Each thread reads through its own connection. After ``os.fork()`` the child starts afresh
with connections and a writer of its own; it still reads back what the parent had queued,
and writes it too where nothing is recorded (the parent writes it as well).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from itertools import islice
from typing import Any

from ..errors import ConfigError
from ..process.hooks import close_at_exit, register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from ..process.threads import start_quietly
from .materializations import UNAVAILABLE, MaterializationRecord

__all__ = ["SqliteMaterializationStore"]

logger = logging.getLogger("flagstone.stores")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    unit TEXT NOT NULL,
    materialization TEXT NOT NULL,
    in_materialization INTEGER NOT NULL,
    PRIMARY KEY (unit, materialization)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assignments (
    unit TEXT NOT NULL,
    materialization TEXT NOT NULL,
    rule TEXT NOT NULL,
    variant TEXT NOT NULL,
    PRIMARY KEY (unit, materialization, rule)
) WITHOUT ROWID;
"""
_PROBE = (
    "SELECT unit, materialization, in_materialization FROM members LIMIT 0",
    "SELECT unit, materialization, rule, variant FROM assignments LIMIT 0",
)
_READ = (
    "SELECT m.in_materialization, a.rule, a.variant FROM members AS m "
    "LEFT JOIN assignments AS a ON a.unit = m.unit AND a.materialization = m.materialization "
    "WHERE m.unit = ? AND m.materialization = ?"
)
_ADD_MEMBER = (
    "INSERT INTO members VALUES (?, ?, 1) ON CONFLICT (unit, materialization) "
    "DO UPDATE SET in_materialization = 1"
)
_SET_VARIANT = (
    "INSERT INTO assignments VALUES (?, ?, ?, ?) ON CONFLICT (unit, materialization, rule) "
    "DO UPDATE SET variant = excluded.variant"
)
_ADD_VARIANT = "INSERT INTO assignments VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"

_BATCH = 500
"""Queued (unit, materialization) records committed in one transaction at most."""
_IDLE = 1.0
"""Seconds without a write after which the writer thread ends (the next write starts one)."""
_EXIT_FLUSH = 5.0
"""Seconds the exit of the interpreter (or of a ``multiprocessing`` worker) waits for queued
writes."""
_ATTEMPT = 0.1
"""Seconds the writer waits for a lock in one attempt (at most: ``timeout`` if smaller); a
fork waits for the attempt under way to end."""
_FIRST_RETRY = 0.01
_LAST_RETRY = 1.0
"""Seconds between attempts of a write that failed: doubling from the first to the last."""

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
"""SQLite's primary result codes for "another connection holds a lock"."""

_Key = tuple[str, str]
_Queued = dict[str, tuple[str, bool]]
"""Rule → (variant, only if absent) of one queued (unit, materialization)."""

_ABANDONED: list[Any] = []
"""Connections a forked child inherited: never used nor closed there (closing one could
disturb the parent's locks), just kept."""


class SqliteMaterializationStore:
    """Sticky assignments in the SQLite file at ``path`` (created if missing).

    ``records``
        seeds the store in the conformance suite's per-unit shape (as
        ``MemoryMaterializationStore`` takes it).
    ``read_timeout``
        seconds a read on the request path waits for another process's lock (default
        0.005) before it answers ``UNAVAILABLE``.
    ``timeout``
        seconds this constructor, :meth:`records` and ``len()`` wait for a lock (default 5).
        The writer thread waits at most 0.1 s per attempt (less if ``timeout`` is) and
        tries again, with backoff, until the write is done.

    A file that is not a usable database (not SQLite, corrupt, other tables of the same
    name, a directory that cannot be written) raises ``ConfigError`` here. Counters:
    :meth:`stats`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        records: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        timeout: float = 5.0,
        read_timeout: float = 0.005,
    ) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._log = RateLimitedLog(logger)
        self._reset()
        try:
            with contextlib.closing(self._connect(timeout)) as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
                for probe in _PROBE:
                    connection.execute(probe)
                if records:
                    _seed(connection, records)
        except sqlite3.Error as error:
            raise ConfigError(
                f"not a usable materialization store: {error}", source=self.path
            ) from None
        register_fork_hooks(self)
        close_at_exit(self)  # the interpreter's exit and a multiprocessing worker's

    def _reset(self) -> None:
        """Fresh state: no connections, nothing queued, no writer."""
        self._local = threading.local()
        self._lock = threading.Lock()
        self._io = threading.Lock()  # held by the writer while it is inside SQLite
        self._drained = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._queue: dict[_Key, _Queued] = {}
        self._blind: set[_Key] = set()  # read from the queue alone: the file did not answer
        self._writer: threading.Thread | None = None
        self._writer_connection: sqlite3.Connection | None = None
        self._stopping = False
        self._stats = {
            "writes": 0,
            "written": 0,
            "pending": 0,
            "write_failures": 0,
            "read_timeouts": 0,
            "read_errors": 0,
            "unwritten_at_close": 0,
        }

    # -- the request path -------------------------------------------------------------------

    def read(self, unit: str, materialization: str) -> MaterializationRecord | None:
        """The record of ``unit`` in ``materialization`` (queued writes included), ``None``
        if there is none, or ``UNAVAILABLE`` if the file did not answer within
        ``read_timeout``."""
        key = (unit, materialization)
        queued: _Queued | None = None
        if self._queue:
            with self._lock:
                found = self._queue.get(key)
                queued = dict(found) if found is not None else None
        try:
            rows = self._reader().execute(_READ, key).fetchall()
        except sqlite3.Error as error:
            busy = _is_busy(error)
            self._count("read_timeouts" if busy else "read_errors")
            if not busy:
                self._log.warning("read", "reading %s failed: %s", self.path, error)
            if queued is None:
                return UNAVAILABLE
            with self._lock:
                if key in self._queue:
                    self._blind.add(key)
            return MaterializationRecord(True, {rule: v for rule, (v, _) in queued.items()})
        if queued is None:
            if not rows:
                return None
            return MaterializationRecord(
                bool(rows[0][0]), {rule: variant for _, rule, variant in rows if rule is not None}
            )
        rules = {rule: variant for _, rule, variant in rows if rule is not None}
        for rule, (variant, if_absent) in queued.items():
            if not if_absent or rule not in rules:
                rules[rule] = variant
        return MaterializationRecord(True, rules)

    def write(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        """Record that ``rule`` assigned ``variant`` to ``unit`` (queued for the writer;
        :meth:`read` sees it at once)."""
        self._enqueue((unit, materialization), rule, variant, if_absent=False)

    def write_if_absent(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        """Like :meth:`write`, but a variant already recorded for ``rule`` stays."""
        self._enqueue((unit, materialization), rule, variant, if_absent=True)

    def _enqueue(self, key: _Key, rule: str, variant: str, *, if_absent: bool) -> None:
        with self._lock:
            queued = self._queue.get(key)
            if queued is None:
                queued = self._queue[key] = {}
            elif key in self._blind and rule not in queued:
                if_absent = True  # decided without what the file holds for this rule
            if rule not in queued:
                self._stats["pending"] += 1
            elif if_absent:
                return  # an earlier queued write of this rule wins over an "if absent"
            queued[rule] = (variant, if_absent)
            self._stats["writes"] += 1
            if self._writer is None or not self._writer.is_alive():
                self._start_writer()
        self._wake.set()

    # -- flushing and closing ---------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is committed (at most ``timeout`` seconds; ``None``
        waits as long as it takes); whether they all are."""
        with self._drained:
            return self._drained.wait_for(lambda: not self._queue, timeout)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Flush (within ``timeout`` seconds), stop the writer once the queue is empty, and
        close this thread's connection (others close when their threads end); whether every
        write was committed. Writes still queued are counted (``unwritten_at_close``) and
        logged, and the writer keeps trying while the process lives. The store stays usable:
        a later write starts the writer again."""
        flushed = self.flush(timeout)
        with self._lock:
            if flushed:
                self._stopping = True
            else:
                unwritten = self._stats["pending"]
                self._stats["unwritten_at_close"] += unwritten
        self._wake.set()
        if not flushed:
            logger.warning(
                "flagstone: %d sticky assignment(s) not yet written to %s after %s s; "
                "the writer keeps trying",
                unwritten,
                self.path,
                timeout,
            )
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        return flushed

    def _close_at_exit(self, timeout: float | None = None) -> None:
        self.close(_EXIT_FLUSH if timeout is None else min(timeout, _EXIT_FLUSH))

    # -- inspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters: ``writes`` (accepted), ``written`` (committed), ``pending`` (queued
        now), ``write_failures`` (attempts that failed and were retried), ``read_timeouts``
        (reads answered ``UNAVAILABLE`` because of another process's lock), ``read_errors``
        (reads that failed otherwise, also ``UNAVAILABLE``), ``unwritten_at_close``
        (queued writes a ``close()`` or the exit could not wait for)."""
        with self._lock:
            return dict(self._stats)

    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything stored, in the per-unit shape the constructor takes (queued writes
        are flushed first)."""
        self.flush(self.timeout)
        shaped: dict[str, dict[str, dict[str, Any]]] = {}
        with contextlib.closing(self._connect(self.timeout)) as connection:
            for unit, materialization, member in connection.execute(
                "SELECT unit, materialization, in_materialization FROM members"
            ):
                shaped.setdefault(unit, {})[materialization] = {
                    "isUnitInMaterialization": bool(member),
                    "ruleToVariant": {},
                }
            for unit, materialization, rule, variant in connection.execute(
                "SELECT unit, materialization, rule, variant FROM assignments"
            ):
                record = shaped.setdefault(unit, {}).setdefault(
                    materialization, {"isUnitInMaterialization": True, "ruleToVariant": {}}
                )
                record["ruleToVariant"][rule] = variant
        return shaped

    def __len__(self) -> int:
        """The (unit, materialization) records stored (queued writes are flushed first)."""
        self.flush(self.timeout)
        with contextlib.closing(self._connect(self.timeout)) as connection:
            row = connection.execute("SELECT COUNT(*) FROM members").fetchone()
        return int(row[0])

    def __repr__(self) -> str:
        return f"SqliteMaterializationStore({self.path!r})"

    # -- connections ------------------------------------------------------------------------

    def _connect(self, timeout: float) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.read_timeout, isolation_level=None)
            self._local.connection = connection
        return connection

    # -- the writer -------------------------------------------------------------------------

    def _start_writer(self) -> None:
        """Start the writer thread (called with the lock held)."""
        self._stopping = False
        thread = threading.Thread(target=self._run, name="flagstone-sticky-writer", daemon=True)
        self._writer = thread
        start_quietly(thread)

    def _run(self) -> None:
        delay = 0.0  # the pause before the next attempt, after a failed one
        while True:
            woken = True
            if delay:
                time.sleep(delay)  # new writes wait for the retry, they do not hasten it
            else:
                woken = self._wake.wait(_IDLE)
                self._wake.clear()
            with self._lock:
                batch = {key: dict(rules) for key, rules in islice(self._queue.items(), _BATCH)}
                if not batch and (self._stopping or not woken):
                    self._writer = None  # the next write starts another
                    break
            if not batch:
                delay = 0.0
                continue
            try:
                with self._io:
                    self._commit(batch)
            except Exception as error:  # the thread must live on: retry, never drop
                self._count("write_failures")
                self._log.warning(
                    "write",
                    "writing sticky assignments to %s failed, retrying: %s",
                    self.path,
                    error,
                )
                with self._io:
                    self._drop_writer_connection()
                delay = min(_LAST_RETRY, max(_FIRST_RETRY, delay * 2))
                continue
            delay = 0.0
            self._committed(batch)
        with self._io:
            self._drop_writer_connection()

    def _commit(self, batch: dict[_Key, _Queued]) -> None:
        connection = self._writer_connection
        if connection is None:
            connection = self._connect(min(self.timeout, _ATTEMPT))
            self._writer_connection = connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            for (unit, materialization), rules in batch.items():
                connection.execute(_ADD_MEMBER, (unit, materialization))
                for rule, (variant, if_absent) in rules.items():
                    connection.execute(
                        _ADD_VARIANT if if_absent else _SET_VARIANT,
                        (unit, materialization, rule, variant),
                    )
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

    def _committed(self, batch: dict[_Key, _Queued]) -> None:
        """Take what was committed off the queue (what changed meanwhile stays queued)."""
        with self._lock:
            for key, rules in batch.items():
                queued = self._queue.get(key)
                if queued is None:
                    continue
                for rule, entry in rules.items():
                    if queued.get(rule) == entry:
                        del queued[rule]
                        self._stats["pending"] -= 1
                        self._stats["written"] += 1
                if not queued:
                    del self._queue[key]
                    self._blind.discard(key)
            if self._queue:
                self._wake.set()
            else:
                self._drained.notify_all()

    def _drop_writer_connection(self) -> None:
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _count(self, name: str) -> None:
        with self._lock:
            self._stats[name] += 1

    # -- fork -------------------------------------------------------------------------------

    def _before_fork(self) -> None:
        # The writer is not inside SQLite (a child would inherit the library's mutexes held)
        # and no thread is halfway through changing the queue.
        self._io.acquire()
        self._lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._lock.release()
        self._io.release()

    def _after_fork_in_child(self) -> None:
        # SQLite connections must not cross a fork: the child keeps the inherited ones
        # unused and opens its own. What the parent queued, the parent writes; the child
        # reads it back and writes it too, only where nothing is recorded (the parent may
        # have written a newer variant meanwhile), so nothing is lost if the parent dies.
        inherited = self._queue
        _ABANDONED.append((self._local, self._writer_connection))
        self._reset()
        self._queue = {
            key: {rule: (variant, True) for rule, (variant, _) in rules.items()}
            for key, rules in inherited.items()
        }
        self._stats["pending"] = sum(len(rules) for rules in self._queue.values())
        # the exit of a multiprocessing worker flushes it: process.hooks (close_at_exit)

    def _resume_after_fork(self) -> None:
        if self._queue:
            with self._lock:
                self._start_writer()
            self._wake.set()


def _seed(
    connection: sqlite3.Connection, records: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> None:
    with connection:
        connection.execute("BEGIN IMMEDIATE")
        for unit, materializations in records.items():
            for materialization, record in materializations.items():
                connection.execute(
                    "INSERT OR REPLACE INTO members VALUES (?, ?, ?)",
                    (unit, materialization, int(bool(record.get("isUnitInMaterialization")))),
                )
                for rule, variant in (record.get("ruleToVariant") or {}).items():
                    connection.execute(
                        "INSERT OR REPLACE INTO assignments VALUES (?, ?, ?, ?)",
                        (unit, materialization, rule, variant),
                    )


def _is_busy(error: sqlite3.Error) -> bool:
    """Whether ``error`` says another connection holds a lock (SQLITE_BUSY/SQLITE_LOCKED)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(error)
    return "locked" in text or "busy" in text
