"""A bad snapshot is always a ``ConfigError`` (issue 13): valid snapshots, mutated at random —
a key or element deleted, a value replaced by one of another type, junk inserted, at any
depth, one to three times — either load into a ``Client`` or raise ``ConfigError``. Any other
exception fails.

The snapshots mutated: ``examples/flags.json`` from this repository, the same with a bitset
written as a list of bucket indices and as ``"ALL"`` (the shape whose re-validation raised
pydantic's ``ValidationError`` beside any other problem), and the state of Confidence's
resolver suite where it is present (skipped otherwise, as the conformance tests are).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone import ConfigError
from flagstone.formats import parse_snapshot

from .conftest import ROOT

EXAMPLE = json.loads((ROOT / "examples" / "flags.json").read_text())

JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    7,
    1.5,
    -0.0,
    1e308,
    10**30,
    "",
    "x",
    "ALL",
    "flags/new-search",
    "segments/everyone",
    "2022-11-17T15:16:17Z",
    [],
    [1, 2],
    ["x"],
    [None],
    {},
    {"name": "x"},
    {"stringValue": "SE"},
    {"junk": {"deeper": [1, {"x": None}]}},
]
"""Replacement and inserted values: every JSON type, and values that are right elsewhere."""

KEYS = ["junk", "name", "value", "rules", "segment", "variant", "bitsets", "version", "lower"]
"""Keys inserted into objects: an unknown one, and names the models know elsewhere."""


def with_bitsets(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with bitsets given as bucket indices and as ``"ALL"``."""
    document = copy.deepcopy(document)
    document["bitsets"] = {
        "segments/everyone": [0, 1, 2, 999_999],
        "segments/internal-staff": "ALL",
    }
    return document


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path (keys and indices from the root), the root first."""
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*path, index))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _mutate(document: Any, draw: st.DrawFn) -> Any:
    """One mutation at a node drawn from every node of ``document`` (changed in place where
    possible); returns the document (a new one when the root itself is replaced)."""
    paths = _paths(document)
    path = paths[draw(st.integers(0, len(paths) - 1))]
    node = _at(document, path)
    kinds = ["replace"]
    if path:
        kinds.append("delete")
    if isinstance(node, dict | list):
        kinds.append("insert")
    kind = draw(st.sampled_from(kinds))
    if kind == "replace":
        value = copy.deepcopy(draw(st.sampled_from(JUNK)))
        if not path:
            return value
        _at(document, path[:-1])[path[-1]] = value
    elif kind == "delete":
        del _at(document, path[:-1])[path[-1]]
    elif isinstance(node, dict):
        node[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(JUNK)))
    else:
        node.insert(draw(st.integers(0, len(node))), copy.deepcopy(draw(st.sampled_from(JUNK))))
    return document


@st.composite
def mutated(draw: st.DrawFn, originals: list[dict[str, Any]]) -> Any:
    document: Any = copy.deepcopy(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 3))):
        document = _mutate(document, draw)
    return document


def loads_or_refuses(document: Any, *, strict: bool, as_bytes: bool) -> None:
    """Load ``document``; a ``ConfigError`` is a fine answer, any other exception is not."""
    source = json.dumps(document).encode() if as_bytes else document
    try:
        client = flagstone.Client(parse_snapshot(source, strict=strict))
    except ConfigError as error:
        assert error.problems, "a ConfigError names at least one problem"
        return
    with client:
        client.evaluate_all({"targeting_key": "user-1", "country": "SE"})


def test_the_originals_load() -> None:
    for document in (EXAMPLE, with_bitsets(EXAMPLE)):
        loads_or_refuses(document, strict=True, as_bytes=False)


@given(
    document=mutated([EXAMPLE, with_bitsets(EXAMPLE)]),
    strict=st.booleans(),
    as_bytes=st.booleans(),
)
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_a_mutated_example_loads_or_is_a_config_error(
    document: Any, strict: bool, as_bytes: bool
) -> None:
    loads_or_refuses(document, strict=strict, as_bytes=as_bytes)


def _suite_state() -> list[dict[str, Any]]:
    from .conftest import SUITE_DIR, suite_present

    if not suite_present():
        return []
    return [json.loads(Path(SUITE_DIR, "state.json").read_text())]


SUITE_STATE = _suite_state()


@pytest.mark.skipif(not SUITE_STATE, reason="needs the conformance suite (see test below)")
@given(
    document=mutated(SUITE_STATE or [{}]),
    strict=st.booleans(),
    as_bytes=st.booleans(),
)
@settings(max_examples=80, deadline=None, derandomize=True, database=None)
def test_a_mutated_suite_state_loads_or_is_a_config_error(
    document: Any, strict: bool, as_bytes: bool
) -> None:
    loads_or_refuses(document, strict=strict, as_bytes=as_bytes)


def test_the_suite_state_is_there_to_mutate() -> None:
    from .conftest import require_suite

    require_suite()  # skips where the suite is absent, fails under REQUIRE_CONFORMANCE
    assert SUITE_STATE
