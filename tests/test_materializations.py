"""Sticky assignments ("materializations"): the in-memory store, rules that write and read
them, ``materializationMustMatch`` (paused intake), ``segmentTargetingCanBeIgnored``, and the
reason a client without a store gives for rules that need one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import mmh3
import pytest

import flagstone
from flagstone import (
    MaterializationRecord,
    MaterializationStore,
    MemoryMaterializationStore,
    Reason,
)
from flagstone.stores import UNAVAILABLE
from tests import builders as b

FLAG = "flags/sticky"
RULE = f"{FLAG}/rules/experiment"
MAT = "materializations/experiment"
LOW_64 = 2**64 - 1
UNITS = [f"user-{i}" for i in range(300)]


def hashed_variant(unit: str, swapped: bool = False) -> str:
    """The variant the experiment rule's buckets give ``unit`` (segment id ``sweden``)."""
    low = ((mmh3.hash128(f"sweden|{unit}", 0, True, False) & LOW_64) >> 4) % 1000 < 500
    if swapped:
        low = not low
    return "control" if low else "treatment"


def sweden_targeting() -> dict[str, Any]:
    return b.attribute_is("country", b.string("SE"))


def experiment_rule(
    *,
    read: bool = True,
    write: bool = True,
    must_match: bool = False,
    ignore_targeting: bool = False,
    swapped: bool = False,
) -> dict[str, Any]:
    """A 50/50 rule on ``segments/sweden``; ``swapped`` exchanges the two arms' ranges."""
    first, second = ("treatment", "control") if swapped else ("control", "treatment")
    spec: dict[str, Any] = {}
    if read:
        spec["readMaterialization"] = MAT
    if write:
        spec["writeMaterialization"] = MAT
    mode = {}
    if must_match:
        mode["materializationMustMatch"] = True
    if ignore_targeting:
        mode["segmentTargetingCanBeIgnored"] = True
    if mode:
        spec["mode"] = mode
    return b.rule(
        RULE,
        [b.assignment("first", first, (0, 500)), b.assignment("second", second, (500, 1000))],
        bucket_count=1000,
        segment="sweden",
        materialization=spec or None,
    )


def default_rule() -> dict[str, Any]:
    return b.everyone_gets(f"{FLAG}/rules/default", "default", lower=False)


def snapshot(
    *rules: dict[str, Any],
    proportion: float | None = None,
    extra_segments: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    arms = {arm: {"arm": arm} for arm in ("control", "treatment", "default")}
    sweden = b.segment("sweden", targeting=sweden_targeting(), proportion=proportion)
    return b.snapshot(
        b.flag(FLAG, arms, rules),
        account="acme",
        segments=[sweden, b.segment(), *extra_segments],
        layout="list",
    )


def client(doc: dict[str, Any], store: MaterializationStore | None) -> flagstone.Client:
    return flagstone.Client.from_dict(doc, materializations=store)


def swedish(unit: str) -> dict[str, Any]:
    return {"targeting_key": unit, "country": "SE"}


def seeded(
    unit: str, rule_to_variant: dict[str, str], *, member: bool = True
) -> MemoryMaterializationStore:
    return MemoryMaterializationStore(
        {unit: {MAT: {"isUnitInMaterialization": member, "ruleToVariant": rule_to_variant}}}
    )


# -- the in-memory store --------------------------------------------------------------------


def test_the_memory_store_is_a_materialization_store() -> None:
    assert isinstance(MemoryMaterializationStore(), MaterializationStore)


def test_an_empty_store_has_no_record() -> None:
    store = MemoryMaterializationStore()
    assert store.read("user-1", MAT) is None
    assert len(store) == 0
    assert store.records() == {}


def test_a_write_puts_the_unit_in_the_materialization_with_its_variant() -> None:
    store = MemoryMaterializationStore()
    store.write("user-1", MAT, RULE, "treatment")
    assert store.read("user-1", MAT) == MaterializationRecord(True, {RULE: "treatment"})
    assert store.read("user-1", "materializations/other") is None
    assert store.read("user-2", MAT) is None


def test_writes_for_several_rules_of_one_materialization_accumulate() -> None:
    store = MemoryMaterializationStore()
    store.write("user-1", MAT, "flags/a/rules/r", "on")
    store.write("user-1", MAT, "flags/b/rules/r", "off")
    record = store.read("user-1", MAT)
    assert record is not None
    assert dict(record.rule_to_variant) == {"flags/a/rules/r": "on", "flags/b/rules/r": "off"}
    assert len(store) == 1


def test_a_later_write_for_the_same_rule_replaces_the_variant() -> None:
    store = MemoryMaterializationStore()
    store.write("user-1", MAT, RULE, "control")
    store.write("user-1", MAT, RULE, "treatment")
    assert store.read("user-1", MAT) == MaterializationRecord(True, {RULE: "treatment"})


def test_the_store_is_seeded_from_per_unit_records() -> None:
    store = MemoryMaterializationStore(
        {
            "user-1": {MAT: {"isUnitInMaterialization": True, "ruleToVariant": {RULE: "control"}}},
            "user-2": {MAT: {"isUnitInMaterialization": False, "ruleToVariant": {}}},
            "user-3": {MAT: {}},
        }
    )
    assert store.read("user-1", MAT) == MaterializationRecord(True, {RULE: "control"})
    assert store.read("user-2", MAT) == MaterializationRecord(False, {})
    assert store.read("user-3", MAT) == MaterializationRecord(False, {})


def test_records_returns_the_seed_shape_and_round_trips() -> None:
    store = MemoryMaterializationStore()
    store.write("user-1", MAT, RULE, "control")
    store.write("user-2", "materializations/other", RULE, "")
    expected = {
        "user-1": {MAT: {"isUnitInMaterialization": True, "ruleToVariant": {RULE: "control"}}},
        "user-2": {
            "materializations/other": {"isUnitInMaterialization": True, "ruleToVariant": {RULE: ""}}
        },
    }
    assert store.records() == expected
    assert MemoryMaterializationStore(store.records()).records() == expected


def test_records_is_a_copy() -> None:
    store = MemoryMaterializationStore()
    store.write("user-1", MAT, RULE, "control")
    store.records()["user-1"][MAT]["ruleToVariant"][RULE] = "tampered"
    assert store.read("user-1", MAT) == MaterializationRecord(True, {RULE: "control"})


def test_concurrent_writes_are_all_kept() -> None:
    store = MemoryMaterializationStore()

    def writer(thread: int) -> None:
        for i in range(200):
            store.write("shared-unit", MAT, f"flags/f{thread}/rules/r{i}", "on")

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = store.read("shared-unit", MAT)
    assert record is not None
    assert len(record.rule_to_variant) == 8 * 200


# -- writing and reading back ---------------------------------------------------------------


def test_a_rule_that_writes_records_the_assigned_variant() -> None:
    store = MemoryMaterializationStore()
    r = client(snapshot(experiment_rule(read=False)), store).evaluate(FLAG, swedish("user-1"))
    assert r.variant == hashed_variant("user-1")
    assert store.records() == {
        "user-1": {
            MAT: {
                "isUnitInMaterialization": True,
                "ruleToVariant": {RULE: hashed_variant("user-1")},
            }
        }
    }


def test_a_rule_that_does_not_match_writes_nothing() -> None:
    store = MemoryMaterializationStore()
    c = client(snapshot(experiment_rule(), default_rule()), store)
    r = c.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"})
    assert r.variant == "default"
    assert store.read("user-1", MAT) is None


def test_a_sticky_assignment_is_read_back_after_the_buckets_change() -> None:
    store = MemoryMaterializationStore()
    before = client(snapshot(experiment_rule()), store)
    first = {unit: before.evaluate(FLAG, swedish(unit)).variant for unit in UNITS}
    assert first == {unit: hashed_variant(unit) for unit in UNITS}

    # the same rule with its two arms swapped: a fresh unit would now get the other arm
    after = client(snapshot(experiment_rule(swapped=True)), store)
    for unit in UNITS:
        r = after.evaluate(FLAG, swedish(unit))
        assert r.reason is Reason.MATCH
        assert r.variant == first[unit], unit
        assert r.rule == RULE


def test_a_sticky_assignment_reports_the_assignment_that_holds_its_variant() -> None:
    store = seeded("user-1", {RULE: "treatment"})
    r = client(snapshot(experiment_rule(swapped=True)), store).evaluate(FLAG, swedish("user-1"))
    assert r.variant == "treatment"
    assert r.assignment_id == "first"  # with swapped arms, "first" is the treatment range


def test_new_units_are_assigned_by_hash_after_the_buckets_change() -> None:
    store = MemoryMaterializationStore()
    after = client(snapshot(experiment_rule(swapped=True)), store)
    for unit in UNITS[:50]:
        assert after.evaluate(FLAG, swedish(unit)).variant == hashed_variant(unit, swapped=True)


def test_a_sticky_unit_keeps_its_variant_when_the_allocation_shrinks() -> None:
    store = MemoryMaterializationStore()
    client(snapshot(experiment_rule(), proportion=1), store).evaluate(FLAG, swedish("user-1"))
    shrunk = client(snapshot(experiment_rule(), default_rule(), proportion=0), store)
    assert shrunk.evaluate(FLAG, swedish("user-1")).variant == hashed_variant("user-1")
    assert shrunk.evaluate(FLAG, swedish("user-2")).variant == "default"


def test_a_sticky_unit_must_still_match_the_targeting_by_default() -> None:
    store = seeded("user-1", {RULE: "treatment"})
    c = client(snapshot(experiment_rule(), default_rule()), store)
    assert c.evaluate(FLAG, swedish("user-1")).variant == "treatment"
    assert c.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"}).variant == "default"


def test_a_member_without_a_variant_for_the_rule_is_assigned_by_hash_past_the_allocation() -> None:
    store = seeded("user-1", {})
    c = client(snapshot(experiment_rule(write=False), default_rule(), proportion=0), store)
    r = c.evaluate(FLAG, swedish("user-1"))
    assert r.variant == hashed_variant("user-1")
    assert r.rule == RULE


def test_a_recorded_variant_the_rule_does_not_assign_falls_back_to_the_hash() -> None:
    store = seeded("user-1", {RULE: "no-such-variant"})
    r = client(snapshot(experiment_rule(write=False)), store).evaluate(FLAG, swedish("user-1"))
    assert r.variant == hashed_variant("user-1")


def test_a_record_for_another_rule_is_not_this_rules_variant() -> None:
    other = "flags/other/rules/r"
    forced = "control" if hashed_variant("user-1") == "treatment" else "treatment"
    store = seeded("user-1", {other: forced})
    r = client(snapshot(experiment_rule(write=False)), store).evaluate(FLAG, swedish("user-1"))
    assert r.variant == hashed_variant("user-1")


def test_a_record_outside_the_materialization_does_not_make_the_unit_sticky() -> None:
    forced = "control" if hashed_variant("user-1") == "treatment" else "treatment"
    store = seeded("user-1", {RULE: forced}, member=False)
    r = client(snapshot(experiment_rule(write=False)), store).evaluate(FLAG, swedish("user-1"))
    assert r.variant == hashed_variant("user-1")


# -- materializationMustMatch: paused intake ------------------------------------------------


def test_must_match_admits_no_new_units() -> None:
    store = MemoryMaterializationStore()
    c = client(snapshot(experiment_rule(must_match=True, write=False), default_rule()), store)
    for unit in UNITS[:50]:
        assert c.evaluate(FLAG, swedish(unit)).variant == "default"


def test_must_match_treats_a_non_member_record_as_no_record() -> None:
    store = seeded("user-1", {RULE: "treatment"}, member=False)
    c = client(snapshot(experiment_rule(must_match=True, write=False), default_rule()), store)
    assert c.evaluate(FLAG, swedish("user-1")).variant == "default"


def test_must_match_keeps_the_units_already_in() -> None:
    store = seeded("user-1", {RULE: "treatment"})
    c = client(snapshot(experiment_rule(must_match=True, write=False), default_rule()), store)
    r = c.evaluate(FLAG, swedish("user-1"))
    assert r.variant == "treatment"
    assert r.rule == RULE


def test_pausing_intake_after_a_first_phase_keeps_exactly_the_first_units() -> None:
    store = MemoryMaterializationStore()
    open_phase = client(snapshot(experiment_rule()), store)
    early = UNITS[:100]
    for unit in early:
        open_phase.evaluate(FLAG, swedish(unit))
    paused = client(snapshot(experiment_rule(must_match=True), default_rule()), store)
    for unit in early:
        assert paused.evaluate(FLAG, swedish(unit)).variant == hashed_variant(unit)
    for unit in UNITS[100:]:
        assert paused.evaluate(FLAG, swedish(unit)).variant == "default"


# -- segmentTargetingCanBeIgnored -----------------------------------------------------------


def test_ignoring_targeting_keeps_a_member_that_no_longer_matches() -> None:
    store = seeded("user-1", {RULE: "treatment"})
    c = client(snapshot(experiment_rule(ignore_targeting=True), default_rule()), store)
    r = c.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"})
    assert r.variant == "treatment"
    assert r.rule == RULE


def test_ignoring_targeting_does_not_admit_non_members_that_do_not_match() -> None:
    store = MemoryMaterializationStore()
    c = client(snapshot(experiment_rule(ignore_targeting=True), default_rule()), store)
    assert c.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"}).variant == "default"


# -- materialized segment criteria ----------------------------------------------------------


def members_only_snapshot() -> dict[str, Any]:
    members = {
        "name": "segments/members",
        "targeting": {
            "criteria": {
                "m": {"materializedSegment": {"materializedSegment": "materializations/members"}}
            },
            "expression": {"ref": "m"},
        },
    }
    rule = {
        "name": f"{FLAG}/rules/members",
        "segment": "segments/members",
        "assignmentSpec": {
            "bucketCount": 1,
            "assignments": [
                {
                    "assignmentId": "m",
                    "variant": {"variant": "treatment"},
                    "bucketRanges": [{"upper": 1}],
                }
            ],
        },
    }
    return snapshot(rule, default_rule(), extra_segments=[members])


def test_a_materialized_segment_criterion_admits_units_in_the_store() -> None:
    store = MemoryMaterializationStore(
        {
            "in": {
                "materializations/members": {"isUnitInMaterialization": True, "ruleToVariant": {}}
            },
            "out": {
                "materializations/members": {"isUnitInMaterialization": False, "ruleToVariant": {}}
            },
        }
    )
    c = client(members_only_snapshot(), store)
    assert c.evaluate(FLAG, {"targeting_key": "in"}).variant == "treatment"
    assert c.evaluate(FLAG, {"targeting_key": "out"}).variant == "default"
    assert c.evaluate(FLAG, {"targeting_key": "unknown"}).variant == "default"


def test_a_member_criterion_the_store_cannot_answer_in_time_skips_its_rule() -> None:
    # UNAVAILABLE is neither "in" nor "out": under not(...) it must not admit the unit
    class Unanswering(MemoryMaterializationStore):
        def read(self, unit: str, materialization: str) -> MaterializationRecord | None:
            return UNAVAILABLE

    document = members_only_snapshot()
    members = next(s for s in document["segments"] if s["name"] == "segments/members")
    members["targeting"]["expression"] = {"not": {"ref": "m"}}
    c = client(document, Unanswering())
    assert c.evaluate(FLAG, {"targeting_key": "in"}).variant == "default"
    assert c.evaluate(FLAG, {"targeting_key": "in"}).rule != f"{FLAG}/rules/members"


# -- no store -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        experiment_rule(),
        experiment_rule(write=False),
        experiment_rule(read=False),
        experiment_rule(must_match=True, write=False),
    ],
    ids=["read-write", "read-only", "write-only", "must-match"],
)
def test_a_rule_that_needs_a_store_gives_materialization_not_supported_without_one(
    rule: dict[str, Any],
) -> None:
    r = client(snapshot(rule, default_rule()), None).evaluate(FLAG, swedish("user-1"))
    assert r.reason is Reason.MATERIALIZATION_NOT_SUPPORTED
    assert r.error is not None
    assert r.variant is None
    assert r.should_apply is False


def test_a_materialized_segment_criterion_without_a_store_is_not_supported() -> None:
    r = client(members_only_snapshot(), None).evaluate(FLAG, {"targeting_key": "in"})
    assert r.reason is Reason.MATERIALIZATION_NOT_SUPPORTED
    assert r.variant is None


def test_a_rule_needing_a_store_is_harmless_when_an_earlier_rule_matches() -> None:
    r = client(snapshot(default_rule(), experiment_rule()), None).evaluate(FLAG, swedish("user-1"))
    assert r.reason is Reason.MATCH
    assert r.variant == "default"


def test_materialization_not_supported_records_no_exposure() -> None:
    sink = flagstone.sinks.MemorySink()
    c = flagstone.Client.from_dict(snapshot(experiment_rule()), sinks=[sink])
    c.evaluate(FLAG, swedish("user-1"))
    assert sink.events == []


def test_other_flags_resolve_normally_on_a_client_without_a_store() -> None:
    doc = snapshot(experiment_rule())
    doc["flags"].append(
        {
            "name": "flags/plain",
            "variants": [{"name": "on", "value": {}}],
            "rules": [
                {
                    "name": "flags/plain/rules/r",
                    "segment": "segments/everyone",
                    "assignmentSpec": {
                        "bucketCount": 1,
                        "assignments": [
                            {
                                "assignmentId": "a",
                                "variant": {"variant": "on"},
                                "bucketRanges": [{"upper": 1}],
                            }
                        ],
                    },
                }
            ],
        }
    )
    c = client(doc, None)
    assert c.evaluate("flags/plain", {"targeting_key": "u"}).reason is Reason.MATCH
    assert c.evaluate(FLAG, swedish("u")).reason is Reason.MATERIALIZATION_NOT_SUPPORTED
