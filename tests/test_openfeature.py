"""``flagstone.openfeature.FlagstoneProvider``: every mapping from a flagstone resolution to
an OpenFeature one (reasons, error codes, types, variant, metadata, context), exposures,
status and events, tracking, and the install hint without the extra.

Expected values are written here from the mapping's statement (README, "OpenFeature"), and
compared with what ``client.evaluate`` says for the same flag and context.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

pytest.importorskip("openfeature", reason="the openfeature extra is not installed")

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode as OFError
from openfeature.exception import ProviderNotReadyError
from openfeature.flag_evaluation import Reason as OFReason
from openfeature.provider import ProviderStatus
from openfeature.track import TrackingEventDetails

import flagstone
from flagstone.formats import parse_snapshot
from flagstone.openfeature import ERROR_CODES, REASONS, FlagstoneProvider
from flagstone.sources import FunctionSource
from tests import builders as b

VALUE = {
    "layout": "grid",
    "enabled": True,
    "count": 3,
    "ratio": 2.5,
    "nested": {"depth": {"leaf": "deep"}},
    "items": [1, 2],
    "nothing": None,
}

SNAPSHOT = b.snapshot(
    b.flag(
        "checkout",
        {"classic": {**VALUE, "layout": "classic"}, "new": VALUE},
        [b.everyone_gets("flags/checkout/rules/sweden", "new", segment="sweden")],
    ),
    b.flag("banner", {"off": {"shown": False}, "on": {"shown": True}}),
    b.flag(
        "old",
        {"on": {"shown": True}},
        [b.everyone_gets("flags/old/rules/all", "on")],
        state="ARCHIVED",
    ),
    b.flag(
        "quiet",
        {"on": {"shown": True}},
        [b.everyone_gets("flags/quiet/rules/all", None, kind="clientDefault")],
    ),
    b.flag(
        "passing",
        {"on": {"shown": True}},
        [b.everyone_gets("flags/passing/rules/all", None, kind="fallthrough")],
    ),
    b.flag(
        "sticky",
        {"on": {"shown": True}},
        [
            b.rule(
                "flags/sticky/rules/all",
                [b.assignment("all", "on")],
                bucket_count=1,
                materialization={"readMaterialization": "m", "writeMaterialization": "m"},
            )
        ],
    ),
    b.flag(
        "launch",
        {"on": {"shown": True}},
        [
            b.everyone_gets(
                "flags/launch/rules/timed", "on", segment="after-launch", selector="user.id"
            )
        ],
    ),
    segments=[
        b.segment(),
        b.segment("sweden", targeting=b.attribute_is("country", b.string("SE"))),
        b.segment(
            "after-launch",
            targeting=b.targeting(
                {
                    "t": b.attribute(
                        "seen_at", b.between(startInclusive=b.timestamp("2026-01-01T00:00:00Z"))
                    )
                },
                b.ref("t"),
            ),
        ),
    ],
    abtests=[
        b.abtest(
            "banner-test",
            flag="banner",
            weights=[("off", 5000), ("on", 5000)],
            overrides={"vip": "on"},
        )
    ],
    version="v1",
)
SE = EvaluationContext("user-1", {"country": "SE"})


@pytest.fixture
def sink() -> flagstone.sinks.MemorySink:
    return flagstone.sinks.MemorySink(dedup=False)


@pytest.fixture
def client(sink: flagstone.sinks.MemorySink) -> Iterator[flagstone.Client]:
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    yield client
    client.close()


@pytest.fixture
def provider(client: flagstone.Client) -> Iterator[FlagstoneProvider]:
    provider = FlagstoneProvider(client, status_interval=0.02)
    yield provider
    provider.shutdown()


@pytest.fixture
def sdk() -> Iterator[None]:
    """The SDK's process-wide registry, cleared after the test."""
    yield
    api.clear_providers()


# -- reasons ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "context", "reason", "variant", "value"),
    [
        pytest.param("checkout.layout", SE, OFReason.TARGETING_MATCH, "new", "grid", id="match"),
        pytest.param(
            "checkout.layout",
            EvaluationContext("u", {"country": "NO"}),
            OFReason.DEFAULT,
            None,
            "fallback",
            id="no-segment-match",
        ),
        pytest.param("old.shown", None, OFReason.DISABLED, None, "fallback", id="archived"),
        pytest.param(
            "quiet.shown",
            EvaluationContext("u"),
            OFReason.DEFAULT,
            None,
            "fallback",
            id="client-default",
        ),
        pytest.param(
            "banner.shown",
            EvaluationContext("vip"),
            OFReason.STATIC,
            "on",
            True,
            id="treatment-override",
        ),
    ],
)
def test_reasons(
    provider: FlagstoneProvider,
    client: flagstone.Client,
    flag: str,
    context: EvaluationContext | None,
    reason: OFReason,
    variant: str | None,
    value: Any,
) -> None:
    fallback: Any = "fallback"
    if isinstance(value, bool):
        details = provider.resolve_boolean_details(flag, False, context)
    else:
        details = provider.resolve_string_details(flag, fallback, context)
    assert (details.reason, details.variant, details.value) == (reason, variant, value)
    assert details.error_code is None


def test_an_ab_test_rule_is_a_split(provider: FlagstoneProvider, client: flagstone.Client) -> None:
    for unit in (f"user-{index}" for index in range(40)):
        details = provider.resolve_boolean_details("banner.shown", False, EvaluationContext(unit))
        resolution = client.evaluate("banner", {"targeting_key": unit}, apply=False)
        assert resolution.abtest is not None
        assert details.reason == OFReason.SPLIT
        assert details.value is (resolution.variant == "on")


def test_a_test_override_is_static(provider: FlagstoneProvider) -> None:
    with flagstone.testing.override("checkout", "classic"):
        details = provider.resolve_string_details("checkout.layout", "x", EvaluationContext("u"))
    assert (details.reason, details.variant, details.value) == (
        OFReason.STATIC,
        "classic",
        "classic",
    )
    assert details.flag_metadata["override"] is True


def test_the_reason_table() -> None:
    """As the README states it: errors apart, four reasons map one to one."""
    assert dict(REASONS) == {
        flagstone.Reason.MATCH: OFReason.TARGETING_MATCH,
        flagstone.Reason.NO_SEGMENT_MATCH: OFReason.DEFAULT,
        flagstone.Reason.FLAG_ARCHIVED: OFReason.DISABLED,
        flagstone.Reason.OVERRIDE: OFReason.STATIC,
    }


# -- error codes ------------------------------------------------------------------------------


def test_the_error_code_table() -> None:
    assert dict(ERROR_CODES) == {
        flagstone.ErrorCode.NOT_READY: OFError.PROVIDER_NOT_READY,
        flagstone.ErrorCode.FLAG_NOT_FOUND: OFError.FLAG_NOT_FOUND,
        flagstone.ErrorCode.TYPE_MISMATCH: OFError.TYPE_MISMATCH,
        flagstone.ErrorCode.TARGETING_KEY_ERROR: OFError.INVALID_CONTEXT,
        flagstone.ErrorCode.INVALID_CONTEXT: OFError.INVALID_CONTEXT,
        flagstone.ErrorCode.GENERAL: OFError.GENERAL,
    }
    assert set(ERROR_CODES) == set(flagstone.ErrorCode)


@pytest.mark.parametrize(
    ("flag", "context", "code", "message"),
    [
        pytest.param(
            "nope.layout", SE, OFError.FLAG_NOT_FOUND, "flag nope not found", id="unknown-flag"
        ),
        pytest.param(
            "checkout.colour", SE, OFError.FLAG_NOT_FOUND, "no field 'colour'", id="no-such-field"
        ),
        pytest.param(
            "checkout.layout.first",
            SE,
            OFError.FLAG_NOT_FOUND,
            "no field 'layout.first'",
            id="field-of-a-string",
        ),
        pytest.param(
            "banner.shown",
            EvaluationContext("x" * 101),
            OFError.INVALID_CONTEXT,
            "targeting key",
            id="targeting-key-too-long",
        ),
        pytest.param(
            "sticky.shown", EvaluationContext("u"), OFError.GENERAL, "materialization", id="general"
        ),
        pytest.param(
            "checkout.count", SE, OFError.TYPE_MISMATCH, "is an integer", id="type-mismatch"
        ),
    ],
)
def test_error_codes(
    provider: FlagstoneProvider,
    sink: flagstone.sinks.MemorySink,
    flag: str,
    context: EvaluationContext,
    code: OFError,
    message: str,
) -> None:
    details = provider.resolve_string_details(flag, "fallback", context)
    assert (details.value, details.reason, details.error_code) == ("fallback", OFReason.ERROR, code)
    assert details.error_message is not None and message in details.error_message
    assert sink.exposures == []  # nothing the user sees


def test_not_ready(sdk: None) -> None:
    client = flagstone.Client.from_source(FunctionSource(lambda: None), refresh_interval=3600)
    provider = FlagstoneProvider(client, initialization_timeout=0.05)
    details = provider.resolve_boolean_details("banner.shown", True, None)
    assert (details.value, details.reason, details.error_code) == (
        True,
        OFReason.ERROR,
        OFError.PROVIDER_NOT_READY,
    )
    with pytest.raises(ProviderNotReadyError, match="no snapshot from"):
        api.set_provider_and_wait(provider)
    assert api.get_client().get_provider_status() == ProviderStatus.ERROR
    client.close()


# -- types and values -------------------------------------------------------------------------

FIELDS = ["layout", "enabled", "count", "ratio", "nested", "items", "nothing"]
ACCEPTED = {
    # the OpenFeature type → the fields of VALUE it hands out, and as what
    "boolean": {"enabled": True},
    "string": {"layout": "grid"},
    "integer": {"count": 3},
    "float": {"count": 3.0, "ratio": 2.5},
    "object": {"nested": {"depth": {"leaf": "deep"}}, "items": [1, 2]},
}
DEFAULTS: dict[str, Any] = {
    "boolean": False,
    "string": "d",
    "integer": -1,
    "float": -1.0,
    "object": {"d": 1},
}


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
@pytest.mark.parametrize("field_name", FIELDS)
def test_types(provider: FlagstoneProvider, kind: str, field_name: str) -> None:
    resolve = getattr(provider, f"resolve_{kind}_details")
    details = resolve(f"checkout.{field_name}", DEFAULTS[kind], SE)
    if field_name in ACCEPTED[kind]:
        expected = ACCEPTED[kind][field_name]
        assert details.error_code is None
        assert details.value == expected
        assert isinstance(details.value, type(expected))  # objects: read-only dict and list
        assert (details.variant, details.reason) == ("new", OFReason.TARGETING_MATCH)
    else:
        assert (details.error_code, details.reason) == (OFError.TYPE_MISMATCH, OFReason.ERROR)
        assert details.value == DEFAULTS[kind]
        assert details.variant is None


def test_the_whole_value_and_a_deep_field(provider: FlagstoneProvider) -> None:
    whole = provider.resolve_object_details("checkout", {}, SE)
    assert whole.value == VALUE
    with pytest.raises(TypeError):
        whole.value["layout"] = "changed"  # type: ignore[index]  # shared with other resolutions
    deep = provider.resolve_string_details("checkout.nested.depth.leaf", "d", SE)
    assert deep.value == "deep"


def test_async_resolution_is_the_same(provider: FlagstoneProvider) -> None:
    details = asyncio.run(provider.resolve_integer_details_async("checkout.count", 0, SE))
    assert (details.value, details.variant) == (3, "new")


# -- context and metadata ---------------------------------------------------------------------


def test_the_targeting_key_decides_the_bucket(
    provider: FlagstoneProvider, client: flagstone.Client
) -> None:
    """The OpenFeature targeting key is what flagstone buckets: the A/B test's variant per
    unit is the one client.evaluate gives with ``targeting_key``, and both variants occur."""
    seen = set()
    for unit in (f"user-{index}" for index in range(60)):
        details = provider.resolve_object_details("banner", {}, EvaluationContext(unit))
        expected = client.evaluate("banner", {"targeting_key": unit}, apply=False)
        assert details.variant == expected.variant
        seen.add(details.variant)
    assert seen == {"off", "on"}


def test_the_targeting_key_wins_over_an_attribute_of_that_name(
    provider: FlagstoneProvider, client: flagstone.Client
) -> None:
    context = EvaluationContext("user-7", {"targeting_key": "someone-else"})
    details = provider.resolve_object_details("banner", {}, context)
    assert details.variant == client.evaluate("banner", {"targeting_key": "user-7"}).variant


def test_datetimes_and_nested_attributes(provider: FlagstoneProvider) -> None:
    """A datetime attribute reaches a timestamp rule (naive ones are UTC); nested mappings
    reach a selector path (``user.id``)."""
    launch = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cases = [
        (launch, True),
        (launch - timedelta(seconds=1), False),
        (datetime(2026, 1, 1, 1, 0), True),  # naive: UTC
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), False),  # 23:30 UTC
    ]
    for seen_at, shown in cases:
        context = EvaluationContext(attributes={"seen_at": seen_at, "user": {"id": "u-1"}})
        details = provider.resolve_boolean_details("launch.shown", False, context)
        assert details.value is shown, seen_at


def test_metadata(provider: FlagstoneProvider, client: flagstone.Client) -> None:
    details = provider.resolve_boolean_details("banner.shown", False, EvaluationContext("u-3"))
    resolution = client.evaluate("banner", {"targeting_key": "u-3"}, apply=False)
    assert dict(details.flag_metadata) == {
        "reason": "RESOLVE_REASON_MATCH",
        "rule": resolution.rule,
        "segment": resolution.segment,
        "assignment_id": resolution.assignment_id,
        "abtest": "workflows/abtest/instances/banner-test",
        "snapshot_version": "v1",
    }
    assert resolution.rule and resolution.segment and resolution.assignment_id
    with pytest.raises(TypeError):
        details.flag_metadata["rule"] = "x"  # type: ignore[index]
    missing = provider.resolve_boolean_details("nope", False, None)
    assert dict(missing.flag_metadata) == {
        "reason": "RESOLVE_REASON_FLAG_NOT_FOUND",
        "snapshot_version": "v1",
    }


# -- exposures --------------------------------------------------------------------------------


def _recorded(sink: flagstone.sinks.MemorySink) -> list[tuple[Any, ...]]:
    return [
        (r.flag, r.variant, r.rule, r.assignment_id, r.targeting_key, r.fallthrough, r.abtest)
        for r in (exposure.resolution for exposure in sink.exposures)
    ]


@pytest.mark.parametrize(
    ("key", "kind", "context", "recorded"),
    [
        pytest.param("checkout.layout", "string", SE, True, id="value-handed-out"),
        pytest.param("checkout", "object", SE, True, id="whole-value"),
        pytest.param("checkout.count", "string", SE, False, id="type-mismatch"),
        pytest.param("checkout.colour", "string", SE, False, id="missing-field"),
        pytest.param(
            "checkout.layout",
            "string",
            EvaluationContext("u", {"country": "NO"}),
            False,
            id="no-match",
        ),
        pytest.param("passing.shown", "boolean", EvaluationContext("u"), True, id="fall-through"),
        pytest.param("banner.shown", "boolean", EvaluationContext("u-5"), True, id="ab-test"),
    ],
)
def test_exposures_as_evaluate_records_them(
    provider: FlagstoneProvider,
    sink: flagstone.sinks.MemorySink,
    key: str,
    kind: str,
    context: EvaluationContext,
    recorded: bool,
) -> None:
    """A resolution whose value is handed out (or that gives none) is recorded as
    ``client.evaluate(..., apply=True)`` records it; a type mismatch or a missing field is
    not (the user does not see the variant)."""
    getattr(provider, f"resolve_{kind}_details")(key, DEFAULTS[kind], context)
    reference_sink = flagstone.sinks.MemorySink(dedup=False)
    reference = flagstone.Client.from_dict(SNAPSHOT, sinks=[reference_sink])
    reference.evaluate(
        key.partition(".")[0], {"targeting_key": context.targeting_key, **context.attributes}
    )
    expected = _recorded(reference_sink)
    assert expected or not recorded  # the reference records what the case claims it does
    assert _recorded(sink) == (expected if recorded else [])
    reference.close()


# -- status and events ------------------------------------------------------------------------


class Events:
    """Collects the provider's events as the SDK hands them to handlers."""

    def __init__(self) -> None:
        self.received: list[tuple[ProviderEvent, EventDetails]] = []
        self._lock = threading.Lock()
        self._handlers = []
        for event in ProviderEvent:
            handler = self._handler(event)
            api.add_handler(event, handler)
            self._handlers.append((event, handler))

    def _handler(self, event: ProviderEvent) -> Callable[[EventDetails], None]:
        def handle(details: EventDetails) -> None:
            if details.provider_name == "flagstone":
                with self._lock:
                    self.received.append((event, details))

        return handle

    def kinds(self) -> list[ProviderEvent]:
        with self._lock:
            return [event for event, _ in self.received]

    def wait_for(self, kinds: list[ProviderEvent], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.kinds() != kinds:
            assert time.monotonic() < deadline, f"events {self.kinds()}, waited for {kinds}"
            time.sleep(0.01)

    def close(self) -> None:
        for event, handler in self._handlers:
            api.remove_handler(event, handler)


@pytest.fixture
def events(sdk: None) -> Iterator[Events]:
    events = Events()
    yield events
    events.close()


class Store:
    """What a source function serves: a document, nothing new, or a failure."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.body = None if document is None else json.dumps(document).encode()
        self.fails = False

    def __call__(self) -> bytes | None:
        if self.fails:
            raise OSError("the store is unreachable")
        return self.body

    def serve(self, document: dict[str, Any]) -> None:
        self.body = json.dumps(document).encode()


def _second_version() -> dict[str, Any]:
    document = json.loads(json.dumps(SNAPSHOT))
    document["version"] = "v2"
    del document["flags"]["flags/quiet"]
    document["flags"]["flags/fresh"] = b.flag("fresh", {"on": {"shown": True}})
    return document


def test_ready_then_configuration_changed(events: Events, client: flagstone.Client) -> None:
    provider = FlagstoneProvider(client, status_interval=0.02)
    api.set_provider_and_wait(provider)
    events.wait_for([ProviderEvent.PROVIDER_READY])
    time.sleep(0.05)  # past the first look at the status
    client.install(parse_snapshot(_second_version()))
    events.wait_for([ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_CONFIGURATION_CHANGED])
    _, details = events.received[-1]
    # every flag the client saw before or sees now (archived ones it never sees)
    old = {
        name.removeprefix("flags/")
        for name, flag in SNAPSHOT["flags"].items()
        if flag.get("state") != "ARCHIVED"
    }
    assert "quiet" in old and "old" not in old
    assert details.flags_changed == sorted(old | {"fresh"})
    assert details.metadata["snapshot_version"] == "v2"
    assert provider.status == ProviderStatus.READY


def test_stale_while_refreshing_fails_then_ready_again(events: Events) -> None:
    store = Store(SNAPSHOT)
    client = flagstone.Client.from_source(FunctionSource(store), refresh_interval=0.02, wait=True)
    provider = FlagstoneProvider(client, status_interval=0.02)
    api.set_provider_and_wait(provider)
    store.fails = True
    events.wait_for([ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_STALE])
    assert api.get_client().get_provider_status() == ProviderStatus.STALE
    assert "unreachable" in (events.received[-1][1].message or "")
    # still serving the last good snapshot
    assert (
        api.get_client().get_boolean_value("banner.shown", True, EvaluationContext("vip")) is True
    )
    store.fails = False  # the same document again: nothing new, but the refresh works
    events.wait_for(
        [ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_STALE, ProviderEvent.PROVIDER_READY]
    )
    store.fails = True
    events.wait_for([*events.kinds()[:3], ProviderEvent.PROVIDER_STALE])
    store.fails = False
    store.serve(_second_version())  # a new snapshot ends the staleness and changes flags
    events.wait_for(
        [
            *events.kinds()[:4],
            ProviderEvent.PROVIDER_READY,
            ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
        ]
    )
    assert api.get_client().get_provider_status() == ProviderStatus.READY
    client.close()


def test_error_until_the_first_snapshot_then_ready(events: Events) -> None:
    store = Store()
    store.fails = True
    client = flagstone.Client.from_source(FunctionSource(store), refresh_interval=0.02)
    provider = FlagstoneProvider(client, initialization_timeout=0.1, status_interval=0.02)
    with pytest.raises(ProviderNotReadyError, match="unreachable"):
        api.set_provider_and_wait(provider)
    events.wait_for([ProviderEvent.PROVIDER_ERROR])
    assert events.received[0][1].error_code == OFError.PROVIDER_NOT_READY
    store.fails = False
    store.serve(SNAPSHOT)
    events.wait_for([ProviderEvent.PROVIDER_ERROR, ProviderEvent.PROVIDER_READY])
    assert api.get_client().get_provider_status() == ProviderStatus.READY
    time.sleep(0.1)  # a first snapshot is no configuration change
    assert events.kinds() == [ProviderEvent.PROVIDER_ERROR, ProviderEvent.PROVIDER_READY]
    client.close()


def test_initialize_waits_for_the_first_snapshot(sdk: None) -> None:
    store = Store()
    client = flagstone.Client.from_source(FunctionSource(store), refresh_interval=0.02)
    provider = FlagstoneProvider(client, initialization_timeout=None, status_interval=0.02)
    api.set_provider(provider)
    time.sleep(0.1)
    assert api.get_client().get_provider_status() == ProviderStatus.NOT_READY
    store.serve(SNAPSHOT)
    deadline = time.monotonic() + 5
    while api.get_client().get_provider_status() != ProviderStatus.READY:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client.close()


def test_shutdown_ends_a_wait_and_stops_following(events: Events) -> None:
    store = Store()
    client = flagstone.Client.from_source(FunctionSource(store), refresh_interval=0.02)
    provider = FlagstoneProvider(client, initialization_timeout=None, status_interval=0.02)
    raised: list[Exception] = []

    def initialize() -> None:
        try:
            provider.initialize(EvaluationContext())
        except ProviderNotReadyError as error:
            raised.append(error)

    waiting = threading.Thread(target=initialize)
    waiting.start()
    time.sleep(0.05)
    started = time.monotonic()
    provider.shutdown()
    waiting.join(timeout=2)
    assert not waiting.is_alive() and time.monotonic() - started < 1
    assert len(raised) == 1  # not ready: the SDK drops what a replaced provider reports
    client.install(parse_snapshot(SNAPSHOT))  # after shutdown: no event
    time.sleep(0.1)
    assert events.kinds() == []
    client.close()


def test_shutdown_flushes_the_exposure_sinks(client: flagstone.Client) -> None:
    flushed = []

    class Sink(flagstone.sinks.MemorySink):
        def flush(self, timeout: float | None = None) -> bool:
            flushed.append(timeout)
            return True

    flagstone_client = flagstone.Client.from_dict(SNAPSHOT, sinks=[Sink()])
    provider = FlagstoneProvider(flagstone_client)
    provider.initialize(EvaluationContext())
    provider.shutdown()
    assert len(flushed) == 1 and 4.0 < flushed[0] <= 5.0  # within 5 s in all
    flagstone_client.close()


# -- tracking ---------------------------------------------------------------------------------


class TrackingClient(flagstone.Client):
    """A client with ``track(event, context, *, value=None, properties=None)`` (the shape
    ``Client.track`` is being given) that records its calls."""

    calls: list[tuple[str, dict[str, Any], Any, Any]]

    def track(self, event: str, context: Any, *, value: Any = None, properties: Any = None) -> None:
        self.__dict__.setdefault("calls", []).append((event, context, value, properties))


def test_track_maps_to_client_track() -> None:
    client = TrackingClient.from_dict(SNAPSHOT)
    provider = FlagstoneProvider(client)
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    provider.track(
        "purchase",
        EvaluationContext("user-1", {"country": "SE", "at": moment}),
        TrackingEventDetails(value=9.5, attributes={"currency": "SEK", "items": [1, 2]}),
    )
    provider.track("visit", None, None)
    assert client.calls == [  # type: ignore[attr-defined]
        (
            "purchase",
            {"targeting_key": "user-1", "country": "SE", "at": "2026-03-01T12:00:00Z"},
            9.5,
            {"currency": "SEK", "items": [1, 2]},
        ),
        ("visit", {}, None, None),
    ]
    client.close()


def test_provider_track_records_an_event_through_the_clients_sink() -> None:
    """End to end, no stand-in: OpenFeature's ``client.track`` → the provider → the real
    ``Client.track`` → a record in a ``MemorySink``, with the value and the allow-listed
    attribute, and without the one that is not allow-listed."""
    sink = flagstone.sinks.MemorySink()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink], event_properties=("currency",))
    api.set_provider(FlagstoneProvider(client), "tracking-e2e")
    try:
        of_client = api.get_client("tracking-e2e")
        of_client.track(
            "purchase",
            EvaluationContext("user-7", {"email": "someone@example.com"}),
            TrackingEventDetails(value=12.5, attributes={"currency": "SEK", "email": "x@y.z"}),
        )
        of_client.track("visit", EvaluationContext("user-8"))
        records = sink.tracked
        assert [
            (r["type"], r["event"], r["unit"], r["unit_selector"], r["value"], r["properties"])
            for r in records
        ] == [
            ("event", "purchase", "user-7", "targeting_key", 12.5, {"currency": "SEK"}),
            ("event", "visit", "user-8", "targeting_key", None, {}),
        ]
        assert "someone@example.com" not in json.dumps(sink.records)
        assert records[0]["snapshot_version"] == client.snapshot_version
    finally:
        api.clear_providers()
        client.close()


def test_provider_track_of_a_bad_event_is_counted_not_raised() -> None:
    sink = flagstone.sinks.MemorySink()
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    provider = FlagstoneProvider(client)
    provider.track("purchase", EvaluationContext(None), TrackingEventDetails(value=1.0))
    provider.track("", EvaluationContext("u"), None)
    assert sink.tracked == []
    stats = client.stats()
    assert (stats["events_rejected_no_unit"], stats["events_rejected_invalid_event"]) == (1, 1)
    client.close()


# -- without the extra ------------------------------------------------------------------------


def test_importing_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [
        name for name in sys.modules if name == "openfeature" or name.startswith("openfeature.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "flagstone.openfeature")
    monkeypatch.setitem(sys.modules, "openfeature", None)  # what an absent package looks like
    with pytest.raises(
        ModuleNotFoundError, match=r'pip install "flagstone\[openfeature\]"'
    ) as raised:
        importlib.import_module("flagstone.openfeature")
    assert raised.value.name == "openfeature"  # what `python -m flagstone` maps to its extra
