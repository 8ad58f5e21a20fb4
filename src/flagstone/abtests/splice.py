"""Write a changed JSON document back into the text it was read from, rewriting only what
changed, so that the bytes of everything else (other A/B tests, flags, key order, whitespace)
stay exactly as they were and a snapshot under version control diffs by the change alone.

:func:`scan` decodes a document once (what ``json.loads`` gives) and records where each
top-level member is in the text, and where each item of a top-level array is (``$.abtests[i]``
among them). :func:`splice` then makes the new document's text from the old: a top-level value
that changed is replaced (an array item by item: a changed item in place, a new one appended
after the last with the separator the items already use, a removed one taken out with its
separator), a key that is gone is removed, a new key is added at the end. What is written is
serialised in the file's own style: its indentation (measured from the text), its separators,
and ``\\uXXXX`` escapes if the file escapes non-ASCII text.

Every result is checked by decoding it: it must decode to exactly the intended document.
:func:`splice` returns ``None`` when it cannot promise that (a text that is not UTF-8, a
document with a repeated key, an empty object, or a check that failed); the caller then writes
the whole document instead.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Member", "ScannedText", "Span", "scan", "splice"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_INDENT = re.compile(r"[ \t]*")
_ESCAPED_NON_ASCII = re.compile(
    r"(?<!\\)(?:\\\\)*\\u(?:007[fF]|00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])"
)
"""A ``\\uXXXX`` escape of DEL or a character beyond ASCII (not an escaped backslash before
a ``u``): ``json.dumps`` writes those escaped only with ``ensure_ascii=True``."""
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Span:
    """Characters ``start`` (inclusive) to ``end`` (exclusive) of the text."""

    start: int
    end: int


@dataclass(frozen=True)
class Member:
    """One ``"key": value`` of the top-level object: where the key starts and ends (its
    quotes included), where the value is, and for an array value where each item is."""

    key: str
    start: int
    key_end: int
    value: Span
    items: tuple[Span, ...] | None


@dataclass(frozen=True)
class ScannedText:
    """A decoded JSON document and, when it is an object whose spans could be read, the text
    it came from with the position of its braces and members."""

    document: Any
    text: str | None = None
    open: int = 0
    close: int = 0
    members: tuple[Member, ...] | None = None


class _NoSpans(Exception):
    """The text is not one this scanner gives spans for (``json.loads`` decides if it is
    JSON at all)."""


def scan(raw: bytes | str) -> ScannedText:
    """Decode ``raw`` as ``json.loads`` does (raising its ``ValueError`` for what is not
    JSON) and record the spans :func:`splice` needs."""
    if isinstance(raw, bytes):
        if json.detect_encoding(raw) != "utf-8":
            return ScannedText(json.loads(raw))
        text = raw.decode("utf-8", "surrogatepass")
    else:
        text = raw
    try:
        document, opening, closing, members = _object(text)
    except (_NoSpans, ValueError):
        return ScannedText(json.loads(raw))  # the canonical error, or a document without spans
    return ScannedText(document, text, opening, closing, members)


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # it matches the empty string
    return match.end()


def _object(text: str) -> tuple[dict[str, Any], int, int, tuple[Member, ...]]:
    opening = _skip(text, 0)
    if text[opening : opening + 1] != "{":
        raise _NoSpans
    document: dict[str, Any] = {}
    members: list[Member] = []
    position = _skip(text, opening + 1)
    if text[position : position + 1] == "}":
        closing = position
    else:
        while True:
            if text[position : position + 1] != '"':
                raise _NoSpans
            key, key_end = _DECODER.raw_decode(text, position)  # a string: the quote is here
            colon = _skip(text, key_end)
            if text[colon : colon + 1] != ":":
                raise _NoSpans
            start = _skip(text, colon + 1)
            value, end, items = _value(text, start)
            if key in document:
                raise _NoSpans  # json.loads keeps the last; a splice could not say which
            document[key] = value
            members.append(Member(key, position, key_end, Span(start, end), items))
            position = _skip(text, end)
            if text[position : position + 1] == ",":
                position = _skip(text, position + 1)
            elif text[position : position + 1] == "}":
                closing = position
                break
            else:
                raise _NoSpans
    if _skip(text, closing + 1) != len(text):
        raise _NoSpans
    return document, opening, closing, tuple(members)


def _value(text: str, start: int) -> tuple[Any, int, tuple[Span, ...] | None]:
    """The value at ``start``, where it ends, and for an array where its items are."""
    if text[start : start + 1] != "[":
        value, end = _DECODER.raw_decode(text, start)
        return value, end, None
    values: list[Any] = []
    items: list[Span] = []
    position = _skip(text, start + 1)
    if text[position : position + 1] == "]":
        return values, position + 1, ()
    while True:
        value, end = _DECODER.raw_decode(text, position)
        values.append(value)
        items.append(Span(position, end))
        position = _skip(text, end)
        if text[position : position + 1] == ",":
            position = _skip(text, position + 1)
        elif text[position : position + 1] == "]":
            return values, position + 1, tuple(items)
        else:
            raise _NoSpans


# -- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How the file writes JSON: ``indent`` (``None`` when it is on one line), the key
    separator, the item separator of one-line text, and whether non-ASCII is escaped."""

    indent: str | None
    key_separator: str
    item_separator: str
    ensure_ascii: bool

    def render(self, value: Any, base: str, *, one_line: bool = False) -> str:
        """``value`` as the file would write it on a line indented by ``base``."""
        if self.indent is None or one_line:
            return json.dumps(
                value,
                separators=(self.item_separator, self.key_separator),
                ensure_ascii=self.ensure_ascii,
                allow_nan=False,
            )
        text = json.dumps(
            value,
            indent=self.indent,
            separators=(",", self.key_separator),
            ensure_ascii=self.ensure_ascii,
            allow_nan=False,
        )
        return text.replace("\n", "\n" + base)  # JSON strings hold no raw newline


def _style(text: str, opening: int, members: Sequence[Member]) -> _Style:
    """The file's style, read from its top-level object: indented if a member starts a line
    (the indent is that line's beyond the brace's), else on one line with the separators
    between its first members."""
    first = members[0]
    key_separator = text[first.key_end : first.value.start]
    gaps = [text[opening + 1 : first.start]]
    gaps += [text[a.value.end : b.start] for a, b in itertools.pairwise(members)]
    on_own_line = [member for member, gap in zip(members, gaps, strict=True) if "\n" in gap]
    if on_own_line:
        outer = _line_indent(text, opening)
        inner = _line_indent(text, on_own_line[0].start)
        indent: str | None = inner.removeprefix(outer)
        item_separator = ", "
    else:
        indent = None
        item_separator = gaps[1] if len(gaps) > 1 else ", "
    escaped = text.isascii() and _ESCAPED_NON_ASCII.search(text) is not None
    return _Style(indent, key_separator, item_separator, escaped)


def _line_indent(text: str, position: int) -> str:
    """The indentation of the line ``position`` is on."""
    line = text.rfind("\n", 0, position) + 1
    match = _INDENT.match(text, line, position)
    assert match is not None
    return match.group()


def _same(old: Any, new: Any) -> bool:
    """Whether ``old`` and ``new`` are the same JSON, types and key order included (``1``,
    ``1.0`` and ``true`` are equal in Python, not in a file)."""
    if old is new:
        return True
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return list(old) == list(new) and all(_same(old[key], new[key]) for key in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, float):
        return repr(old) == repr(new)  # -0.0 == 0.0, but not in a file
    return bool(old == new)


def _written_on_one_line(text: str, span: Span) -> bool:
    """Whether the value at ``span`` is an object or array with content, on one line (a
    hand-formatted item in an indented file, say): what replaces it is written so too."""
    written = text[span.start : span.end]
    return (
        written[:1] in ("{", "[")
        and "\n" not in written
        and _skip(text, span.start + 1) < span.end - 1
    )


_Edit = tuple[int, int, str]
"""``(start, end, text)``: the characters ``start`` to ``end`` become ``text``."""


def splice(scanned: ScannedText, new: Mapping[str, Any]) -> str | None:
    """The text of ``new`` made from the text ``scanned`` was read from, rewriting only the
    top-level values (and array items) that differ from the scanned document; ``None`` when
    that cannot be done with the guarantee that the result decodes to exactly ``new``."""
    text, members = scanned.text, scanned.members
    old = scanned.document
    if text is None or not members or not isinstance(old, dict):
        return None
    try:
        result = _spliced(text, scanned, members, new)
    except (TypeError, ValueError):  # not JSON (NaN, a set, …): the caller's encoder says so
        return None
    if result is None:
        return None
    try:
        decoded = json.loads(result)
    except ValueError:
        return None
    return result if decoded == new and type(decoded) is dict else None


def _spliced(
    text: str, scanned: ScannedText, members: Sequence[Member], new: Mapping[str, Any]
) -> str | None:
    old = scanned.document
    style = _style(text, scanned.open, members)
    separator = _separator(
        text, [Span(member.start, member.value.end) for member in members], scanned.open, style
    )
    base = _line_indent(text, members[0].start)
    edits: list[_Edit] = []
    kept: list[int] = []
    for index, member in enumerate(members):
        if member.key not in new:
            continue
        kept.append(index)
        before, after = old[member.key], new[member.key]
        if _same(before, after):
            continue
        if member.items is not None and isinstance(after, list):
            edits += _array(text, member, before, after, style)
        else:
            where = _line_indent(text, member.start)
            one_line = _written_on_one_line(text, member.value)
            rendered = style.render(after, where, one_line=one_line)
            edits.append((member.value.start, member.value.end, rendered))
    spans = [Span(member.start, member.value.end) for member in members]
    edits += _remove_runs(text, spans, set(kept), scanned.open, scanned.close, "{}")
    added = [key for key in new if key not in old]
    if added:
        if not kept:
            return None  # every member goes: nothing left to take the style from
        last = spans[kept[-1]]
        edits.append(
            (
                last.end,
                last.end,
                "".join(
                    separator
                    + json.dumps(key, ensure_ascii=style.ensure_ascii)
                    + style.key_separator
                    + style.render(new[key], base)
                    for key in added
                ),
            )
        )
    return _apply(text, edits)


def _separator(text: str, spans: Sequence[Span], opening: int, style: _Style) -> str:
    """What the text puts between two items (members) of a container: taken from two
    neighbours, or from the space before the first."""
    if len(spans) > 1:
        return text[spans[0].end : spans[1].start]
    if style.indent is None:
        return style.item_separator
    return "," + text[opening + 1 : spans[0].start]


def _array(
    text: str, member: Member, before: list[Any], after: list[Any], style: _Style
) -> list[_Edit]:
    """The edits that turn the array ``before`` (items at ``member.items``) into ``after``:
    the run of items between the longest common head and tail is replaced."""
    items = member.items
    assert items is not None
    head = 0
    while head < min(len(before), len(after)) and _same(before[head], after[head]):
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and _same(
        before[len(before) - 1 - tail], after[len(after) - 1 - tail]
    ):
        tail += 1
    removed = range(head, len(before) - tail)
    added = after[head : len(after) - tail]
    opening, closing = member.value.start, member.value.end - 1
    if not items:  # an empty array: write the new one whole
        where = _line_indent(text, member.start)
        return [(opening, closing + 1, style.render(after, where))]
    separator = _separator(text, items, opening, style)

    def render(value: Any, near: Span) -> str:
        one_line = _written_on_one_line(text, near)
        return style.render(value, _line_indent(text, near.start), one_line=one_line)

    if len(removed) == len(added):
        return [
            (items[index].start, items[index].end, render(value, items[index]))
            for index, value in zip(removed, added, strict=True)
        ]
    if removed and added:
        first, last = items[removed[0]], items[removed[-1]]
        return [(first.start, last.end, separator.join(render(value, first) for value in added))]
    if removed:
        return _remove_runs(
            text, items, set(range(len(items))) - set(removed), opening, closing, "[]"
        )
    if head > 0:
        near = items[head - 1]
        return [(near.end, near.end, "".join(separator + render(v, near) for v in added))]
    near = items[0]
    return [(near.start, near.start, "".join(render(v, near) + separator for v in added))]


def _remove_runs(
    text: str, spans: Sequence[Span], kept: set[int], opening: int, closing: int, empty: str
) -> list[_Edit]:
    """Remove the items (members) not in ``kept``, each with one separator: the one after
    it, or for the last the one before; everything gone leaves ``empty``."""
    if len(kept) == len(spans):
        return []
    if not kept:
        return [(opening, closing + 1, empty)]
    edits: list[_Edit] = []
    last_kept = max(kept)
    for index, span in enumerate(spans):
        if index in kept:
            continue
        if index < last_kept:
            edits.append((span.start, spans[index + 1].start, ""))
        else:
            edits.append((spans[index - 1].end, span.end, ""))
    return edits


def _apply(text: str, edits: Sequence[_Edit]) -> str | None:
    """``text`` with ``edits`` made (``None`` if two of them overlap)."""
    parts: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        if start < position:
            return None
        parts += (text[position:start], replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)
