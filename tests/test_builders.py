"""``tests/builders.py`` writes what a snapshot file holds: its documents parse in strict mode
and resolve as written, in either layout, and a builder writes no key it was not given."""

from __future__ import annotations

import json

import pytest

import flagstone
from flagstone import Reason
from flagstone.formats import parse_snapshot
from tests import builders as b


def document(layout: str = "map") -> dict:
    """Every builder once: a rule for Sweden, an A/B test, a client, a fallthrough chain."""
    sweden = b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))
    checkout = b.flag(
        "checkout",
        {"classic": {"layout": "classic"}, "new": {"layout": "new"}},
        [
            b.rule(
                "flags/checkout/rules/pass",
                [b.assignment("skip", None, (0, 1), kind="fallthrough")],
                bucket_count=1,
            ),
            b.everyone_gets("flags/checkout/rules/se", "new", segment="sweden", selector="user"),
            b.split_rule("flags/checkout/rules/rest", ["classic", "new"], buckets_per_variant=5),
        ],
        state="ACTIVE",
        clients=["clients/web"],
    )
    banner = b.flag("banner", {"off": {"shown": False}, "on": {"shown": True}}, [])
    return b.snapshot(
        checkout,
        banner,
        account="acme",
        version="v1",
        segments=[sweden, b.segment(proportion=1.0)],
        clients=[b.credential("s3cret", "web", ["production"])],
        abtests=[
            b.abtest(
                "banner-test",
                flag="banner",
                weights=[("off", 0), ("on", "10000")],
                selector="targeting_key",
                overrides={"qa": "off"},
            )
        ],
        layout=layout,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("layout", ["map", "list"])
def test_a_document_of_every_builder_is_a_valid_snapshot(layout: str) -> None:
    parsed = parse_snapshot(json.loads(json.dumps(document(layout))), strict=True)
    assert parsed.version == "v1"


@pytest.mark.parametrize("layout", ["map", "list"])
def test_the_document_resolves_as_it_is_written(layout: str) -> None:
    client = flagstone.Client.from_dict(document(layout), client_secret="s3cret")
    swede = client.evaluate("checkout", {"targeting_key": "u", "user": "u", "country": "SE"})
    assert (swede.variant, swede.rule) == ("new", "flags/checkout/rules/se")
    other = client.evaluate("checkout", {"targeting_key": "u", "country": "NO"})
    assert other.rule == "flags/checkout/rules/rest"
    assert other.reason is Reason.MATCH
    banner = flagstone.Client.from_dict(document(layout))
    assert banner.evaluate("banner", {"targeting_key": "u"}).variant == "on"
    assert banner.evaluate("banner", {"targeting_key": "qa"}).reason is Reason.OVERRIDE


def test_flags_and_segments_are_keyed_by_name_in_a_map_and_listed_in_a_list() -> None:
    as_map, as_list = document("map"), document("list")
    assert list(as_map["flags"]) == ["flags/checkout", "flags/banner"]
    assert list(as_map["flags"].values()) == as_list["flags"]
    assert list(as_map["segments"].values()) == as_list["segments"]


def test_a_builder_writes_only_the_keys_it_is_given() -> None:
    assert b.flag("f", {"on": 1}) == {"name": "flags/f", "variants": [{"name": "on", "value": 1}]}
    assert b.segment("s") == {"name": "segments/s"}
    assert b.snapshot() == {"flags": {}}
    body = b.abtest(None, flag="f", weights=[("on", 10_000)], state=None)
    assert body == {
        "abtest": {"treatments": [{"variant": "flags/f/variants/on", "weight": 10_000}]}
    }


def test_a_bare_id_gets_its_prefix_and_a_name_with_a_slash_is_kept() -> None:
    assert b.flag_name("checkout") == "flags/checkout"
    assert b.segment_name("segments/x") == "segments/x"
    assert b.instance_name("t1") == "workflows/abtest/instances/t1"
    assert b.flag("typo/checkout", {})["name"] == "typo/checkout"


def test_an_assignment_range_without_lower_writes_only_upper() -> None:
    assert b.assignment("a", "on", (None, 3))["bucketRanges"] == [{"upper": 3}]
    assert b.assignment("a", "on", [(0, 1), (2, 3)])["bucketRanges"] == [
        {"lower": 0, "upper": 1},
        {"lower": 2, "upper": 3},
    ]
