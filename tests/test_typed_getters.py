"""The typed getters ``get_bool``, ``get_str``, ``get_int``, ``get_float`` and
``get_object``: the value when it is of the getter's type, else the default (never an
exception), exposures as ``get_value`` records them, and type mismatches counted.

The expected answers come from the rule as the README states it, written here on its own
(:func:`expected`), not from ``get_value``.
"""

from __future__ import annotations

from typing import Any

import pytest

import flagstone
from flagstone.sinks import MemorySink
from tests import builders as b

USER = {"targeting_key": "user-1"}
FIELDS: dict[str, Any] = {
    "yes": True,
    "text": "hello",
    "empty": "",
    "three": 3,
    "zero": 0,
    "half": 2.5,
    "whole": 2.0,
    "object": {"k": 1, "nested": {"deep": "x"}},
    "list": [1, 2],
}
DEFAULTS: dict[str, Any] = {
    "get_bool": False,
    "get_str": "fallback",
    "get_int": -7,
    "get_float": -0.5,
    "get_object": {"default": True},
}


def expected(getter: str, value: Any, default: Any) -> Any:
    """The rule: bool → a bool; str → a str; int → an int that is no bool (no float either);
    float → an int or a float that is no bool, as a float; object → a JSON object."""
    if getter == "get_bool":
        return value if type(value) is bool else default
    if getter == "get_str":
        return value if type(value) is str else default
    if getter == "get_int":
        return value if type(value) is int else default
    if getter == "get_float":
        return float(value) if type(value) in (int, float) else default
    return value if isinstance(value, dict) else default  # read-only dicts too


NOTHING = object()


def make_client(**options: Any) -> flagstone.Client:
    everyone = b.everyone_gets("flags/config/rules/everyone", "on", bucket_count=10)
    config = b.flag("config", {"on": FIELDS, "off": {}}, [everyone])
    nobody = b.flag("unset", {"on": {"yes": True}}, [])  # no rule: the client's default
    halves = b.split_rule("flags/split/rules/halves", ["on", "off"], buckets_per_variant=1)
    split = b.flag("split", {"on": {"yes": True}, "off": {"yes": False}}, [halves])
    return flagstone.Client.from_dict(
        b.snapshot(config, nobody, split, segments=[b.segment()]), **options
    )


@pytest.mark.parametrize("getter", sorted(DEFAULTS))
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_a_getter_returns_the_value_of_its_type_or_the_default(getter: str, field: str) -> None:
    default = DEFAULTS[getter]
    got = getattr(make_client(), getter)(f"config.{field}", USER, default)
    want = expected(getter, FIELDS[field], default)
    assert got == want
    assert isinstance(got, dict) if getter == "get_object" else type(got) is type(want)


@pytest.mark.parametrize("getter", sorted(DEFAULTS))
def test_a_getter_without_a_default_falls_back_to_its_types_zero(getter: str) -> None:
    zero = {"get_bool": False, "get_str": "", "get_int": 0, "get_float": 0.0, "get_object": None}
    assert getattr(make_client(), getter)("config.missing", USER) == zero[getter]


def test_get_float_converts_an_integer() -> None:
    got = make_client().get_float("config.three", USER, 1.5)
    assert (got, type(got)) == (3.0, float)


def test_get_int_refuses_a_boolean_and_a_whole_float() -> None:
    client = make_client()
    assert client.get_int("config.yes", USER, 9) == 9
    assert client.get_int("config.whole", USER, 9) == 9


def test_get_object_reads_a_nested_object_and_refuses_a_list() -> None:
    client = make_client()
    assert client.get_object("config.object.nested", USER) == {"deep": "x"}
    assert client.get_object("config.list", USER, {}) == {}


@pytest.mark.parametrize("getter", sorted(DEFAULTS))
@pytest.mark.parametrize(
    ("path", "context"),
    [
        ("nope.yes", USER),  # unknown flag
        ("unset.yes", USER),  # no variant: the client's default
        ("split.yes", {"targeting_key": ["not", "a", "key"]}),  # targeting-key error
        ("config.yes", "not a mapping"),  # invalid context
        (None, USER),  # not even a path
    ],
)
def test_a_getter_never_raises_and_answers_the_default(
    getter: str, path: Any, context: Any
) -> None:
    default = DEFAULTS[getter]
    assert getattr(make_client(), getter)(path, context, default) == default


@pytest.mark.parametrize("getter", sorted(DEFAULTS))
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_a_getter_records_an_exposure_exactly_when_get_value_does(getter: str, field: str) -> None:
    # get_value with a default of the getter's type records when the value is of that type
    # (and not on a mismatch); the getter must do the same, once per call, twice for two
    by_getter, by_get_value = MemorySink(dedup=False), MemorySink(dedup=False)
    default = DEFAULTS[getter]
    for _ in range(2):
        getattr(make_client(sinks=[by_getter]), getter)(f"config.{field}", USER, default)
        make_client(sinks=[by_get_value]).get_value(f"config.{field}", USER, default)
    assert len(by_getter.exposures) == len(by_get_value.exposures)
    recorded = expected(getter, FIELDS[field], NOTHING) is not NOTHING
    assert len(by_getter.exposures) == (2 if recorded else 0)


def test_a_getter_with_apply_false_records_nothing() -> None:
    sink = MemorySink(dedup=False)
    assert make_client(sinks=[sink]).get_bool("config.yes", USER, apply=False) is True
    assert sink.exposures == []


@pytest.mark.parametrize("getter", sorted(DEFAULTS))
def test_a_type_mismatch_is_counted_in_stats(getter: str) -> None:
    client = make_client()
    mismatched = [
        f for f in FIELDS if expected(getter, FIELDS[f], DEFAULTS[getter]) is DEFAULTS[getter]
    ]
    for field in mismatched:
        getattr(client, getter)(f"config.{field}", USER, DEFAULTS[getter])
    stats = client.stats()
    assert stats["errors_type_mismatch"] == len(mismatched)
    assert stats["errors"] == len(mismatched)


def test_resolve_errors_are_counted_by_code() -> None:
    client = make_client()
    client.evaluate("nope", USER)
    client.get_value("nope.yes", USER)
    client.evaluate("split", {"targeting_key": ["not", "a", "key"]})
    client.get_bool("split.yes", {"targeting_key": 3.5})
    client.evaluate("config", "not a mapping")  # type: ignore[arg-type]
    client.evaluate_all("not a mapping")  # type: ignore[arg-type]  # one per active flag
    client.get_str("config.yes", USER)
    client.evaluate("config", USER)  # no error
    stats = client.stats()
    counted = {key: stats[key] for key in stats if key.startswith("errors")}
    assert counted == {
        "errors": 2 + 2 + 1 + 3 + 1,
        "errors_flag_not_found": 2,
        "errors_targeting_key_error": 2,
        "errors_invalid_context": 1 + 3,  # evaluate_all: config, unset and split are active
        "errors_type_mismatch": 1,
        "errors_not_ready": 0,
        "errors_general": 0,
    }


def test_a_client_waiting_for_its_first_snapshot_counts_not_ready() -> None:
    from flagstone.sources import FunctionSource

    never = FunctionSource(lambda: None)  # nothing to give: stays not ready
    client = flagstone.Client.from_source(never, refresh_interval=3600)
    try:
        assert client.get_bool("config.yes", USER, True) is True
        assert client.stats()["errors_not_ready"] == 1
    finally:
        client.close()


def test_get_value_records_the_exposure_context_as_evaluate_does() -> None:
    # the second call of a path takes get_value's shortcut, which passed no context to the
    # sinks (a TypeError with any sink before)
    by_get_value, by_evaluate = MemorySink(dedup=False), MemorySink(dedup=False)
    context = {"targeting_key": "user-1", "country": "SE", "email": "x@example.com"}
    for _ in range(2):
        client = make_client(sinks=[by_get_value], exposure_context=("country",))
        assert client.get_value("config.yes", context) is True
        assert client.get_bool("config.yes", context) is True
        make_client(sinks=[by_evaluate], exposure_context=("country",)).evaluate("config", context)
    assert [e.context for e in by_get_value.exposures] == [{"country": "SE"}] * 4
    assert [e.context for e in by_evaluate.exposures] == [{"country": "SE"}] * 2
