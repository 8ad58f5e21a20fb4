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
import dataclasses
import hashlib
from collections.abc import Callable
from functools import cache
from operator import attrgetter
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError

from ..model import Flag, Segment, Snapshot
from ..model.abtests import treatment_flag
from ..model.limits import MAX_NESTING
from ..model.snapshot import SNAPSHOT
from ..model.summaries import (
    FlagSummary,
    SegmentSummary,
    Shared,
    summarize_flag,
    summarize_segment,
)
from ..model.validation import (
    FlagChecks,
    abtest_findings,
    segment_findings,
    shell_findings,
    summaries_may_have_problems,
)
from ..process.gc import release_free_memory
from .scan import (
    ENTITY_COLLECTIONS,
    Entity,
    NotScannable,
    TextIndex,
    Top,
    Twins,
    repeats_a_key,
    scan,
)

__all__ = ["FlagCompiler", "SnapshotIndex", "SnapshotParts", "Unreadable", "read_parts"]


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


class StrictFirst:
    """Validates JSON texts with ``adapter``, strictly first: where strict validation
    accepts, it gives the model lax validation gives (every value is already of its type,
    and in a union the first member that takes a value strictly is the one lax validation
    picks), but it tries no conversions: a 10 000-flag snapshot's flags in 93 instead of
    112 ms. A text strict validation refuses (a number written as a string, ``5000.0`` for
    a whole number, …) is validated again laxly, which accepts it or raises as before. For
    one document: it stops trying strictly once 64 texts were tried and one in four or more
    was refused (a document that writes its numbers as strings would otherwise pay two
    validations a text)."""

    __slots__ = ("_adapter", "_refused", "_tried")

    def __init__(self, adapter: TypeAdapter[Any]) -> None:
        self._adapter = adapter
        self._tried = 0
        self._refused = 0

    def __call__(self, text: bytes | str) -> Any:
        if self._tried < 64 or 4 * self._refused < self._tried:
            self._tried += 1
            try:
                return self._adapter.validate_json(text, strict=True)
            except ValidationError:
                self._refused += 1
        return self._adapter.validate_json(text)


def validated(adapter: TypeAdapter[Any], text: bytes | str) -> Any:
    """The model of one JSON ``text``, validated as :class:`StrictFirst` validates."""
    return StrictFirst(adapter)(text)


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

    __slots__ = (
        "_models",
        "against",
        "compiled",
        "compiler",
        "forms",
        "index",
        "keys",
        "names",
        "reused",
        "shell",
        "version",
    )

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
        self.compiled: list[Any] = []
        """What ``read_parts``'s ``compile`` made of each flag read, by position (``None``
        for one it did not compile). A list: ``int`` keys held to the end of a load leave
        holes among the plan's objects when freed (~0.3 MiB of 10 000 flags)."""
        self.compiler: FlagCompiler | None = None
        """That ``compile``."""
        self.version = ""
        self.names: dict[str, str] = {}
        """Each map key of the document, by itself: the string the compiler gives a flag or a
        segment of that name. The plan then holds the document's own key strings and the
        equal copies validation made are freed as each flag is compiled; keys freed only at
        the end of a load would leave holes among the plan's objects (~1.3 MiB of 10 000
        flags and segments)."""

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
            found = validated(_entity_adapters()[collection], text.text[start:end])
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


_LARGE = 1 << 20
"""A document this long (bytes) is worth giving the freed copy of its text back for."""

_SHALLOW = MAX_NESTING // 2
"""Fewer objects and arrays than this in a flag's text (which starts three levels into the
document) and none of its values can nest beyond :data:`MAX_NESTING`."""

FlagCompiler = Callable[["SnapshotParts", int, Flag], Any]
"""Called with each flag read (its position and model, in document order) once the flag is
valid; what it returns is kept in ``SnapshotParts.compiled`` instead of the model."""


def read_parts(
    raw: bytes | str,
    *,
    strict: bool,
    previous: SnapshotIndex | None = None,
    compile: FlagCompiler | None = None,
) -> tuple[SnapshotParts, str]:
    """The snapshot in ``raw`` read entity by entity (against ``previous``, if given) and
    its version; ``Unreadable`` unless it is valid and without warnings.

    In three steps, so that flag models need not be held all at once: the document is
    scanned (segments validated, the shell of top-level values kept, each flag checked for
    repeated keys and its text located), the shell validated, then each flag validated from
    its text and checked, and handed to ``compile`` if given (the segments, the clients and
    the version are known by then). The checks that span entities come last."""
    if previous is not None and previous.strict != strict:
        previous = None  # an entity valid in lenient mode need not be in strict mode
    shared = Shared()
    adapters = {name: StrictFirst(adapter) for name, adapter in _entity_adapters().items()}
    top: dict[str, Any] = {}
    keys: dict[str, list[str | None]] = {name: [] for name in ENTITY_COLLECTIONS}
    reused: dict[str, list[int | None]] = {name: [] for name in ENTITY_COLLECTIONS}
    summaries: dict[str, list[Any]] = {name: [] for name in ENTITY_COLLECTIONS}
    models: dict[tuple[str, int], Any] = {}
    twins = Twins()
    events = scan(raw, previous.text if previous is not None else None, twins)
    try:
        while True:
            event = next(events)
            if isinstance(event, Top):
                if event.key == "format":  # a declared format: parse_snapshot dispatches it
                    raise Unreadable("a document that declares its format")
                if repeats_a_key(event.value, event.source, event.start, event.end):
                    raise Unreadable("a key may be written twice")
                top[event.key] = event.value
                continue
            _scan_entity(event, previous, adapters, shared, keys, reused, summaries, models, twins)
    except StopIteration as done:
        text_index: TextIndex = done.value
    except (NotScannable, ValidationError) as error:
        raise Unreadable(str(error)) from None
    if len(raw) > _LARGE:
        release_free_memory()  # the scanned text's copy, before the flags are compiled
    forms = {name: entries.form for name, entries in text_index.collections.items()}
    for name, form in forms.items():
        top[name] = {} if form == "map" else []
    try:
        shell = SNAPSHOT.validate_python(top)
    except ValidationError as error:
        raise Unreadable(str(error)) from None
    index = SnapshotIndex(text_index, summaries["flags"], summaries["segments"], strict)
    parts = SnapshotParts(shell, forms, index, keys, reused, models, previous)
    parts.names = {key: key for listed in keys.values() for key in listed if key is not None}
    version = (
        shell.version
        or hashlib.sha256(raw if isinstance(raw, bytes) else raw.encode()).hexdigest()[:12]
    )
    parts.version = version
    parts.compiler = compile
    # everything a compiled flag relies on is checked before flags are compiled (a bitset
    # refused by its budget is never inflated): segments, then the shell but its A/B tests;
    # the flags their A/B tests name are compiled once those are checked too
    _check_segments(parts, strict)
    known = [summary.name for summary in parts.segments]
    if shell_findings(shell, strict=strict, known_names=known).problems:
        raise Unreadable("a part of the snapshot has problems")
    tested = {treatment_flag(t.variant) for i in shell.abtests for t in i.abtest.treatments}
    deferred = _read_flags(parts, adapters["flags"], shared, strict, compile, tested)
    _check(parts, strict, tested)
    if compile is not None:
        for position, flag in deferred:
            parts.compiled[position] = compile(parts, position, flag)
    return parts, version


def _scan_entity(
    entity: Entity,
    previous: SnapshotIndex | None,
    adapters: dict[str, Any],
    shared: Shared,
    keys: dict[str, list[str | None]],
    reused: dict[str, list[int | None]],
    summaries: dict[str, list[Any]],
    models: dict[tuple[str, int], Any],
    twins: Twins,
) -> None:
    """One entity as the scan meets it: a segment validated, a flag checked for repeated
    keys (validated later, see :func:`_read_flags`). ``twins``: the segments validated so
    far by their text after the name."""
    collection = entity.collection
    keys[collection].append(entity.key)  # unique: not worth a place in ``shared``
    if entity.previous is not None:
        assert previous is not None
        summary = (previous.flags if collection == "flags" else previous.segments)[entity.previous]
        summaries[collection].append(summary)
        reused[collection].append(entity.previous)
        return
    value, entity.value = entity.value, None
    reused[collection].append(None)
    if collection == "flags":
        if repeats_a_key(value, entity.source, entity.start, entity.end):
            raise Unreadable("a key may be written twice")
        summaries[collection].append(None)  # read by _read_flags
        return
    # a segment alike but for its name to one read before is that one renamed, and its keys
    # are that one's, checked already (see Twins)
    name: Any
    if entity.twin is not None:  # recognised by the scan, not decoded
        name, model = entity.twin
    else:
        text = entity.source[entity.start : entity.end]
        name = value.get("name") if value.__class__ is dict else None
        rest = twins.after_name(text, name) if twins.worth() else None
        model = twins.made.get(rest) if rest is not None else None
        if model is None and repeats_a_key(value, entity.source, entity.start, entity.end):
            raise Unreadable("a key may be written twice")
    del value  # the decoded tree is as large as the model: let it go first
    if model is not None:  # (its twin's model, its twin's summary)
        twin, summary = model
        model = _renamed(twin, name)
        # its twin's summary but for the name, as summarize_segment would make it
        key = entity.key
        summary = SegmentSummary(key if key is not None and key == name else name, *summary[1:])
    else:
        # validated from its text, not from the decoded tree: pydantic then shares equal
        # strings between models (its string cache), ~6 MiB less for a 10 000-flag
        # snapshot, and it is faster (165 ms instead of 200 ms)
        model = adapters[collection](text)
        summary = summarize_segment(model, shared, entity.key)
        if rest is not None:
            twins.add(rest, (model, summary))
    summaries[collection].append(summary)
    models[(collection, entity.position)] = model


_SEGMENT_FIELDS = [field.name for field in dataclasses.fields(Segment) if field.name != "name"]
_segment_fields = attrgetter(*_SEGMENT_FIELDS)
_SEGMENT_SETTERS = [getattr(Segment, field).__set__ for field in _SEGMENT_FIELDS]
_set_name = vars(Segment)["name"].__set__  # the slot's descriptor


def _renamed(segment: Segment, name: str) -> Segment:
    """``segment`` (frozen, its parts shared) under another name, without validating: its
    slots set through their descriptors (~0.9 µs; ``object.__setattr__`` by name ~1.5)."""
    renamed = object.__new__(Segment)
    for set_field, value in zip(_SEGMENT_SETTERS, _segment_fields(segment), strict=True):
        set_field(renamed, value)
    _set_name(renamed, name)
    return renamed


def _read_flags(
    parts: SnapshotParts,
    adapter: Any,
    shared: Shared,
    strict: bool,
    compile: FlagCompiler | None,
    tested: set[str | None],
) -> list[tuple[int, Flag]]:
    """Validate and check every flag not reused, in document order; each goes to
    ``compile`` (its model then let go) or is kept. The flags named in ``tested`` (by an
    A/B test) are returned instead of compiled."""
    deferred: list[tuple[int, Flag]] = []
    parts.compiled = [None] * len(parts.reused["flags"])
    shell = parts.shell
    segment_names = [summary.name for summary in parts.segments]
    checks = FlagChecks(shell, strict=strict, segment_names=segment_names, nesting=True)
    text = parts.index.text
    entries = text.collections.get("flags")
    summaries = parts.flags
    opening: Any = b"{" if isinstance(text.text, bytes) else "{"
    bracket: Any = b"[" if isinstance(text.text, bytes) else "["
    for position, at in enumerate(parts.reused["flags"]):
        if at is not None:
            continue
        assert entries is not None
        start, end = entries.starts[position], entries.ends[position]
        try:
            flag = adapter(text.text[start:end])
        except ValidationError as error:
            raise Unreadable(str(error)) from None
        # a flag whose text opens fewer objects and arrays than the nesting limit leaves
        # cannot nest too deep: two counts (~0.3 µs) instead of looking at its values (~1 µs)
        shallow = text.text.count(opening, start, end) + text.text.count(bracket, start, end)
        problems, warnings = checks(
            f"$.flags[{position}]",
            parts.keys["flags"][position],
            flag,
            shallow=shallow < _SHALLOW,
        )
        if problems or warnings:
            raise Unreadable("a flag has problems or warnings")
        summaries[position] = summarize_flag(flag, shared, parts.names)
        if compile is None:
            parts._models[("flags", position)] = flag
        elif flag.name in tested:
            deferred.append((position, flag))
        else:
            parts.compiled[position] = compile(parts, position, flag)
    return deferred


def _check_segments(parts: SnapshotParts, strict: bool) -> None:
    """``Unreadable`` if a segment validated now has a problem (the other segments' names
    known): checked before the flags are read, while their models are all here."""
    form = parts.forms.get("segments")
    if form is None:
        return
    partial = copy.copy(parts.shell)
    fresh = [
        (parts.keys["segments"][position], parts.model("segments", position))
        for position, at in enumerate(parts.reused["segments"])
        if at is None
    ]
    object.__setattr__(partial, "segments", dict(fresh) if form == "map" else [m for _, m in fresh])
    known = [
        summary.name
        for summary, at in zip(parts.segments, parts.reused["segments"], strict=True)
        if at is not None
    ]
    if segment_findings(partial, strict=strict, known_names=known).problems:
        raise Unreadable("a segment has problems")


def _check(parts: SnapshotParts, strict: bool, tested: set[str | None]) -> None:
    """``Unreadable`` if any check not made yet could fail: those of the shell (every flag
    and segment name known; ``tested``: the flags A/B tests name), then those spanning
    entities."""
    shell = parts.shell
    if shell.abtests:  # else nothing to check: its sets of every name (~2.5 MiB, ~5 ms) unmade
        known = [summary.name for summary in parts.flags] + [s.name for s in parts.segments]
        elsewhere = [summary for summary in parts.flags if summary.name in tested]
        findings = abtest_findings(
            shell, strict=strict, known_names=known, flags_elsewhere=elsewhere
        )
        if findings.problems or findings.warnings:
            raise Unreadable("problems or warnings")
    if summaries_may_have_problems(parts.flags, parts.segments, shell, strict=strict):
        raise Unreadable("a problem across entities")
