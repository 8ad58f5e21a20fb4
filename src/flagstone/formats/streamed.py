"""Read a native snapshot one flag and segment at a time (``read_parts``), validating only
what the previous snapshot did not already hold.

Each flag and segment is decoded, checked for repeated keys and validated on its own (its
decoded tree freed at once), and summarised (``flagstone.model.summaries``); everything else
at the top level is validated whole, as the *shell* of the snapshot. The semantic checks then
run over the entities validated now, with the names of the others known
(``snapshot_findings``), and the checks that span entities over the summaries of all
(``summaries_may_have_problems``). Given the index of a previous snapshot, a flag or segment
whose text is the one it had there is neither decoded nor validated again: its summary is
reused.

Only the answer "valid, without warnings" is produced here. Whatever else (text this reader
does not take, a validation error, a problem, a warning) raises :class:`Unreadable`, and
the caller reads the document with ``parse_snapshot``, which reports exactly what it always
reported.
"""

from __future__ import annotations

import copy
import hashlib
from functools import cache
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError

from ..model import Flag, Segment, Snapshot
from ..model.abtests import treatment_flag
from ..model.snapshot import SNAPSHOT
from ..model.summaries import (
    FlagSummary,
    SegmentSummary,
    Shared,
    summarize_flag,
    summarize_segment,
)
from ..model.validation import snapshot_findings, summaries_may_have_problems
from .scan import ENTITY_COLLECTIONS, Entity, NotScannable, TextIndex, Top, repeats_a_key, scan

__all__ = ["SnapshotIndex", "SnapshotParts", "Unreadable", "read_parts"]


class Unreadable(Exception):
    """The document is not one ``read_parts`` accepts as it is: read it with
    ``parse_snapshot``."""


class SnapshotIndex(NamedTuple):
    """What an update is read against: the previous document's text index and the
    summaries of its flags and segments, in document order, read in ``strict`` mode."""

    text: TextIndex
    flags: list[FlagSummary]
    segments: list[SegmentSummary]
    strict: bool


@cache
def _entity_adapters() -> dict[str, TypeAdapter[Any]]:
    return {"flags": TypeAdapter(Flag), "segments": TypeAdapter(Segment)}


class SnapshotParts:
    """A valid snapshot read entity by entity.

    ``shell`` is the snapshot without its flags and segments (empty collections of the
    document's forms, ``forms``); ``flags`` and ``segments`` the summaries in document
    order, ``keys`` their map keys (``None`` in a list); ``reused[collection][i]`` the
    position in the previous snapshot of an entity whose text is the same there (``None``
    for one read now), ``against`` that previous index. :meth:`model` gives the model of
    any entity: the one validated while reading, or one validated again from its text."""

    __slots__ = ("_models", "against", "forms", "index", "keys", "reused", "shell", "summaries")

    def __init__(
        self,
        shell: Snapshot,
        forms: dict[str, str],
        index: SnapshotIndex,
        keys: dict[str, list[str | None]],
        reused: dict[str, list[int | None]],
        models: dict[tuple[str, int], Any],
        against: SnapshotIndex | None,
    ) -> None:
        self.shell = shell
        self.forms = forms
        self.index = index
        self.keys = keys
        self.reused = reused
        self._models = models
        self.against = against

    @property
    def flags(self) -> list[FlagSummary]:
        return self.index.flags

    @property
    def segments(self) -> list[SegmentSummary]:
        return self.index.segments

    def model(self, collection: str, position: int, *, keep: bool = True) -> Any:
        """The model of entity ``position`` of ``collection`` (``"flags"`` or
        ``"segments"``); with ``keep=False`` the one validated while reading is handed over
        and not kept (a compiler frees each model once compiled)."""
        found = self._models.get((collection, position))
        if found is None:
            text = self.index.text
            entries = text.collections[collection]
            start, end = entries.starts[position], entries.ends[position]
            found = _entity_adapters()[collection].validate_json(text.text[start:end])
            if keep:
                self._models[(collection, position)] = found
        elif not keep:
            del self._models[(collection, position)]
        return found

    def full(self) -> Snapshot:
        """The whole snapshot as one model (every entity validated)."""
        snapshot = copy.copy(self.shell)
        for collection in ENTITY_COLLECTIONS:
            form = self.forms.get(collection)
            if form is None:
                continue
            count = len(self.keys[collection])
            models = [self.model(collection, position) for position in range(count)]
            if form == "map":
                value: Any = dict(zip(self.keys[collection], models, strict=True))
            else:
                value = models
            object.__setattr__(snapshot, collection, value)
        return snapshot


def read_parts(
    raw: bytes | str, *, strict: bool, previous: SnapshotIndex | None = None
) -> tuple[SnapshotParts, str]:
    """The snapshot in ``raw`` read entity by entity (against ``previous``, if given) and
    its version; ``Unreadable`` unless it is valid and without warnings."""
    if previous is not None and previous.strict != strict:
        previous = None  # an entity valid in lenient mode need not be in strict mode
    shared = Shared()
    adapters = _entity_adapters()
    top: dict[str, Any] = {}
    keys: dict[str, list[str | None]] = {name: [] for name in ENTITY_COLLECTIONS}
    reused: dict[str, list[int | None]] = {name: [] for name in ENTITY_COLLECTIONS}
    summaries: dict[str, list[Any]] = {name: [] for name in ENTITY_COLLECTIONS}
    models: dict[tuple[str, int], Any] = {}
    events = scan(raw, previous.text if previous is not None else None)
    try:
        while True:
            event = next(events)
            if isinstance(event, Top):
                if repeats_a_key(event.value, event.source, event.start, event.end):
                    raise Unreadable("a key may be written twice")
                top[event.key] = event.value
                continue
            _read_entity(event, previous, adapters, shared, keys, reused, summaries, models)
    except StopIteration as done:
        text_index: TextIndex = done.value
    except (NotScannable, ValidationError) as error:
        raise Unreadable(str(error)) from None
    forms = {name: entries.form for name, entries in text_index.collections.items()}
    for name, form in forms.items():
        top[name] = {} if form == "map" else []
    try:
        shell = SNAPSHOT.validate_python(top)
    except ValidationError as error:
        raise Unreadable(str(error)) from None
    index = SnapshotIndex(text_index, summaries["flags"], summaries["segments"], strict)
    parts = SnapshotParts(shell, forms, index, keys, reused, models, previous)
    _check(parts, strict)
    version = (
        shell.version
        or hashlib.sha256(raw if isinstance(raw, bytes) else raw.encode()).hexdigest()[:12]
    )
    return parts, version


def _read_entity(
    entity: Entity,
    previous: SnapshotIndex | None,
    adapters: dict[str, TypeAdapter[Any]],
    shared: Shared,
    keys: dict[str, list[str | None]],
    reused: dict[str, list[int | None]],
    summaries: dict[str, list[Any]],
    models: dict[tuple[str, int], Any],
) -> None:
    collection = entity.collection
    keys[collection].append(shared(entity.key) if entity.key is not None else None)
    if entity.previous is not None:
        assert previous is not None
        summary = (previous.flags if collection == "flags" else previous.segments)[entity.previous]
        summaries[collection].append(summary)
        reused[collection].append(entity.previous)
        return
    if repeats_a_key(entity.value, entity.source, entity.start, entity.end):
        raise Unreadable("a key may be written twice")
    entity.value = None  # the decoded tree is as large as the model: let it go first
    # validated from its text, not from the decoded tree: pydantic then shares equal strings
    # between models (its string cache), ~6 MiB less for a 10 000-flag snapshot, and it is
    # faster (165 ms instead of 200 ms)
    model = adapters[collection].validate_json(entity.source[entity.start : entity.end])
    if collection == "flags":
        summaries[collection].append(summarize_flag(model, shared))
    else:
        summaries[collection].append(summarize_segment(model, shared))
    reused[collection].append(None)
    models[(collection, entity.position)] = model


def _check(parts: SnapshotParts, strict: bool) -> None:
    """``Unreadable`` if any semantic check could fail: those of the entities validated now
    and of the shell (the others' names known), then those spanning entities."""
    shell = parts.shell
    partial = copy.copy(shell)
    known: list[str] = []
    for collection in ENTITY_COLLECTIONS:
        form = parts.forms.get(collection)
        if form is None:
            continue
        summaries: list[Any] = parts.flags if collection == "flags" else parts.segments
        fresh = [
            (parts.keys[collection][position], parts.model(collection, position))
            for position, at in enumerate(parts.reused[collection])
            if at is None
        ]
        known += [
            summary.name
            for summary, at in zip(summaries, parts.reused[collection], strict=True)
            if at is not None
        ]
        value: Any = dict(fresh) if form == "map" else [model for _, model in fresh]
        if form == "map" and len(value) != len(fresh):  # pragma: no cover - keys are unique
            raise Unreadable("a key written twice")
        object.__setattr__(partial, collection, value)
    named = {treatment_flag(t.variant) for i in shell.abtests for t in i.abtest.treatments}
    elsewhere = [
        summary
        for summary, at in zip(parts.flags, parts.reused["flags"], strict=True)
        if at is not None and summary.name in named
    ]
    findings = snapshot_findings(
        partial, strict=strict, known_names=known, nesting=True, flags_elsewhere=elsewhere
    )
    if findings.problems or findings.warnings:
        raise Unreadable("problems or warnings")
    if summaries_may_have_problems(parts.flags, parts.segments, shell, strict=strict):
        raise Unreadable("a problem across entities")
