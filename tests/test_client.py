"""The public ``Client`` API: building a client, ``evaluate`` (which never raises),
``evaluate_all``, ``get_value`` / ``get_value_details``, read-only values, deferred
exposures with ``apply``, and the sink lifecycle (``close``, failing sinks, ``stats``).

Every snapshot here is built so that its outcome is certain without hashing: each rule has
one assignment that covers every bucket, and the one segment has neither targeting nor
allocation, so it admits every unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest

import flagstone
from flagstone import ConfigError, ErrorCode, Reason, UnknownClientError
from flagstone.sinks import MemorySink
from tests import builders as b

USER = {"targeting_key": "user-1"}

VALUE = {
    "enabled": True,
    "count": 3,
    "ratio": 0.25,
    "label": "new",
    "layout": {"columns": 2, "theme": "dark"},
    "steps": ["cart", "pay"],
}


# -- snapshot builders -----------------------------------------------------------------------


def rule(
    flag_id: str,
    rule_id: str,
    variant: str | None,
    *,
    environments: tuple[str, ...] = (),
    selector: str = "targeting_key",
    materialization: str | None = None,
) -> dict[str, Any]:
    """A rule giving every unit (all 10 buckets) ``variant`` (``None``: the client default)."""
    return b.rule(
        f"flags/{flag_id}/rules/{rule_id}",
        [
            b.assignment(rule_id, variant, (0, 10))
            if variant is not None
            else b.assignment(rule_id, None, (0, 10), kind="clientDefault")
        ],
        bucket_count=10,
        selector=selector,
        environments=environments or None,
        materialization=None
        if materialization is None
        else {"readMaterialization": materialization},
    )


def flag(
    flag_id: str,
    rules: list[dict[str, Any]] | None = None,
    *,
    variants: Mapping[str, dict[str, Any]] | None = None,
    clients: tuple[str, ...] = (),
    state: str = "ACTIVE",
) -> dict[str, Any]:
    """A flag with variants ``on`` (``VALUE``) and ``off``; by default one rule gives ``on``
    to everyone."""
    if variants is None:
        variants = {"on": VALUE, "off": {"enabled": False}}
    return b.flag(
        flag_id,
        variants,
        [rule(flag_id, "everyone", "on")] if rules is None else rules,
        state=state,
        clients=clients,
    )


def credential(secret: str, client_id: str, environments: tuple[str, ...]) -> dict[str, Any]:
    return b.credential(secret, client_id, environments)


def snapshot(*flags: dict[str, Any], clients: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return b.snapshot(*flags, version="v1", segments=[b.segment()], clients=clients)


def client_for(*flags: dict[str, Any], **options: Any) -> flagstone.Client:
    return flagstone.Client.from_dict(snapshot(*flags), **options)


class RecordingSink:
    """A sink that records the calls it receives."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.exposures: list[flagstone.sinks.Exposure] = []

    def emit(self, exposure: flagstone.sinks.Exposure) -> None:
        self.calls.append("emit")
        self.exposures.append(exposure)

    def flush(self, timeout: float | None = None) -> bool:
        self.calls.append("flush")
        return True

    def close(self) -> None:
        self.calls.append("close")


class RaisingSink(RecordingSink):
    def emit(self, exposure: flagstone.sinks.Exposure) -> None:
        raise RuntimeError("the sink is broken")


class RaisingStore:
    """A materialization store whose reads fail."""

    def read(self, unit: str, materialization: str) -> Any:
        raise RuntimeError("the store is down")

    def write(self, unit: str, materialization: str, rule: str, variant: str) -> None:
        raise AssertionError("not expected to be written")


class ContextMapping(Mapping[str, Any]):
    """A read-only mapping that is not a ``dict``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


# -- construction ----------------------------------------------------------------------------


def test_from_dict_builds_a_client_that_resolves_the_snapshot() -> None:
    client = flagstone.Client.from_dict(snapshot(flag("checkout")))
    assert client.evaluate("checkout", USER).variant == "on"


def test_from_file_builds_a_client_from_a_json_file(tmp_path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(snapshot(flag("checkout"))))
    client = flagstone.Client.from_file(path)
    assert client.evaluate("checkout", USER).variant == "on"


def test_from_file_accepts_a_path_given_as_a_string(tmp_path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(snapshot(flag("checkout"))))
    client = flagstone.Client.from_file(str(path))
    assert client.evaluate("checkout", USER).variant == "on"


@pytest.mark.parametrize("name", ["missing.json", "."], ids=["missing file", "directory"])
def test_from_file_raises_config_error_for_a_file_that_cannot_be_read(tmp_path, name) -> None:
    with pytest.raises(ConfigError):
        flagstone.Client.from_file(tmp_path / name)


def test_from_file_raises_config_error_for_a_file_that_is_not_json(tmp_path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        flagstone.Client.from_file(path)


def _invalid_snapshot() -> dict[str, Any]:
    """A rule that assigns a variant the flag does not have."""
    return snapshot(flag("checkout", [rule("checkout", "everyone", "no-such-variant")]))


def test_from_dict_raises_config_error_for_an_invalid_snapshot() -> None:
    with pytest.raises(ConfigError):
        flagstone.Client.from_dict(_invalid_snapshot())


def test_from_file_raises_config_error_for_an_invalid_snapshot(tmp_path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(_invalid_snapshot()))
    with pytest.raises(ConfigError):
        flagstone.Client.from_file(path)


def test_from_dict_refuses_an_unknown_client_secret_when_building_the_client() -> None:
    document = snapshot(flag("checkout"), clients=(credential("known", "web", ("production",)),))
    with pytest.raises(UnknownClientError):
        flagstone.Client.from_dict(document, client_secret="unknown")


def test_from_file_refuses_an_unknown_client_secret_when_building_the_client(tmp_path) -> None:
    path = tmp_path / "flags.json"
    document = snapshot(flag("checkout"), clients=(credential("known", "web", ("production",)),))
    path.write_text(json.dumps(document))
    with pytest.raises(UnknownClientError):
        flagstone.Client.from_file(path, client_secret="unknown")


# -- evaluate: names -------------------------------------------------------------------------


def test_evaluate_accepts_the_short_flag_name_and_reports_the_full_name() -> None:
    r = client_for(flag("checkout")).evaluate("checkout", USER)
    assert (r.flag, r.variant) == ("flags/checkout", "on")


def test_evaluate_accepts_the_full_flag_name() -> None:
    r = client_for(flag("checkout")).evaluate("flags/checkout", USER)
    assert (r.flag, r.variant) == ("flags/checkout", "on")


def test_evaluate_returns_the_variants_value() -> None:
    assert client_for(flag("checkout")).evaluate("checkout", USER).value == VALUE


def test_evaluate_reports_the_matching_rule() -> None:
    r = client_for(flag("checkout")).evaluate("checkout", USER)
    assert (r.reason, r.rule, r.error) == (Reason.MATCH, "flags/checkout/rules/everyone", None)


# -- evaluate: never raises ------------------------------------------------------------------


def test_unknown_flag_resolves_to_flag_not_found() -> None:
    r = client_for(flag("checkout")).evaluate("nope", USER)
    assert (r.reason, r.error) == (Reason.FLAG_NOT_FOUND, ErrorCode.FLAG_NOT_FOUND)


def test_unknown_flag_resolution_names_the_full_flag() -> None:
    assert client_for(flag("checkout")).evaluate("nope", USER).flag == "flags/nope"


def test_unknown_flag_resolution_carries_no_variant() -> None:
    r = client_for(flag("checkout")).evaluate("nope", USER)
    assert (r.variant, r.value, r.should_apply) == (None, None, False)


@pytest.mark.parametrize(
    "argument", [["checkout"], {"checkout": 1}, {"checkout"}], ids=["list", "dict", "set"]
)
def test_unhashable_flag_argument_resolves_to_flag_not_found(argument) -> None:
    r = client_for(flag("checkout")).evaluate(argument, USER)
    assert (r.reason, r.error) == (Reason.FLAG_NOT_FOUND, ErrorCode.FLAG_NOT_FOUND)


@pytest.mark.parametrize(
    "argument", [None, 1, b"checkout", ("checkout",)], ids=["None", "int", "bytes", "tuple"]
)
def test_non_string_flag_argument_resolves_to_flag_not_found(argument) -> None:
    r = client_for(flag("checkout")).evaluate(argument, USER)
    assert (r.reason, r.error) == (Reason.FLAG_NOT_FOUND, ErrorCode.FLAG_NOT_FOUND)


@pytest.mark.parametrize(
    "context",
    [5, "targeting_key=user-1", ["user-1"], object()],
    ids=["int", "str", "list", "object"],
)
def test_non_mapping_context_resolves_to_an_invalid_context_error(context) -> None:
    r = client_for(flag("checkout")).evaluate("checkout", context)
    assert (r.reason, r.error) == (Reason.ERROR, ErrorCode.INVALID_CONTEXT)


def test_invalid_context_resolution_carries_no_variant() -> None:
    r = client_for(flag("checkout")).evaluate("checkout", 5)  # type: ignore[arg-type]
    assert (r.flag, r.variant, r.should_apply) == ("flags/checkout", None, False)


def test_none_context_resolves_like_an_empty_context() -> None:
    no_unit = flag("checkout", [rule("checkout", "everyone", "on", selector="")])
    r = client_for(no_unit).evaluate("checkout", None)
    assert (r.reason, r.variant) == (Reason.MATCH, "on")


def test_omitted_context_leaves_a_rule_that_needs_a_unit_unmatched() -> None:
    r = client_for(flag("checkout")).evaluate("checkout")
    assert (r.reason, r.error) == (Reason.NO_SEGMENT_MATCH, None)


@pytest.mark.parametrize(
    "make_context",
    [ContextMapping, MappingProxyType],
    ids=["Mapping subclass", "mappingproxy"],
)
def test_mapping_that_is_not_a_dict_is_accepted_as_context(make_context) -> None:
    r = client_for(flag("checkout")).evaluate("checkout", make_context({"targeting_key": "u7"}))
    assert (r.variant, r.targeting_key) == ("on", "u7")


def test_archived_flag_resolves_to_flag_archived() -> None:
    r = client_for(flag("old", state="ARCHIVED")).evaluate("old", USER)
    assert (r.reason, r.variant) == (Reason.FLAG_ARCHIVED, None)


def test_archived_flag_resolution_is_not_applied() -> None:
    sink = MemorySink()
    client_for(flag("old", state="ARCHIVED"), sinks=[sink]).evaluate("old", USER)
    assert sink.events == []


def test_flag_not_listed_for_the_client_resolves_to_flag_not_found() -> None:
    document = snapshot(
        flag("mine", clients=("clients/web",)),
        flag("theirs", clients=("clients/ios",)),
        clients=(credential("web-secret", "web", ()), credential("ios-secret", "ios", ())),
    )
    client = flagstone.Client.from_dict(document, client_secret="web-secret")
    r = client.evaluate("theirs", USER)
    assert (r.reason, r.error) == (Reason.FLAG_NOT_FOUND, ErrorCode.FLAG_NOT_FOUND)


def test_flag_listed_for_the_client_resolves_with_its_secret() -> None:
    document = snapshot(
        flag("mine", clients=("clients/web",)),
        clients=(credential("web-secret", "web", ()),),
    )
    client = flagstone.Client.from_dict(document, client_secret="web-secret")
    assert client.evaluate("mine", USER).variant == "on"


def test_every_active_flag_resolves_without_a_secret() -> None:
    document = snapshot(
        flag("theirs", clients=("clients/ios",)),
        clients=(credential("ios-secret", "ios", ()),),
    )
    assert flagstone.Client.from_dict(document).evaluate("theirs", USER).variant == "on"


def _sticky_flag_client(**options: Any) -> flagstone.Client:
    sticky = flag("sticky", [rule("sticky", "kept", "on", materialization="materializations/m1")])
    return client_for(sticky, materializations=RaisingStore(), **options)


def test_store_that_raises_while_reading_resolves_to_a_general_error() -> None:
    r = _sticky_flag_client().evaluate("sticky", USER)
    assert (r.flag, r.reason, r.error) == ("flags/sticky", Reason.ERROR, ErrorCode.GENERAL)


def test_store_that_raises_while_reading_is_counted_as_a_resolve_error() -> None:
    client = _sticky_flag_client()
    client.evaluate("sticky", USER)
    client.evaluate("sticky", USER)
    assert client.stats()["resolve_errors"] == 2


def test_failed_resolution_records_no_exposure() -> None:
    sink = MemorySink()
    _sticky_flag_client(sinks=[sink]).evaluate("sticky", USER)
    assert sink.events == []


# -- environments ----------------------------------------------------------------------------


def _environment_snapshot() -> dict[str, Any]:
    """``staged``'s first rule applies in staging only; its second rule applies everywhere."""
    staged = flag(
        "staged",
        [
            rule("staged", "staging-only", "on", environments=("staging",)),
            rule("staged", "everyone", "off"),
        ],
        clients=("clients/web",),
    )
    return snapshot(
        staged,
        clients=(
            credential("staging-secret", "web", ("staging",)),
            credential("production-secret", "web", ("production",)),
        ),
    )


def test_rule_restricted_to_the_credentials_environment_applies() -> None:
    client = flagstone.Client.from_dict(_environment_snapshot(), client_secret="staging-secret")
    r = client.evaluate("staged", USER)
    assert (r.variant, r.rule) == ("on", "flags/staged/rules/staging-only")


def test_rule_restricted_to_another_environment_is_skipped() -> None:
    client = flagstone.Client.from_dict(_environment_snapshot(), client_secret="production-secret")
    r = client.evaluate("staged", USER)
    assert (r.variant, r.rule) == ("off", "flags/staged/rules/everyone")


def test_environment_restricted_rule_is_skipped_without_a_secret() -> None:
    r = flagstone.Client.from_dict(_environment_snapshot()).evaluate("staged", USER)
    assert (r.variant, r.rule) == ("off", "flags/staged/rules/everyone")


# -- evaluate_all ----------------------------------------------------------------------------


def test_evaluate_all_maps_full_flag_names_to_their_resolutions() -> None:
    client = client_for(flag("checkout"), flag("search"))
    results = client.evaluate_all(USER)
    assert {name: r.flag for name, r in results.items()} == {
        "flags/checkout": "flags/checkout",
        "flags/search": "flags/search",
    }


def test_evaluate_all_resolves_each_flag_as_evaluate_does() -> None:
    client = client_for(flag("checkout"), flag("search", [rule("search", "everyone", "off")]))
    results = client.evaluate_all(USER, apply=False)
    assert {name: r.variant for name, r in results.items()} == {
        "flags/checkout": "on",
        "flags/search": "off",
    }


def test_evaluate_all_follows_snapshot_order() -> None:
    client = client_for(flag("zeta"), flag("alpha"), flag("mid"))
    assert list(client.evaluate_all(USER)) == ["flags/zeta", "flags/alpha", "flags/mid"]


def test_evaluate_all_leaves_out_archived_flags() -> None:
    client = client_for(flag("live"), flag("old", state="ARCHIVED"))
    assert list(client.evaluate_all(USER)) == ["flags/live"]


def test_evaluate_all_leaves_out_flags_not_listed_for_the_client() -> None:
    document = snapshot(
        flag("theirs", clients=("clients/ios",)),
        flag("mine", clients=("clients/web",)),
        flag("shared", clients=("clients/ios", "clients/web")),
        clients=(credential("web-secret", "web", ()), credential("ios-secret", "ios", ())),
    )
    client = flagstone.Client.from_dict(document, client_secret="web-secret")
    assert list(client.evaluate_all(USER)) == ["flags/mine", "flags/shared"]


def test_evaluate_all_records_an_exposure_for_each_applied_flag() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), flag("search"), sinks=[sink]).evaluate_all(USER)
    assert sorted(event["flag"] for event in sink.events) == ["flags/checkout", "flags/search"]


def test_evaluate_all_exposures_share_one_resolve_id() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), flag("search"), sinks=[sink]).evaluate_all(USER)
    assert len({event["resolve_id"] for event in sink.events}) == 1


def test_evaluate_all_skips_the_exposure_of_a_flag_that_did_not_match() -> None:
    sink = MemorySink()
    unmatched = flag("unmatched", [])
    client_for(flag("checkout"), unmatched, sinks=[sink]).evaluate_all(USER)
    assert [event["flag"] for event in sink.events] == ["flags/checkout"]


def test_evaluate_all_with_apply_false_records_no_exposure() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), flag("search"), sinks=[sink]).evaluate_all(USER, apply=False)
    assert sink.events == []


def test_separate_evaluations_have_distinct_resolve_ids() -> None:
    sink = MemorySink()
    client = client_for(flag("checkout"), flag("search"), sinks=[sink])
    client.evaluate("checkout", USER)
    client.evaluate("search", USER)
    assert len({event["resolve_id"] for event in sink.events}) == 2


# -- get_value and get_value_details ---------------------------------------------------------


def test_get_value_reads_a_field_of_the_variant() -> None:
    assert client_for(flag("checkout")).get_value("checkout.label", USER, "old") == "new"


def test_get_value_reads_a_nested_field() -> None:
    client = client_for(flag("checkout"))
    assert client.get_value("checkout.layout.theme", USER, "light") == "dark"


def test_get_value_accepts_the_full_flag_name() -> None:
    assert client_for(flag("checkout")).get_value("flags/checkout.label", USER, "old") == "new"


def test_get_value_without_a_field_path_returns_the_whole_value() -> None:
    assert client_for(flag("checkout")).get_value("checkout", USER, {}) == VALUE


@pytest.mark.parametrize(
    ("field", "default", "expected"),
    [
        ("enabled", False, True),
        ("count", 0, 3),
        ("ratio", 1.0, 0.25),
        ("count", 1.5, 3),
        ("label", "old", "new"),
        ("layout", {}, {"columns": 2, "theme": "dark"}),
        ("steps", [], ["cart", "pay"]),
        ("label", None, "new"),
        ("layout", None, {"columns": 2, "theme": "dark"}),
    ],
    ids=[
        "bool",
        "int",
        "float",
        "int for a float default",
        "str",
        "dict",
        "list",
        "None default takes a str",
        "None default takes a dict",
    ],
)
def test_get_value_returns_a_value_of_the_defaults_type(field, default, expected) -> None:
    client = client_for(flag("checkout"))
    assert client.get_value(f"checkout.{field}", USER, default) == expected


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("count", False),
        ("enabled", 0),
        ("enabled", 0.0),
        ("label", 0),
        ("count", "0"),
        ("label", {}),
        ("layout", []),
        ("steps", {}),
        ("ratio", 0),
    ],
    ids=[
        "int for a bool default",
        "bool for an int default",
        "bool for a float default",
        "str for an int default",
        "int for a str default",
        "str for a dict default",
        "dict for a list default",
        "list for a dict default",
        "float for an int default",
    ],
)
def test_get_value_returns_the_default_for_a_value_of_another_type(field, default) -> None:
    client = client_for(flag("checkout"))
    assert client.get_value(f"checkout.{field}", USER, default) == default


def test_get_value_details_reports_a_type_mismatch() -> None:
    details = client_for(flag("checkout")).get_value_details("checkout.label", USER, 0)
    assert (details.value, details.reason, details.error) == (
        0,
        Reason.TYPE_MISMATCH,
        ErrorCode.TYPE_MISMATCH,
    )


def test_get_value_details_reports_the_match_for_a_value_of_the_right_type() -> None:
    details = client_for(flag("checkout")).get_value_details("checkout.label", USER, "old")
    assert (details.value, details.reason, details.error) == ("new", Reason.MATCH, None)


def test_get_value_details_carries_the_resolution() -> None:
    details = client_for(flag("checkout")).get_value_details("checkout.label", USER, "old")
    assert (details.resolution.flag, details.resolution.variant) == ("flags/checkout", "on")


@pytest.mark.parametrize(
    "path",
    ["checkout.nope", "checkout.layout.nope", "checkout.label.nope"],
    ids=["missing field", "missing nested field", "field of a string"],
)
def test_get_value_returns_the_default_for_a_missing_path(path) -> None:
    assert client_for(flag("checkout")).get_value(path, USER, "fallback") == "fallback"


def test_get_value_without_a_variant_returns_the_default() -> None:
    client = client_for(flag("unmatched", []))
    assert client.get_value("unmatched.label", USER, "fallback") == "fallback"


def test_get_value_details_without_a_variant_carries_the_resolutions_reason() -> None:
    details = client_for(flag("unmatched", [])).get_value_details("unmatched.label", USER, "x")
    assert (details.value, details.reason, details.error) == ("x", Reason.NO_SEGMENT_MATCH, None)


def test_get_value_details_of_an_unknown_flag_reports_flag_not_found() -> None:
    details = client_for(flag("checkout")).get_value_details("nope.label", USER, "x")
    assert (details.value, details.reason, details.error) == (
        "x",
        Reason.FLAG_NOT_FOUND,
        ErrorCode.FLAG_NOT_FOUND,
    )


def test_get_value_details_of_a_client_default_match_returns_the_default() -> None:
    client = client_for(flag("checkout", [rule("checkout", "control", None)]))
    details = client.get_value_details("checkout.label", USER, "classic")
    assert (details.value, details.reason, details.error) == ("classic", Reason.MATCH, None)


def test_get_value_records_an_exposure() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), sinks=[sink]).get_value("checkout.label", USER, "old")
    assert [event["flag"] for event in sink.events] == ["flags/checkout"]


def test_get_value_with_apply_false_records_no_exposure() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), sinks=[sink]).get_value("checkout.label", USER, "old", apply=False)
    assert sink.events == []


def test_get_value_records_the_exposure_of_a_client_default_match_as_evaluate_does() -> None:
    # A rule that assigns the client default is a treatment (often the control group):
    # evaluate records its exposure, so reading the flag through get_value must too.
    sink = MemorySink()
    client = client_for(flag("checkout", [rule("checkout", "control", None)]), sinks=[sink])
    client.get_value("checkout.label", USER, "classic")
    assert [event["rule"] for event in sink.events] == ["flags/checkout/rules/control"]


# -- read-only values ------------------------------------------------------------------------


def _mutations() -> list[Any]:
    return [
        lambda value: value.__setitem__("label", "changed"),
        lambda value: value.__delitem__("label"),
        lambda value: value.update(label="changed"),
        lambda value: value.pop("label"),
        lambda value: value.clear(),
        lambda value: value.setdefault("extra", 1),
        lambda value: value["layout"].__setitem__("theme", "light"),
        lambda value: value["steps"].append("confirm"),
        lambda value: value["steps"].__setitem__(0, "basket"),
    ]


@pytest.mark.parametrize(
    "mutate",
    _mutations(),
    ids=[
        "setitem",
        "delitem",
        "update",
        "pop",
        "clear",
        "setdefault",
        "nested dict",
        "nested list append",
        "nested list setitem",
    ],
)
def test_resolution_value_refuses_mutation(mutate) -> None:
    value = client_for(flag("checkout")).evaluate("checkout", USER).value
    with pytest.raises(TypeError):
        mutate(value)


def test_refused_mutation_leaves_the_value_unchanged_for_the_next_resolution() -> None:
    client = client_for(flag("checkout"))
    with pytest.raises(TypeError):
        client.evaluate("checkout", USER).value["label"] = "changed"
    assert client.evaluate("checkout", {"targeting_key": "user-2"}).value == VALUE


def test_get_value_of_an_object_is_read_only() -> None:
    layout = client_for(flag("checkout")).get_value("checkout.layout", USER, {})
    with pytest.raises(TypeError):
        layout["theme"] = "light"


def test_resolution_value_equals_the_plain_dict() -> None:
    value = client_for(flag("checkout")).evaluate("checkout", USER).value
    assert value == VALUE


def test_resolution_value_is_a_dict() -> None:
    assert isinstance(client_for(flag("checkout")).evaluate("checkout", USER).value, dict)


def test_resolution_value_serialises_with_json_dumps() -> None:
    value = client_for(flag("checkout")).evaluate("checkout", USER).value
    assert json.loads(json.dumps(value)) == VALUE


# -- apply -----------------------------------------------------------------------------------


def test_evaluate_records_one_exposure_by_default() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), sinks=[sink]).evaluate("checkout", USER)
    assert len(sink.events) == 1


def test_evaluate_with_apply_false_records_no_exposure() -> None:
    sink = MemorySink()
    client_for(flag("checkout"), sinks=[sink]).evaluate("checkout", USER, apply=False)
    assert sink.events == []


def test_apply_records_exactly_one_exposure_for_a_deferred_resolution() -> None:
    sink = RecordingSink()
    client = client_for(flag("checkout"), sinks=[sink])
    r = client.evaluate("checkout", USER, apply=False)
    client.apply(r)
    assert [exposure.resolution for exposure in sink.exposures] == [r]


def test_apply_of_a_resolution_that_should_not_apply_records_nothing() -> None:
    sink = RecordingSink()
    client = client_for(flag("unmatched", []), sinks=[sink])
    r = client.evaluate("unmatched", USER, apply=False)
    client.apply(r)
    assert sink.exposures == []


# -- close and failing sinks -----------------------------------------------------------------


def test_close_flushes_each_sink_before_closing_it() -> None:
    sinks = [RecordingSink(), RecordingSink()]
    client_for(flag("checkout"), sinks=sinks).close()
    assert [sink.calls for sink in sinks] == [["flush", "close"], ["flush", "close"]]


def test_close_is_idempotent() -> None:
    sink = RecordingSink()
    client = client_for(flag("checkout"), sinks=[sink])
    client.close()
    client.close()
    assert sink.calls == ["flush", "close"]


def test_client_used_as_context_manager_closes_its_sinks() -> None:
    sink = RecordingSink()
    with client_for(flag("checkout"), sinks=[sink]):
        pass
    assert sink.calls[-1] == "close"


def test_close_writes_buffered_exposures_of_a_jsonl_sink(tmp_path) -> None:
    path = tmp_path / "exposures.jsonl"
    client = client_for(flag("checkout"), sinks=[flagstone.sinks.JsonlSink(path)])
    client.evaluate("checkout", USER)
    client.close()
    assert [json.loads(line)["flag"] for line in path.read_text().splitlines()] == [
        "flags/checkout"
    ]


def test_evaluate_still_resolves_after_close() -> None:
    client = client_for(flag("checkout"), sinks=[RecordingSink()])
    client.close()
    assert client.evaluate("checkout", USER).variant == "on"


def test_exposures_after_close_are_not_emitted() -> None:
    sink = RecordingSink()
    client = client_for(flag("checkout"), sinks=[sink])
    client.close()
    client.evaluate("checkout", USER)
    assert sink.exposures == []


def test_exposures_after_close_are_counted_as_dropped() -> None:
    client = client_for(flag("checkout"), sinks=[RecordingSink()])
    client.close()
    client.evaluate("checkout", USER)
    client.apply(client.evaluate("checkout", USER, apply=False))
    assert client.stats()["dropped_closed"] == 2


def test_sink_whose_emit_raises_does_not_break_evaluate() -> None:
    r = client_for(flag("checkout"), sinks=[RaisingSink()]).evaluate("checkout", USER)
    assert (r.variant, r.reason) == ("on", Reason.MATCH)


def test_sink_whose_emit_raises_is_counted_as_a_sink_error() -> None:
    client = client_for(flag("checkout"), sinks=[RaisingSink()])
    client.evaluate("checkout", USER)
    assert client.stats()["sink_errors"] == 1


def test_sink_whose_emit_raises_does_not_keep_the_exposure_from_other_sinks() -> None:
    healthy = RecordingSink()
    client = client_for(flag("checkout"), sinks=[RaisingSink(), healthy])
    client.evaluate("checkout", USER)
    assert len(healthy.exposures) == 1


def test_stats_start_at_zero() -> None:
    stats = client_for(flag("checkout")).stats()
    assert [stats[key] for key in ("sink_errors", "resolve_errors", "dropped_closed")] == [0, 0, 0]
