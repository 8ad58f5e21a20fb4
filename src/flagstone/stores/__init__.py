"""Materialization stores: where sticky assignments are kept. ``materializations`` holds the
``MaterializationStore`` Protocol, its records and the in-memory store; ``sqlite`` a store in
an SQLite file shared by processes."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..process.lazy import lazy_exports as _lazy_exports
from .materializations import (
    UNAVAILABLE,
    MaterializationRecord,
    MaterializationStore,
    MemoryMaterializationStore,
)

if _TYPE_CHECKING:
    from .sqlite import SqliteMaterializationStore

__all__ = [
    "UNAVAILABLE",
    "MaterializationRecord",
    "MaterializationStore",
    "MemoryMaterializationStore",
    "SqliteMaterializationStore",
]

# SQLite is imported on first use
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "SqliteMaterializationStore": ".sqlite",
    },
)
