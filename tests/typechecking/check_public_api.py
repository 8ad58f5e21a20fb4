"""Uses flagstone's public API the way an application would, for mypy (strict) to check.

This file is never run; ``mypy`` checks it (``[tool.mypy] files`` in pyproject.toml and
``tests/test_typechecking.py``). ``assert_type`` pins the exact public types, so that a
signature that silently loosens to ``Any`` fails the check; each ``# type: ignore[...]`` marks
a misuse that must stay a type error (strict mode reports an ignore that is no longer needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typing_extensions import assert_type

import flagstone
from flagstone import (
    Client,
    ConfigError,
    ErrorCode,
    FallthroughAssignment,
    FlagstoneError,
    MaterializationRecord,
    MaterializationStore,
    MemoryMaterializationStore,
    OverrideError,
    Problem,
    Reason,
    Resolution,
    UnknownClientError,
    ValueDetails,
)
from flagstone.overrides import OverrideHandle
from flagstone.sinks import (
    BatchingSink,
    CallbackSink,
    EventSink,
    Exposure,
    ExposureSink,
    FanoutSink,
    HttpSink,
    JsonlSink,
    LoggingSink,
    MemorySink,
    PartialDelivery,
    RecordBatch,
    RetryPolicy,
    SinkError,
)


class ListSink:
    """A sink of the application's own: anything with emit, flush and close will do."""

    def __init__(self) -> None:
        self.received: list[Exposure] = []

    def emit(self, exposure: Exposure) -> None:
        self.received.append(exposure)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


def build_clients(document: Mapping[str, Any], directory: Path) -> list[Client]:
    memory = MemorySink()
    records: list[dict[str, Any]] = []
    sinks: list[ExposureSink] = [
        memory,
        JsonlSink(directory / "exposures.jsonl"),
        CallbackSink(records.append),
        ListSink(),
    ]
    store: MaterializationStore = MemoryMaterializationStore()
    from_dict = Client.from_dict(document)
    configured = Client.from_dict(
        document,
        client_secret="secret",
        sinks=sinks,
        materializations=store,
        strict=False,
    )
    from_path = Client.from_file(directory / "flags.json", sinks=[memory])
    from_str = Client.from_file(str(directory / "flags.json"), strict=True)
    assert_type(memory.events, list[dict[str, Any]])
    return [from_dict, configured, from_path, from_str]


def read_resolution(client: Client) -> str:
    resolution = client.evaluate("checkout-flag", {"targeting_key": "user-1", "country": "SE"})
    assert_type(resolution, Resolution)
    assert_type(resolution.flag, str)
    assert_type(resolution.variant, str | None)
    assert_type(resolution.value, Any)
    assert_type(resolution.reason, Reason)
    assert_type(resolution.error, ErrorCode | None)
    assert_type(resolution.error_message, str | None)
    assert_type(resolution.should_apply, bool)
    assert_type(resolution.rule, str | None)
    assert_type(resolution.segment, str | None)
    assert_type(resolution.assignment_id, str | None)
    assert_type(resolution.targeting_key, str | None)
    assert_type(resolution.abtest, str | None)
    assert_type(resolution.override, bool)
    assert_type(resolution.snapshot_version, str | None)
    assert_type(resolution.fallthrough, tuple[FallthroughAssignment, ...])
    assert_type(resolution.to_dict(), dict[str, Any])
    for passed in resolution.fallthrough:
        assert_type(passed.rule, str)
        assert_type(passed.targeting_key, str | None)

    if resolution.reason is Reason.MATCH and resolution.error is None:
        return resolution.variant or "client default"
    if resolution.error is ErrorCode.FLAG_NOT_FOUND:
        return "missing"
    return resolution.reason.value


def evaluate_in_other_ways(client: Client) -> None:
    deferred = client.evaluate("flags/checkout-flag", {"targeting_key": "u"}, apply=False)
    client.apply(deferred)
    assert_type(client.evaluate("checkout-flag"), Resolution)
    assert_type(client.evaluate("checkout-flag", None), Resolution)
    everything = client.evaluate_all({"targeting_key": "u"})
    assert_type(everything, dict[str, Resolution])
    layout = client.get_value("checkout-flag.layout", {"targeting_key": "u"}, default="classic")
    assert_type(layout, Any)
    details = client.get_value_details("checkout-flag.layout", {"targeting_key": "u"}, "classic")
    assert_type(details, ValueDetails)
    assert_type(details.reason, Reason)
    assert_type(details.error, ErrorCode | None)
    assert_type(details.resolution, Resolution)
    assert_type(client.flags, list[str])
    assert_type(client.snapshot_version, str)
    assert_type(client.stats(), dict[str, int])
    assert_type(client.flush(1.0), bool)
    client.close()
    with client as same:
        assert_type(same, Client)

    typed_getters(client)
    test_overrides(client)

    client.evaluate("checkout-flag", {"targeting_key": "u"}, True)  # type: ignore[call-arg]
    client.evaluate_all({"targeting_key": "u"}, False)  # type: ignore[call-arg]
    client.apply("checkout-flag")  # type: ignore[arg-type]


def typed_getters(client: Client) -> None:
    user = {"targeting_key": "u"}
    assert_type(client.get_bool("checkout-flag.enabled", user, False), bool)
    assert_type(client.get_bool("checkout-flag.enabled"), bool)
    assert_type(client.get_str("checkout-flag.layout", user, "classic"), str)
    assert_type(client.get_int("checkout-flag.steps", user, 3), int)
    assert_type(client.get_float("checkout-flag.ratio", user, 0.5), float)
    assert_type(client.get_float("checkout-flag.ratio", user, 1), float)  # an int is a float
    assert_type(client.get_object("checkout-flag", user), dict[str, Any] | None)
    assert_type(client.get_object("checkout-flag", user, {}), dict[str, Any])
    fallback: dict[str, Any] = {"layout": "classic"}
    assert_type(client.get_object("checkout-flag", default=fallback), dict[str, Any])
    assert_type(client.get_str("checkout-flag.layout", user, apply=False), str)
    client.get_bool("checkout-flag.enabled", user, "yes")  # type: ignore[arg-type]
    client.get_int("checkout-flag.steps", user, 2.5)  # type: ignore[arg-type]
    client.get_str("checkout-flag.layout", user, None)  # type: ignore[arg-type]


def test_overrides(client: Client) -> None:
    handle = client.override("checkout-flag", "new-checkout")
    assert_type(handle, OverrideHandle)
    assert_type(handle.undo(), None)
    with client.override("checkout-flag", "new-checkout", units=["u1", "u2"]) as forced:
        assert_type(forced, OverrideHandle)
    client.override("checkout-flag", "new-checkout", units="u1").undo()
    client.clear_overrides()
    client.override("checkout-flag", 2)  # type: ignore[arg-type]
    with flagstone.testing.override("checkout-flag", "new-checkout", units="u1"):
        pass
    try:
        flagstone.testing.FlagOverrides().set("checkout-flag", "typo")
    except OverrideError as error:
        assert_type(error.flag, str)
        assert_type(error.variants, tuple[str, ...])


def track_events(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    memory = MemorySink()
    client = Client.from_dict(
        document,
        sinks=[memory, BatchingSink(LoggingSink("app.records"), event_queue_size=1000)],
        exposure_context=("country", "device.os"),
        event_properties=["currency"],
        event_unit_selector="user.id",
    )
    assert_type(client.track("purchase", {"user": {"id": "u"}}), None)
    client.track("purchase", {"user": {"id": "u"}}, value=12.5, properties={"currency": "SEK"})
    client.track("visit", {"account": "a"}, value=3, unit_selector="account")
    client.apply(client.evaluate("checkout-flag", {"targeting_key": "u"}, apply=False), {})
    client.track("purchase", {"targeting_key": "u"}, 12.5)  # type: ignore[call-arg]
    client.track("purchase", {"targeting_key": "u"}, value="12.5")  # type: ignore[arg-type]
    Client.from_dict(document, event_unit_selector=None)  # type: ignore[arg-type]
    stats = memory.stats()
    assert_type(stats["by_kind"]["event"]["dropped"], int)
    assert_type(memory.tracked, list[dict[str, Any]])
    assert_type(memory.records, list[dict[str, Any]])
    sink: EventSink = memory
    assert_type(sink, EventSink)
    client.close()
    return memory.tracked


def compare_reasons(resolution: Resolution) -> bool:
    reasons: Sequence[Reason] = [Reason.MATCH, Reason.NO_SEGMENT_MATCH, Reason.OVERRIDE]
    codes: Sequence[ErrorCode] = [ErrorCode.TARGETING_KEY_ERROR, ErrorCode.INVALID_CONTEXT]
    text: str = Reason.MATCH.value
    assert_type(Reason(text), Reason)
    return resolution.reason in reasons or resolution.error in codes


def handle_errors(document: Mapping[str, Any]) -> list[str]:
    try:
        Client.from_dict(document)
    except UnknownClientError:
        return ["unknown client"]
    except ConfigError as error:
        problems = error.problems
        assert_type(problems, tuple[Problem, ...])
        return [f"{problem.path}: {problem.message}" for problem in problems]
    except FlagstoneError:
        return ["other"]
    return []


def use_a_store() -> bool:
    store = MemoryMaterializationStore(
        {
            "user-1": {
                "materializations/m": {
                    "isUnitInMaterialization": True,
                    "ruleToVariant": {"flags/f/rules/r": "on"},
                }
            }
        }
    )
    store.write("user-2", "materializations/m", "flags/f/rules/r", "off")
    record = store.read("user-1", "materializations/m")
    assert_type(record, MaterializationRecord | None)
    return record is not None and record.is_unit_in_materialization


def with_test_overrides(client: Client) -> str | None:
    with flagstone.testing.override("checkout-flag", "new-checkout"):
        forced = client.evaluate("checkout-flag", {"targeting_key": "u"})
    with flagstone.testing.override("checkout-flag", "new-checkout", units=["u1", "u2"]):
        pass
    with flagstone.testing.override("checkout-flag", "new-checkout", units="u1"):
        pass
    return forced.variant


@flagstone.testing.override("checkout-flag", "new-checkout")
def decorated(client: Client, unit: str) -> Resolution:
    return client.evaluate("checkout-flag", {"targeting_key": unit})


def decorated_keeps_its_signature(client: Client) -> None:
    assert_type(decorated(client, "u"), Resolution)
    decorated(client, 1)  # type: ignore[arg-type]


def exposures_in_memory(sink: MemorySink) -> list[str | None]:
    assert_type(sink.exposures, list[Exposure])
    return [exposure.resolution.variant for exposure in sink.exposures]


class ListWriter:
    """A user's own destination: anything with write_batch and close is a BatchWriter."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write_batch(self, batch: RecordBatch) -> None:
        if not batch:
            raise SinkError("nothing to write")
        self.records.extend(batch.records)

    def close(self) -> None:
        pass


def delivery(path: str) -> bool:
    exposures = BatchingSink(
        JsonlSink(path, max_bytes=1 << 20, rotate_every=3600.0, keep=3, fsync=1.5),
        max_batch=100,
        on_full="block",
        retry=RetryPolicy(attempts=3, initial_backoff=0.01),
        spool_dir=path + ".spool",
    )
    BatchingSink(ListWriter(), on_full="drop_newest")
    BatchingSink(HttpSink("https://collector.example/x", headers={"A": "b"}, timeout=(1, 2)))
    BatchingSink(CallbackSink(print, batch=True))
    BatchingSink(MemorySink())
    BatchingSink(LoggingSink("app.exposures"))
    BatchingSink(FanoutSink([MemorySink()]))  # type: ignore[arg-type]  # not a BatchWriter
    JsonlSink(path, fsync="sometimes")  # type: ignore[arg-type]
    stats = exposures.stats()
    assert_type(stats["dropped_by_reason"], dict[str, int])
    assert_type(stats["in_spool"], int)
    client = Client.from_file(path, sinks=[exposures, FanoutSink([MemorySink()])])
    client.close(timeout=1.0)
    assert_type(RetryPolicy().backoff(2), float)
    try:
        raise PartialDelivery("half", delivered=3)
    except SinkError as error:
        assert isinstance(error, FlagstoneError)
    return exposures.flush(1.0)


def live(url: str, path: str) -> str | None:
    client = Client.from_url(
        url,
        refresh_interval=10.0,
        headers={"Authorization": "Bearer t"},
        timeout=(1.0, 5.0),
        signing_key="key",
        expected_sha256=None,
        cache_path=path + ".cache",
    )
    Client.from_url(url, timeout=3.0, signing_key=b"key")
    Client.from_file(path, watch=True, poll_interval=0.5, signing_key=b"k")
    Client.from_url(url, refresh_interval="10")  # type: ignore[arg-type]
    ready: bool = client.wait_until_ready(2.0)
    status = client.status()
    assert_type(status, flagstone.sources.SourceStatus)
    assert_type(status.consecutive_failures, int)
    assert_type(status.last_error, str | None)
    remove = client.on_update(lambda version: print(version))
    remove()
    assert_type(flagstone.sources.sign(b"{}", b"key"), str)
    Client.from_url(url, signing_key=b"key", cache_path=path, allow_rollback=True)
    assert_type(status.rollbacks_refused, int)
    assert_type(status.newest_issued_at, str | None)
    assert_type(flagstone.sources.sign_snapshot(b"{}", "key", issued_at=None), tuple[bytes, str])
    sticky: MaterializationStore = flagstone.SqliteMaterializationStore(path, read_timeout=0.01)
    assert isinstance(sticky, flagstone.SqliteMaterializationStore)
    assert_type(sticky.stats(), dict[str, int])
    assert_type(sticky.flush(1.0), bool)
    assert_type(sticky.close(timeout=1.0), bool)
    try:
        raise flagstone.IntegrityError("tampered")
    except ConfigError:
        pass
    return status.snapshot_version if ready else None
