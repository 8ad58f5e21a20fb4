"""A/B-test instances (seed 000's shape, the snapshot's ``abtests`` list): DESIGN.md, "Decided
here, beyond the suite", decisions 2 to 4.

An instance compiles into a rule ahead of its flag's own rules. Its treatments' weights
(basis points) become contiguous ranges over 10 000 buckets in treatment order; the salt is
the instance's segment id. Expected treatments are computed here with mmh3.
"""

from __future__ import annotations

import copy
from typing import Any

import mmh3
import pytest
from freezegun import freeze_time

import flagstone
from flagstone import ErrorCode, Reason
from tests import builders as b

FLAG = "flags/checkout"
INSTANCE = "workflows/abtest/instances/checkout-test"
LOW_64 = 2**64 - 1
UNITS = [f"user-{i}" for i in range(1000)]


def reference_bucket(key: str, count: int) -> int:
    return ((mmh3.hash128(key, 0, True, False) & LOW_64) >> 4) % count


def treatment_for(unit: str, salt: str, weights: list[tuple[str, int]]) -> str:
    """The treatment whose contiguous range (in treatment order) holds the unit's bucket."""
    index = reference_bucket(f"{salt}|{unit}", 10_000)
    lower = 0
    for name, weight in weights:
        if lower <= index < lower + weight:
            return name
        lower += weight
    raise AssertionError("weights do not cover 10 000 buckets")


def instance(
    *,
    name: str = INSTANCE,
    state: str = "live",
    weights: tuple[tuple[str, int | str], ...] = (("control", "5000"), ("new-checkout", "5000")),
    segment: dict[str, Any] | None = None,
    selector: str = "targeting_key",
    overrides: dict[str, str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    return b.abtest(
        name,
        flag=FLAG,
        weights=weights,
        state=state,
        display_name="Checkout flow",
        selector=selector,
        metrics={"entity": "entities/user", "metrics": []},
        stats={"testHorizonStrategy": "SEQUENTIAL"},
        segment=segment,
        overrides=overrides,
        start=start,
        end=end,
    )


def snapshot(
    *abtests: dict[str, Any], variant_names: str = "short", flag_state: str = "ACTIVE"
) -> dict[str, Any]:
    """``flags/checkout`` with variants control, new-checkout, bold, and one rule of its own
    giving everyone ``control`` (assignment id ``default``)."""

    def variant(short: str) -> str:
        return short if variant_names == "short" else f"{FLAG}/variants/{short}"

    values = {"control": "classic", "new-checkout": "one-page", "bold": "bold"}
    default = b.everyone_gets(f"{FLAG}/rules/default", variant("control"), lower=False)
    return b.snapshot(
        b.flag(
            FLAG,
            {variant(short): {"layout": layout} for short, layout in values.items()},
            [default],
            state=flag_state,
        ),
        account="acme",
        segments=[b.segment()],
        abtests=abtests,
        layout="list",
    )


def client(doc: dict[str, Any], sink: flagstone.sinks.MemorySink | None = None) -> flagstone.Client:
    return flagstone.Client.from_dict(doc, sinks=[sink] if sink is not None else [])


def from_the_test(resolution: flagstone.Resolution) -> bool:
    return resolution.rule == f"{INSTANCE}/rule"


def from_the_flag_default(resolution: flagstone.Resolution) -> bool:
    return resolution.rule == f"{FLAG}/rules/default" and resolution.variant == "control"


SWEDEN = b.targeting(
    {"country": b.attribute("country", b.eq(b.string("SE")))}, b.and_(b.ref("country"))
)


# -- compiling into a rule ------------------------------------------------------------------


def test_a_live_instance_rule_goes_before_the_flags_own_rules() -> None:
    r = client(snapshot(instance())).evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.reason is Reason.MATCH
    assert from_the_test(r)
    assert r.abtest == INSTANCE


def test_the_rule_is_named_after_the_instance() -> None:
    r = client(snapshot(instance())).evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.rule == "workflows/abtest/instances/checkout-test/rule"


def test_weights_become_contiguous_ranges_in_treatment_order() -> None:
    weights = [("bold", 2000), ("control", 3000), ("new-checkout", 5000)]
    c = client(snapshot(instance(weights=tuple(weights))))
    for unit in UNITS:
        r = c.evaluate(FLAG, {"targeting_key": unit})
        assert r.variant == treatment_for(unit, "abtest-checkout-test", weights), unit


def test_reordering_the_treatments_reorders_the_ranges() -> None:
    weights = [("new-checkout", 5000), ("bold", 3000), ("control", 2000)]
    c = client(snapshot(instance(weights=tuple(weights))))
    for unit in UNITS:
        assert c.evaluate(FLAG, {"targeting_key": unit}).variant == treatment_for(
            unit, "abtest-checkout-test", weights
        )


def test_treatment_shares_follow_the_weights() -> None:
    weights = (("control", 1000), ("new-checkout", 9000))
    c = client(snapshot(instance(weights=weights)))
    units = [f"u{i}" for i in range(4000)]
    share = sum(c.evaluate(FLAG, {"targeting_key": u}).variant == "control" for u in units) / len(
        units
    )
    assert 0.08 < share < 0.12


def test_a_zero_weight_treatment_is_never_assigned() -> None:
    weights = (("control", 5000), ("bold", 0), ("new-checkout", 5000))
    c = client(snapshot(instance(weights=weights)))
    assert all(c.evaluate(FLAG, {"targeting_key": u}).variant != "bold" for u in UNITS)


def test_weights_may_be_numbers_or_strings() -> None:
    as_numbers = client(snapshot(instance(weights=(("control", 5000), ("new-checkout", 5000)))))
    as_strings = client(snapshot(instance(weights=(("control", "5000"), ("new-checkout", "5000")))))
    for unit in UNITS[:200]:
        context = {"targeting_key": unit}
        assert (
            as_numbers.evaluate(FLAG, context).variant == as_strings.evaluate(FLAG, context).variant
        )


def test_the_salt_is_the_segment_id_when_the_instance_names_its_segment() -> None:
    weights = [("control", 5000), ("new-checkout", 5000)]
    c = client(snapshot(instance(segment={"name": "segments/pztjlarivt3tyfie5gsb"})))
    for unit in UNITS:
        r = c.evaluate(FLAG, {"targeting_key": unit})
        assert r.variant == treatment_for(unit, "pztjlarivt3tyfie5gsb", weights), unit
        assert r.segment == "segments/pztjlarivt3tyfie5gsb"


def test_the_salt_is_abtest_and_the_instance_id_without_a_segment_name() -> None:
    weights = [("control", 5000), ("new-checkout", 5000)]
    c = client(snapshot(instance(segment={"targeting": SWEDEN})))
    for unit in UNITS:
        r = c.evaluate(FLAG, {"targeting_key": unit, "country": "SE"})
        assert r.variant == treatment_for(unit, "abtest-checkout-test", weights), unit
        assert r.segment == "segments/abtest-checkout-test"


def test_two_instances_bucket_independently() -> None:
    other = "workflows/abtest/instances/other-test"
    weights = [("control", 5000), ("new-checkout", 5000)]
    first = client(snapshot(instance()))
    second = client(snapshot(instance(name=other)))
    a = [first.evaluate(FLAG, {"targeting_key": u}).variant for u in UNITS]
    b = [second.evaluate(FLAG, {"targeting_key": u}).variant for u in UNITS]
    assert b == [treatment_for(u, "abtest-other-test", weights) for u in UNITS]
    agreement = sum(x == y for x, y in zip(a, b, strict=True)) / len(UNITS)
    assert 0.4 < agreement < 0.6


def test_the_assignment_id_is_the_short_variant_name() -> None:
    c = client(snapshot(instance(weights=(("bold", 10_000),))))
    r = c.evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.assignment_id == "bold"


def test_the_variant_is_named_as_the_flag_defines_it() -> None:
    c = client(snapshot(instance(weights=(("bold", 10_000),)), variant_names="full"))
    r = c.evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.variant == f"{FLAG}/variants/bold"
    assert r.assignment_id == "bold"
    assert r.value == {"layout": "bold"}


def test_instances_apply_in_document_order() -> None:
    first = instance(weights=(("bold", 10_000),))
    second = instance(name="workflows/abtest/instances/later", weights=(("new-checkout", 10_000),))
    r = client(snapshot(first, second)).evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.variant == "bold"
    assert r.abtest == INSTANCE


def test_a_later_instance_applies_when_an_earlier_one_does_not_target_the_unit() -> None:
    first = instance(weights=(("bold", 10_000),), segment={"targeting": SWEDEN})
    later = "workflows/abtest/instances/later"
    second = instance(name=later, weights=(("new-checkout", 10_000),))
    r = client(snapshot(first, second)).evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"})
    assert r.variant == "new-checkout"
    assert r.rule == f"{later}/rule"


def test_a_custom_targeting_key_selector_is_used_for_bucketing() -> None:
    weights = [("control", 5000), ("new-checkout", 5000)]
    c = client(snapshot(instance(selector="user.id")))
    for i in range(300):
        r = c.evaluate(FLAG, {"user": {"id": f"member-{i}"}, "targeting_key": "ignored"})
        assert r.targeting_key == f"member-{i}"
        assert r.variant == treatment_for(f"member-{i}", "abtest-checkout-test", weights)


def test_a_unit_without_the_selected_key_falls_to_the_flags_own_rules() -> None:
    r = client(snapshot(instance(selector="user.id"))).evaluate(FLAG, {"targeting_key": "user-1"})
    assert from_the_flag_default(r)


def test_an_unusable_key_in_a_live_test_is_a_targeting_key_error() -> None:
    r = client(snapshot(instance())).evaluate(FLAG, {"targeting_key": 2.5})
    assert r.reason is Reason.TARGETING_KEY_ERROR
    assert r.error is ErrorCode.TARGETING_KEY_ERROR


def test_an_archived_flag_is_archived_whatever_its_tests() -> None:
    # lenient mode: strict validation may refuse a live test on an archived flag outright
    doc = snapshot(instance(), flag_state="ARCHIVED")
    r = flagstone.Client.from_dict(doc, strict=False).evaluate(FLAG, {"targeting_key": "user-1"})
    assert r.reason is Reason.FLAG_ARCHIVED
    assert r.variant is None


def test_a_live_test_exposure_names_the_instance() -> None:
    sink = flagstone.sinks.MemorySink()
    client(snapshot(instance()), sink).evaluate(FLAG, {"targeting_key": "user-1"})
    [event] = sink.events
    assert event["abtest"] == INSTANCE
    assert event["rule"] == f"{INSTANCE}/rule"
    assert event["override"] is False


# -- states ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "ended", "archived"])
def test_only_a_live_instance_assigns(state: str) -> None:
    c = client(snapshot(instance(state=state)))
    for unit in UNITS[:50]:
        r = c.evaluate(FLAG, {"targeting_key": unit})
        assert from_the_flag_default(r)
        assert r.abtest is None


def test_an_unknown_state_is_a_config_error() -> None:
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(state="running")))


# -- treatment overrides --------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "live"])
def test_a_treatment_override_is_honoured_in_draft_and_live(state: str) -> None:
    c = client(
        snapshot(
            instance(
                state=state, overrides={"qa-1": "bold"}, weights=(("bold", 0), ("control", 10_000))
            )
        )
    )
    r = c.evaluate(FLAG, {"targeting_key": "qa-1"})
    assert r.reason is Reason.OVERRIDE
    assert r.variant == "bold"
    assert r.value == {"layout": "bold"}
    assert r.override is True
    assert r.error is None
    assert r.abtest == INSTANCE
    assert r.rule == f"{INSTANCE}/rule"
    assert r.assignment_id == "bold"


@pytest.mark.parametrize("state", ["ended", "archived"])
def test_a_treatment_override_is_ignored_once_the_test_is_over(state: str) -> None:
    c = client(
        snapshot(
            instance(
                state=state, overrides={"qa-1": "bold"}, weights=(("bold", 0), ("control", 10_000))
            )
        )
    )
    r = c.evaluate(FLAG, {"targeting_key": "qa-1"})
    assert from_the_flag_default(r)
    assert r.override is False


def test_an_override_may_name_the_variant_in_full() -> None:
    doc = snapshot(
        instance(
            overrides={"qa-1": f"{FLAG}/variants/new-checkout"},
            weights=(("control", 10_000), ("new-checkout", 0)),
        )
    )
    r = client(doc).evaluate(FLAG, {"targeting_key": "qa-1"})
    assert r.reason is Reason.OVERRIDE
    assert r.variant == "new-checkout"


def test_an_override_only_concerns_its_unit() -> None:
    c = client(
        snapshot(instance(overrides={"qa-1": "bold"}, weights=(("bold", 0), ("control", 10_000))))
    )
    r = c.evaluate(FLAG, {"targeting_key": "user-2"})
    assert r.reason is Reason.MATCH
    assert r.variant == "control"
    assert r.override is False


def test_an_override_in_draft_leaves_other_units_to_the_flags_own_rules() -> None:
    c = client(snapshot(instance(state="draft", overrides={"qa-1": "new-checkout"})))
    assert from_the_flag_default(c.evaluate(FLAG, {"targeting_key": "user-2"}))


def test_an_override_wins_over_targeting_and_allocation() -> None:
    segment = {"targeting": SWEDEN, "allocation": {"proportion": {"value": "0"}}}
    c = client(snapshot(instance(segment=segment, overrides={"qa-1": "new-checkout"})))
    r = c.evaluate(FLAG, {"targeting_key": "qa-1", "country": "NO"})
    assert r.reason is Reason.OVERRIDE
    assert r.variant == "new-checkout"


def test_an_override_wins_over_the_schedule() -> None:
    c = client(snapshot(instance(overrides={"qa-1": "new-checkout"}, start="2031-01-01T00:00:00Z")))
    with freeze_time("2030-06-01T00:00:00Z"):
        r = c.evaluate(FLAG, {"targeting_key": "qa-1"})
    assert r.reason is Reason.OVERRIDE
    assert r.variant == "new-checkout"


def test_an_override_reads_the_unit_through_the_instance_selector() -> None:
    c = client(snapshot(instance(selector="account.id", overrides={"4711": "new-checkout"})))
    r = c.evaluate(FLAG, {"account": {"id": 4711}, "targeting_key": "someone"})
    assert r.reason is Reason.OVERRIDE
    assert r.targeting_key == "4711"


def test_an_override_exposure_is_recorded_and_marked() -> None:
    sink = flagstone.sinks.MemorySink()
    c = client(snapshot(instance(state="draft", overrides={"qa-1": "new-checkout"})), sink)
    r = c.evaluate(FLAG, {"targeting_key": "qa-1"})
    assert r.should_apply is True
    [event] = sink.events
    assert event["override"] is True
    assert event["variant"] == "new-checkout"
    assert event["reason"] == "RESOLVE_REASON_OVERRIDE"
    assert event["abtest"] == INSTANCE
    assert event["targeting_key"] == "qa-1"


def test_an_override_naming_a_variant_that_is_not_a_treatment_is_a_config_error() -> None:
    weights = (("control", 5000), ("new-checkout", 5000))
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(weights=weights, overrides={"qa-1": "bold"})))


# -- schedule -------------------------------------------------------------------------------

WINDOW_START, WINDOW_END = "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"


@pytest.mark.parametrize(
    ("now", "in_test"),
    [
        ("2029-12-31T23:59:59Z", False),
        ("2030-01-01T00:00:00Z", True),
        ("2030-01-15T12:00:00Z", True),
        ("2030-01-31T23:59:59Z", True),
        ("2030-02-01T00:00:00Z", False),
        ("2031-01-01T00:00:00Z", False),
    ],
    ids=["before-start", "at-start", "inside", "just-before-end", "at-end", "long-after"],
)
def test_the_rule_applies_only_inside_the_schedule(now: str, in_test: bool) -> None:
    c = client(snapshot(instance(start=WINDOW_START, end=WINDOW_END)))
    with freeze_time(now):
        r = c.evaluate(FLAG, {"targeting_key": "user-1"})
    assert from_the_test(r) is in_test
    if not in_test:
        assert from_the_flag_default(r)


def test_the_schedule_is_read_at_evaluation_time_not_at_load_time() -> None:
    with freeze_time("2029-06-01T00:00:00Z"):
        c = client(snapshot(instance(start=WINDOW_START, end=WINDOW_END)))
        assert not from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))
    with freeze_time("2030-01-10T00:00:00Z"):
        assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))


def test_a_start_time_alone_opens_the_test_for_good() -> None:
    c = client(snapshot(instance(start="2030-01-01T00:00:00Z")))
    with freeze_time("2029-12-31T00:00:00Z"):
        assert not from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))
    with freeze_time("2099-01-01T00:00:00Z"):
        assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))


def test_an_end_time_alone_closes_the_test() -> None:
    c = client(snapshot(instance(end="2030-01-01T00:00:00Z")))
    with freeze_time("2029-12-31T00:00:00Z"):
        assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))
    with freeze_time("2030-01-01T00:00:01Z"):
        assert not from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))


def test_schedule_times_honour_their_utc_offset() -> None:
    # 01:00 at +02:00 is 23:00 UTC the day before
    c = client(snapshot(instance(start="2030-01-02T01:00:00+02:00")))
    with freeze_time("2030-01-01T22:59:59Z"):
        assert not from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))
    with freeze_time("2030-01-01T23:00:00Z"):
        assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1"}))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("next tuesday", None),
        (None, "2030-13-01T00:00:00Z"),
        ("2030-02-01T00:00:00Z", "2030-01-01T00:00:00Z"),
    ],
    ids=["bad-start", "bad-end", "end-before-start"],
)
def test_an_invalid_schedule_is_a_config_error(start: str | None, end: str | None) -> None:
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(start=start, end=end)))


# -- the instance segment: targeting and allocation -----------------------------------------


def test_the_instance_targeting_decides_who_is_in_the_test() -> None:
    c = client(
        snapshot(instance(segment={"name": "segments/pztjlarivt3tyfie5gsb", "targeting": SWEDEN}))
    )
    assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1", "country": "SE"}))
    assert from_the_flag_default(c.evaluate(FLAG, {"targeting_key": "user-1", "country": "NO"}))


def test_the_instance_targeting_may_reference_a_segment_of_the_snapshot() -> None:
    doc = snapshot(
        instance(
            segment={
                "targeting": {
                    "criteria": {"se": {"segment": {"segment": "segments/sweden"}}},
                    "expression": {"ref": "se"},
                }
            }
        )
    )
    doc["segments"].append({"name": "segments/sweden", "targeting": SWEDEN})
    c = client(doc)
    assert from_the_test(c.evaluate(FLAG, {"targeting_key": "user-1", "country": "SE"}))
    assert from_the_flag_default(c.evaluate(FLAG, {"targeting_key": "user-1", "country": "DK"}))


@pytest.mark.parametrize("segment_name", ["segments/pztjlarivt3tyfie5gsb", None])
def test_the_instance_allocation_uses_the_proportion_rule_of_its_segment(
    segment_name: str | None,
) -> None:
    weights = [("control", 5000), ("new-checkout", 5000)]
    segment: dict[str, Any] = {"allocation": {"proportion": {"value": "0.5"}}}
    if segment_name is not None:
        segment["name"] = segment_name
    segment_id = "pztjlarivt3tyfie5gsb" if segment_name else "abtest-checkout-test"
    c = client(snapshot(instance(segment=segment)))
    for unit in UNITS:
        r = c.evaluate(FLAG, {"targeting_key": unit})
        allocated = reference_bucket(f"allocation-{segment_id}|{unit}", 1_000_000) < 500_000
        assert from_the_test(r) is allocated, unit
        if allocated:
            assert r.variant == treatment_for(unit, segment_id, weights)
        else:
            assert from_the_flag_default(r)


def test_the_instance_allocation_can_be_exclusive_in_the_account_space() -> None:
    segment = {
        "allocation": {
            "exclusivityTags": ["checkout"],
            "bucketRanges": [{"lower": 0, "upper": 250_000}],
        }
    }
    c = client(snapshot(instance(segment=segment)))
    for unit in UNITS:
        in_range = reference_bucket(f"MegaSalt-acme|{unit}", 1_000_000) < 250_000
        assert from_the_test(c.evaluate(FLAG, {"targeting_key": unit})) is in_range, unit


def test_two_instances_sharing_an_exclusivity_tag_must_not_overlap() -> None:
    first = instance(
        segment={
            "allocation": {
                "exclusivityTags": ["t"],
                "bucketRanges": [{"lower": 0, "upper": 600_000}],
            }
        }
    )
    second = instance(
        name="workflows/abtest/instances/second",
        segment={
            "allocation": {
                "exclusivityTags": ["t"],
                "bucketRanges": [{"lower": 500_000, "upper": 1_000_000}],
            }
        },
    )
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(first, second))


def test_raising_the_instance_allocation_keeps_units_and_their_treatments() -> None:
    def assignments(p: str) -> dict[str, str | None]:
        segment = {"name": "segments/grow", "allocation": {"proportion": {"value": p}}}
        c = client(snapshot(instance(segment=segment)))
        out: dict[str, str | None] = {}
        for unit in UNITS:
            r = c.evaluate(FLAG, {"targeting_key": unit})
            out[unit] = r.variant if from_the_test(r) else None
        return out

    small, large = assignments("0.2"), assignments("0.6")
    kept = {u: v for u, v in small.items() if v is not None}
    assert kept
    assert all(large[u] == v for u, v in kept.items())
    assert sum(v is not None for v in large.values()) > len(kept)


# -- validation of instances ----------------------------------------------------------------


def test_weights_that_do_not_sum_to_10000_are_a_config_error() -> None:
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(weights=(("control", 5000), ("new-checkout", 4000)))))


def test_treatments_naming_an_unknown_variant_are_a_config_error() -> None:
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(weights=(("control", 5000), ("missing", 5000)))))


def test_treatments_naming_two_flags_are_a_config_error() -> None:
    doc = snapshot(instance())
    other_flag = copy.deepcopy(doc["flags"][0])
    other_flag["name"] = "flags/other"
    other_flag["rules"] = []
    doc["flags"].append(other_flag)
    doc["abtests"][0]["abtest"]["treatments"][1]["variant"] = "flags/other/variants/new-checkout"
    with pytest.raises(flagstone.ConfigError):
        client(doc)


def test_an_instance_segment_name_that_is_already_a_segment_is_a_config_error() -> None:
    with pytest.raises(flagstone.ConfigError):
        client(snapshot(instance(segment={"name": "segments/everyone"})))
