"""``Client.track``: what it records, what it refuses (never raising), and the allow-lists.

The expected records are written here from the README's statement ("Metric events
(`client.track`)", "The event record"): the unit read at the selector by the targeting
key's rules, the value as given, only allow-listed properties, the time as UTC RFC 3339 with
milliseconds (written here with ``datetime.isoformat``, not flagstone's formatter). Exposure
context attributes (``exposure_context``) are checked the same way against the README's
"The exposure record" section. Every bad input is tried, one at a time: each is refused,
counted under its reason and logged, and nothing raises.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest
from freezegun import freeze_time

import flagstone
from flagstone.sinks import BatchingSink, MemorySink
from tests.sinkdata import SNAPSHOT

EMAIL = "someone@example.com"
T0 = datetime(2026, 11, 23, 15, 9, 0, 888_000, tzinfo=timezone.utc)


def client_with(sink: Any = None, **options: Any) -> tuple[flagstone.Client, MemorySink]:
    memory = MemorySink() if sink is None else sink
    return flagstone.Client.from_dict(SNAPSHOT, sinks=[memory], **options), memory


def rfc3339_ms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- what is recorded ------------------------------------------------------------------------


def test_an_event_is_recorded_with_every_field_as_given() -> None:
    client, sink = client_with()
    with freeze_time(T0):
        client.track("purchase", {"targeting_key": "user-1"}, value=12.5)
    (record,) = sink.tracked
    assert {k: v for k, v in record.items() if k != "event_id"} == {
        "schema_version": 1,
        "type": "event",
        "event": "purchase",
        "unit": "user-1",
        "unit_selector": "targeting_key",
        "value": 12.5,
        "properties": {},
        "time": rfc3339_ms(T0),
        "snapshot_version": "2026-11-23.1",
    }
    assert len(record["event_id"]) == 32 and int(record["event_id"], 16) >= 0
    client.close()


def test_each_track_is_one_event_even_when_identical() -> None:
    client, sink = client_with()
    with freeze_time(T0):
        for _ in range(3):
            client.track("click", {"targeting_key": "user-1"})
    ids = [record["event_id"] for record in sink.tracked]
    assert len(ids) == 3 and len(set(ids)) == 3  # never deduplicated; distinct ids
    client.close()


def test_value_is_optional_and_recorded_as_null() -> None:
    client, sink = client_with()
    client.track("visit", {"targeting_key": "u"})
    assert sink.tracked[0]["value"] is None
    client.close()


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        (3, 3),
        (-0.5, -0.5),
        (0, 0),
        (Decimal("12.50"), 12.5),
        (Fraction(1, 4), 0.25),
        (10**15, 10**15),
    ],
)
def test_finite_numbers_of_any_real_type_are_recorded(given: Any, recorded: Any) -> None:
    client, sink = client_with()
    client.track("purchase", {"targeting_key": "u"}, value=given)
    value = sink.tracked[0]["value"]
    assert value == recorded and type(value) is type(recorded)
    client.close()


@pytest.mark.parametrize(
    ("context", "unit"),
    [
        ({"targeting_key": "user-1"}, "user-1"),
        ({"targeting_key": 42}, "42"),  # whole numbers are written as integers
        ({"targeting_key": 42.0}, "42"),
        ({"targeting_key": "é-ø"}, "é-ø"),
    ],
)
def test_the_unit_follows_the_targeting_key_rules(context: dict[str, Any], unit: str) -> None:
    client, sink = client_with()
    client.track("visit", context)
    assert [record["unit"] for record in sink.tracked] == [unit]
    client.close()


def test_the_clients_event_unit_selector_reads_a_nested_unit() -> None:
    client, sink = client_with(event_unit_selector="user.id")
    client.track("visit", {"user": {"id": "u-9"}, "targeting_key": "other"})
    (record,) = sink.tracked
    assert (record["unit"], record["unit_selector"]) == ("u-9", "user.id")
    client.close()


def test_a_per_call_unit_selector_wins_over_the_clients() -> None:
    client, sink = client_with(event_unit_selector="user.id")
    client.track("visit", {"account": "a-1", "user": {"id": "u"}}, unit_selector="account")
    (record,) = sink.tracked
    assert (record["unit"], record["unit_selector"]) == ("a-1", "account")
    client.close()


def test_events_join_the_exposures_of_the_same_unit() -> None:
    """The sink snapshot's rule hashes ``user.id``: with that selector an event's unit is the
    exposure's targeting key."""
    client, sink = client_with(event_unit_selector="user.id")
    context = {"user": {"id": "user-5"}}
    client.evaluate("checkout", context)
    client.track("purchase", context, value=1)
    (exposure,) = sink.events
    (event,) = sink.tracked
    assert event["unit"] == exposure["targeting_key"] == "user-5"
    assert event["unit_selector"] == exposure["targeting_key_selector"] == "user.id"
    assert [record["type"] for record in sink.records] == ["exposure", "event"]
    client.close()


def test_a_mapping_that_is_not_a_dict_is_a_context_too() -> None:
    from types import MappingProxyType

    client, sink = client_with()
    client.track("visit", MappingProxyType({"targeting_key": "u"}))
    assert [record["unit"] for record in sink.tracked] == ["u"]
    client.close()


def test_snapshot_version_is_the_one_being_served() -> None:
    client, sink = client_with()
    client.track("visit", {"targeting_key": "u"})
    client.install(flagstone.formats.parse_snapshot({**SNAPSHOT, "version": "v2"}))
    client.track("visit", {"targeting_key": "u"})
    assert [record["snapshot_version"] for record in sink.tracked] == ["2026-11-23.1", "v2"]
    client.close()


# -- refused, counted, logged, never raised --------------------------------------------------


class Opaque:
    """Not JSON, not a number."""


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("empty name", {"event": ""}, "invalid_event"),
    ("name not a string", {"event": 42}, "invalid_event"),
    ("name None", {"event": None}, "invalid_event"),
    ("name unhashable", {"event": ["purchase"]}, "invalid_event"),
    ("name too long", {"event": "x" * 257}, "invalid_event"),
    ("name a lone surrogate", {"event": "buy\ud800"}, "invalid_event"),
    ("context a string", {"context": "user-1"}, "invalid_context"),
    ("context a list", {"context": [("targeting_key", "u")]}, "invalid_context"),
    ("context without unit", {"context": {"country": "SE"}}, "no_unit"),
    ("context None", {"context": None}, "no_unit"),
    ("unit a float", {"context": {"targeting_key": 1.5}}, "invalid_unit"),
    ("unit a list", {"context": {"targeting_key": ["u"]}}, "invalid_unit"),
    ("unit too long", {"context": {"targeting_key": "u" * 101}}, "invalid_unit"),
    ("unit a bool", {"context": {"targeting_key": True}}, "invalid_unit"),
    ("selector empty", {"unit_selector": ""}, "invalid_selector"),
    ("selector not a string", {"unit_selector": 3}, "invalid_selector"),
    ("value NaN", {"value": math.nan}, "invalid_value"),
    ("value inf", {"value": math.inf}, "invalid_value"),
    ("value -inf", {"value": -math.inf}, "invalid_value"),
    ("value a string", {"value": "12.5"}, "invalid_value"),
    ("value a bool", {"value": True}, "invalid_value"),
    ("value an object", {"value": Opaque()}, "invalid_value"),
    ("value past a double", {"value": 10**400}, "invalid_value"),
    ("value Decimal NaN", {"value": Decimal("NaN")}, "invalid_value"),
    ("value Decimal huge", {"value": Decimal("1e400")}, "invalid_value"),
    ("properties a list", {"properties": [("currency", "SEK")]}, "invalid_properties"),
    ("properties a string", {"properties": "currency=SEK"}, "invalid_properties"),
    ("property an object", {"properties": {"currency": Opaque()}}, "invalid_properties"),
    ("property NaN", {"properties": {"currency": math.nan}}, "invalid_properties"),
    ("property a set", {"properties": {"currency": {"SEK"}}}, "invalid_properties"),
    ("property non-string key", {"properties": {"currency": {1: "a"}}}, "invalid_properties"),
    ("property nested NaN", {"properties": {"currency": [1, [math.inf]]}}, "invalid_properties"),
    ("property too deep", {"properties": {"currency": [[[[[[[[[1]]]]]]]]]}}, "invalid_properties"),
    ("property lone surrogate", {"properties": {"currency": "\udc00"}}, "invalid_properties"),
]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [(arguments, reason) for _, arguments, reason in BAD_CALLS],
    ids=[name for name, _, _ in BAD_CALLS],
)
def test_bad_input_is_refused_counted_and_logged_never_raised(
    arguments: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, sink = client_with(event_properties=("currency",))
    call: dict[str, Any] = {"event": "purchase", "context": {"targeting_key": "u"}, **arguments}
    event, context = call.pop("event"), call.pop("context")
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        client.track(event, context, **call)  # must not raise
    assert sink.tracked == []
    stats = client.stats()
    assert stats["events_rejected"] == 1
    assert stats[f"events_rejected_{reason}"] == 1
    assert [r.levelno for r in caplog.records if reason in r.getMessage()] == [logging.WARNING]
    # the same client goes on recording good events
    client.track("purchase", {"targeting_key": "u"}, value=1.0)
    assert len(sink.tracked) == 1 and client.stats()["events_rejected"] == 1
    client.close()


def test_rejections_are_counted_by_reason_and_logged_at_a_limited_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = client_with()
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        for _ in range(50):
            client.track("purchase", {"country": "SE"})
        client.track("purchase", {"targeting_key": "u"}, value=math.nan)
    stats = client.stats()
    assert (stats["events_rejected"], stats["events_rejected_no_unit"]) == (51, 50)
    assert stats["events_rejected_invalid_value"] == 1
    assert len([r for r in caplog.records if "no_unit" in r.getMessage()]) == 1
    client.close()


def test_an_internal_failure_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    client, sink = client_with()

    def broken(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(flagstone.client, "MetricEvent", broken)
    client.track("purchase", {"targeting_key": "u"})
    assert client.stats()["events_rejected_internal_error"] == 1
    assert sink.tracked == []
    client.close()


def test_a_sink_whose_emit_event_raises_is_counted_and_the_others_still_get_it() -> None:
    class Raising(MemorySink):
        def emit_event(self, event: Any) -> None:
            raise RuntimeError("broken sink")

    good = MemorySink()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[Raising(), good])
    client.track("purchase", {"targeting_key": "u"})
    assert len(good.tracked) == 1
    assert client.stats()["events_dropped"] == 1
    assert client.flush() is False  # the drop is reported once ...
    assert client.flush() is True  # ... by the next flush
    client.close()


def test_events_after_close_are_dropped_and_counted() -> None:
    client, sink = client_with()
    client.close()
    client.track("purchase", {"targeting_key": "u"})
    assert sink.tracked == []
    assert client.stats()["events_dropped"] == 1
    assert client.stats()["exposures_dropped"] == 0


def test_a_sink_without_emit_event_gets_exposures_only(caplog: pytest.LogCaptureFixture) -> None:
    class ExposuresOnly:
        def __init__(self) -> None:
            self.received: list[Any] = []

        def emit(self, exposure: Any) -> None:
            self.received.append(exposure)

        def flush(self, timeout: float | None = None) -> bool:
            return True

        def close(self) -> None:
            pass

    only = ExposuresOnly()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[only])
    with caplog.at_level(logging.WARNING, logger="flagstone"):
        client.track("purchase", {"targeting_key": "u"})
        client.track("purchase", {"targeting_key": "u"})
    client.evaluate("checkout", {"user": {"id": "u"}})
    assert len(only.received) == 1  # the exposure
    assert len([r for r in caplog.records if "emit_event" in r.getMessage()]) == 1
    assert client.stats()["events_dropped"] == 0  # not a loss: a sink of exposures
    client.close()


def test_exposures_dropped_and_events_dropped_are_told_apart() -> None:
    """A burst that overflows the events' queue shows in ``events_dropped`` only."""
    import threading

    release = threading.Event()

    class Gate(MemorySink):
        def write_batch(self, batch: Any) -> None:
            release.wait(10)
            super().write_batch(batch)

    sink = BatchingSink(Gate(), queue_size=5, event_queue_size=5, max_batch=5, max_latency=0.01)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink], event_unit_selector="user.id")
    for index in range(4):
        client.evaluate("checkout", {"user": {"id": f"u{index}"}})
    for index in range(100):
        client.track("click", {"user": {"id": f"u{index}"}})
    release.set()
    sink.flush(10)
    stats = client.stats()
    assert stats["exposures_dropped"] == 0
    assert stats["events_dropped"] > 0
    assert stats["events_dropped"] == sink.stats()["by_kind"]["event"]["dropped"]
    client.close()


# -- allow-lists: nothing leaks by default ---------------------------------------------------


PERSONAL = {
    "targeting_key": "user-1",
    "email": EMAIL,
    "country": "SE",
    "user": {"id": "user-1", "email": EMAIL, "plan": "pro"},
}


def test_by_default_neither_exposures_nor_events_record_the_context_or_properties() -> None:
    sink = MemorySink()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    client.evaluate("checkout", PERSONAL)
    client.evaluate_all(PERSONAL)
    client.get_value("checkout.layout", PERSONAL, default="x")
    client.track("purchase", PERSONAL, value=3, properties={"email": EMAIL, "currency": "SEK"})
    client.close()
    written = json.dumps(sink.records)
    assert len(sink.events) == 1 and len(sink.tracked) == 1
    assert EMAIL not in written and "SE" not in written and "SEK" not in written
    assert all("context" not in record for record in sink.events)
    assert sink.tracked[0]["properties"] == {}


def test_only_allow_listed_properties_are_recorded() -> None:
    client, sink = client_with(event_properties=("currency", "items", "plan"))
    properties = {"currency": "SEK", "email": EMAIL, "items": [1, {"sku": "a"}], "x": Opaque()}
    client.track("purchase", {"targeting_key": "u"}, properties=properties)
    assert sink.tracked[0]["properties"] == {"currency": "SEK", "items": [1, {"sku": "a"}]}
    assert EMAIL not in json.dumps(sink.records)
    client.close()


def test_recorded_properties_are_a_copy_taken_when_tracked() -> None:
    client, sink = client_with(event_properties=("items",))
    items = [1, {"sku": "a"}]
    client.track("purchase", {"targeting_key": "u"}, properties={"items": items})
    items.append(2)
    items[1]["sku"] = "changed"  # type: ignore[index]
    assert sink.tracked[0]["properties"] == {"items": [1, {"sku": "a"}]}
    client.close()


def test_properties_not_allow_listed_are_noted_once_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = client_with()
    with caplog.at_level(logging.INFO, logger="flagstone"):
        for _ in range(3):
            client.track("purchase", {"targeting_key": "u"}, properties={"currency": "SEK"})
    notes = [r for r in caplog.records if "'currency'" in r.getMessage()]
    assert [r.levelno for r in notes] == [logging.INFO]
    client.close()


def test_exposure_context_records_only_the_allow_listed_attributes() -> None:
    client, sink = client_with(exposure_context=("country", "user.plan", "missing", "user.email"))
    client.evaluate("checkout", {**PERSONAL, "user": {"id": "u", "plan": "pro"}})
    (record,) = sink.events
    assert record["context"] == {"country": "SE", "user": {"plan": "pro"}}
    assert list(record)[-1] == "context"  # the last field
    assert EMAIL not in json.dumps(record)
    client.close()


def test_exposure_context_leaves_out_values_that_are_not_scalars() -> None:
    client, sink = client_with(exposure_context=("tags", "n", "flag", "x", "nan", "user"))
    context = {
        "user": {"id": "u"},
        "tags": ["a"],
        "n": 3,
        "flag": True,
        "x": Opaque(),
        "nan": math.nan,
    }
    client.evaluate("checkout", context)
    assert sink.events[0]["context"] == {"n": 3, "flag": True}
    client.close()


def test_exposure_context_is_empty_when_the_context_has_none_of_them() -> None:
    client, sink = client_with(exposure_context=("country",))
    client.evaluate("checkout", {"user": {"id": "u"}})
    assert sink.events[0]["context"] == {}
    client.close()


def test_exposure_context_of_evaluate_all_get_value_and_a_deferred_apply() -> None:
    client, sink = client_with(exposure_context=("country",))
    client.evaluate_all({"user": {"id": "a"}, "country": "SE"})
    client.get_value("checkout.layout", {"user": {"id": "b"}, "country": "NO"}, default="x")
    deferred = client.evaluate("checkout", {"user": {"id": "c"}, "country": "DK"}, apply=False)
    client.apply(deferred, {"user": {"id": "c"}, "country": "DK"})
    later = client.evaluate("checkout", {"user": {"id": "d"}, "country": "FI"}, apply=False)
    client.apply(later)  # without its context: recorded without attributes
    assert [(r["targeting_key"], r["context"]) for r in sink.events] == [
        ("a", {"country": "SE"}),
        ("b", {"country": "NO"}),
        ("c", {"country": "DK"}),
        ("d", {}),
    ]
    client.close()


def test_exposure_context_of_a_context_that_is_a_mapping_but_not_a_dict() -> None:
    # evaluate and get_value resolve such a context as the dict it converts to, and record
    # its attributes from that dict (get_value once failed to record any exposure)
    client, sink = client_with(exposure_context=("country",))
    client.evaluate("checkout", MappingProxyType({"user": {"id": "a"}, "country": "SE"}))
    client.get_value("checkout.layout", MappingProxyType({"user": {"id": "b"}, "country": "NO"}))
    client.get_value("checkout.layout", {"user": {"id": "c"}, "country": "DK"}, default="x")
    assert [(r["targeting_key"], r["context"]) for r in sink.events] == [
        ("a", {"country": "SE"}),
        ("b", {"country": "NO"}),
        ("c", {"country": "DK"}),
    ]
    client.close()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"exposure_context": "country"}, TypeError),
        ({"event_properties": "currency"}, TypeError),
        ({"exposure_context": ["country", ""]}, ValueError),
        ({"event_properties": [3]}, ValueError),
        ({"event_unit_selector": ""}, ValueError),
    ],
)
def test_bad_options_are_refused_when_the_client_is_built(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        flagstone.Client.from_dict(SNAPSHOT, **options)


def test_every_constructor_takes_the_recording_options(tmp_path: Any) -> None:
    from flagstone.sources import FunctionSource
    from flagstone.transport import MockTransport, Response

    path = tmp_path / "flags.json"
    path.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    body = json.dumps(SNAPSHOT).encode()
    options: dict[str, Any] = {
        "exposure_context": ("country",),
        "event_properties": ("currency",),
        "event_unit_selector": "user.id",
    }
    sinks = [MemorySink() for _ in range(5)]
    clients = [
        flagstone.Client.from_dict(SNAPSHOT, sinks=[sinks[0]], **options),
        flagstone.Client.from_file(path, sinks=[sinks[1]], **options),
        flagstone.Client.from_file(path, watch=True, sinks=[sinks[2]], **options),
        flagstone.Client.from_url(
            "https://flags.test/s.json",
            transport=MockTransport(lambda request: Response(200, body=body)),
            sinks=[sinks[3]],
            **options,
        ),
        flagstone.Client.from_source(
            FunctionSource(lambda: body), wait=True, sinks=[sinks[4]], **options
        ),
    ]
    for client, sink in zip(clients, sinks, strict=True):
        assert client.wait_until_ready(10)
        context = {"user": {"id": "u"}, "country": "SE"}
        client.evaluate("checkout", context)
        client.track("purchase", context, properties={"currency": "SEK", "x": 1})
        client.close()
        (exposure,) = sink.events
        (event,) = sink.tracked
        assert exposure["context"] == {"country": "SE"}
        assert (event["unit"], event["properties"]) == ("u", {"currency": "SEK"})


# -- hostile arguments: never raised either --------------------------------------------------


class Hostile(str):
    """A ``str`` subclass whose own methods all raise (flagstone must use ``str``'s)."""

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hostile")

    __hash__ = _raise  # type: ignore[assignment]
    __eq__ = _raise  # type: ignore[assignment]
    __len__ = _raise  # type: ignore[assignment]
    __repr__ = _raise  # type: ignore[assignment]
    __str__ = _raise  # type: ignore[assignment]
    isascii = _raise  # type: ignore[assignment]
    encode = _raise  # type: ignore[assignment]


class HostileMapping(Mapping[str, Any]):
    """A mapping none of whose methods can be used."""

    def __init__(self, **items: Any) -> None:
        pass

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hostile")

    __iter__ = _raise
    __getitem__ = _raise
    __contains__ = _raise
    __len__ = _raise
    get = _raise


class HostileDict(dict):  # type: ignore[type-arg]
    """A dict whose ``get`` (what context paths read with) raises."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hostile")


class RaisingClass:
    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise RuntimeError("hostile")

    def __repr__(self) -> str:
        raise RuntimeError("hostile")


def test_a_str_subclass_whose_methods_raise_is_read_with_strs_own() -> None:
    client, sink = client_with(event_properties=("currency",), exposure_context=("country",))
    context = {"targeting_key": "u", "country": Hostile("SE")}
    client.track(Hostile("purchase"), context, properties={"currency": Hostile("SEK")})
    client.track("visit", {"account": "a"}, unit_selector=Hostile("account"))
    client.evaluate("checkout", {"user": {"id": "u"}, "country": Hostile("SE")})
    first, second = sink.tracked
    assert (first["event"], first["properties"]) == ("purchase", {"currency": "SEK"})
    assert type(first["event"]) is str and type(first["properties"]["currency"]) is str
    assert (second["unit"], second["unit_selector"]) == ("a", "account")
    assert sink.events[0]["context"] == {"country": "SE"}
    assert client.stats()["events_rejected"] == 0
    client.close()


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"context": HostileMapping(targeting_key="u")}, "invalid_context"),
        ({"properties": HostileMapping(currency="SEK")}, "invalid_properties"),
        ({"value": RaisingClass()}, "invalid_value"),
        ({"event": RaisingClass()}, "invalid_event"),
        ({"unit_selector": RaisingClass()}, "invalid_selector"),
    ],
    ids=["context", "properties", "value", "event", "selector"],
)
def test_hostile_objects_are_refused_and_counted(arguments: dict[str, Any], reason: str) -> None:
    client, sink = client_with(event_properties=("currency",))
    call: dict[str, Any] = {"event": "purchase", "context": {"targeting_key": "u"}, **arguments}
    client.track(call.pop("event"), call.pop("context"), **call)
    assert sink.tracked == []
    assert client.stats()[f"events_rejected_{reason}"] == 1
    client.close()


def test_a_hostile_context_attribute_is_left_out_of_the_exposure() -> None:
    client, sink = client_with(exposure_context=("country", "device.os"))
    context = {"user": {"id": "u"}, "country": RaisingClass(), "device": HostileDict(os="x")}
    resolution = client.evaluate("checkout", context)
    assert resolution.variant == "new-checkout"
    assert sink.events[0]["context"] == {}
    client.close()
