"""Materialization stores: where sticky assignments are kept. ``materializations`` holds the
``MaterializationStore`` Protocol, its records and the in-memory store; ``sqlite`` a store in
an SQLite file shared by processes."""

from .materializations import (
    UNAVAILABLE,
    MaterializationRecord,
    MaterializationStore,
    MemoryMaterializationStore,
)
from .sqlite import SqliteMaterializationStore

__all__ = [
    "UNAVAILABLE",
    "MaterializationRecord",
    "MaterializationStore",
    "MemoryMaterializationStore",
    "SqliteMaterializationStore",
]
