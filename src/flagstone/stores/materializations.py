"""Sticky assignments (Confidence's "materializations"): the store interface and an
in-memory store.

A rule with a ``materializationSpec`` reads a unit's earlier assignment from a named
materialization and writes new ones to it; a ``materializedSegment`` criterion asks whether a
unit is in one. A store answers both per (unit, materialization). Reads happen on the request
path and must be fast and never block for long; writes happen when such a rule assigns.

A store that cannot answer a read in time (another process holds a lock, say) returns
:data:`UNAVAILABLE` rather than wait: the unit then resolves as a new unit only where the rule
admits new units (never under ``materializationMustMatch`` or a paused A/B test), and what
that assigns is written with ``write_if_absent`` (if the store has it, else not at all), so
an assignment the store could not read is never overwritten.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = [
    "UNAVAILABLE",
    "MaterializationRecord",
    "MaterializationStore",
    "MemoryMaterializationStore",
]


class MaterializationRecord(NamedTuple):
    """What a store knows about one unit in one materialization."""

    is_unit_in_materialization: bool
    rule_to_variant: Mapping[str, str]
    """Rule name → the variant the unit was assigned by that rule ("" for no variant)."""


UNAVAILABLE = MaterializationRecord(False, MappingProxyType({}))
"""What ``read`` returns (this very object: it is compared by identity) when the store could
not tell in time whether it has a record of the unit."""


@runtime_checkable
class MaterializationStore(Protocol):
    """Where sticky assignments live. Implementations must be safe to call from many
    threads."""

    def read(self, unit: str, materialization: str) -> MaterializationRecord | None:
        """The record of ``unit`` in ``materialization``, ``None`` if there is none, or
        :data:`UNAVAILABLE` if the store could not tell in time."""
        ...

    def write(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        """Record that ``rule`` assigned ``variant`` to ``unit``; the unit is then in the
        materialization.

        A store may also have ``write_if_absent`` (same arguments): the same, except that a
        variant already recorded for ``rule`` stays. It is called after a read that returned
        :data:`UNAVAILABLE`."""
        ...


class MemoryMaterializationStore:
    """A thread-safe in-memory store, optionally seeded with records in the conformance
    suite's per-unit shape::

        {"user1": {"materializations/mat1": {"isUnitInMaterialization": True,
                                             "ruleToVariant": {"flags/f/rules/r1": "on"}}}}
    """

    def __init__(
        self, records: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], MaterializationRecord] = {}
        for unit, materializations in (records or {}).items():
            for materialization, record in materializations.items():
                self._records[(unit, materialization)] = MaterializationRecord(
                    bool(record.get("isUnitInMaterialization", False)),
                    dict(record.get("ruleToVariant") or {}),
                )

    def read(self, unit: str, materialization: str) -> MaterializationRecord | None:
        return self._records.get((unit, materialization))

    def write(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        with self._lock:
            current = self._records.get((unit, materialization))
            rules = dict(current.rule_to_variant) if current is not None else {}
            rules[rule] = variant
            self._records[(unit, materialization)] = MaterializationRecord(True, rules)

    def write_if_absent(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        """Like ``write``, but a variant already recorded for ``rule`` stays."""
        with self._lock:
            current = self._records.get((unit, materialization))
            rules = dict(current.rule_to_variant) if current is not None else {}
            rules.setdefault(rule, variant)
            self._records[(unit, materialization)] = MaterializationRecord(True, rules)

    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything stored, in the same per-unit shape the constructor takes."""
        with self._lock:
            items = list(self._records.items())
        shaped: dict[str, dict[str, dict[str, Any]]] = {}
        for (unit, materialization), record in items:
            shaped.setdefault(unit, {})[materialization] = {
                "isUnitInMaterialization": record.is_unit_in_materialization,
                "ruleToVariant": dict(record.rule_to_variant),
            }
        return shaped

    def __len__(self) -> int:
        return len(self._records)
