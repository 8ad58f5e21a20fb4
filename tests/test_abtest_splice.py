"""Writing a changed snapshot back into its own text (``flagstone.abtests.splice``): only the
changed top-level values and array items are rewritten, in the file's style.

The oracle of the property tests is ``json.dumps`` itself: a text written by ``json.dumps``
with some indentation and separators, changed by replacing, adding or removing A/B tests or
top-level values, must come out exactly as ``json.dumps`` writes the changed document with the
same settings (bytes of what did not change included, since ``json.dumps`` writes them the
same way). Hand-formatted files, which ``json.dumps`` cannot write, are checked on examples
whose expected text is written out here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagstone.abtests.splice import scan, splice

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
TESTS = st.lists(st.dictionaries(st.text(max_size=6), JSON, max_size=4), max_size=4)
STYLES = st.sampled_from(
    [
        {"indent": 2},
        {"indent": 4},
        {"indent": 0},
        {"indent": "\t"},
        {"indent": None},
        {"indent": None, "separators": (",", ":")},
    ]
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A top-level object: some keys (``version`` among them) and, at any position, an
    ``abtests`` list of objects."""
    others = draw(st.dictionaries(st.text(max_size=6), JSON, max_size=4))
    others.pop("abtests", None)
    items = [("version", draw(JSON_SCALARS)), *others.items()]
    position = draw(st.integers(min_value=0, max_value=len(items)))
    items.insert(position, ("abtests", draw(TESTS)))
    return dict(items)


@st.composite
def changes(draw: st.DrawFn, old: dict[str, Any]) -> dict[str, Any]:
    """``old`` with one to three changes, made as the lifecycle makes them: a new top-level
    object and a new ``abtests`` list that share every value they did not change."""
    new = dict(old)
    tests = list(old["abtests"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(
            st.sampled_from(["replace", "append", "delete", "version", "add key", "remove key"])
        )
        if kind == "replace" and tests:
            index = draw(st.integers(min_value=0, max_value=len(tests) - 1))
            tests[index] = draw(st.dictionaries(st.text(max_size=6), JSON, max_size=4))
        elif kind == "append":
            tests.append(draw(st.dictionaries(st.text(max_size=6), JSON, max_size=4)))
        elif kind == "delete" and tests:
            del tests[draw(st.integers(min_value=0, max_value=len(tests) - 1))]
        elif kind == "version" and "version" in new:
            new["version"] = draw(JSON_SCALARS)
        elif kind == "add key":
            key = draw(st.text(min_size=1, max_size=6))
            if key not in old:  # a key put back would stay where the file has it
                new[key] = draw(JSON)
        elif kind == "remove key":
            removable = [key for key in new if key != "abtests"]
            if removable:
                del new[draw(st.sampled_from(removable))]
    new["abtests"] = tests
    return new


def written(document: Any, style: dict[str, Any], *, ensure_ascii: bool) -> str:
    return json.dumps(document, ensure_ascii=ensure_ascii, **style)


def has_non_ascii_text(document: Any) -> bool:
    """Text that ``json.dumps(ensure_ascii=True)`` escapes and ``ensure_ascii=False`` does
    not: every character from DEL (U+007F) up."""
    return any(ord(char) >= 0x7F for char in json.dumps(document, ensure_ascii=False))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), old=documents(), style=STYLES, ensure_ascii=st.booleans())
def test_a_spliced_text_is_what_json_dumps_writes_for_the_changed_document(
    data: st.DataObject, old: dict[str, Any], style: dict[str, Any], ensure_ascii: bool
) -> None:
    text = written(old, style, ensure_ascii=ensure_ascii) + data.draw(st.sampled_from(["", "\n"]))
    scanned = scan(text.encode())
    assert scanned.document == old
    new = data.draw(changes(scanned.document))

    result = splice(scanned, new)

    # the file escapes non-ASCII text only if it shows it does (it holds an escape)
    escapes = ensure_ascii and has_non_ascii_text(old)
    expected = written(new, style, ensure_ascii=escapes) + text[len(text.rstrip("\n")) :]
    assert result == expected
    assert json.loads(result) == new


@settings(max_examples=100, deadline=None)
@given(old=documents(), style=STYLES)
def test_a_document_that_did_not_change_keeps_its_text(
    old: dict[str, Any], style: dict[str, Any]
) -> None:
    text = written(old, style, ensure_ascii=False)
    scanned = scan(text)

    assert splice(scanned, dict(scanned.document)) == text


@settings(max_examples=200, deadline=None)
@given(document=JSON, style=STYLES)
def test_scan_decodes_as_json_loads_does(document: Any, style: dict[str, Any]) -> None:
    text = written(document, style, ensure_ascii=False)

    assert scan(text).document == json.loads(text)


# -- hand-formatted files ---------------------------------------------------------------------

HAND_WRITTEN = """{ "version" : "7",
    "flags": {"flags/a": {"name":"flags/a"},   "flags/b": {"name":"flags/b"}},
    "abtests" : [
        {"name": "one",  "state": "draft"},
        {"name": "two", "state": "draft"},
        {"name": "three", "state": "draft"}
    ]
}
"""
"""A file with its own spacing: compact flags, a test per line, spaces before colons."""


def test_a_changed_test_of_a_hand_formatted_file_is_written_in_place_and_nothing_else_moves() -> (
    None
):
    scanned = scan(HAND_WRITTEN)
    new = dict(scanned.document)
    new["abtests"] = list(new["abtests"])
    new["abtests"][1] = {"name": "two", "state": "live"}

    result = splice(scanned, new)

    assert result == HAND_WRITTEN.replace(
        '{"name": "two", "state": "draft"}', '{"name" : "two", "state" : "live"}'
    )


def test_a_test_appended_to_a_hand_formatted_file_follows_the_last_one() -> None:
    scanned = scan(HAND_WRITTEN)
    new = dict(scanned.document)
    new["abtests"] = [*new["abtests"], {"name": "four"}]

    result = splice(scanned, new)

    assert result == HAND_WRITTEN.replace(
        '{"name": "three", "state": "draft"}',
        '{"name": "three", "state": "draft"},\n        {"name" : "four"}',
    )


@pytest.mark.parametrize(
    ("index", "gone"),
    [
        (0, '{"name": "one",  "state": "draft"},\n        '),
        (1, '{"name": "two", "state": "draft"},\n        '),
        (2, ',\n        {"name": "three", "state": "draft"}'),
    ],
)
def test_a_test_removed_from_a_hand_formatted_file_takes_one_separator_with_it(
    index: int, gone: str
) -> None:
    scanned = scan(HAND_WRITTEN)
    new = dict(scanned.document)
    new["abtests"] = [test for i, test in enumerate(new["abtests"]) if i != index]

    result = splice(scanned, new)

    assert result == HAND_WRITTEN.replace(gone, "")


def test_a_top_level_scalar_is_replaced_where_it_stands() -> None:
    scanned = scan(HAND_WRITTEN)

    result = splice(scanned, {**scanned.document, "version": 8})

    assert result == HAND_WRITTEN.replace('"version" : "7"', '"version" : 8')


def test_a_new_top_level_key_goes_last_with_the_separator_between_keys() -> None:
    scanned = scan(HAND_WRITTEN)

    result = splice(scanned, {**scanned.document, "issuedAt": "2026-01-01T00:00:00Z"})

    assert result == HAND_WRITTEN.replace(
        "    ]\n}", '    ],\n    "issuedAt" : "2026-01-01T00:00:00Z"\n}'
    )


def test_the_first_test_of_a_file_without_abtests_adds_the_key() -> None:
    text = '{\n  "version": "1",\n  "flags": {}\n}\n'
    scanned = scan(text)

    result = splice(scanned, {**scanned.document, "abtests": [{"name": "one", "weights": [1]}]})

    assert result == (
        '{\n  "version": "1",\n  "flags": {},\n  "abtests": [\n    {\n      "name": "one",\n'
        '      "weights": [\n        1\n      ]\n    }\n  ]\n}\n'
    )


def test_non_ascii_text_is_escaped_in_a_file_that_escapes_it() -> None:
    escaped = scan('{"note": "M\\u00e5l\\u00f6", "abtests": []}')
    raw = scan('{"note": "Målö", "abtests": []}')
    new_test = {"displayName": "Sök"}

    assert splice(escaped, {**escaped.document, "abtests": [new_test]}) == (
        '{"note": "M\\u00e5l\\u00f6", "abtests": [{"displayName": "S\\u00f6k"}]}'
    )
    assert splice(raw, {**raw.document, "abtests": [new_test]}) == (
        '{"note": "Målö", "abtests": [{"displayName": "Sök"}]}'
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',  # a repeated key: json.loads keeps the last, a splice cannot say
        "\ufeff{}",  # a byte-order mark
        "{}",  # nothing to take the style from
    ],
)
def test_what_cannot_be_spliced_is_left_to_a_whole_rewrite(text: str) -> None:
    scanned = scan(text.encode("utf-8"))

    assert splice(scanned, {"a": 3}) is None


def test_a_document_that_is_not_json_has_json_loads_error() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        scan('{"a": 1,}')

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads('{"a": 1,}')
    assert str(caught.value) == str(expected.value)


def test_a_value_that_is_not_json_leaves_the_decision_to_the_caller() -> None:
    scanned = scan('{"a": 1}')

    assert splice(scanned, {"a": float("nan")}) is None


def test_a_file_whose_only_escape_is_del_keeps_escaping() -> None:
    # json.dumps(ensure_ascii=True) writes DEL (U+007F) as \u007f, ensure_ascii=False as is:
    # the escape shows the file's style (hypothesis found {"version": "\x7f"})
    text = json.dumps({"abtests": [], "version": "\x7f"}, ensure_ascii=True)
    new = {"abtests": [{"name": "caf\u00e9\x7f"}], "version": "\x7f"}

    assert splice(scan(text.encode()), new) == json.dumps(new, ensure_ascii=True)
