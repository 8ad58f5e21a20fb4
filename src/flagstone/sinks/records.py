"""Turning exposures into records and records into bytes, fast, off the request thread.

``RecordBuilder`` is what a sink's delivery side runs over a batch of ``Exposure`` objects:
it drops repeats (``Deduplicator``), gives each exposure its resolve id, formats the apply
time and produces a ``RecordBatch``: the record dicts and their JSON lines. The part of a
record that depends only on the matched assignment (flag, variant, rule, …) is built once per
compiled ``Outcome`` and reused, as a dict to copy and as a ready JSON fragment, so a record
costs a dict copy and a few string joins rather than a full ``json.dumps``.

A ``RecordBatch`` is the unit that batching sinks deliver, retry, spool and replay. Its JSON
lines are ASCII (``ensure_ascii``), compact, and equal ``json.dumps(record,
separators=(",", ":"))``; either side (dicts or lines) is computed from the other when first
asked for, so a batch replayed from the spool is never decoded unless a sink wants dicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from .exposure import (
    DEDUP_TTL_SECONDS,
    MILLISECONDS,
    SCHEMA_VERSION,
    DedupKey,
    Exposure,
    record_template,
)

__all__ = ["EVENT", "EVENT_LINE_PREFIX", "EXPOSURE", "Deduplicator", "RecordBatch", "RecordBuilder"]

_encode = json.JSONEncoder(separators=(",", ":")).encode


class RecordBatch(Sequence[dict[str, Any]]):
    """An ordered batch of records (exposures, metric events), as dicts and as JSON lines.

    Construct it from either (``RecordBatch(records=…)`` or ``RecordBatch(lines=…)``, lines
    without their newline); the other form is derived on first use and cached (a batch built
    by ``RecordBuilder`` makes its dicts only if a sink asks for them). Treat the records as
    read-only: a batch is shared by retries and the spool.

    ``kind`` is ``"exposure"`` or ``"event"`` when every record of the batch is of that
    ``type`` (the batches a ``BatchingSink`` delivers always are: each kind has its own
    queue), ``None`` when unknown or mixed (see :meth:`kinds`).
    """

    __slots__ = ("_lines", "_records", "_source", "kind")

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        lines: list[str] | None = None,
        kind: str | None = None,
    ) -> None:
        if records is None and lines is None:
            records = []
        self._records = records
        self._lines = lines
        self._source: tuple[list[Exposure], list[str]] | None = None
        self.kind = kind

    @classmethod
    def _of_exposures(
        cls, lines: list[str], exposures: list[Exposure], apply_times: list[str]
    ) -> RecordBatch:
        batch = cls(lines=lines, kind=EXPOSURE)
        batch._source = (exposures, apply_times)
        return batch

    def kinds(self) -> list[str]:
        """Each record's ``type`` (``"exposure"`` for records without one: files written
        before records had it), from ``kind`` when the batch has one."""
        if self.kind is not None:
            return [self.kind] * len(self)
        if self._records is not None:
            return [_kind_of(record) for record in self._records]
        assert self._lines is not None
        return [_kind_of_line(line) for line in self._lines]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records as dicts."""
        if self._records is None:
            if self._source is not None:
                exposures, apply_times = self._source
                self._records = [
                    exposure.to_record(apply_time)
                    for exposure, apply_time in zip(exposures, apply_times, strict=True)
                ]
            else:
                assert self._lines is not None
                self._records = [json.loads(line) for line in self._lines]
        return self._records

    @property
    def lines(self) -> list[str]:
        """The records as compact ASCII JSON lines, without newlines."""
        if self._lines is None:
            assert self._records is not None
            self._lines = [_encode(record) for record in self._records]
        return self._lines

    def jsonl(self) -> bytes:
        """The batch as JSON Lines: every record followed by a newline."""
        lines = self.lines
        if not lines:
            return b""
        return ("\n".join(lines) + "\n").encode("ascii")

    def json_array(self) -> bytes:
        """The batch as one JSON array."""
        return ("[" + ",".join(self.lines) + "]").encode("ascii")

    def tail(self, start: int) -> RecordBatch:
        """The records from index ``start`` on (what is left after a partial delivery)."""
        records = self._records[start:] if self._records is not None else None
        lines = self._lines[start:] if self._lines is not None else None
        rest = RecordBatch(records, lines=lines, kind=self.kind)
        if self._source is not None and records is None:
            exposures, apply_times = self._source
            rest._source = (exposures[start:], apply_times[start:])
        return rest

    def batch_id(self) -> str:
        """A content hash: the same records give the same id, across retries, spooling and
        processes (collectors can use it to recognise a batch delivered twice)."""
        return hashlib.sha256(self.jsonl()).hexdigest()[:32]

    def __len__(self) -> int:
        items = self._records if self._records is not None else self._lines
        assert items is not None
        return len(items)

    def __getitem__(self, index: Any) -> Any:
        return self.records[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __repr__(self) -> str:
        return f"RecordBatch({len(self)} records)"


EXPOSURE = "exposure"
EVENT = "event"

EVENT_LINE_PREFIX = f'{{"schema_version":{SCHEMA_VERSION},"type":"event",'
"""How the JSON line of every event record flagstone writes begins."""


def _kind_of(record: Any) -> str:
    kind = record.get("type") if isinstance(record, dict) else None
    return EVENT if kind == EVENT else EXPOSURE


_EXPOSURE_LINE_PREFIXES = (
    f'{{"schema_version":{SCHEMA_VERSION},"type":"exposure",',
    f'{{"schema_version":{SCHEMA_VERSION},"resolve_id":',  # before records had a type
)


def _kind_of_line(line: str) -> str:
    if line.startswith(EVENT_LINE_PREFIX):
        return EVENT
    if line.startswith(_EXPOSURE_LINE_PREFIXES):
        return EXPOSURE
    try:  # a line written by something else: read it
        return _kind_of(json.loads(line))
    except ValueError:
        return EXPOSURE


class Deduplicator:
    """Drops an exposure seen within ``ttl`` seconds of an earlier one (either side, so
    exposures arriving slightly out of order still count as repeats, while a clock stepped
    back by more than ``ttl`` does not suppress anything), measured by the exposures' own
    apply times, remembering at most ``maxsize`` distinct exposures (the oldest is forgotten
    first). Counts what it drops in ``dropped``.

    Not thread-safe: one delivery thread owns it (or its owner's lock guards it). It is a
    dict plus a FIFO of first-seen times rather than a ``cachetools.TTLCache``: with one TTL
    for every entry, expiry order is insertion order, which keeps a check at about a tenth of
    ``TTLCache``'s cost on the delivery thread.
    """

    __slots__ = ("_keys", "_maxsize", "_seen", "_times", "_ttl", "dropped")

    def __init__(self, ttl: float = DEDUP_TTL_SECONDS, maxsize: int = 100_000) -> None:
        if ttl < 0 or maxsize < 1:
            raise ValueError("ttl must be >= 0 and maxsize >= 1")
        self._ttl = ttl
        self._maxsize = maxsize
        self._seen: dict[DedupKey, float] = {}
        # first sightings in order, as two parallel queues (no tuple per entry)
        self._times: deque[float] = deque()
        self._keys: deque[DedupKey] = deque()
        self.dropped = 0

    def first_seen(self, exposure: Exposure) -> bool:
        """``True`` the first time an exposure is seen in the window (and remember it)."""
        return self.first_seen_key(exposure.dedup_key(), exposure.applied_at)

    def first_seen_key(self, key: DedupKey, at: float) -> bool:
        """``True`` the first time ``key`` is seen at time ``at`` within the window."""
        seen = self._seen
        ttl = self._ttl
        first = seen.get(key)
        if first is not None and -ttl < at - first < ttl:
            self.dropped += 1
            return False
        seen[key] = at
        times = self._times
        times.append(at)
        self._keys.append(key)
        if times[0] <= at - ttl or len(seen) > self._maxsize:  # _forget's test, inline
            self._forget(at)
        return True

    def keep(self, exposures: Iterable[Exposure]) -> list[Exposure]:
        """The exposures of a batch that are not repeats, in order. The rule is
        ``first_seen``'s; old entries (and, past ``maxsize``, the oldest) are forgotten once
        per batch rather than after each exposure, so within a batch the bound may be
        exceeded by the batch's size, and an entry is only forgotten once it is older than
        the window measured from the batch's latest exposure."""
        seen = self._seen
        remember_time = self._times.append
        remember_key = self._keys.append
        ttl = self._ttl
        kept: list[Exposure] = []
        dropped = 0
        latest = None
        for exposure in exposures:
            # exposure.dedup_key(), inline: this loop is the delivery thread's hot spot
            resolution = exposure.resolution
            outcome = resolution._outcome
            template = outcome._exposure_template
            if template is None:
                template = record_template(outcome)
            unit = resolution._unit
            key: DedupKey
            if unit is not None and not resolution._fallthrough:
                key = template[0] + unit
            else:
                key = (template[0], unit, resolution._fallthrough)
            at = exposure.applied_at
            first = seen.get(key)
            if first is not None and -ttl < at - first < ttl:
                dropped += 1
                continue
            seen[key] = at
            remember_time(at)
            remember_key(key)
            kept.append(exposure)
            if latest is None or at > latest:
                latest = at
        self.dropped += dropped
        if latest is not None:
            self._forget(latest)
        return kept

    def _forget(self, now: float) -> None:
        """Drop entries older than the window and, past ``maxsize``, the oldest ones."""
        seen = self._seen
        times = self._times
        keys = self._keys
        horizon = now - self._ttl
        maxsize = self._maxsize
        while times and (times[0] <= horizon or len(seen) > maxsize):
            old_at = times.popleft()
            old_key = keys.popleft()
            if seen.get(old_key) == old_at:
                del seen[old_key]

    def __len__(self) -> int:
        return len(self._seen)


_ID_BYTES = 16

_CACHED_BEFORE = 2.0**32
"""Apply times from here on (the year 2106) are formatted each time (``_format_time``)."""

_ID_POOL = 256
"""Resolve ids drawn from ``os.urandom`` at once for single exposures: one system call per
256 of them instead of one each (~450 ns on this project's machine)."""


class RecordBuilder:
    """Builds the ``RecordBatch`` of a batch of exposures, dropping repeats, or (``record``)
    the record dict of one exposure.

    One builder per delivery thread; not thread-safe. Never shared across a fork: a sink's
    child gets a ``fresh()`` one (so the child draws resolve ids of its own).
    """

    __slots__ = (
        "_dedup",
        "_id_at",
        "_id_pool",
        "_ms_from",
        "_ms_text",
        "_ms_to",
        "_second",
        "_second_text",
    )

    def __init__(self, dedup: Deduplicator | None) -> None:
        self._dedup = dedup
        self._second: int | None = None  # not -1: that is 1969-12-31T23:59:59
        self._second_text = ""
        # every apply time from _ms_from to before _ms_to is written _ms_text (_format_time)
        self._ms_from = 0.0
        self._ms_to = 0.0
        self._ms_text = ""
        self._id_pool = ""  # hex digits of random bytes not used yet, from _id_at on
        self._id_at = 0

    @classmethod
    def with_dedup(cls, dedup: bool, ttl: float, maxsize: int) -> RecordBuilder:
        """A builder that drops repeats within ``ttl`` (remembering ``maxsize``) if ``dedup``."""
        return cls(Deduplicator(ttl, maxsize) if dedup else None)

    def fresh(self) -> RecordBuilder:
        """A builder with the same settings, an empty deduplication window and no random
        bytes of this one's."""
        dedup = self._dedup
        return RecordBuilder(
            Deduplicator(dedup._ttl, dedup._maxsize) if dedup is not None else None
        )

    @property
    def deduplicated(self) -> int:
        return self._dedup.dropped if self._dedup is not None else 0

    def record(self, exposure: Exposure) -> dict[str, Any] | None:
        """The record dict of one exposure (as ``Exposure.to_record``; ``build`` would give
        the same record), or ``None`` if it is a repeat. What a sink that writes dicts on
        the calling thread runs (``CallbackSink``, ``MemorySink``): no JSON line, and no
        system call for the resolve id (they come from a pool): ~2.5 µs less than a
        one-exposure ``build`` and its ``records``."""
        resolution = exposure.resolution
        outcome = resolution._outcome
        template = outcome._exposure_template
        if template is None:
            template = record_template(outcome)
        unit = resolution._unit
        fallthrough = resolution._fallthrough
        dedup = self._dedup
        if dedup is not None:
            key: DedupKey = (
                template[0] + unit
                if unit is not None and not fallthrough
                else (template[0], unit, fallthrough)
            )
            if not dedup.first_seen_key(key, exposure.applied_at):
                return None
        resolve_id = exposure._resolve_id
        if resolve_id is None:
            next_id = self._id_at
            if next_id >= len(self._id_pool):
                self._id_pool = os.urandom(_ID_BYTES * _ID_POOL).hex()
                next_id = 0
            self._id_at = next_id + 2 * _ID_BYTES
            resolve_id = exposure._resolve_id = self._id_pool[next_id : next_id + 2 * _ID_BYTES]
        at = exposure.applied_at
        # in the last one's millisecond: two comparisons instead of ~300 ns
        apply_time = self._ms_text if self._ms_from <= at < self._ms_to else self._format_time(at)
        record: dict[str, Any] = template[1].copy()
        record["resolve_id"] = resolve_id
        record["apply_time"] = apply_time
        record["targeting_key"] = unit
        record["fallthrough"] = [item._asdict() for item in fallthrough] if fallthrough else []
        if exposure.context is not None:
            record["context"] = exposure.context
        return record

    def _format_time(self, at: float) -> str:
        """``format_time(at)``, keeping the text of the last second (``strftime`` is ~1 µs)
        and the times that share the text of ``at``'s millisecond (a range tested with two
        comparisons instead of this ~300 ns, for the exposures of the same millisecond).

        The range is that millisecond less 1 µs at either end: a time in it, after the
        subtraction of its whole seconds (exact) and the rounding to microseconds, is in
        that millisecond, since the range's bounds are off by at most half a unit in the
        last place (< 0.5 µs below 2**32 s, the year 2106; later times are not cached)."""
        # split_seconds(), inline
        second = int(at)
        micros = round((at - second) * 1e6)
        if micros >= 1_000_000:
            second += 1
            micros -= 1_000_000
        elif micros < 0:
            second -= 1
            micros += 1_000_000
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = micros // 1000
        text = self._second_text + MILLISECONDS[millis]
        if 0.0 <= at < _CACHED_BEFORE:
            self._ms_from = second + (millis * 1000 + 1) / 1e6
            self._ms_to = second + (millis * 1000 + 999) / 1e6
            self._ms_text = text
        return text

    def build(self, exposures: Iterable[Exposure]) -> RecordBatch:
        """The JSON lines (and, when asked for, the records) of the exposures that are not
        repeats, in order."""
        dedup = self._dedup
        kept = dedup.keep(exposures) if dedup is not None else list(exposures)
        ids = os.urandom(_ID_BYTES * len(kept)).hex()
        lines: list[str] = []
        apply_times: list[str] = []
        add_line = lines.append
        add_time = apply_times.append
        ms_from, ms_to, ms_text = self._ms_from, self._ms_to, self._ms_text
        for index, exposure in enumerate(kept):
            resolution = exposure.resolution
            outcome = resolution._outcome
            template = outcome._exposure_template
            if template is None:
                template = record_template(outcome)
            resolve_id = exposure._resolve_id
            if resolve_id is None:
                start = index * 2 * _ID_BYTES
                resolve_id = exposure._resolve_id = ids[start : start + 2 * _ID_BYTES]
                quoted_id = f'"{resolve_id}"'
            else:
                quoted_id = encode_basestring_ascii(resolve_id)  # given by the caller
            at = exposure.applied_at
            if ms_from <= at < ms_to:  # in the last one's millisecond
                apply_time = ms_text
            else:
                apply_time = ms_text = self._format_time(at)
                ms_from, ms_to = self._ms_from, self._ms_to
            add_time(apply_time)
            unit = resolution._unit
            if resolution._fallthrough:
                add_line(_encode(exposure.to_record(apply_time)))
                continue
            context = exposure.context
            tail = (
                template[3]
                if context is None
                else f'{template[3][:-1]},"context":{_encode(context)}}}'
            )
            add_line(
                f'{{"schema_version":{SCHEMA_VERSION},"type":"exposure",'
                f'"resolve_id":{quoted_id},"apply_time":"{apply_time}",{template[2]}'
                f'"targeting_key":{"null" if unit is None else encode_basestring_ascii(unit)}'
                f"{tail}"
            )
        return RecordBatch._of_exposures(lines, kept, apply_times)
