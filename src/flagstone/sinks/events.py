"""Metric events (``Client.track``) and the records they become.

On the request thread an event is only a ``MetricEvent``: the already checked name, unit,
value and allow-listed properties, and a float time. The event id, the time's text and the
JSON line are made where the event is delivered, in the sink (``EventRecordBuilder``), as
for exposures. The record is flat, JSON-ready, with the exposures' ``schema_version``::

    {"schema_version": 1, "type": "event", "event_id": "9c1d…", "event": "purchase",
     "unit": "user-1", "unit_selector": "targeting_key", "value": 12.5,
     "properties": {"currency": "SEK"}, "time": "2026-11-23T15:09:00.888Z",
     "snapshot_version": "2026-11-23.1"}

Events are never deduplicated by the sinks: each ``track`` is one event. ``event_id``
identifies it, for consumers that must drop a record delivered twice (delivery is at least
once, as for exposures).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii
from typing import Any

from .exposure import MILLISECONDS, SCHEMA_VERSION, format_time, split_seconds
from .records import EVENT, EVENT_LINE_PREFIX, RecordBatch

__all__ = ["EventRecordBuilder", "MetricEvent"]

_encode = json.JSONEncoder(separators=(",", ":")).encode

_ID_BYTES = 16


class MetricEvent:
    """One metric event as handed to a sink's ``emit_event``. Build it with
    ``Client.track``, which checks every field; sinks trust them."""

    __slots__ = (
        "_event_id",
        "event",
        "properties",
        "snapshot_version",
        "time",
        "unit",
        "unit_selector",
        "value",
    )

    def __init__(
        self,
        event: str,
        unit: str,
        unit_selector: str,
        value: int | float | None,
        properties: dict[str, Any],
        time: float,
        snapshot_version: str | None,
        event_id: str | None = None,
    ) -> None:
        self.event = event
        self.unit = unit
        self.unit_selector = unit_selector
        self.value = value
        self.properties = properties
        self.time = time
        self.snapshot_version = snapshot_version
        self._event_id = event_id

    @property
    def event_id(self) -> str:
        """32 hex digits identifying the event; made when first asked for (by the sink that
        builds its record), so the request thread never pays for it."""
        if self._event_id is None:
            self._event_id = uuid.uuid4().hex
        return self._event_id

    def to_record(self, time_text: str | None = None) -> dict[str, Any]:
        """The flat, JSON-ready event record (see the module docstring); ``time_text`` is
        ``format_time(self.time)`` unless given already formatted."""
        return {
            "schema_version": SCHEMA_VERSION,
            "type": EVENT,
            "event_id": self.event_id,
            "event": self.event,
            "unit": self.unit,
            "unit_selector": self.unit_selector,
            "value": self.value,
            "properties": dict(self.properties),
            "time": format_time(self.time) if time_text is None else time_text,
            "snapshot_version": self.snapshot_version,
        }

    def __repr__(self) -> str:
        return (
            f"MetricEvent({self.event!r}, unit={self.unit!r}, value={self.value!r}, "
            f"time={self.time!r})"
        )


class EventRecordBuilder:
    """Builds the ``RecordBatch`` (kind ``"event"``) of a batch of ``MetricEvent`` objects:
    event ids, times, JSON lines equal to ``json.dumps(record, separators=(",", ":"))``.
    Nothing is dropped (events are not deduplicated). One per delivery thread."""

    __slots__ = ("_second", "_second_text")

    deduplicated = 0
    """Events dropped as repeats: never any."""

    def __init__(self) -> None:
        self._second: int | None = None  # not -1: that is 1969-12-31T23:59:59
        self._second_text = ""

    def fresh(self) -> EventRecordBuilder:
        return EventRecordBuilder()

    def build(self, events: Iterable[MetricEvent]) -> RecordBatch:
        items = list(events)
        ids = os.urandom(_ID_BYTES * len(items)).hex()
        lines: list[str] = []
        add = lines.append
        for index, event in enumerate(items):
            event_id = event._event_id
            if event_id is None:
                start = index * 2 * _ID_BYTES
                event_id = event._event_id = ids[start : start + 2 * _ID_BYTES]
                quoted_id = f'"{event_id}"'
            else:
                quoted_id = encode_basestring_ascii(event_id)
            second, micros = split_seconds(event.time)
            if second != self._second:
                self._second = second
                self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            value = event.value
            if value is None:
                value_text = "null"
            elif value.__class__ is float:
                value_text = float.__repr__(value)
            else:
                value_text = _encode(value)
            properties = event.properties
            version = event.snapshot_version
            version_text = "null" if version is None else encode_basestring_ascii(version)
            add(
                f'{EVENT_LINE_PREFIX}"event_id":{quoted_id},'
                f'"event":{encode_basestring_ascii(event.event)},'
                f'"unit":{encode_basestring_ascii(event.unit)},'
                f'"unit_selector":{encode_basestring_ascii(event.unit_selector)},'
                f'"value":{value_text},'
                f'"properties":{_encode(properties) if properties else "{}"},'
                f'"time":"{self._second_text}{MILLISECONDS[micros // 1000]}",'
                f'"snapshot_version":{version_text}}}'
            )
        return RecordBatch(lines=lines, kind=EVENT)
