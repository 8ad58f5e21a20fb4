"""Read a native snapshot's JSON text one entity at a time, and see which entities a previous
text already held.

A 10 000-flag snapshot decodes into ~45 MiB of Python objects; held at once, that tree is
the largest part of a load's memory. ``scan`` walks the document's top level and its entity
collections (``flags`` and ``segments``, maps or lists) and hands over each entity decoded
on its own, with where its text starts and ends, so the caller can validate it and let its
tree go before the next one is decoded.

It also makes an update cheap: given the :class:`TextIndex` of the previous text, an entity
whose text is byte for byte the one at the same place in the previous document (the usual
case: a new snapshot differs from the served one in a few flags) is recognised by comparing
its bytes (~0.3 µs) and not decoded at all (~3 µs); one that moved is found by the hash of
its text and compared the same way. Identical text is an identical value, so nothing about
it needs checking again.

``scan`` reads only what Python's ``json`` decoder and pydantic's read alike; anything else
raises :class:`NotScannable` and the caller reads the document the usual way (which also
reports what is wrong with it). That covers invalid JSON, a byte-order mark, ``\\u``-escaped
surrogates (pydantic refuses a lone one, Python's decoder does not), a key written twice in
the top level or in a collection (a key written twice inside an entity is the caller's to
find: see :func:`repeats_a_key`), and a value nested beyond Python's recursion limit.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Generator
from dataclasses import dataclass, field
from json import JSONDecoder
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

import pydantic_core

__all__ = [
    "ENTITY_COLLECTIONS",
    "Entity",
    "NotScannable",
    "TextIndex",
    "Top",
    "Twins",
    "repeats_a_key",
    "scan",
]

ENTITY_COLLECTIONS = ("flags", "segments")
"""Top-level collections read entity by entity; every other top-level value is read whole."""

_SCAN = JSONDecoder().scan_once  # type: ignore[attr-defined]
# the C scanner json.loads uses: (text, index) → (value, end)
_WS = frozenset(" \t\n\r")
_SIMPLE_KEY = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_NEXT = re.compile(r"[ \t\n\r]*([,}\]])")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class NotScannable(Exception):
    """The text is not one ``scan`` reads; read it the usual way."""


@dataclass(slots=True)
class Top:
    """A top-level value other than an entity collection, decoded."""

    key: str
    value: Any
    start: int
    end: int
    source: bytes | str
    """The document the span is in (see :class:`TextIndex`)."""


@dataclass(slots=True)
class Entity:
    """One entity of a collection: its map key (``None`` in a list), its position, the span
    of its text, and either its decoded value or, when the previous text held the same
    text, that entity's position in the previous index (``previous``; ``value`` is then
    ``None``)."""

    collection: str
    key: str | None
    position: int
    start: int
    end: int
    source: bytes | str
    value: Any = None
    previous: int | None = None
    twin: tuple[str, Any] | None = None
    """``(name, what was made of its twin)`` for a segment :class:`Twins` recognised (its
    text not decoded; ``value`` is then ``None``)."""


@dataclass(slots=True)
class _Collection:
    form: str  # "map" or "list"
    keys: list[str | None] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("q"))
    ends: array[int] = field(default_factory=lambda: array("q"))
    """Offsets as machine integers: 40 000 of them for a 10 000-flag snapshot would be
    ~1.5 MiB as ``int`` objects in lists, ~0.3 MiB here."""
    by_hash: dict[int, int] | None = None
    """The position of the first entity with each text hash: made when an update first
    looks for a changed entity's text elsewhere (see :meth:`TextIndex.holding`), not at
    every load (20 000 hashes of a 10 000-flag snapshot: ~2.4 MiB and ~10 ms)."""


class TextIndex:
    """Where each entity's text is in a document, kept to recognise unchanged entities in the
    next one: the document (``bytes`` when it is ASCII, so offsets are byte offsets and the
    bytes the caller already holds are shared; else its ``str``), and per collection its form
    and every entity's key and span."""

    __slots__ = ("collections", "text")

    def __init__(self, text: bytes | str) -> None:
        self.text = text
        self.collections: dict[str, _Collection] = {}

    def same(self, text: bytes | str, start: int, end: int, collection: str, at: int) -> bool:
        """Whether ``text[start:end]`` is the text of entity ``at`` of ``collection``."""
        if type(text) is not type(self.text):
            return False
        entries = self.collections[collection]
        old_start, old_end = entries.starts[at], entries.ends[at]
        return (
            end - start == old_end - old_start and text[start:end] == self.text[old_start:old_end]
        )

    def holding(self, text_hash: int, collection: str) -> int | None:
        """The first entity of ``collection`` whose text has the hash ``text_hash``, if any
        (its text may still differ: compare with :meth:`same`)."""
        entries = self.collections[collection]
        if entries.by_hash is None:
            text = self.text
            by_hash: dict[int, int] = {}
            for at, (start, end) in enumerate(zip(entries.starts, entries.ends, strict=True)):
                by_hash.setdefault(hash(text[start:end]), at)
            entries.by_hash = by_hash
        return entries.by_hash.get(text_hash)


_NAME_OPENING = re.compile(r'\{[ \t\n\r]*"name"[ \t\n\r]*:[ \t\n\r]*"([^"\\\x00-\x1f]*)"')
_NAME_OPENING_BYTES = re.compile(_NAME_OPENING.pattern.encode())


def _opening_name(text: bytes | str, position: int) -> Any:
    """The match of a plainly written ``{"name": "…"`` at ``position``, or ``None``."""
    if isinstance(text, bytes):
        return _NAME_OPENING_BYTES.match(text, position)
    return _NAME_OPENING.match(text, position)


class Twins:
    """Segments read so far by their text after the name, and what the reader made of each.

    Segments come one per rule, and many target alike (10 000 segments of a snapshot may
    hold eight targetings). Two segments whose texts are the same after a plainly written
    name (``{"name":"segments/a"`` and the rest, whitespace allowed before the name) are
    the same JSON but for the name: the reader validates the first and renames it for the
    others (~1 µs instead of ~5), and :func:`scan` recognises the others without decoding
    them (~2 µs each), trying the lengths of the texts seen (at most eight). Looking costs
    ~2 µs a segment that has no twin: once 64 segments were looked at and fewer than one in
    four had a twin, nothing more is looked for (:meth:`worth`)."""

    __slots__ = ("_found", "_lengths", "_looked", "made")

    def __init__(self) -> None:
        self.made: dict[bytes | str, Any] = {}
        self._lengths: list[int] = []
        self._looked = 0
        self._found = 0

    def worth(self) -> bool:
        """Whether looking for twins still pays in this document."""
        return self._looked < 64 or 4 * self._found >= self._looked

    @staticmethod
    def after_name(text: bytes | str, name: Any) -> bytes | str | None:
        """The text of a segment after its name ``name`` when the text opens with it
        written plainly; ``None`` otherwise (a name written with escapes is not compared)."""
        if name.__class__ is not str:
            return None
        match = _opening_name(text, 0)
        if match is None or match.group(1) != (name.encode() if isinstance(text, bytes) else name):
            return None
        return text[match.end() :]

    def add(self, rest: bytes | str, made: Any) -> None:
        self.made.setdefault(rest, made)
        if len(rest) not in self._lengths and len(self._lengths) < 8:
            self._lengths.append(len(rest))

    def find(self, text: bytes | str, position: int) -> tuple[str, Any, int] | None:
        """``(name, what was made of its twin, end)`` of the segment at ``position`` when its
        text after a plain name is one seen before."""
        self._looked += 1
        match = _opening_name(text, position)
        if match is None:
            return None
        after = match.end()
        for length in self._lengths:
            made = self.made.get(text[after : after + length])
            if made is not None:
                self._found += 1
                name = match.group(1)
                return (name.decode() if isinstance(name, bytes) else name), made, after + length
        return None


def repeats_a_key(value: Any, text: str | bytes, start: int, end: int) -> bool:
    """Whether the JSON text ``text[start:end]``, which decoded to ``value``, may write a key
    twice in one object (``False`` is certain; ``True`` means: look closer).

    Outside strings every colon of JSON text ends a key; inside strings the text has the
    colons the decoded strings have, unless it escapes one (``\\u003a``). So a text without
    such an escape repeats no key exactly when it holds as many colons as the decoded value
    written out again (pydantic's encoder, in Rust: ~50 ms for a 10 000-flag snapshot)."""
    colon: Any = b":" if isinstance(text, bytes) else ":"
    escaped: Any = b"\\u003" if isinstance(text, bytes) else "\\u003"
    if text.find(escaped, start, end) != -1:
        return True
    try:
        encoded = pydantic_core.to_json(value)
    except (TypeError, ValueError):  # pragma: no cover - a decoded JSON value always encodes
        return True
    return text.count(colon, start, end) != encoded.count(b":")


def scan(
    raw: bytes | str, previous: TextIndex | None = None, twins: Twins | None = None
) -> Generator[Top | Entity, None, TextIndex]:
    """The top-level values and the entities of the native snapshot ``raw``, in document
    order (``NotScannable`` if it is not one ``scan`` reads). The index of ``raw`` is filled
    in as the entities go by and is the generator's return value. Segments ``twins`` (which
    the caller fills as it reads) recognises are not decoded (see :class:`Twins`)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else str(raw)
    except UnicodeDecodeError:
        raise NotScannable("not UTF-8") from None
    if _SURROGATE_ESCAPE.search(text):
        raise NotScannable("escaped surrogates")
    ascii_text = text.isascii()
    kept: bytes | str = bytes(raw) if ascii_text and not isinstance(raw, str) else text
    index = TextIndex(kept)
    if previous is not None and type(previous.text) is not type(kept):
        previous = None  # offsets would not compare
    return (yield from _walk(text, kept, index, previous, twins))


def _walk(
    text: str,
    kept: bytes | str,
    index: TextIndex,
    previous: TextIndex | None,
    twins: Twins | None,
) -> Generator[Top | Entity, None, TextIndex]:
    position = _skip(text, 0)
    if position >= len(text) or text[position] != "{":
        raise NotScannable("not an object")
    seen: set[str] = set()
    position = _skip(text, position + 1)
    if text.startswith("}", position):
        position += 1
    else:
        while True:
            key, position = _key(text, position)
            if key in seen:
                raise NotScannable("a top-level key written twice")
            seen.add(key)
            opening = text[position : position + 1]
            if key in ENTITY_COLLECTIONS and opening in ("{", "["):
                form = "map" if opening == "{" else "list"
                collection = _Collection(form)
                index.collections[key] = collection
                old = previous.collections.get(key) if previous is not None else None
                if old is not None and old.form != form:
                    old = None
                position = yield from _entities(
                    text,
                    kept,
                    position + 1,
                    key,
                    collection,
                    old,
                    previous,
                    twins if key == "segments" else None,
                )
            else:
                value, end = _value(text, position)
                yield Top(key, value, position, end, kept)
                position = end
            position, closing = _next(text, position)
            if closing == "}":
                break
            if closing != ",":
                raise NotScannable("expected , or }")
            position = _skip(text, position)
    if _skip(text, position) != len(text):
        raise NotScannable("text after the document")
    return index


def _entities(
    text: str,
    kept: bytes | str,
    position: int,
    name: str,
    collection: _Collection,
    old: _Collection | None,
    previous: TextIndex | None,
    twins: Twins | None,
) -> Generator[Entity, None, int]:
    """The entities of one collection, from just after its opening bracket; returns the
    position after its closing bracket."""
    is_map = collection.form == "map"
    closing_bracket = "}" if is_map else "]"
    keys: set[str] = set()
    expected = 0  # the previous entity the next one most likely repeats
    count = 0
    position = _skip(text, position)
    if text.startswith(closing_bracket, position):
        return position + 1
    while True:
        key: str | None = None
        if is_map:
            key, position = _key(text, position)
            if key in keys:
                raise NotScannable(f"a key of {name} written twice")
            keys.add(key)
        entity = None
        if old is not None and expected < len(old.starts) and old.keys[expected] == key:
            length = old.ends[expected] - old.starts[expected]
            end = position + length
            assert previous is not None
            if previous.same(kept, position, end, name, expected):
                entity = Entity(name, key, count, position, end, kept, None, expected)
                expected += 1
        if entity is None and old is None and twins is not None and twins.made and twins.worth():
            found = twins.find(kept, position)
            if found is not None:
                twin, made, end = found
                entity = Entity(name, key, count, position, end, kept, twin=(twin, made))
        if entity is None:
            value, end = _value(text, position)
            entity = Entity(name, key, count, position, end, kept, value)
            if old is not None:
                assert previous is not None
                at = previous.holding(hash(kept[position:end]), name)
                if (
                    at is not None
                    and old.keys[at] == key
                    and previous.same(kept, position, end, name, at)
                ):
                    entity.previous = at  # moved: a flag inserted or removed before it
                    entity.value = None
                    expected = at + 1
                elif expected < len(old.keys) and old.keys[expected] == key:
                    expected += 1  # edited in place: the next one likely follows it
        collection.keys.append(key)
        collection.starts.append(entity.start)
        collection.ends.append(entity.end)
        count += 1
        yield entity
        position, closing = _next(text, entity.end)
        if closing == closing_bracket:
            return position
        if closing != ",":
            raise NotScannable(f"expected , or {closing_bracket}")
        position = _skip(text, position)


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WS:
        position += 1
    return position


def _key(text: str, position: int) -> tuple[str, int]:
    """An object key at ``position`` (whitespace allowed before it) and where its value
    starts."""
    match = _SIMPLE_KEY.match(text, position)
    if match is not None:
        return match.group(1), match.end()
    position = _skip(text, position)
    if not text.startswith('"', position):
        raise NotScannable("expected a key")
    try:
        key, position = scanstring(text, position + 1)
    except ValueError:
        raise NotScannable("invalid key") from None
    position = _skip(text, position)
    if not text.startswith(":", position):
        raise NotScannable("expected :")
    return key, _skip(text, position + 1)


def _value(text: str, position: int) -> tuple[Any, int]:
    try:
        value, end = _SCAN(text, position)
    except (StopIteration, ValueError, RecursionError):
        raise NotScannable("invalid value") from None
    return value, end


def _next(text: str, position: int) -> tuple[int, str]:
    match = _NEXT.match(text, position)
    if match is None:
        raise NotScannable("expected , or a closing bracket")
    return match.end(), match.group(1)
