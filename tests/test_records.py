"""Properties of exposure records: ``RecordBuilder``, ``Deduplicator`` and ``RecordBatch``.

``RecordBuilder`` builds records and their JSON lines on a fast path (per-outcome templates,
a cached date, string joins). Its output is checked against the slow references:
``Exposure.to_record()`` for the record, ``json.dumps(record, separators=(",", ":"))`` for
the line and ``format_time`` for the apply time, over arbitrary units (any valid Unicode:
quotes, backslashes, control characters, non-ASCII; lone surrogates are left out because
``Client.evaluate`` rejects them as targeting keys), apply times (including the edges of
milliseconds and seconds) and resolutions with fallthroughs, A/B tests and treatment
overrides. ``Deduplicator`` is run against a small reference model.

Every hypothesis test is derandomized (no example database): CI explores exactly the
examples a local run does.
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import flagstone
from flagstone.sinks import Deduplicator, Exposure, RecordBatch, format_time
from flagstone.sinks.records import RecordBuilder
from tests.sinkdata import SNAPSHOT, abtest_snapshot, fallthrough_snapshot

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None)

OVERRIDDEN_UNITS = ("vip-1", "vip-2")

CLIENTS = [
    flagstone.Client.from_dict(SNAPSHOT),
    flagstone.Client.from_dict(fallthrough_snapshot()),
    flagstone.Client.from_dict(abtest_snapshot({})),
    flagstone.Client.from_dict(abtest_snapshot(dict.fromkeys(OVERRIDDEN_UNITS, "new-checkout"))),
    # a snapshot version that needs escaping lands in every record's template
    flagstone.Client.from_dict({**SNAPSHOT, "version": 'v"2\\ø\u2028'}),
]

HEX32 = re.compile(r"^[0-9a-f]{32}$")


# -- strategies ------------------------------------------------------------------------------

units = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=100),
    st.sampled_from(['"', "\\", '\\"', "\x00", "\x1f\x7f", "\u2028", "é", "😀", *OVERRIDDEN_UNITS]),
    st.integers(-(10**9), 10**9),
)
"""Targeting keys: any valid Unicode string (lone surrogates are not valid targeting keys),
awkward characters, the overridden units, integers (which become their decimal text)."""

resolutions = st.builds(
    lambda client, unit: client.evaluate("checkout", {"user": {"id": unit}}, apply=False),
    st.sampled_from(CLIENTS),
    units,
)

BOUNDARY_FRACTIONS = [0.0, 0.0005, 0.9994999, 0.9995, 0.99950001, 0.9999994, 0.9999995, 0.9999999]

apply_times = st.one_of(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.builds(
        lambda second, fraction: second + fraction,
        st.integers(0, 4 * 10**9 - 1),
        st.sampled_from(BOUNDARY_FRACTIONS),
    ),
    st.integers(0, 4 * 10**9),
)
"""Seconds since the epoch up to 2096, with whole seconds and fractions at the edges of
milliseconds and seconds (where rounding to microseconds carries into the next second)."""

given_resolve_ids = st.one_of(
    st.none(),
    st.none(),
    st.just("abc"),
    st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True),
)
"""``None`` (the builder makes one) or an id the caller chose (kept as it is)."""

exposure_specs = st.lists(st.tuples(resolutions, apply_times, given_resolve_ids), max_size=12)
"""(resolution, apply time, given resolve id or ``None``) of the exposures of a batch."""


def make(specs: list[tuple[flagstone.Resolution, float, str | None]]) -> list[Exposure]:
    return [Exposure(resolution, at, resolve_id) for resolution, at, resolve_id in specs]


def without_resolve_id(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """The record's fields in order, leaving out the resolve id."""
    return [(key, value) for key, value in record.items() if key != "resolve_id"]


def reference_record(exposure: Exposure) -> dict[str, Any]:
    """``Exposure.to_record()`` of a copy (so the exposure under test is not touched)."""
    return Exposure(exposure.resolution, exposure.applied_at, "reference").to_record()


# -- RecordBuilder ---------------------------------------------------------------------------


@settings(DETERMINISTIC, max_examples=80)
@given(exposure_specs)
def test_built_records_equal_the_reference_records_but_for_the_resolve_id(specs) -> None:
    exposures = make(specs)
    batch = RecordBuilder(None).build(exposures)
    assert [without_resolve_id(record) for record in batch.records] == [
        without_resolve_id(reference_record(item)) for item in exposures
    ]


@settings(DETERMINISTIC, max_examples=80)
@given(exposure_specs)
def test_built_lines_are_the_compact_json_of_the_records(specs) -> None:
    batch = RecordBuilder(None).build(make(specs))
    assert batch.lines == [json.dumps(record, separators=(",", ":")) for record in batch.records]


@settings(DETERMINISTIC, max_examples=50)
@given(exposure_specs)
def test_built_lines_are_ascii_and_parse_back_to_the_records(specs) -> None:
    batch = RecordBuilder(None).build(make(specs))
    assert all(line.isascii() for line in batch.lines)
    assert [json.loads(line) for line in batch.lines] == batch.records


@settings(DETERMINISTIC, max_examples=50)
@given(exposure_specs)
def test_a_given_resolve_id_is_kept(specs) -> None:
    given_ids = [resolve_id for _, _, resolve_id in specs]
    batch = RecordBuilder(None).build(make(specs))
    assert [
        record["resolve_id"]
        for record, given_id in zip(batch.records, given_ids, strict=True)
        if given_id is not None
    ] == [given_id for given_id in given_ids if given_id is not None]


@settings(DETERMINISTIC, max_examples=50)
@given(exposure_specs)
def test_made_resolve_ids_are_32_hex_digits_and_unique_in_a_batch(specs) -> None:
    made = [resolve_id is None for _, _, resolve_id in specs]
    batch = RecordBuilder(None).build(make(specs))
    ids = [record["resolve_id"] for record, new in zip(batch.records, made, strict=True) if new]
    assert all(HEX32.match(resolve_id) for resolve_id in ids)
    assert len(set(ids)) == len(ids)


@settings(DETERMINISTIC, max_examples=30)
@given(exposure_specs)
def test_building_twice_gives_an_exposure_the_same_resolve_id(specs) -> None:
    # e.g. two sinks of one FanoutSink: the same exposure must carry the same id in both
    exposures = make(specs)
    first = RecordBuilder(None).build(exposures)
    second = RecordBuilder(None).build(exposures)
    assert [record["resolve_id"] for record in first] == [record["resolve_id"] for record in second]


@settings(DETERMINISTIC, max_examples=50)
@given(st.lists(apply_times, min_size=1, max_size=20))
def test_apply_time_equals_format_time(times) -> None:
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "user-1"}}, apply=False)
    batch = RecordBuilder(None).build(Exposure(resolution, at) for at in times)
    assert [record["apply_time"] for record in batch] == [format_time(at) for at in times]


@settings(DETERMINISTIC, max_examples=80)
@given(apply_times)
@example(0.9995)
@example(0.9999995)
@example(1_795_444_560.9999995)
@example(4e9)
def test_apply_time_of_one_exposure_equals_format_time(at) -> None:
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "user-1"}}, apply=False)
    (record,) = RecordBuilder(None).build([Exposure(resolution, at)])
    assert record["apply_time"] == format_time(at)


def test_format_time_is_utc_rfc3339_with_milliseconds() -> None:
    assert format_time(1_795_444_561.123) == "2026-11-23T14:36:01.123Z"


def test_build_of_no_exposures_is_an_empty_batch() -> None:
    batch = RecordBuilder(None).build([])
    assert (len(batch), batch.records, batch.lines) == (0, [], [])


def test_builder_with_a_deduplicator_keeps_first_seen_exposures_in_order() -> None:
    def at(unit: str, when: float) -> Exposure:
        return Exposure(CLIENTS[0].evaluate("checkout", {"user": {"id": unit}}, apply=False), when)

    exposures = [at("a", 0), at("b", 1), at("a", 2), at("c", 3), at("b", 200)]
    builder = RecordBuilder(Deduplicator(ttl=120))
    batch = builder.build(exposures)
    assert [(record["targeting_key"], record["apply_time"]) for record in batch] == [
        ("a", format_time(0)),
        ("b", format_time(1)),
        ("c", format_time(3)),
        ("b", format_time(200)),
    ]
    assert builder.deduplicated == 1


@pytest.mark.parametrize("resolve_id", ['req-"7"', "req\\7", "req-é"], ids=["quote", "bs", "é"])
def test_a_given_resolve_id_that_needs_escaping_is_escaped(resolve_id) -> None:
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "user-1"}}, apply=False)
    batch = RecordBuilder(None).build([Exposure(resolution, 0.0, resolve_id)])
    assert batch.lines == [json.dumps(record, separators=(",", ":")) for record in batch]


# -- Deduplicator ----------------------------------------------------------------------------


def test_same_key_within_ttl_is_dropped() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key(("k",), at) for at in (0.0, 60.0, 119.999)] == [
        True,
        False,
        False,
    ]


def test_same_key_at_exactly_ttl_is_accepted_again() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key(("k",), at) for at in (0.0, 120.0)] == [True, True]


def test_the_window_restarts_when_a_key_is_accepted_again() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key(("k",), at) for at in (0.0, 130.0, 200.0, 250.0)] == [
        True,
        True,
        False,
        True,
    ]


def test_different_keys_do_not_deduplicate_each_other() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key((key,), 0.0) for key in "abc"] == [True, True, True]


def test_dropped_counts_the_repeats() -> None:
    dedup = Deduplicator(ttl=120)
    for at in (0.0, 1.0, 2.0, 500.0):
        dedup.first_seen_key(("k",), at)
    assert dedup.dropped == 2


def test_maxsize_forgets_the_oldest_key_first() -> None:
    dedup = Deduplicator(ttl=120, maxsize=2)
    for key, at in (("a", 0.0), ("b", 1.0), ("c", 2.0)):
        dedup.first_seen_key((key,), at)
    assert (dedup.first_seen_key(("b",), 3.0), dedup.first_seen_key(("a",), 4.0)) == (
        False,
        True,
    )


def test_len_is_bounded_by_maxsize() -> None:
    dedup = Deduplicator(ttl=120, maxsize=3)
    for index in range(10):
        dedup.first_seen_key((index,), float(index))
    assert len(dedup) == 3


def test_expired_keys_are_forgotten() -> None:
    dedup = Deduplicator(ttl=10)
    for index in range(5):
        dedup.first_seen_key((index,), float(index))
    dedup.first_seen_key(("late",), 100.0)
    assert len(dedup) == 1


def test_a_late_exposure_within_ttl_of_the_first_is_dropped() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key(("k",), at) for at in (100.0, 99.5)] == [True, False]


def test_a_clock_stepped_back_by_more_than_ttl_does_not_suppress_repeats() -> None:
    dedup = Deduplicator(ttl=120)
    assert [dedup.first_seen_key(("k",), at) for at in (10_000.0, 6_400.0, 6_500.0)] == [
        True,
        True,
        False,
    ]


def test_keep_drops_repeats_within_a_batch_and_across_batches() -> None:
    dedup = Deduplicator(ttl=120)
    client = CLIENTS[0]

    def seen(unit: str, at: float) -> Exposure:
        context = {"user": {"id": unit}}
        return Exposure(client.evaluate("checkout", context, apply=False), at)

    first = [seen(unit, 1000.0) for unit in ("a", "b", "a")]
    second = [seen(unit, 1001.0) for unit in ("b", "c")]
    kept = [e.resolution.targeting_key for e in dedup.keep(first) + dedup.keep(second)]
    assert (kept, dedup.dropped) == (["a", "b", "c"], 2)


def test_first_seen_uses_the_exposure_key_and_apply_time() -> None:
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "user-1"}}, apply=False)
    other = CLIENTS[0].evaluate("checkout", {"user": {"id": "user-2"}}, apply=False)
    dedup = Deduplicator(ttl=120)
    assert [
        dedup.first_seen(Exposure(resolution, 0.0)),
        dedup.first_seen(Exposure(other, 1.0)),
        dedup.first_seen(Exposure(resolution, 119.0, "another-evaluation")),
        dedup.first_seen(Exposure(resolution, 120.0)),
    ] == [True, True, False, True]


@pytest.mark.parametrize("options", [{"ttl": -1}, {"maxsize": 0}], ids=repr)
def test_invalid_deduplicator_options_are_rejected(options) -> None:
    with pytest.raises(ValueError):
        Deduplicator(**options)


class ReferenceDedup:
    """The rules, plainly: a key is a repeat while less than ``ttl`` has passed since the
    time it was last accepted; keys whose window has passed are forgotten; past ``maxsize``
    remembered keys, the one accepted longest ago is forgotten. For non-decreasing times."""

    def __init__(self, ttl: float, maxsize: int) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.accepted_at: dict[Any, float] = {}  # in order of acceptance

    def first_seen(self, key: Any, at: float) -> bool:
        accepted = key not in self.accepted_at or at - self.accepted_at[key] >= self.ttl
        if accepted:
            self.accepted_at.pop(key, None)
            self.accepted_at[key] = at
        self.accepted_at = {
            known: when for known, when in self.accepted_at.items() if at - when < self.ttl
        }
        while len(self.accepted_at) > self.maxsize:
            del self.accepted_at[next(iter(self.accepted_at))]
        return accepted


quarter_seconds = st.integers(0, 80).map(lambda quarters: quarters / 4)
"""Time steps in quarter seconds: exact in binary, so ``at - ttl`` never rounds."""


@settings(DETERMINISTIC, max_examples=120)
@given(
    ttl=st.sampled_from([0.0, 1.0, 5.0, 10.0]),
    maxsize=st.integers(1, 5),
    steps=st.lists(st.tuples(st.sampled_from("abcdef"), quarter_seconds), max_size=60),
)
def test_deduplicator_matches_the_reference_model_for_in_order_times(ttl, maxsize, steps) -> None:
    dedup = Deduplicator(ttl=ttl, maxsize=maxsize)
    model = ReferenceDedup(ttl, maxsize)
    at = 0.0
    accepted = 0
    for key, step in steps:
        at += step
        decision = dedup.first_seen_key((key,), at)
        assert decision == model.first_seen((key,), at)
        if decision:  # (a repeat need not make the deduplicator forget anything)
            assert len(dedup) == len(model.accepted_at)
        accepted += decision
    assert dedup.dropped == len(steps) - accepted


@settings(DETERMINISTIC, max_examples=120)
@given(
    ttl=st.sampled_from([1.0, 5.0, 10.0]),
    observations=st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 160).map(lambda q: q / 4)),
        max_size=60,
    ),
)
def test_deduplicator_never_drops_what_is_not_a_repeat_in_any_order(ttl, observations) -> None:
    # Times out of order (threads that read the clock, then emit): a key is dropped only
    # while less than ttl has passed since it was last accepted, and a key never accepted,
    # or last accepted ttl or more ago, is always accepted.
    dedup = Deduplicator(ttl=ttl)
    last_accepted: dict[str, float] = {}
    for key, at in observations:
        accepted = dedup.first_seen_key((key,), at)
        previous = last_accepted.get(key)
        if previous is None or at - previous >= ttl:
            assert accepted
        if not accepted:
            assert previous is not None and at - previous < ttl
        else:
            last_accepted[key] = at


@settings(DETERMINISTIC, max_examples=50)
@given(
    maxsize=st.integers(1, 5),
    observations=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 400).map(lambda q: q / 4)), max_size=80
    ),
)
def test_deduplicator_never_remembers_more_than_maxsize_keys(maxsize, observations) -> None:
    dedup = Deduplicator(ttl=30.0, maxsize=maxsize)
    for key, at in observations:
        dedup.first_seen_key((key,), at)
        assert len(dedup) <= maxsize


dedup_units = st.sampled_from(["a", "b", "c"])


def numbered_exposures(pairs: list[tuple[int, str, float]]) -> list[Exposure]:
    """Exposures of (client index, unit, time), with resolve ids ``0``, ``1``, … in order."""
    return [
        Exposure(
            CLIENTS[client].evaluate("checkout", {"user": {"id": unit}}, apply=False),
            at,
            str(index),
        )
        for index, (client, unit, at) in enumerate(pairs)
    ]


@settings(DETERMINISTIC, max_examples=50)
@given(
    ttl=st.sampled_from([1.0, 5.0]),
    steps=st.lists(
        st.tuples(st.integers(0, len(CLIENTS) - 1), dedup_units, quarter_seconds), max_size=30
    ),
    chunk=st.integers(1, 8),
)
def test_builder_keeps_what_the_reference_model_accepts(ttl, steps, chunk) -> None:
    pairs, at = [], 0.0
    for client, unit, step in steps:
        at += step
        pairs.append((client, unit, at))
    exposures = numbered_exposures(pairs)
    model = ReferenceDedup(ttl, maxsize=100)
    expected = [
        item.resolve_id for item in exposures if model.first_seen(item.dedup_key(), item.applied_at)
    ]
    builder = RecordBuilder(Deduplicator(ttl=ttl))
    kept = [
        record["resolve_id"]
        for start in range(0, len(exposures), chunk)
        for record in builder.build(exposures[start : start + chunk])
    ]
    assert kept == expected
    assert builder.deduplicated == len(exposures) - len(expected)


@settings(DETERMINISTIC, max_examples=50)
@given(
    ttl=st.sampled_from([1.0, 5.0]),
    maxsize=st.integers(1, 4),
    observations=st.lists(
        st.tuples(
            st.integers(0, len(CLIENTS) - 1), dedup_units, st.integers(0, 80).map(lambda q: q / 4)
        ),
        max_size=30,
    ),
    chunk=st.integers(1, 8),
)
def test_builder_never_drops_what_is_not_a_repeat_in_any_order(
    ttl, maxsize, observations, chunk
) -> None:
    exposures = numbered_exposures(observations)
    dedup = Deduplicator(ttl=ttl, maxsize=maxsize)
    builder = RecordBuilder(dedup)
    kept: set[str] = set()
    for start in range(0, len(exposures), chunk):
        kept.update(
            record["resolve_id"] for record in builder.build(exposures[start : start + chunk])
        )
        assert len(dedup) <= maxsize
    last_accepted: dict[Any, float] = {}
    for item in exposures:
        previous = last_accepted.get(item.dedup_key())
        if previous is None or item.applied_at - previous >= ttl:
            assert item.resolve_id in kept
        if item.resolve_id in kept:
            last_accepted[item.dedup_key()] = item.applied_at
        else:
            assert previous is not None and item.applied_at - previous < ttl


# -- RecordBuilder.record: one exposure's dict, as a sink on the calling thread makes it ------


def independent_record(exposure: Exposure, resolve_id: str) -> dict[str, Any]:
    """An exposure's record as the README's table states it, from the resolution's public
    properties and ``datetime``'s text for the apply time (not from ``to_record``, the
    per-outcome template or ``format_time``)."""
    resolution = exposure.resolution
    moment = datetime.fromtimestamp(exposure.applied_at, timezone.utc)  # rounds to the µs
    record: dict[str, Any] = {
        "schema_version": 1,
        "type": "exposure",
        "resolve_id": resolve_id,
        "apply_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "flag": resolution.flag,
        "variant": resolution.variant,
        "reason": resolution.reason.value,
        "rule": resolution.rule,
        "segment": resolution.segment,
        "assignment_id": resolution.assignment_id,
        "targeting_key": resolution.targeting_key,
        "targeting_key_selector": resolution.targeting_key_selector,
        "fallthrough": [
            {
                "rule": item.rule,
                "assignment_id": item.assignment_id,
                "targeting_key": item.targeting_key,
                "targeting_key_selector": item.targeting_key_selector,
            }
            for item in resolution.fallthrough
        ],
        "abtest": resolution.abtest,
        "override": resolution.override,
        "snapshot_version": resolution.snapshot_version,
    }
    if exposure.context is not None:
        record["context"] = exposure.context
    return record


contexts = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["country", "device"]), st.sampled_from(["SE", 3, True])),
)


@settings(DETERMINISTIC, max_examples=80)
@given(exposure_specs, st.lists(contexts, min_size=12, max_size=12))
def test_one_exposures_record_equals_an_independent_construction(specs, attributes) -> None:
    builder = RecordBuilder(None)
    for (resolution, at, given_id), context in zip(specs, attributes, strict=False):
        exposure = Exposure(resolution, at, given_id, context)
        record = builder.record(exposure)
        assert record is not None
        expected = independent_record(exposure, record["resolve_id"])
        assert list(record.items()) == list(expected.items())  # the fields' order too
        if given_id is None:
            assert HEX32.match(record["resolve_id"])
        else:
            assert record["resolve_id"] == given_id


@settings(DETERMINISTIC, max_examples=40)
@given(exposure_specs)
def test_one_exposures_record_is_the_record_and_line_a_batch_gives_it(specs) -> None:
    # a CallbackSink on its own (record) and one behind a BatchingSink (build) hand the
    # callback the same record, and the JSON line of that record is what JsonlSink writes
    exposures = make(specs)
    one_by_one = [RecordBuilder(None).record(item) for item in exposures]
    batch = RecordBuilder(None).build(exposures)
    assert batch.records == one_by_one
    assert batch.lines == [json.dumps(record, separators=(",", ":")) for record in one_by_one]


@settings(DETERMINISTIC, max_examples=50)
@given(
    ttl=st.sampled_from([1.0, 5.0]),
    maxsize=st.integers(1, 100),
    steps=st.lists(
        st.tuples(st.integers(0, len(CLIENTS) - 1), dedup_units, quarter_seconds), max_size=30
    ),
)
def test_record_drops_what_the_reference_model_calls_a_repeat(ttl, maxsize, steps) -> None:
    pairs, at = [], 0.0
    for client, unit, step in steps:
        at += step
        pairs.append((client, unit, at))
    exposures = numbered_exposures(pairs)
    model = ReferenceDedup(ttl, maxsize=maxsize)
    expected = [
        item.resolve_id for item in exposures if model.first_seen(item.dedup_key(), item.applied_at)
    ]
    builder = RecordBuilder(Deduplicator(ttl=ttl, maxsize=maxsize))
    records = [builder.record(item) for item in exposures]
    assert [record["resolve_id"] for record in records if record is not None] == expected
    assert builder.deduplicated == len(exposures) - len(expected)


def datetime_text(at: float) -> str:
    """An apply time's text by ``datetime`` (rounds to the microsecond, then the
    ``isoformat`` cuts to the millisecond): the reference for the builder's cached text."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def near_millisecond_edges(second: int, millis: int, ulps: int) -> float:
    """A time ``ulps`` units in the last place from the edge of a millisecond or from the
    half microsecond before it (where rounding to microseconds carries over)."""
    edge = second + millis / 1000
    if ulps % 2:
        edge -= 5e-7
    for _ in range(abs(ulps)):
        edge = math.nextafter(edge, math.inf if ulps > 0 else -math.inf)
    return edge


EDGE_SECONDS = [0, 1, 1_764_000_000, 2**31, 2**32 - 1, 2**32, 2**33]


def apply_times_of_one_builder(times: list[float]) -> tuple[list[str], list[str]]:
    """The apply times one builder gives exposures at ``times``, one by one (``record``) and
    as one batch (``build``)."""
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "u"}}, apply=False)
    builder = RecordBuilder(None)
    one_by_one = [builder.record(Exposure(resolution, at))["apply_time"] for at in times]  # type: ignore[index]
    batch = RecordBuilder(None).build([Exposure(resolution, at) for at in times])
    return one_by_one, [record["apply_time"] for record in batch.records]


@pytest.mark.parametrize("second", EDGE_SECONDS)
def test_apply_times_near_the_edges_of_milliseconds_equal_datetimes_text(second) -> None:
    # one builder keeps the last millisecond's range and text: every time within 6 units in
    # the last place of the edges of neighbouring milliseconds (and of the half microsecond
    # before each, where rounding carries), in order, as exposures come
    times = sorted(
        near_millisecond_edges(second, millis, ulps)
        for millis in (0, 1, 2, 500, 501, 998, 999, 1000)
        for ulps in range(-13, 14)
    )
    expected = [datetime_text(at) for at in times]
    assert apply_times_of_one_builder(times) == (expected, expected)


@settings(DETERMINISTIC, max_examples=100)
@given(st.lists(apply_times, min_size=1, max_size=40), st.booleans())
def test_apply_times_from_one_builder_equal_datetimes_text(times, in_order) -> None:
    times = sorted(times) if in_order else times
    expected = [datetime_text(at) for at in times]
    assert apply_times_of_one_builder(times) == (expected, expected)


def test_record_makes_distinct_resolve_ids_across_refills_of_its_pool() -> None:
    # 1 000 ids: the pool of 256 is refilled three times
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "u"}}, apply=False)
    builder = RecordBuilder(None)
    exposures = [Exposure(resolution, 0.0) for _ in range(1000)]
    ids = [builder.record(item)["resolve_id"] for item in exposures]  # type: ignore[index]
    assert all(HEX32.match(resolve_id) for resolve_id in ids)
    assert len(set(ids)) == len(ids)
    assert [item.resolve_id for item in exposures] == ids  # other sinks see the same id


def test_a_fresh_builder_draws_other_resolve_ids_than_the_one_it_replaces() -> None:
    # after a fork the child's sinks get fresh() builders: reusing the parent's pool of
    # random bytes would give the child's exposures the parent's next resolve ids
    resolution = CLIENTS[0].evaluate("checkout", {"user": {"id": "u"}}, apply=False)
    parent = RecordBuilder(None)
    parent.record(Exposure(resolution, 0.0))  # the pool is drawn
    child = parent.fresh()
    parents = [parent.record(Exposure(resolution, 0.0))["resolve_id"] for _ in range(5)]  # type: ignore[index]
    childs = [child.record(Exposure(resolution, 0.0))["resolve_id"] for _ in range(5)]  # type: ignore[index]
    assert set(parents).isdisjoint(childs)


# -- RecordBatch -----------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=10),
)
records = st.dictionaries(
    st.sampled_from(["resolve_id", "flag", "targeting_key", "é", '"', ""]),
    st.one_of(json_scalars, st.lists(json_scalars, max_size=2)),
    max_size=4,
)
"""JSON objects (a batch is any list of them, not only exposure records)."""
record_lists = st.lists(records, max_size=5)


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists)
def test_records_to_lines_and_back_round_trip(items) -> None:
    lines = RecordBatch(copy.deepcopy(items)).lines
    assert RecordBatch(lines=lines).records == items


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists)
def test_lines_are_compact_ascii_json(items) -> None:
    lines = RecordBatch(items).lines
    assert lines == [json.dumps(item, separators=(",", ":")) for item in items]
    assert all(line.isascii() for line in lines)


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists)
def test_jsonl_is_one_line_per_record_each_ending_in_a_newline(items) -> None:
    data = RecordBatch(items).jsonl()
    assert [json.loads(line) for line in data.splitlines()] == items
    assert data == b"" if not items else data.endswith(b"\n") and data.count(b"\n") == len(items)


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists)
def test_json_array_parses_back_to_the_records(items) -> None:
    assert json.loads(RecordBatch(items).json_array()) == items


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists)
def test_batch_id_is_the_same_from_records_and_from_lines(items) -> None:
    from_records = RecordBatch(copy.deepcopy(items))
    from_lines = RecordBatch(lines=list(from_records.lines))
    assert from_records.batch_id() == from_lines.batch_id() == RecordBatch(items).batch_id()
    assert HEX32.match(from_records.batch_id())


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists, record_lists)
def test_batch_id_differs_for_different_content(first, second) -> None:
    assume(RecordBatch(first).lines != RecordBatch(second).lines)
    assert RecordBatch(first).batch_id() != RecordBatch(second).batch_id()


def test_batch_id_depends_on_record_order() -> None:
    first, second = {"resolve_id": "a"}, {"resolve_id": "b"}
    assert RecordBatch([first, second]).batch_id() != RecordBatch([second, first]).batch_id()


@settings(DETERMINISTIC, max_examples=50)
@given(record_lists, st.integers(0, 8))
def test_tail_is_the_records_from_start_on(items, start) -> None:
    for batch in (RecordBatch(items), RecordBatch(lines=RecordBatch(items).lines)):
        tail = batch.tail(start)
        assert (tail.records, tail.lines, len(tail)) == (
            items[start:],
            RecordBatch(items).lines[start:],
            len(items[start:]),
        )
        assert tail.batch_id() == RecordBatch(items[start:]).batch_id()


@settings(DETERMINISTIC, max_examples=30)
@given(record_lists)
def test_a_batch_is_a_sequence_of_its_records(items) -> None:
    batch = RecordBatch(lines=RecordBatch(items).lines)
    assert (len(batch), list(batch), [batch[i] for i in range(len(batch))]) == (
        len(items),
        items,
        items,
    )


def test_an_empty_batch_has_no_lines_and_an_empty_array() -> None:
    batch = RecordBatch()
    assert (len(batch), batch.jsonl(), json.loads(batch.json_array())) == (0, b"", [])
