"""Smaller hostile inputs (issue 14, items 9 and 14): a key written twice in one object, a
NaN in a rule, a targeting key of megabytes, and arguments to ``evaluate`` /
``evaluate_all`` whose own methods raise.

Duplicate keys: a JSON reader keeps the last of them, so ``"flags"`` twice silently emptied a
snapshot. They are refused everywhere in the document, each named by its path; the property
test checks the cheap count that decides whether to look for them against a reference
written here (``json.loads`` with an ``object_pairs_hook``) on random documents.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import hypothesis.strategies as st
import pydantic_core
import pytest
from hypothesis import given, settings

import flagstone
from flagstone import ErrorCode, Reason
from flagstone.formats import parse_snapshot
from tests import builders as b

# -- duplicate keys ---------------------------------------------------------------------------


def one_flag(name: str = "f") -> dict[str, Any]:
    return b.flag(name, {"on": {"colour": "red"}}, [b.everyone_gets(f"flags/{name}/rules/r", "on")])


def text_of(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)


def test_flags_written_twice_at_the_top_is_refused() -> None:
    """The second, empty ``flags`` would have replaced the first."""
    first = text_of(b.snapshot(one_flag(), segments=[b.segment()]))
    text = first[:-2] + ',\n  "flags": {}\n}'
    assert json.loads(text)["flags"] == {}  # what a JSON reader makes of it
    with pytest.raises(flagstone.ConfigError) as caught:
        parse_snapshot(text)
    [problem] = caught.value.problems
    assert problem.path == "$.flags"
    assert "more than once" in problem.message


def test_a_flag_written_twice_in_the_map_keyed_by_name_is_refused() -> None:
    flag, other = json.dumps(one_flag()), json.dumps(one_flag("g"))
    segments = json.dumps({"segments/everyone": b.segment()})
    text = f'{{"flags": {{"flags/f": {flag}, "flags/g": {other}, "flags/f": {flag}}}, '
    text += f'"segments": {segments}}}'
    with pytest.raises(flagstone.ConfigError) as caught:
        parse_snapshot(text.encode())
    assert [problem.path for problem in caught.value.problems] == ['$.flags["flags/f"]']


def test_a_key_written_twice_deep_in_a_value_is_refused_with_its_path() -> None:
    text = text_of(b.snapshot(one_flag(), segments=[b.segment()]))
    text = text.replace('"colour": "red"', '"colour": "red", "colour" : "blue"')
    with pytest.raises(flagstone.ConfigError) as caught:
        parse_snapshot(text)
    assert [problem.path for problem in caught.value.problems] == [
        '$.flags["flags/f"].variants[0].value.colour'
    ]


def test_an_escaped_colon_does_not_hide_a_duplicate_nor_make_one() -> None:
    """``\\u003a`` is a colon only once decoded: the exact search decides."""
    clean = text_of(b.snapshot(one_flag(), segments=[b.segment()])).replace("red", "r\\u003ad")
    assert parse_snapshot(clean).model.flags
    doubled = clean.replace('"colour": "r', '"colour": "x", "colour": "r')
    with pytest.raises(flagstone.ConfigError, match="more than once"):
        parse_snapshot(doubled)


# random JSON with objects written as pairs, so that a key may appear twice

KEYS = st.sampled_from(["a", "b", "name", "x:y", 'q"', "\\", "é", ":", "\u2028"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(alphabet='ab:" \\é{}[]', max_size=6)
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(KEYS, inner), max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=25,
)


def render(tree: Any, ascii_only: bool, spaced: bool) -> str:
    colon, comma = (" : ", " , ") if spaced else (":", ",")
    if isinstance(tree, tuple) and tree and tree[0] == "object":
        members = (
            json.dumps(key, ensure_ascii=ascii_only) + colon + render(value, ascii_only, spaced)
            for key, value in tree[1]
        )
        return "{" + comma.join(members) + "}"
    if isinstance(tree, list):
        return "[" + comma.join(render(item, ascii_only, spaced) for item in tree) + "]"
    return json.dumps(tree, ensure_ascii=ascii_only)


def has_duplicates(text: str) -> bool:
    """The reference: some object of the text has a key twice."""
    found = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({key for key, _ in pairs}) != len(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=pairs_hook)
    return found


@settings(max_examples=200, deadline=None)
@given(TREES, st.booleans(), st.booleans())
def test_duplicate_keys_are_found_exactly_when_the_text_has_them(
    tree: Any, ascii_only: bool, spaced: bool
) -> None:
    from flagstone.formats.native import duplicate_keys

    text = '{"doc": ' + render(tree, ascii_only, spaced) + "}"
    raw = text.encode()
    found = duplicate_keys(raw, pydantic_core.from_json(raw))
    assert bool(found) == has_duplicates(text)


# -- values a rule cannot use -----------------------------------------------------------------


def ranged(bound: dict[str, Any]) -> dict[str, Any]:
    targeting = b.targeting(
        {"age": b.attribute("age", b.between(startInclusive=bound))}, b.ref("age")
    )
    return b.snapshot(
        b.flag("f", {"on": {}}, [b.everyone_gets("flags/f/rules/r", "on", segment="adults")]),
        segments=[b.segment("adults", targeting=targeting)],
    )


NAN_PATH = (
    '$.segments["segments/adults"].targeting.criteria.age.attribute.rangeRule'
    ".startInclusive.numberValue"
)


def test_a_nan_range_bound_is_refused_from_text() -> None:
    text = json.dumps(ranged(b.number(18))).replace("18", "NaN")
    with pytest.raises(flagstone.ConfigError) as caught:
        parse_snapshot(text)
    assert [problem.path for problem in caught.value.problems] == [NAN_PATH]


def test_a_nan_range_bound_is_refused_from_a_decoded_document() -> None:
    with pytest.raises(flagstone.ConfigError) as caught:
        flagstone.Client.from_dict(ranged(b.number(math.nan)), strict=False)
    [problem] = caught.value.problems
    assert problem.path == NAN_PATH
    assert "NaN" in problem.message


def test_an_infinite_range_bound_still_loads() -> None:
    client = flagstone.Client.from_dict(ranged(b.number(-math.inf)))
    assert client.evaluate("f", {"targeting_key": "u", "age": 3}).variant == "on"


# -- a targeting key of megabytes --------------------------------------------------------------

LONG_KEY = "é" * 5_000_000  # 10 MB of UTF-8


@pytest.mark.parametrize("rules", [1, 2])
def test_a_10_mb_targeting_key_is_refused_before_it_is_encoded(
    rules: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rule takes the single-rule resolver, two the rule loop; both refuse the key by its
    length, never encoding (or hashing) it."""
    from flagstone.plan import rules as compiled_rules

    encoded: list[int] = []
    real = compiled_rules._encodable
    monkeypatch.setattr(
        compiled_rules, "_encodable", lambda text: encoded.append(len(text)) or real(text)
    )
    flag_rules = [
        b.split_rule(
            f"flags/f/rules/r{index}", ["on", "off"], buckets_per_variant=50, selector="user"
        )
        for index in range(rules)
    ]
    client = flagstone.Client.from_dict(
        b.snapshot(b.flag("f", {"on": {}, "off": {}}, flag_rules), segments=[b.segment()])
    )
    start = time.perf_counter()
    resolutions = [client.evaluate("f", {"user": LONG_KEY}) for _ in range(200)]
    elapsed = time.perf_counter() - start
    assert {r.reason for r in resolutions} == {Reason.TARGETING_KEY_ERROR}
    assert encoded == []
    assert elapsed < 0.1  # encoding 10 MB 200 times takes seconds


# -- "evaluate never raises" ------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> flagstone.Client:
    return flagstone.Client.from_dict(
        b.snapshot(one_flag("f"), one_flag("g"), segments=[b.segment()])
    )


class Unreadable(Mapping[str, Any]):
    """A mapping whose iteration and look-ups raise."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no items")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iteration")

    def __len__(self) -> int:
        return 1


def test_evaluate_all_with_a_mapping_whose_iteration_raises_answers_invalid_context(
    client: flagstone.Client,
) -> None:
    results = client.evaluate_all(Unreadable())
    assert list(results) == ["flags/f", "flags/g"]
    assert {(r.reason, r.error) for r in results.values()} == {
        (Reason.ERROR, ErrorCode.INVALID_CONTEXT)
    }


def test_evaluate_with_a_mapping_whose_iteration_raises_answers_invalid_context(
    client: flagstone.Client,
) -> None:
    resolution = client.evaluate("f", Unreadable())
    assert (resolution.flag, resolution.reason, resolution.error) == (
        "flags/f",
        Reason.ERROR,
        ErrorCode.INVALID_CONTEXT,
    )


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __hash__(self) -> int:
        return 7


class UnprintableUnhashable(Unprintable):
    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize("kind", [Unprintable, UnprintableUnhashable])
def test_a_flag_argument_whose_repr_raises_is_not_found(
    client: flagstone.Client, kind: type[Unprintable]
) -> None:
    resolution = client.evaluate(kind(), {"targeting_key": "u"})  # type: ignore[arg-type]
    assert (resolution.reason, resolution.error) == (
        Reason.FLAG_NOT_FOUND,
        ErrorCode.FLAG_NOT_FOUND,
    )
    assert resolution.flag == "<unprintable flag argument>"
    assert resolution.error_message == f"a flag name is a string, not {kind.__name__}"


class Hostile(str):
    """A ``str`` whose own methods all raise."""

    def _raise(self, *args: object, **kwargs: object) -> Any:
        raise RuntimeError("hostile")

    __hash__ = __eq__ = __ne__ = __repr__ = __str__ = __format__ = _raise  # type: ignore[assignment]
    startswith = endswith = removeprefix = encode = split = partition = _raise  # type: ignore[assignment]


def test_a_str_subclass_whose_methods_raise_gets_an_error_resolution(
    client: flagstone.Client,
) -> None:
    resolution = client.evaluate(Hostile("f"), {"targeting_key": "u"})
    assert (resolution.reason, resolution.error) == (Reason.ERROR, ErrorCode.GENERAL)
    assert resolution.flag == "flags/f"
    assert "cannot be looked up" in (resolution.error_message or "")


def test_a_str_subclass_that_only_prints_badly_resolves(client: flagstone.Client) -> None:
    class BadRepr(str):
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert client.evaluate(BadRepr("f"), {"targeting_key": "u"}).variant == "on"
    missing = client.evaluate(BadRepr("nope"), {"targeting_key": "u"})
    assert (missing.flag, missing.reason) == ("flags/nope", Reason.FLAG_NOT_FOUND)
    assert missing.error_message is not None and "'nope'" in missing.error_message


def test_get_value_with_a_str_subclass_whose_methods_raise_returns_the_default(
    client: flagstone.Client,
) -> None:
    details = client.get_value_details(Hostile("f.x"), {"targeting_key": "u"}, "fallback")
    assert details.value == "fallback"
    assert details.error is ErrorCode.TYPE_MISMATCH  # "f" has no field "x"
    assert client.get_value(Hostile("f.colour"), {"targeting_key": "u"}, "none") == "red"
