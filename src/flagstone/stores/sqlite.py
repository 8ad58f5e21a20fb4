"""``SqliteMaterializationStore``: sticky assignments that outlive the process.

The same contract as ``MemoryMaterializationStore``, kept in an SQLite file (stdlib
``sqlite3``), so a unit keeps its variant across restarts and deploys, and several processes
(pre-fork workers) share one store. Two tables: ``members`` (a unit is in a
materialization) and ``assignments`` (which variant a rule gave the unit there). A write is
one transaction that adds the membership and sets the rule's variant, so concurrent writers
never lose each other's rules. The database runs in WAL mode (readers do not wait for a
writer) with a busy timeout; each thread has its own connection, and a forked child opens
its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from ..process.hooks import register_fork_hooks
from .materializations import MaterializationRecord

__all__ = ["SqliteMaterializationStore"]

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


class SqliteMaterializationStore:
    """Sticky assignments in the SQLite file at ``path`` (created if missing).

    ``records`` seeds the store in the conformance suite's per-unit shape (as
    ``MemoryMaterializationStore`` takes it); ``timeout`` is how long a write waits for
    another process's write to finish (seconds).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        records: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._local = threading.local()
        connection = self._connection()
        with connection:
            connection.executescript(_SCHEMA)
        if records:
            self._seed(records)
        register_fork_hooks(self)

    def read(self, unit: str, materialization: str) -> MaterializationRecord | None:
        """The record of ``unit`` in ``materialization``, or ``None``."""
        connection = self._connection()
        member = connection.execute(
            "SELECT in_materialization FROM members WHERE unit = ? AND materialization = ?",
            (unit, materialization),
        ).fetchone()
        if member is None:
            return None
        rules = connection.execute(
            "SELECT rule, variant FROM assignments WHERE unit = ? AND materialization = ?",
            (unit, materialization),
        ).fetchall()
        return MaterializationRecord(bool(member[0]), dict(rules))

    def write(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        """Record that ``rule`` assigned ``variant`` to ``unit`` (one transaction)."""
        connection = self._connection()
        with connection:
            connection.execute(
                "INSERT INTO members VALUES (?, ?, 1) ON CONFLICT (unit, materialization) "
                "DO UPDATE SET in_materialization = 1",
                (unit, materialization),
            )
            connection.execute(
                "INSERT INTO assignments VALUES (?, ?, ?, ?) ON CONFLICT "
                "(unit, materialization, rule) DO UPDATE SET variant = excluded.variant",
                (unit, materialization, rule, variant),
            )

    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything stored, in the per-unit shape the constructor takes."""
        connection = self._connection()
        shaped: dict[str, dict[str, dict[str, Any]]] = {}
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

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def __len__(self) -> int:
        row = self._connection().execute("SELECT COUNT(*) FROM members").fetchone()
        return int(row[0])

    def __repr__(self) -> str:
        return f"SqliteMaterializationStore({self.path!r})"

    # -- internals --------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.timeout)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def _seed(self, records: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        connection = self._connection()
        with connection:
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

    def _after_fork_in_child(self) -> None:
        # SQLite connections must not cross a fork: the child opens its own.
        self._local = threading.local()
