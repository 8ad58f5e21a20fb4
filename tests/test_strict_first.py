"""Flags and segments are validated strictly first and laxly only when strict validation
refuses (issue 15, goal 1): the model is always the one lax validation alone gives, and a
text lax validation refuses is refused with the same errors.

The reference is pydantic's own lax ``validate_json`` on the same adapter. Texts: the
example snapshot's flags and segments with values rewritten in the forms lax validation
converts (numbers as strings or as ``5000.0``, booleans as ``"true"`` or ``1``, …) and in
forms nothing accepts.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from flagstone.formats.streamed import StrictFirst, validated
from flagstone.model import Flag, Segment

from .test_snapshot_mutations import EXAMPLE

ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "flags": TypeAdapter(Flag),
    "segments": TypeAdapter(Segment),
}


def entities(collection: str) -> list[Any]:
    found = EXAMPLE[collection]
    return list(found.values()) if isinstance(found, dict) else list(found)


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a scalar inside ``value``."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in paths(item, (*at, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in paths(item, (*at, index))]
    return [at]


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    value = json.loads(json.dumps(value))
    target = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return value


def rewritings(scalar: Any) -> list[Any]:
    """The forms lax validation may convert ``scalar`` from, and some it may not."""
    forms: list[Any] = [None, [], {}, "", "x"]
    if isinstance(scalar, bool):
        forms += [int(scalar), str(scalar).lower(), "yes" if scalar else "no", float(scalar)]
    elif isinstance(scalar, int):
        forms += [str(scalar), float(scalar), scalar + 0.5, bool(scalar % 2), -scalar]
    elif isinstance(scalar, float):
        forms += [str(scalar), int(scalar), True]
    elif isinstance(scalar, str):
        forms += [1, 2.5, True, scalar.upper(), scalar + "/"]
    return forms


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", repr(call())
    except ValidationError as error:
        return "refused", json.loads(error.json(include_url=False))


@st.composite
def rewritten(draw: st.DrawFn) -> tuple[str, str]:
    collection = draw(st.sampled_from(sorted(ADAPTERS)))
    entity = draw(st.sampled_from(entities(collection)))
    for _ in range(draw(st.integers(1, 3))):
        options = [path for path in paths(entity) if path]
        if not options:
            break
        path = draw(st.sampled_from(options))
        target: Any = entity
        for step in path:
            target = target[step]
        entity = replaced(entity, path, draw(st.sampled_from(rewritings(target))))
    return collection, json.dumps(entity)


@settings(max_examples=400, deadline=None)
@given(rewritten())
def test_strict_first_gives_what_lax_validation_gives(case: tuple[str, str]) -> None:
    collection, text = case
    adapter = ADAPTERS[collection]
    assert outcome(lambda: validated(adapter, text)) == outcome(lambda: adapter.validate_json(text))


def test_the_example_entities_validate_strictly() -> None:
    for collection, adapter in ADAPTERS.items():
        for entity in entities(collection):
            text = json.dumps(entity)
            assert repr(adapter.validate_json(text, strict=True)) == repr(
                adapter.validate_json(text)
            )


def test_a_whole_number_written_as_a_string_takes_the_lax_path() -> None:
    flag = next(iter(entities("flags")))
    spec = flag["rules"][0]["assignmentSpec"]
    text = json.dumps(
        replaced(flag, ("rules", 0, "assignmentSpec", "bucketCount"), str(spec["bucketCount"]))
    )
    adapter = ADAPTERS["flags"]
    try:
        adapter.validate_json(text, strict=True)
    except ValidationError:
        pass
    else:  # pragma: no cover - the premise of this test
        raise AssertionError("strict validation took a number written as a string")
    assert validated(adapter, text).rules[0].assignment_spec.bucket_count == spec["bucketCount"]


class Counting:
    """A ``TypeAdapter``'s ``validate_json`` that counts its strict and lax validations."""

    def __init__(self, model: Any) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(model)
        self.calls: list[bool] = []

    def validate_json(self, data: Any, /, *, strict: bool | None = None) -> Any:
        self.calls.append(bool(strict))
        return self.adapter.validate_json(data, strict=strict)


def test_a_document_strict_validation_keeps_refusing_is_validated_laxly() -> None:
    flag = next(iter(entities("flags")))
    count = flag["rules"][0]["assignmentSpec"]["bucketCount"]
    text = json.dumps(replaced(flag, ("rules", 0, "assignmentSpec", "bucketCount"), str(count)))
    adapter = Counting(Flag)
    validate = StrictFirst(adapter)  # type: ignore[arg-type]
    for _ in range(200):
        assert validate(text).rules[0].assignment_spec.bucket_count == count
    assert adapter.calls.count(True) == 64  # then it stops trying strictly
    assert adapter.calls.count(False) == 200


def test_a_document_strict_validation_takes_stays_strict() -> None:
    adapter = Counting(Flag)
    validate = StrictFirst(adapter)  # type: ignore[arg-type]
    text = json.dumps(next(iter(entities("flags"))))
    for _ in range(200):
        validate(text)
    assert adapter.calls == [True] * 200
