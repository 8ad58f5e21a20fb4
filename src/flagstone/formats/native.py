"""The native snapshot format: Confidence's resolver-state JSON plus ``abtests``.

``parse_snapshot`` turns bytes, text or an already-decoded mapping into a validated
``Snapshot`` model and its version, or raises ``ConfigError`` naming every problem with its
JSON path. Bytes are validated straight from JSON (pydantic's Rust core), which keeps large
snapshots cheap to load.

When the document does not even match the types, the structural problems are reported
together with the semantic problems of every flag, segment, client and A/B test that did
parse, so one run shows everything to fix.

A snapshot is untrusted input. Besides what ``flagstone.model.validation`` checks (see
``flagstone.model.limits``), this module refuses a key written twice in one object (a JSON
reader keeps only the last, so ``"flags"`` twice silently dropped every flag of the first)
and a decoded document nested deeper than the JSON decoder allows text to be.

A snapshot that loads may still carry *warnings* (``ParsedSnapshot.warnings``, strict mode
only; see ``flagstone.model.validation``): they are logged once per parse, at WARNING on the
``flagstone`` logger, and never refuse the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from ..errors import ConfigError, Problem
from ..model import AbTestInstance, ClientEntry, Flag, Segment, Snapshot
from ..model.abtests import default_segment_name
from ..model.bitsets import BitsetSpec, BloomFilter
from ..model.clients import Account
from ..model.limits import MAX_NESTING
from ..model.metrics import MetricDefinition
from ..model.paths import join_path, key_path
from ..model.snapshot import SNAPSHOT
from ..model.validation import snapshot_findings
from ..process.gc import paused_gc
from .streamed import FlagCompiler, SnapshotIndex, SnapshotParts, Unreadable, read_parts

__all__ = [
    "DeclaredFormat",
    "ParsedSnapshot",
    "SnapshotIndex",
    "duplicate_keys",
    "parse_snapshot",
    "read_snapshot",
    "snapshot_version",
]

logger = logging.getLogger("flagstone")

_COLLECTIONS = ("flags", "segments", "clients")


@cache
def _adapters() -> dict[str, TypeAdapter[Any]]:
    """The validators of a snapshot's parts (for reporting on a snapshot that does not
    validate as a whole), built the first time one is needed: building them costs ~100 ms,
    which ``import flagstone`` does not pay."""
    return {
        "flags": TypeAdapter(Flag),
        "segments": TypeAdapter(Segment),
        "clients": TypeAdapter(ClientEntry),
        "abtests": TypeAdapter(AbTestInstance),
        "account": TypeAdapter(Account),
        "bitsets": TypeAdapter(dict[str, BitsetSpec]),
        "bloomFilters": TypeAdapter(dict[str, BloomFilter]),
        "metrics": TypeAdapter(list[MetricDefinition]),
    }


_SINGLE_FIELDS = ("account", "bitsets", "bloomFilters", "metrics")


class ParsedSnapshot:
    """A validated snapshot, its version (see :func:`snapshot_version`) and the warnings
    found while validating it (each a ``Problem`` with its JSON path; empty in lenient
    mode).

    ``model`` is the whole snapshot. One read by :func:`read_snapshot` is validated entity
    by entity and made into one model only when ``model`` is first read; until then it
    holds the parts the compiler needs (``parts``) and what reading the next version of the
    document can reuse (``index``)."""

    __slots__ = ("_model", "parts", "version", "warnings")

    def __init__(
        self,
        model: Snapshot | None,
        version: str,
        warnings: tuple[Problem, ...] = (),
        *,
        parts: SnapshotParts | None = None,
    ) -> None:
        if model is None and parts is None:
            raise TypeError("a ParsedSnapshot needs a model or its parts")
        self._model = model
        self.version = version
        self.warnings = warnings
        self.parts = parts

    @property
    def model(self) -> Snapshot:
        """The whole snapshot as one model."""
        if self._model is None:
            assert self.parts is not None
            self._model = self.parts.full()
        return self._model

    @property
    def issued_at(self) -> str | None:
        """The snapshot's ``issuedAt`` (read without making the whole model)."""
        top = self.parts.shell if self._model is None and self.parts is not None else self.model
        return top.issued_at

    @property
    def index(self) -> SnapshotIndex | None:
        """What :func:`read_snapshot` reads the next version of this document against
        (``None`` for a snapshot read otherwise)."""
        return self.parts.index if self.parts is not None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedSnapshot):
            return NotImplemented
        return (self.model, self.version, self.warnings) == (
            other.model,
            other.version,
            other.warnings,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ParsedSnapshot(version={self.version!r}, warnings={len(self.warnings)})"


def snapshot_version(model: Snapshot, raw: bytes) -> str:
    """The snapshot's top-level ``version`` when present, else the first 12 hex digits of the
    sha256 of its bytes."""
    if model.version:
        return model.version
    return hashlib.sha256(raw).hexdigest()[:12]


def parse_snapshot(
    document: bytes | str | Mapping[str, Any],
    *,
    strict: bool = True,
    source: str | None = None,
) -> ParsedSnapshot:
    """Parse and validate a native snapshot.

    ``document`` is the JSON text (``bytes`` or ``str``) or the decoded object. A document
    with a top-level ``format`` key is not native: :class:`DeclaredFormat` (a
    ``ConfigError``) hands it back decoded, and ``flagstone.formats.parse_snapshot`` reads it
    by the format it declares. With
    ``strict=False``, references Confidence tolerates at resolve time (unknown segments,
    cycles, unrecognised rules) are accepted; see ``flagstone.model.validation``.
    """
    from_text = not isinstance(document, Mapping)
    if isinstance(document, Mapping):
        try:
            raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        except (TypeError, ValueError) as error:
            raise ConfigError(
                [Problem("$", f"not a JSON document: {error}")], source=source
            ) from None
        except RecursionError:
            raise ConfigError([Problem("$", _TOO_DEEP)], source=source) from None
        decoded: Mapping[str, Any] | None = document
    elif isinstance(document, str | bytes | bytearray | memoryview):
        raw = document.encode() if isinstance(document, str) else bytes(document)
        decoded = None
    else:
        message = f"a snapshot is a JSON object (or its text), not {type(document).__name__}"
        raise ConfigError([Problem("$", message)], source=source)
    with paused_gc():
        try:
            if decoded is None:
                # decode first, then validate the objects: pydantic's validate_json holds a
                # parse tree besides the objects and peaks at ~40 % more memory
                try:
                    decoded = pydantic_core.from_json(raw)
                except ValueError as error:
                    raise ConfigError([_invalid_json(error)], source=source) from None
                duplicates = duplicate_keys(raw, decoded)
                if duplicates:
                    raise ConfigError(duplicates, source=source)
            if isinstance(decoded, Mapping) and "format" in decoded:
                # a declared format (the native one has no such key): its reader parses it
                raise DeclaredFormat(decoded, raw, source)
            model = SNAPSHOT.validate_python(decoded)
            decoded = None  # the decoded tree is as large as the model: free it now
        except ValidationError as error:
            problems = translate_validation_error(error)
            problems += _semantic_problems_of_parsable_parts(document, raw, strict)
            raise ConfigError(problems, source=source) from None
        # text went through the JSON decoder, which holds it to MAX_NESTING levels already
        problems, warnings = snapshot_findings(model, strict=strict, nesting=not from_text)
    if problems:
        raise ConfigError(problems, source=source)
    if warnings:
        _log_warnings(warnings, source)
    return ParsedSnapshot(model, snapshot_version(model, raw), tuple(warnings))


class DeclaredFormat(ConfigError):
    """The document declares a format (a top-level ``format`` key, which native snapshots do
    not have): read it with ``flagstone.formats.parse_snapshot``, which reads every format.
    Carries the decoded ``document`` and its ``raw`` bytes, so it is decoded once."""

    def __init__(self, document: Mapping[str, Any], raw: bytes, source: str | None) -> None:
        message = (
            "the document declares a format: read it with flagstone.formats.parse_snapshot, "
            "not as a native snapshot"
        )
        super().__init__([Problem("$.format", message)], source=source)
        self.document = document
        self.raw = raw


def read_snapshot(
    document: bytes | str | Mapping[str, Any],
    *,
    strict: bool = True,
    source: str | None = None,
    previous: SnapshotIndex | None = None,
    compile: FlagCompiler | None = None,
) -> ParsedSnapshot:
    """:func:`parse_snapshot`, read the way a client loads a snapshot: entity by entity,
    and, given the ``index`` of the snapshot read before (``previous``), validating only the
    flags and segments whose text changed. The result is the same: the same version and
    warnings, the same ``ConfigError`` for a document that is not valid, and a ``model``
    equal to :func:`parse_snapshot`'s (made when first read).

    Why: a 10 000-flag snapshot (7.8 MB) decodes into ~45 MiB of Python objects and
    validates into ~23 MiB of models; read entity by entity, neither is held at once, and
    a compiler can let each model go once compiled. An update differing in one flag is
    read in ~5 % of the time of a full read (see README, "Performance").

    ``compile`` (``flagstone.plan.compile.FlagCompiler``) compiles each flag as it is read,
    so that the flags' models are never all held at once.

    A document this reading does not take as it is (not plain native JSON text, or invalid,
    or with warnings) is read by :func:`parse_snapshot`, which reports it as always.
    """
    if isinstance(document, str | bytes | bytearray | memoryview) and not isinstance(
        document, Mapping
    ):
        raw = document if isinstance(document, str | bytes) else bytes(document)
        with paused_gc():
            try:
                parts, version = read_parts(raw, strict=strict, previous=previous, compile=compile)
            except Unreadable:
                pass
            else:
                return ParsedSnapshot(None, version, parts=parts)
    return parse_snapshot(document, strict=strict, source=source)


_TOO_DEEP = f"the document nests more than {MAX_NESTING} levels deep"


def _invalid_json(error: ValueError) -> Problem:
    if "recursion limit exceeded" in str(error):  # the decoder's own nesting limit
        return Problem("$", f"not valid JSON: {error} ({_TOO_DEEP})")
    return Problem("$", f"not valid JSON: {error}")


def duplicate_keys(raw: bytes, decoded: Any) -> list[Problem]:
    """A problem for every key written twice in one object of the JSON text ``raw``
    (``decoded`` is what a JSON reader made of it, which kept only one of them).

    A document has a duplicate exactly when its text holds more colons than the decoded
    document written out again: outside strings every colon ends a key, and the colons
    inside strings are the same in both — unless the text spells one as ``\u003a``. That
    count is cheap (the encoder is pydantic's Rust); the exact search, which names each
    duplicate with its path, runs only when the count says there may be one.
    """
    if b"\\u003" not in raw or (b"\\u003a" not in raw and b"\\u003A" not in raw):
        try:
            if raw.count(b":") == pydantic_core.to_json(decoded).count(b":"):
                return []
        except (TypeError, ValueError):  # pragma: no cover - decoded JSON always encodes
            pass
    return _find_duplicate_keys(raw)


class _Twice(dict[str, Any]):
    """A decoded object in which some keys were written more than once (``twice``)."""

    twice: list[str]


def _pairs_to_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _Twice(result)
    seen: set[str] = set()
    marked.twice = []
    for key, _ in pairs:
        if key in seen and key not in marked.twice:
            marked.twice.append(key)
        seen.add(key)
    return marked


def _find_duplicate_keys(raw: bytes) -> list[Problem]:
    try:
        document = json.loads(raw, object_pairs_hook=_pairs_to_object)
    except (ValueError, RecursionError):
        return []
    problems = []
    stack: list[tuple[str, Any]] = [("$", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key in getattr(value, "twice", ()):
                problems.append(
                    Problem(
                        key_path(path, key),
                        "the key appears more than once in this object (a JSON reader keeps "
                        "only the last, and drops the others silently)",
                    )
                )
            children = [(key_path(path, key), item) for key, item in value.items()]
            stack.extend(reversed(children))  # popped in document order
        elif isinstance(value, list):
            children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
            stack.extend(reversed(children))
    return problems


def _log_warnings(warnings: list[Problem], source: str | None) -> None:
    count = len(warnings)
    where = f" in {source}" if source else ""
    listed = "".join(f"\n  {warning}" for warning in warnings)
    logger.warning("%d snapshot warning%s%s:%s", count, "s" if count != 1 else "", where, listed)


def translate_validation_error(error: ValidationError, prefix: str = "$") -> list[Problem]:
    """pydantic's errors as problems with JSON paths in the document's own spelling."""
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        map_or_list = (
            bool(loc)
            and loc[0] in _COLLECTIONS
            and len(loc) > 1
            and loc[1]
            in (
                "map",
                "list",
            )
        )
        if map_or_list:
            del loc[1]
        path = join_path(prefix, loc)
        problems.append(Problem(path, _message(item, map_or_list and len(loc) == 1)))
    return problems


def _message(item: Any, collection_type_error: bool) -> str:
    kind = item["type"]
    if kind == "json_invalid":
        return f"not valid JSON: {item['ctx'].get('error', item['msg'])}"
    if collection_type_error and kind == "dict_type":
        return "expected an object keyed by name, or a list"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown field"
    if kind in ("missing", "missing_keyword_only_argument", "missing_argument"):
        return "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dataclass_type", "dataclass_args_type"):
        return "expected an object"
    message: str = item["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message[:1].lower() + message[1:]


def _semantic_problems_of_parsable_parts(
    document: bytes | str | Mapping[str, Any], raw: bytes, strict: bool
) -> list[Problem]:
    """Semantic problems of the entities that parse, in a document that as a whole does not."""
    if isinstance(document, Mapping):
        data: Any = document
    else:
        try:
            data = json.loads(raw)
        except ValueError:
            return []
    if not isinstance(data, dict):
        return []
    # The parts that validate on their own, in the document's own JSON (never the models
    # they validated into: validators such as a bitset's turn a list into a tuple, and
    # validating a model's output again is not what they are written for). The partial
    # document is then validated as a whole by the same adapter as a full one.
    parts: dict[str, Any] = {}
    positions: dict[str, tuple[int, ...]] = {}
    broken: set[str] = set()
    adapters = _adapters()
    for name in _COLLECTIONS:
        adapter = adapters[name]
        collection = data.get(name)
        if isinstance(collection, dict):
            parts[name] = {}
            for key, item in collection.items():
                if isinstance(key, str) and _validates(adapter, item):
                    parts[name][key] = item
                else:
                    broken.update(_names_of(name, key, item))
        elif isinstance(collection, list):
            parts[name], positions[name] = [], ()
            for index, item in enumerate(collection):
                if _validates(adapter, item):
                    parts[name].append(item)
                    positions[name] += (index,)
                else:
                    broken.update(_names_of(name, None, item))
    abtests = data.get("abtests")
    if isinstance(abtests, list):
        parts["abtests"], positions["abtests"] = [], ()
        for index, item in enumerate(abtests):
            if _validates(adapters["abtests"], item):
                parts["abtests"].append(item)
                positions["abtests"] += (index,)
            else:
                broken.update(_abtest_segment_names(item))
    for key in _SINGLE_FIELDS:
        if key in data and _validates(adapters[key], data[key]):
            parts[key] = data[key]
    try:
        partial = SNAPSHOT.validate_python(parts)
    except ValidationError:  # pragma: no cover
        # unreachable while the parts' types are the snapshot's (3 600 mutated documents in
        # tests/test_snapshot_mutations.py never got here); the structural problems already
        # found are still raised as a ConfigError
        return []
    return snapshot_findings(
        partial, strict=strict, known_names=broken, positions=positions
    ).problems


def _validates(adapter: TypeAdapter[Any], item: Any) -> bool:
    try:
        adapter.validate_python(item)
    except ValidationError:
        return False
    return True


def _abtest_segment_names(item: Any) -> set[str]:
    """The segment name an unparsable A/B test would have compiled into, if it can be told."""
    if not isinstance(item, dict):
        return set()
    segment = item.get("segment")
    if isinstance(segment, dict) and isinstance(segment.get("name"), str):
        return {segment["name"]}
    name = item.get("name")
    if isinstance(name, str) and name:
        return {default_segment_name(name.rsplit("/", 1)[-1])}
    return set()


def _names_of(collection: str, key: str | None, item: Any) -> set[str]:
    names = {key} if key is not None and collection != "clients" else set()
    if isinstance(item, dict):
        holder = item.get("client") if collection == "clients" else item
        if isinstance(holder, dict) and isinstance(holder.get("name"), str):
            names.add(holder["name"])
    return names
