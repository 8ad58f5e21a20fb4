"""Where exposures and events come from (:class:`TableSource`) and what could not be read
(:class:`Malformed`).

A source is files — a glob or a list of paths or globs, JSONL (``.jsonl``, ``.ndjson``,
``.json``), CSV or Parquet, gzip-compressed JSONL or CSV (``.gz``) — or a table a
warehouse engine queries. ``columns`` maps flagstone's names onto the source's columns:
for exposures ``unit`` (default ``targeting_key``), ``time`` (``apply_time``), ``variant``,
``resolve_id``, ``override``, ``abtest``, ``context`` (a JSON object) and ``context.<attr>``
(a column holding one context attribute); for events ``unit``, ``event``, ``value``,
``time``, ``event_id`` (each by default the same name). A mapped value is a column name
(or, for a table, any SQL expression in DuckDB's dialect).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flagstone.errors import PipelineError

__all__ = [
    "EVENT_COLUMNS",
    "EXPOSURE_COLUMNS",
    "FORMATS",
    "Malformed",
    "MalformedRecord",
    "TableSource",
    "file_format",
    "source_of",
]

FORMATS = ("jsonl", "csv", "parquet")

EXPOSURE_COLUMNS: Mapping[str, str] = {
    "unit": "targeting_key",
    "time": "apply_time",
    "variant": "variant",
    "resolve_id": "resolve_id",
    "override": "override",
    "abtest": "abtest",
    "context": "context",
}
"""Flagstone's exposure record fields under the pipeline's names."""

EVENT_COLUMNS: Mapping[str, str] = {
    "unit": "unit",
    "event": "event",
    "value": "value",
    "time": "time",
    "event_id": "event_id",
}
"""Flagstone's event record fields under the pipeline's names."""

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class TableSource:
    """Where rows come from: ``paths`` (globs or files; the format from each extension
    unless ``format`` says), or a ``table`` for a warehouse engine; ``columns`` maps our
    names onto the source's (see the module docstring)."""

    paths: tuple[str, ...] | None = None
    table: str | None = None
    format: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.paths, str | os.PathLike):
            object.__setattr__(self, "paths", (os.fspath(self.paths),))
        elif self.paths is not None:
            object.__setattr__(self, "paths", tuple(os.fspath(p) for p in self.paths))
        if (self.paths is None) == (self.table is None):
            raise PipelineError("a table source has paths or a table, one of the two")
        if self.format is not None and self.format not in FORMATS:
            raise PipelineError(f"unknown format {self.format!r}: one of {', '.join(FORMATS)}")

    def describe(self) -> str:
        """The paths or the table, for messages."""
        if self.table is not None:
            return f"table {self.table}"
        return ", ".join(self.paths or ())

    def files(self) -> list[tuple[str, str]]:
        """``(path, format)`` of every file the paths name (globs expanded, sorted), or a
        :class:`PipelineError` when a glob matches nothing or a format is unknown."""
        found: list[tuple[str, str]] = []
        for pattern in self.paths or ():
            matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else []
            if not matches:
                if glob.has_magic(pattern) or not os.path.exists(pattern):
                    raise PipelineError(f"no file matches {pattern!r}")
                matches = [pattern]
            for path in matches:
                if os.path.isdir(path):
                    continue
                found.append((path, self.format or file_format(path)))
        if not found:
            raise PipelineError(f"no file in {self.describe()}")
        return found


def file_format(path: str) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from a file's extension (``.gz`` looked through)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for extension, kind in _EXTENSIONS.items():
        if name.endswith(extension):
            return kind
    raise PipelineError(
        f"cannot tell the format of {path!r} from its extension: say format= "
        "(jsonl, csv or parquet)"
    )


def source_of(value: TableSource | str | os.PathLike[str] | Sequence[str]) -> TableSource:
    """A :class:`TableSource` from itself, a glob or path, or a list of them."""
    if isinstance(value, TableSource):
        return value
    if isinstance(value, str | os.PathLike):
        return TableSource(paths=(os.fspath(value),))
    return TableSource(paths=tuple(value))


@dataclass(frozen=True)
class MalformedRecord:
    """One record that could not be used: the input (``exposures`` or ``events``), the file,
    its line (JSONL, CSV) or row (Parquet), 1-based, ``None`` where unknown, and why."""

    input: str
    file: str | None
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.file or self.input
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Malformed:
    """Records counted and left out because they could not be read, per input, with the
    first few of each."""

    exposures: int = 0
    events: int = 0
    examples: tuple[MalformedRecord, ...] = ()

    @property
    def total(self) -> int:
        return self.exposures + self.events

    def lines(self) -> list[str]:
        """A short report: the counts, then the examples."""
        if not self.total:
            return []
        head = f"{self.exposures} malformed exposure record(s), {self.events} malformed event(s)"
        return [head, *(f"  {example}" for example in self.examples)]
