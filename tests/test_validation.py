"""Snapshot validation: every check of ``flagstone.model.validation`` and the structural
(pydantic) errors of ``flagstone.formats.native``, each reported as a ``ConfigError`` problem
at the JSON path where the defect is; and the snapshot version rules of ``parse_snapshot``.

Each check is a small mutation of a valid snapshot (``good_snapshot``) and the one problem it
must produce: its path and a fragment of its message. Strict-only checks fail in strict mode
and pass in lenient mode; the other checks fail in both.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from flagstone import ConfigError, Problem
from flagstone.formats import parse_snapshot
from tests import builders as b

Doc = dict[str, Any]
Case = Callable[[Doc], list[tuple[str, str]]]
"""Mutates a good snapshot; returns the expected problems as (path, message fragment)."""

CHECKOUT = '$.flags["flags/checkout"]'
RULE = f"{CHECKOUT}.rules[0]"
SPEC = f"{RULE}.assignmentSpec"
SWEDEN = '$.segments["segments/sweden"]'
CRITERION = f"{SWEDEN}.targeting.criteria.c"
CLIENT = '$.clients["web-secret"]'
ABTEST = "$.abtests[0]"


def good_snapshot() -> Doc:
    """A small valid snapshot: two flags, a segment, a client and a live A/B test."""
    return b.snapshot(
        b.flag(
            "checkout",
            {"control": {"layout": "classic"}, "treatment": {"layout": "new"}},
            [
                b.rule(
                    "flags/checkout/rules/se",
                    [b.assignment("a", "control", (0, 1)), b.assignment("b", "treatment", (1, 2))],
                    bucket_count=2,
                    segment="sweden",
                )
            ],
            state="ACTIVE",
            clients=["clients/web"],
        ),
        b.flag("banner", {"on": {"shown": True}}, [], clients=["clients/web"]),
        account="acme",
        segments=[b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))],
        clients=[b.credential("web-secret", "web", ["production"], credential_id="1")],
        abtests=[
            b.abtest(
                "exp1",
                flag="checkout",
                display_name="Checkout experiment",
                selector="targeting_key",
            )
        ],
    )


def problems_of(document: Any, *, strict: bool = True) -> tuple[Problem, ...]:
    """The problems ``parse_snapshot`` raises for ``document``; fails if it raises none."""
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(document, strict=strict)
    return raised.value.problems


def assert_problems(document: Any, expected: list[tuple[str, str]], *, strict: bool = True) -> None:
    """Exactly the ``expected`` problems, in any order: each path once, its message
    containing the fragment."""
    found = problems_of(document, strict=strict)
    assert sorted(p.path for p in found) == sorted(path for path, _ in expected), found
    for path, fragment in expected:
        messages = [p.message for p in found if p.path == path]
        assert any(fragment in message for message in messages), (path, fragment, messages)


def abtest_segment(doc: Doc, index: int = 0, **segment: Any) -> None:
    doc["abtests"][index]["segment"] = segment


def second_abtest(doc: Doc) -> Doc:
    instance = copy.deepcopy(doc["abtests"][0])
    instance["name"] = "workflows/abtest/instances/exp2"
    doc["abtests"].append(instance)
    return instance


def as_lists(doc: Doc) -> Doc:
    """The same snapshot with flags, segments and clients written as lists."""
    for name in ("flags", "segments", "clients"):
        doc[name] = list(doc[name].values())
    return doc


# -- checks that only strict mode makes -------------------------------------------------------

STRICT_ONLY: list[Case] = []
ALWAYS: list[Case] = []


def strict_only(case: Case) -> Case:
    STRICT_ONLY.append(case)
    return case


def always(case: Case) -> Case:
    ALWAYS.append(case)
    return case


@strict_only
def flag_lists_an_unknown_client(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/banner"]["clients"] = ["clients/web", "clients/nobody"]
    return [('$.flags["flags/banner"].clients[1]', "unknown client 'clients/nobody'")]


@strict_only
def rule_names_an_unknown_segment(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/nowhere"
    return [(f"{RULE}.segment", "unknown segment 'segments/nowhere'")]


@strict_only
def rule_without_assignment_spec(doc: Doc) -> list[tuple[str, str]]:
    del doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]
    return [(RULE, "no assignmentSpec")]


@strict_only
def assignment_without_kind(doc: Doc) -> list[tuple[str, str]]:
    del doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1]["variant"]
    return [(f"{SPEC}.assignments[1]", "no variant, fallthrough or clientDefault")]


@strict_only
def assignment_without_bucket_ranges(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1][
        "bucketRanges"
    ] = []
    return [(f"{SPEC}.assignments[1]", "no bucketRanges")]


@strict_only
def assignment_id_used_twice_in_a_rule(doc: Doc) -> list[tuple[str, str]]:
    spec = doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]
    spec["assignments"][1]["assignmentId"] = "a"
    return [(f"{SPEC}.assignments[1].assignmentId", "used twice in this rule")]


@strict_only
def live_abtest_on_an_archived_flag(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["state"] = "ARCHIVED"
    return [(f"{ABTEST}.state", "its flag 'flags/checkout' is archived")]


@strict_only
def materialization_read_mode_without_read_materialization(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["materializationSpec"] = {
        "writeMaterialization": "materializations/m",
        "mode": {"materializationMustMatch": True},
    }
    return [(f"{RULE}.materializationSpec.mode", "without readMaterialization")]


@strict_only
def segment_criterion_names_an_unknown_segment(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"] = {
        "segment": {"segment": "segments/nowhere"}
    }
    return [(f"{CRITERION}.segment.segment", "unknown segment 'segments/nowhere'")]


@strict_only
def empty_criterion(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"] = {}
    return [(CRITERION, "the criterion is empty")]


@strict_only
def criteria_without_an_expression(doc: Doc) -> list[tuple[str, str]]:
    del doc["segments"]["segments/sweden"]["targeting"]["expression"]
    return [(f"{SWEDEN}.targeting", "without an expression")]


@strict_only
def expression_refers_to_an_unknown_criterion(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {
        "and": {"operands": [{"ref": "c"}, {"not": {"ref": "missing"}}]}
    }
    return [
        (f"{SWEDEN}.targeting.expression.and.operands[1].not.ref", "unknown criterion 'missing'")
    ]


@strict_only
def empty_expression(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {
        "or": {"operands": [{"ref": "c"}, {}]}
    }
    return [(f"{SWEDEN}.targeting.expression.or.operands[1]", "the expression is empty")]


@strict_only
def attribute_criterion_without_a_rule(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"] = {
        "attribute": {"attributeName": "country"}
    }
    return [(f"{CRITERION}.attribute", "no recognised rule for attribute 'country'")]


@strict_only
def any_rule_without_an_inner_rule(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"] = {
        "attribute": {"attributeName": "countries", "anyRule": {}}
    }
    return [(f"{CRITERION}.attribute.anyRule.rule", "no recognised inner rule")]


@strict_only
def eq_rule_without_a_value(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"]["eqRule"] = {}
    return [(f"{CRITERION}.attribute.eqRule", 'eqRule needs a "value"')]


@strict_only
def set_rule_mixing_value_kinds(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "country",
        "setRule": {"values": [{"stringValue": "SE"}, {"numberValue": 46}]},
    }
    return [(f"{CRITERION}.attribute.setRule", "the set mixes value kinds: number, string")]


@strict_only
def range_rule_without_bounds(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "age",
        "rangeRule": {},
    }
    return [(f"{CRITERION}.attribute.rangeRule", "the range has no bound")]


@strict_only
def segment_referencing_itself(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["self"] = {
        "segment": {"segment": "segments/sweden"}
    }
    return [(f"{SWEDEN}.targeting", "references itself")]


@strict_only
def segments_referencing_each_other_in_a_cycle(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["loop"] = {
        "segment": {"segment": "segments/nordics"}
    }
    doc["segments"]["segments/nordics"] = {
        "name": "segments/nordics",
        "targeting": {
            "criteria": {"s": {"segment": {"segment": "segments/sweden"}}},
            "expression": {"ref": "s"},
        },
    }
    return [(f"{SWEDEN}.targeting", "reference each other in a cycle")]


@strict_only
def bitset_for_an_unknown_segment(doc: Doc) -> list[tuple[str, str]]:
    doc["bitsets"] = {"segments/nowhere": "ALL"}
    return [('$.bitsets["segments/nowhere"]', "a bitset for unknown segment")]


@strict_only
def credential_of_another_client(doc: Doc) -> list[tuple[str, str]]:
    doc["clients"]["web-secret"]["clientCredential"]["name"] = "clients/app/credentials/1"
    return [(f"{CLIENT}.clientCredential.name", "is not one of 'clients/web'")]


@strict_only
def abtest_targeting_naming_an_unknown_criterion(doc: Doc) -> list[tuple[str, str]]:
    abtest_segment(doc, targeting={"criteria": {}, "expression": {"ref": "nope"}})
    return [(f"{ABTEST}.segment.targeting.expression.ref", "unknown criterion 'nope'")]


# -- checks made in both modes ----------------------------------------------------------------


@always
def account_name_without_the_accounts_prefix(doc: Doc) -> list[tuple[str, str]]:
    doc["account"]["name"] = "acme"
    return [("$.account.name", "is not a accounts/<id> name")]


@always
def flag_map_key_differing_from_the_name(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/other"] = doc["flags"].pop("flags/banner")
    return [('$.flags["flags/other"].name', "the map key 'flags/other' differs")]


@always
def flag_name_without_the_flags_prefix(doc: Doc) -> list[tuple[str, str]]:
    banner = doc["flags"].pop("flags/banner")
    banner["name"] = "banner"
    doc["flags"]["banner"] = banner
    return [("$.flags.banner.name", "'banner' is not a flags/<id> name")]


@always
def variant_defined_twice(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/banner"]["variants"].append({"name": "on", "value": {}})
    return [('$.flags["flags/banner"].variants[1].name', "variant 'on' is defined twice")]


@always
def rule_name_defined_twice_in_a_flag(doc: Doc) -> list[tuple[str, str]]:
    rules = doc["flags"]["flags/checkout"]["rules"]
    rules.append(copy.deepcopy(rules[0]))
    return [(f"{CHECKOUT}.rules[1].name", "is defined twice in this flag")]


@always
def rule_naming_a_segment_that_is_not_a_segments_name(doc: Doc) -> list[tuple[str, str]]:
    sweden = doc["segments"].pop("segments/sweden")
    sweden["name"] = "sweden"
    doc["segments"]["sweden"] = sweden
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "sweden"
    return [
        ("$.segments.sweden.name", "'sweden' is not a segments/<id> name"),
        (f"{RULE}.segment", "'sweden' is not a segments/<id> name"),
    ]


@always
def assignment_naming_an_unknown_variant(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1]["variant"] = {
        "variant": "missing"
    }
    return [(f"{SPEC}.assignments[1].variant.variant", "unknown variant 'missing'")]


@always
def bucket_range_with_lower_not_below_upper(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1][
        "bucketRanges"
    ] = [{"lower": 2, "upper": 1}]
    return [(f"{SPEC}.assignments[1].bucketRanges[0]", "lower 2 is not below upper 1")]


@always
def bucket_range_beyond_the_bucket_count(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1][
        "bucketRanges"
    ] = [{"lower": 1, "upper": 3}]
    return [(f"{SPEC}.assignments[1].bucketRanges[0]", "upper 3 exceeds the 2 buckets")]


@always
def bucket_ranges_of_two_assignments_overlapping(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][1][
        "bucketRanges"
    ] = [{"lower": 0, "upper": 2}]
    return [(f"{SPEC}.assignments[1].bucketRanges[0]", "overlaps")]


@always
def segment_map_key_differing_from_the_name(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/other"] = doc["segments"].pop("segments/sweden")
    return [
        ('$.segments["segments/other"].name', "the map key 'segments/other' differs"),
    ]


@always
def segment_name_without_the_segments_prefix(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["x"] = {"name": "x"}
    return [("$.segments.x.name", "'x' is not a segments/<id> name")]


@always
def timestamp_value_that_is_not_rfc3339(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"]["eqRule"] = {
        "value": {"timestampValue": "yesterday"}
    }
    return [(f"{CRITERION}.attribute.eqRule.value.timestampValue", "not an RFC 3339 timestamp")]


@always
def range_bound_that_is_a_bool(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "age",
        "rangeRule": {"startInclusive": {"boolValue": True}},
    }
    return [
        (f"{CRITERION}.attribute.rangeRule.startInclusive", "a range bound cannot be a bool value")
    ]


@always
def range_bounds_of_different_kinds(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "age",
        "rangeRule": {
            "startInclusive": {"numberValue": 18},
            "endExclusive": {"stringValue": "65"},
        },
    }
    return [(f"{CRITERION}.attribute.rangeRule", "the bounds have different kinds")]


@always
def range_rule_inside_an_all_rule_with_a_null_bound(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "ages",
        "allRule": {"rule": {"rangeRule": {"endExclusive": {}}}},
    }
    return [
        (
            f"{CRITERION}.attribute.allRule.rule.rangeRule.endExclusive",
            "a range bound cannot be a null value",
        )
    ]


@always
def allocation_range_beyond_the_account_buckets(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "bucketRanges": [{"lower": 0, "upper": 1_000_001}]
    }
    return [(f"{SWEDEN}.allocation.bucketRanges[0]", "upper 1000001 exceeds the 1000000 buckets")]


@always
def allocation_ranges_overlapping_each_other(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "bucketRanges": [{"lower": 0, "upper": 300_000}, {"lower": 200_000, "upper": 400_000}]
    }
    return [(f"{SWEDEN}.allocation.bucketRanges[1]", "another range of this allocation")]


@always
def exclusivity_tags_without_bucket_ranges(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "proportion": 0.5,
        "exclusivityTags": ["checkout"],
    }
    return [(f"{SWEDEN}.allocation.exclusivityTags", "needs bucketRanges")]


@always
def proportion_not_matching_the_bucket_ranges(doc: Doc) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "proportion": {"value": "0.5"},
        "bucketRanges": [{"lower": 0, "upper": 300_000}],
    }
    return [(f"{SWEDEN}.allocation.proportion", "does not equal the bucket ranges' width")]


@always
def exclusive_ranges_overlapping_between_segments_sharing_a_tag(
    doc: Doc,
) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "exclusivityTags": ["checkout"],
        "bucketRanges": [{"lower": 0, "upper": 500_000}],
    }
    doc["segments"]["segments/norway"] = {
        "name": "segments/norway",
        "allocation": {
            "exclusivityTags": ["checkout", "other"],
            "bucketRanges": [{"lower": 400_000, "upper": 600_000}],
        },
    }
    return [
        (
            '$.segments["segments/norway"].allocation.bucketRanges[0]',
            "exclusive under tag 'checkout'",
        )
    ]


@always
def exclusive_ranges_overlapping_between_a_segment_and_an_abtest(
    doc: Doc,
) -> list[tuple[str, str]]:
    doc["segments"]["segments/sweden"]["allocation"] = {
        "exclusivityTags": ["checkout"],
        "bucketRanges": [{"lower": 0, "upper": 500_000}],
    }
    abtest_segment(
        doc,
        allocation={
            "proportion": "0.5",
            "exclusivityTags": ["checkout"],
            "bucketRanges": [{"lower": 499_999, "upper": 999_999}],
        },
    )
    return [(f"{ABTEST}.segment.allocation.bucketRanges[0]", "exclusive under tag 'checkout'")]


@always
def undecodable_bitset(doc: Doc) -> list[tuple[str, str]]:
    doc["bitsets"] = {"segments/sweden": "not base64 of gzip!"}
    return [('$.bitsets["segments/sweden"]', "")]


@always
def bitset_bucket_outside_the_account_space(doc: Doc) -> list[tuple[str, str]]:
    doc["bitsets"] = {"segments/sweden": [0, 1_000_000]}
    return [('$.bitsets["segments/sweden"]', "")]


@always
def undecodable_bloom_filter(doc: Doc) -> list[tuple[str, str]]:
    doc["bloomFilters"] = {
        "materializations/m": {"data": "%%%", "hashFunctionCount": 3, "bitCount": 64}
    }
    return [('$.bloomFilters["materializations/m"]', "")]


@always
def client_map_key_differing_from_the_secret(doc: Doc) -> list[tuple[str, str]]:
    doc["clients"]["other-key"] = doc["clients"].pop("web-secret")
    return [
        (
            '$.clients["other-key"].clientCredential.clientSecret.secret',
            "the map key differs from the credential's secret",
        )
    ]


@always
def client_name_without_the_clients_prefix(doc: Doc) -> list[tuple[str, str]]:
    doc["clients"]["web-secret"]["client"]["name"] = "web"
    doc["clients"]["web-secret"]["clientCredential"]["name"] = "web/credentials/1"
    for flag in doc["flags"].values():
        flag["clients"] = ["web"]
    return [(f"{CLIENT}.client.name", "'web' is not a clients/<id> name")]


@always
def abtest_without_an_instance_id(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["name"] = "workflows/abtest/instances/"
    return [(f"{ABTEST}.name", "an A/B test needs a name")]


@always
def abtest_defined_twice(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"].append(copy.deepcopy(doc["abtests"][0]))
    return [
        ("$.abtests[1].name", "is defined twice"),
        # both compile into the same default segment, segments/abtest-exp1
        ("$.abtests[1].segment.name", "is already defined"),
    ]


@always
def abtest_segment_name_without_the_segments_prefix(doc: Doc) -> list[tuple[str, str]]:
    abtest_segment(doc, name="exp1-segment")
    return [(f"{ABTEST}.segment.name", "'exp1-segment' is not a segments/<id> name")]


@always
def abtest_segment_named_like_a_top_level_segment(doc: Doc) -> list[tuple[str, str]]:
    abtest_segment(doc, name="segments/sweden")
    return [(f"{ABTEST}.segment.name", "segment 'segments/sweden' is already defined")]


@always
def two_abtests_naming_the_same_segment(doc: Doc) -> list[tuple[str, str]]:
    abtest_segment(doc, name="segments/shared")
    second_abtest(doc)["segment"] = {"name": "segments/shared"}
    return [("$.abtests[1].segment.name", "segment 'segments/shared' is already defined")]


@always
def abtest_explicit_segment_colliding_with_another_abtests_default(
    doc: Doc,
) -> list[tuple[str, str]]:
    second_abtest(doc)["segment"] = {"name": "segments/abtest-exp1"}
    return [("$.abtests[1].segment.name", "segment 'segments/abtest-exp1' is already defined")]


@always
def abtest_with_an_empty_targeting_key_selector(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["flags"]["targetingKeySelector"] = ""
    return [(f"{ABTEST}.flags.targetingKeySelector", "needs a unit to bucket")]


@always
def abtest_without_treatments(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"] = []
    return [(f"{ABTEST}.abtest.treatments", "at least one treatment")]


@always
def abtest_weights_not_summing_to_10000(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"][1]["weight"] = 4000
    return [(f"{ABTEST}.abtest.treatments", "the weights sum to 9000, not 10000")]


@always
def treatment_variant_that_is_not_a_full_variant_name(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"][0]["variant"] = "control"
    return [(f"{ABTEST}.abtest.treatments[0].variant", "is not flags/<flag>/variants/<variant>")]


@always
def treatment_naming_an_unknown_flag(doc: Doc) -> list[tuple[str, str]]:
    treatments = doc["abtests"][0]["abtest"]["treatments"]
    treatments[0]["variant"] = "flags/nothing/variants/control"
    treatments[1]["variant"] = "flags/nothing/variants/treatment"
    return [
        (f"{ABTEST}.abtest.treatments[0].variant", "unknown flag 'flags/nothing'"),
        (f"{ABTEST}.abtest.treatments[1].variant", "unknown flag 'flags/nothing'"),
    ]


@always
def treatment_naming_an_unknown_variant(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"][1]["variant"] = "flags/checkout/variants/blue"
    return [(f"{ABTEST}.abtest.treatments[1].variant", "unknown variant 'blue'")]


@always
def treatment_naming_the_same_variant_twice(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"][1]["variant"] = "flags/checkout/variants/control"
    return [(f"{ABTEST}.abtest.treatments[1].variant", "variant 'control' is a treatment twice")]


@always
def treatments_naming_two_flags(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["abtest"]["treatments"][1]["variant"] = "flags/banner/variants/on"
    return [(f"{ABTEST}.abtest.treatments", "all treatments name one flag")]


@always
def treatment_override_naming_a_variant_that_is_not_a_treatment(
    doc: Doc,
) -> list[tuple[str, str]]:
    doc["abtests"][0]["treatmentOverrides"] = {
        "user-1": "flags/checkout/variants/control",
        "user-2": "treatment",
        "qa@example.com": "blue",
    }
    return [
        ('$.abtests[0].treatmentOverrides["qa@example.com"]', "'blue' is not one of the test's")
    ]


@always
def abtest_allocation_proportion_not_matching_its_ranges(doc: Doc) -> list[tuple[str, str]]:
    abtest_segment(
        doc, allocation={"proportion": 0.25, "bucketRanges": [{"lower": 0, "upper": 500_000}]}
    )
    return [(f"{ABTEST}.segment.allocation.proportion", "does not equal the bucket ranges' width")]


@always
def abtest_start_time_that_is_not_rfc3339(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["startTime"] = "next monday"
    return [(f"{ABTEST}.startTime", "'next monday' is not an RFC 3339 timestamp")]


@always
def abtest_end_time_that_is_not_rfc3339(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["endTime"] = "2025-13-01T00:00:00Z"
    return [(f"{ABTEST}.endTime", "is not an RFC 3339 timestamp")]


@always
def abtest_ending_before_it_starts(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["startTime"] = "2025-06-01T00:00:00Z"
    doc["abtests"][0]["endTime"] = "2025-05-01T00:00:00Z"
    return [(f"{ABTEST}.endTime", "the end time is not after the start time")]


@always
def assignment_range_overlapping_a_non_adjacent_range(doc: Doc) -> list[tuple[str, str]]:
    spec = doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]
    spec["bucketCount"] = 10
    spec["assignments"] = [
        {"variant": {"variant": "control"}, "bucketRanges": [{"lower": 0, "upper": 10}]},
        {"variant": {"variant": "treatment"}, "bucketRanges": [{"lower": 2, "upper": 3}]},
        {"variant": {"variant": "treatment"}, "bucketRanges": [{"lower": 5, "upper": 6}]},
    ]
    return [
        (f"{SPEC}.assignments[1].bucketRanges[0]", "overlaps"),
        (f"{SPEC}.assignments[2].bucketRanges[0]", "overlaps"),
    ]


@always
def exclusive_range_overlapping_a_non_adjacent_range_under_a_shared_tag(
    doc: Doc,
) -> list[tuple[str, str]]:
    def exclusive(name: str, lower: int, upper: int) -> None:
        doc["segments"][name] = {
            "name": name,
            "allocation": {
                "exclusivityTags": ["checkout"],
                "bucketRanges": [{"lower": lower, "upper": upper}],
            },
        }

    exclusive("segments/wide", 0, 600_000)
    exclusive("segments/first", 100_000, 200_000)
    exclusive("segments/second", 300_000, 400_000)
    return [
        ('$.segments["segments/first"].allocation.bucketRanges[0]', "exclusive under tag"),
        ('$.segments["segments/second"].allocation.bucketRanges[0]', "exclusive under tag"),
    ]


@always
def targeting_key_selector_with_an_empty_path_step(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["targetingKeySelector"] = "user..id"
    return [(f"{RULE}.targetingKeySelector", "is not a dotted path")]


@always
def abtest_selector_with_an_empty_path_step(doc: Doc) -> list[tuple[str, str]]:
    doc["abtests"][0]["flags"]["targetingKeySelector"] = "user."
    return [(f"{ABTEST}.flags.targetingKeySelector", "is not a dotted path")]


@always
def bucket_count_given_as_a_boolean(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["bucketCount"] = True
    return [(f"{SPEC}.bucketCount", "not a boolean")]


@always
def bucket_range_bound_given_as_a_boolean(doc: Doc) -> list[tuple[str, str]]:
    spec = doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]
    spec["assignments"][1]["bucketRanges"][0]["upper"] = True
    return [(f"{SPEC}.assignments[1].bucketRanges[0].upper", "not a boolean")]


@always
def treatment_override_naming_another_flags_variant(doc: Doc) -> list[tuple[str, str]]:
    doc["flags"]["flags/banner"]["variants"].append({"name": "control", "value": {}})
    doc["abtests"][0]["treatmentOverrides"] = {"user-1": "flags/banner/variants/control"}
    return [('$.abtests[0].treatmentOverrides["user-1"]', "is not one of the test's")]


def _case_id(case: Case) -> str:
    return case.__name__


@pytest.mark.parametrize("case", STRICT_ONLY, ids=_case_id)
def test_strict_only_check_is_reported_at_its_path_in_strict_mode(case: Case) -> None:
    doc = good_snapshot()
    expected = case(doc)
    assert_problems(doc, expected, strict=True)


@pytest.mark.parametrize("case", STRICT_ONLY, ids=_case_id)
def test_strict_only_check_passes_in_lenient_mode(case: Case) -> None:
    doc = good_snapshot()
    case(doc)
    parse_snapshot(doc, strict=False)


@pytest.mark.parametrize("case", STRICT_ONLY, ids=_case_id)
def test_strict_only_problem_says_how_lenient_mode_treats_it(case: Case) -> None:
    doc = good_snapshot()
    case(doc)
    assert all("strict=False" in p.message for p in problems_of(doc))


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
@pytest.mark.parametrize("case", ALWAYS, ids=_case_id)
def test_always_check_is_reported_at_its_path_in_both_modes(case: Case, strict: bool) -> None:
    doc = good_snapshot()
    expected = case(doc)
    assert_problems(doc, expected, strict=strict)


# -- a good snapshot --------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_good_snapshot_passes(strict: bool) -> None:
    parsed = parse_snapshot(good_snapshot(), strict=strict)
    assert set(parsed.model.flags) == {"flags/checkout", "flags/banner"}


def test_good_snapshot_written_with_lists_passes() -> None:
    parsed = parse_snapshot(as_lists(good_snapshot()))
    assert [flag.name for flag in parsed.model.flags] == ["flags/checkout", "flags/banner"]  # type: ignore[union-attr]


def test_good_snapshot_passes_from_json_bytes() -> None:
    parse_snapshot(json.dumps(good_snapshot()).encode())


def test_empty_document_is_a_valid_snapshot() -> None:
    assert parse_snapshot(b"{}").model.flags == {}


def test_abtest_with_exclusive_ranges_and_matching_proportion_passes() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["allocation"] = {
        "exclusivityTags": ["checkout"],
        "bucketRanges": [{"lower": 0, "upper": 500_000}],
    }
    abtest_segment(
        doc,
        name="segments/exp1",
        allocation={
            "proportion": {"value": "0.5"},
            "exclusivityTags": ["checkout"],
            "bucketRanges": [{"lower": 500_000, "upper": 1_000_000}],
        },
    )
    parse_snapshot(doc)


def test_overlapping_ranges_under_different_exclusivity_tags_pass() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["allocation"] = {
        "exclusivityTags": ["checkout"],
        "bucketRanges": [{"lower": 0, "upper": 500_000}],
    }
    doc["segments"]["segments/norway"] = {
        "name": "segments/norway",
        "allocation": {
            "exclusivityTags": ["search"],
            "bucketRanges": [{"lower": 0, "upper": 500_000}],
        },
    }
    parse_snapshot(doc)


def test_treatment_overrides_accept_full_and_short_variant_names() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["treatmentOverrides"] = {
        "user-1": "flags/checkout/variants/control",
        "user-2": "treatment",
    }
    parse_snapshot(doc)


def test_attribute_is_accepted_as_an_alias_of_attribute_name() -> None:
    doc = good_snapshot()
    criterion = doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"]
    criterion["attribute"] = criterion.pop("attributeName")
    parsed = parse_snapshot(doc)
    segment = parsed.model.segments["segments/sweden"]  # type: ignore[call-overload]
    assert segment.targeting.criteria["c"].attribute.attribute_name == "country"


def test_attribute_alias_is_accepted_in_abtest_targeting() -> None:
    doc = good_snapshot()
    abtest_segment(
        doc,
        targeting={
            "criteria": {
                "page-1": {
                    "attribute": {"attribute": "page", "eqRule": {"value": {"stringValue": "home"}}}
                }
            },
            "expression": {"and": {"operands": [{"ref": "page-1"}]}},
        },
    )
    parse_snapshot(doc)


# -- lists: paths carry indices ---------------------------------------------------------------


def test_flags_given_as_a_list_report_problems_by_index() -> None:
    doc = as_lists(good_snapshot())
    doc["flags"][1]["variants"].append({"name": "on"})
    assert_problems(doc, [("$.flags[1].variants[1].name", "defined twice")])


def test_flag_defined_twice_in_a_list_is_reported_at_the_second() -> None:
    doc = as_lists(good_snapshot())
    doc["flags"].append(copy.deepcopy(doc["flags"][1]))
    assert_problems(doc, [("$.flags[2].name", "flag 'flags/banner' is defined twice")])


def test_segments_given_as_a_list_report_problems_by_index() -> None:
    doc = as_lists(good_snapshot())
    doc["segments"][0]["targeting"]["expression"] = {"ref": "missing"}
    assert_problems(doc, [("$.segments[0].targeting.expression.ref", "unknown criterion")])


def test_segment_defined_twice_in_a_list_is_reported_at_the_second() -> None:
    doc = as_lists(good_snapshot())
    doc["segments"].append(copy.deepcopy(doc["segments"][0]))
    assert_problems(doc, [("$.segments[1].name", "segment 'segments/sweden' is defined twice")])


def test_secret_used_twice_in_a_client_list_is_reported_at_the_second() -> None:
    doc = as_lists(good_snapshot())
    doc["clients"].append(copy.deepcopy(doc["clients"][0]))
    assert_problems(
        doc, [("$.clients[1].clientCredential.clientSecret.secret", "a secret is used twice")]
    )


def test_type_error_in_a_list_item_keeps_the_indices_of_the_others() -> None:
    doc = as_lists(good_snapshot())
    doc["flags"][0]["state"] = "ON"
    doc["flags"][1]["variants"].append({"name": "on"})
    assert_problems(
        doc,
        [
            ("$.flags[0].state", "input should be 'ACTIVE' or 'ARCHIVED'"),
            ("$.flags[1].variants[1].name", "defined twice"),
        ],
    )


def test_type_error_in_an_abtest_keeps_the_index_of_the_next_one() -> None:
    doc = good_snapshot()
    second_abtest(doc)["abtest"]["treatments"][0]["weight"] = 1000
    doc["abtests"][0]["state"] = "running"
    assert_problems(
        doc,
        [
            ("$.abtests[0].state", "input should be"),
            ("$.abtests[1].abtest.treatments", "the weights sum to 6000"),
        ],
    )


# -- every problem at once --------------------------------------------------------------------


def test_all_semantic_problems_of_a_document_are_reported_together() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/nowhere"
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {"ref": "missing"}
    doc["abtests"][0]["abtest"]["treatments"][1]["weight"] = 1
    doc["abtests"][0]["startTime"] = "soon"
    assert_problems(
        doc,
        [
            (f"{RULE}.segment", "unknown segment"),
            (f"{SWEDEN}.targeting.expression.ref", "unknown criterion"),
            (f"{ABTEST}.abtest.treatments", "the weights sum to 5001"),
            (f"{ABTEST}.startTime", "not an RFC 3339 timestamp"),
        ],
    )


def test_all_type_errors_of_a_document_are_reported_together() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["bucketCount"] = "two"
    doc["flags"]["flags/banner"]["colour"] = "red"
    del doc["clients"]["web-secret"]["client"]["name"]
    assert_problems(
        doc,
        [
            (f"{SPEC}.bucketCount", "valid integer"),
            ('$.flags["flags/banner"].colour', "unknown field"),
            (f"{CLIENT}.client.name", "required field is missing"),
        ],
    )


def test_type_error_and_semantic_error_are_reported_together() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["bucketCount"] = "two"
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {"ref": "missing"}
    doc["abtests"][0]["abtest"]["treatments"][1]["weight"] = 4000
    assert_problems(
        doc,
        [
            (f"{SPEC}.bucketCount", "valid integer"),
            (f"{SWEDEN}.targeting.expression.ref", "unknown criterion 'missing'"),
            (f"{ABTEST}.abtest.treatments", "the weights sum to 9000"),
        ],
    )


def test_type_error_and_semantic_error_are_reported_together_from_json_bytes() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/banner"]["state"] = "PAUSED"
    doc["abtests"][0]["abtest"]["treatments"][1]["weight"] = 4000
    assert_problems(
        json.dumps(doc).encode(),
        [
            ('$.flags["flags/banner"].state', "input should be"),
            (f"{ABTEST}.abtest.treatments", "the weights sum to 9000"),
        ],
    )


def test_strict_only_problem_beside_a_type_error_is_dropped_in_lenient_mode() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/banner"]["state"] = "PAUSED"
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/nowhere"
    assert_problems(doc, [('$.flags["flags/banner"].state', "input should be")], strict=False)


def test_reference_to_a_segment_that_failed_to_parse_is_not_reported_as_unknown() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["state"] = 3
    assert_problems(doc, [(f"{SWEDEN}.state", "valid string")])


def test_treatment_of_a_flag_that_failed_to_parse_is_not_reported_as_unknown() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["clients"] = "clients/web"
    assert_problems(doc, [(f"{CHECKOUT}.clients", "valid list")])


def test_reference_to_the_segment_of_an_abtest_that_failed_to_parse_is_not_reported() -> None:
    doc = good_snapshot()
    abtest_segment(doc, name="segments/exp1")
    doc["abtests"][0]["state"] = "running"
    doc["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/exp1"
    assert_problems(doc, [(f"{ABTEST}.state", "input should be")])


def test_client_that_failed_to_parse_is_not_reported_as_unknown_by_its_flags() -> None:
    doc = good_snapshot()
    doc["clients"]["web-secret"]["clientCredential"]["environments"] = "production"
    assert_problems(doc, [(f"{CLIENT}.clientCredential.environments", "valid list")])


def test_config_error_names_its_problem_count() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/banner"]["colour"] = "red"
    doc["abtests"][0]["startTime"] = "soon"
    with pytest.raises(ConfigError, match=r"^2 problems"):
        parse_snapshot(doc)


# -- structural errors (pydantic), translated -------------------------------------------------


def test_invalid_json_is_one_problem_at_the_root() -> None:
    assert_problems(b'{"flags": ', [("$", "not valid JSON")])


def test_document_that_is_not_an_object_is_a_problem_at_the_root() -> None:
    assert_problems(b"[1, 2]", [("$", "expected an object")])


def test_mapping_that_is_not_json_is_a_problem_at_the_root() -> None:
    assert_problems({"flags": {1, 2}}, [("$", "not a JSON document")])


def test_flags_that_are_neither_a_map_nor_a_list_are_a_problem() -> None:
    assert_problems(
        {"flags": "flags/a"}, [("$.flags", "expected an object keyed by name, or a list")]
    )


def test_unknown_top_level_field_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flag"] = {}
    assert_problems(doc, [("$.flag", "unknown field")])


def test_unknown_field_of_a_rule_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["segmnet"] = "segments/sweden"
    assert_problems(doc, [(f"{RULE}.segmnet", "unknown field")])


def test_unknown_field_in_a_listed_segment_is_a_problem_at_its_index() -> None:
    doc = as_lists(good_snapshot())
    doc["segments"][0]["targeting"]["criteria"]["c"]["attribute"]["eqrule"] = {}
    assert_problems(doc, [("$.segments[0].targeting.criteria.c.attribute.eqrule", "unknown field")])


def test_unknown_field_of_an_abtest_is_a_problem() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["treatments"] = []
    assert_problems(doc, [(f"{ABTEST}.treatments", "unknown field")])


def test_missing_required_field_is_a_problem() -> None:
    doc = good_snapshot()
    del doc["flags"]["flags/checkout"]["rules"][0]["segment"]
    assert_problems(doc, [(f"{RULE}.segment", "required field is missing")])


def test_entity_that_is_not_an_object_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0] = "flags/checkout/rules/se"
    assert_problems(doc, [(RULE, "expected an object")])


def test_assignment_with_two_kinds_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][0][
        "fallthrough"
    ] = {}
    assert_problems(doc, [(f"{SPEC}.assignments[0]", "an assignment has one kind")])


def test_bucket_count_of_zero_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["bucketCount"] = 0
    assert_problems(doc, [(f"{SPEC}.bucketCount", "greater than 0")])


def test_negative_bucket_bound_is_a_problem() -> None:
    doc = good_snapshot()
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["assignments"][0][
        "bucketRanges"
    ] = [{"lower": -1, "upper": 1}]
    assert_problems(
        doc, [(f"{SPEC}.assignments[0].bucketRanges[0].lower", "greater than or equal")]
    )


def test_value_with_two_kinds_is_a_problem() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"]["eqRule"] = {
        "value": {"stringValue": "SE", "numberValue": 1}
    }
    assert_problems(doc, [(f"{CRITERION}.attribute.eqRule.value", "a value has one kind")])


def test_criterion_with_two_rules_is_a_problem() -> None:
    doc = good_snapshot()
    attribute = doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"]
    attribute["setRule"] = {"values": [{"stringValue": "SE"}]}
    assert_problems(doc, [(f"{CRITERION}.attribute", "a criterion has one rule")])


def test_expression_with_two_operators_is_a_problem() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["targeting"]["expression"] = {
        "ref": "c",
        "not": {"ref": "c"},
    }
    assert_problems(doc, [(f"{SWEDEN}.targeting.expression", "an expression has one operator")])


def test_range_with_two_starts_is_a_problem() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "age",
        "rangeRule": {"startInclusive": {"numberValue": 1}, "startExclusive": {"numberValue": 2}},
    }
    assert_problems(doc, [(f"{CRITERION}.attribute.rangeRule", "a range has one start")])


def test_proportion_outside_zero_to_one_is_a_problem() -> None:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["allocation"] = {"proportion": "1.5"}
    assert_problems(doc, [(f"{SWEDEN}.allocation.proportion", "outside [0, 1]")])


def test_proportion_object_with_extra_keys_is_a_problem() -> None:
    doc = good_snapshot()
    abtest_segment(doc, allocation={"proportion": {"value": "0.5", "unit": "%"}})
    assert_problems(doc, [(f"{ABTEST}.segment.allocation.proportion", 'exactly one key, "value"')])


def test_fractional_treatment_weight_is_a_problem() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["abtest"]["treatments"][0]["weight"] = "50.5"
    assert_problems(
        doc, [(f"{ABTEST}.abtest.treatments[0].weight", "not a whole number of basis points")]
    )


def test_treatment_weight_above_10000_is_a_problem() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["abtest"]["treatments"][0]["weight"] = 20_000
    assert_problems(doc, [(f"{ABTEST}.abtest.treatments[0].weight", "less than or equal to 10000")])


def test_unknown_abtest_state_is_a_problem() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["state"] = "running"
    assert_problems(
        doc, [(f"{ABTEST}.state", "input should be 'draft', 'live', 'ended' or 'archived'")]
    )


def test_bitset_of_non_integers_is_a_problem() -> None:
    doc = good_snapshot()
    doc["bitsets"] = {"segments/sweden": [1, "2"]}
    assert_problems(doc, [('$.bitsets["segments/sweden"]', "bucket index #1")])


def test_attribute_criterion_without_a_name_is_a_problem() -> None:
    doc = good_snapshot()
    del doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"][
        "attributeName"
    ]
    assert_problems(doc, [(f"{CRITERION}.attribute.attributeName", "required field is missing")])


# -- version ----------------------------------------------------------------------------------


def test_top_level_version_is_the_snapshot_version() -> None:
    doc = good_snapshot()
    doc["version"] = "2025-06-01.3"
    assert parse_snapshot(json.dumps(doc).encode()).version == "2025-06-01.3"


def test_numeric_top_level_version_becomes_text() -> None:
    assert parse_snapshot(b'{"version": 42}').version == "42"


def test_without_a_version_the_version_is_the_sha256_prefix_of_the_bytes() -> None:
    raw = json.dumps(good_snapshot(), indent=1).encode()
    assert parse_snapshot(raw).version == hashlib.sha256(raw).hexdigest()[:12]


def test_without_a_version_text_is_hashed_as_utf8() -> None:
    text = '{"flags": {}, "stateFileHash": "h\u00e4sh"}'
    assert parse_snapshot(text).version == hashlib.sha256(text.encode()).hexdigest()[:12]


def test_without_a_version_any_byte_change_changes_the_version() -> None:
    compact = json.dumps(good_snapshot()).encode()
    assert parse_snapshot(compact).version != parse_snapshot(compact + b"\n").version


def test_version_of_a_mapping_does_not_depend_on_key_order() -> None:
    doc = good_snapshot()
    reordered = dict(reversed(list(doc.items())))
    version = parse_snapshot(doc).version
    assert version == parse_snapshot(reordered).version
    assert len(version) == 12 and all(c in "0123456789abcdef" for c in version)


def test_a_document_that_is_not_an_object_or_its_text_is_a_config_error() -> None:
    for document in (["flags"], 5, None):
        problems = problems_of(document)
        assert [problem.path for problem in problems] == ["$"]


# -- versions: every version Confidence accepts loads; one that compares as zero warns -------


def _with_version_criterion(rule: dict[str, Any]) -> Doc:
    doc = good_snapshot()
    doc["segments"]["segments/sweden"]["targeting"]["criteria"]["c"]["attribute"] = {
        "attributeName": "app_version",
        **rule,
    }
    return doc


RANGE_START = f"{CRITERION}.attribute.rangeRule.startInclusive.versionValue.version"


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("version", ["3.0.0.1", "1.2", "1.2.3456", "2.0.0-rc.1", "01.0.0"])
def test_every_version_confidence_reads_loads_without_warning(version: str, strict: bool) -> None:
    for rule in (
        {"rangeRule": {"startInclusive": {"versionValue": {"version": version}}}},
        {"eqRule": {"value": {"versionValue": {"version": version}}}},
        {"setRule": {"values": [{"versionValue": {"version": version}}]}},
    ):
        assert parse_snapshot(_with_version_criterion(rule), strict=strict).warnings == ()


@pytest.mark.parametrize("version", ["v2.0.0", "12345678901.0.0", "one", "", "1.2.3+build"])
def test_a_range_version_that_only_compares_as_zero_is_a_strict_mode_warning(version: str) -> None:
    doc = _with_version_criterion(
        {"rangeRule": {"startInclusive": {"versionValue": {"version": version}}}}
    )
    (warning,) = parse_snapshot(doc).warnings
    assert warning.path == RANGE_START
    assert repr(version) in warning.message and "compares as 0.0.0.0" in warning.message
    assert parse_snapshot(doc, strict=False).warnings == ()


def test_a_literal_zero_version_is_no_warning() -> None:
    for version in ("0.0.0", "0.0", "0.0.0.0-beta"):
        doc = _with_version_criterion(
            {"rangeRule": {"startInclusive": {"versionValue": {"version": version}}}}
        )
        assert parse_snapshot(doc).warnings == ()


def test_an_eq_or_set_version_that_only_compares_as_zero_is_a_warning() -> None:
    # eqRule and setRule compare 4-tuples too: "v2.0.0" would match every unversioned text
    for rule, where in (
        ({"eqRule": {"value": {"versionValue": {"version": "v2.0.0"}}}}, "eqRule.value"),
        ({"setRule": {"values": [{"versionValue": {"version": "one"}}]}}, "setRule.values[0]"),
    ):
        warnings = parse_snapshot(_with_version_criterion(rule)).warnings
        assert [w.path.rsplit(".attribute.", 1)[1] for w in warnings] == [
            f"{where}.versionValue.version"
        ]


def test_a_warning_in_an_inner_rule_of_an_abtest_segment_has_its_path() -> None:
    doc = good_snapshot()
    doc["abtests"][0]["segment"] = {
        "targeting": {
            "criteria": {
                "v": {
                    "attribute": {
                        "attributeName": "versions",
                        "anyRule": {
                            "rule": {
                                "rangeRule": {"endExclusive": {"versionValue": {"version": "v9"}}}
                            }
                        },
                    }
                }
            },
            "expression": {"ref": "v"},
        }
    }
    (warning,) = parse_snapshot(doc).warnings
    assert warning.path == (
        f"{ABTEST}.segment.targeting.criteria.v.attribute.anyRule.rule.rangeRule.endExclusive"
        ".versionValue.version"
    )


def test_warnings_are_logged_once_when_the_snapshot_is_parsed_not_per_evaluate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import flagstone

    doc = _with_version_criterion(
        {"rangeRule": {"startInclusive": {"versionValue": {"version": "v2"}}}}
    )
    with caplog.at_level("WARNING", logger="flagstone"):
        client = flagstone.Client.from_dict(doc)
        for _ in range(3):
            client.evaluate("checkout", {"targeting_key": "u", "app_version": "3.0.0"})
    records = [r for r in caplog.records if r.name == "flagstone" and "warning" in r.message]
    assert len(records) == 1
    assert records[0].levelname == "WARNING"
    assert RANGE_START in records[0].getMessage()


def test_a_snapshot_without_warnings_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="flagstone"):
        parse_snapshot(good_snapshot())
    assert [r for r in caplog.records if r.name == "flagstone"] == []


# -- a bad snapshot is always a ConfigError (issue 13) ---------------------------------------


def test_a_bitset_of_indices_beside_another_problem_is_a_config_error() -> None:
    # the case: the partial snapshot rebuilt for the semantic problems re-validated the
    # bitset's tuple and raised pydantic's ValidationError out of parse_snapshot
    doc = good_snapshot()
    doc["bitsets"] = {"segments/sweden": [1, 5, 999_999]}
    doc["flags"]["flags/checkout"]["rules"][0]["assignmentSpec"]["bucketCount"] = "many"
    doc["flags"]["flags/banner"]["clients"] = ["clients/nobody"]
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(doc)
    paths = {problem.path for problem in raised.value.problems}
    assert f"{SPEC}.bucketCount" in paths  # the structural problem
    assert '$.flags["flags/banner"].clients[0]' in paths  # a semantic one of a part that parsed


def test_a_bitset_of_indices_beside_another_problem_is_a_config_error_from_bytes() -> None:
    doc = good_snapshot()
    doc["bitsets"] = {"segments/sweden": [0, 1]}
    doc["account"] = {"name": 7}
    with pytest.raises(ConfigError) as raised:
        parse_snapshot(json.dumps(doc).encode())
    assert [p.path for p in raised.value.problems] == ["$.account.name"]


def test_a_mapping_with_a_key_that_is_not_text_is_a_config_error() -> None:
    doc = good_snapshot()
    doc["segments"][7] = doc["segments"]["segments/sweden"]
    doc["account"] = {"name": 7}
    with pytest.raises(ConfigError):
        parse_snapshot(doc)
