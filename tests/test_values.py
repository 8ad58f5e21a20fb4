"""``flagstone.values``: the read-only JSON values every resolution of a variant shares.

A variant value is compiled once and handed to every caller, so one caller must not be able
to change what the next one sees; yet frozen values must still behave as the plain ``dict``
and ``list`` users expect (equality, ``isinstance``, ``json.dumps``, ``pickle``, ``copy``).
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone.values import FrozenDict, FrozenList, freeze, thaw

VALUE = {"layout": "grid", "limits": {"items": 3, "tags": ["a", "b"]}, "ratio": 0.5, "on": True}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _frozen_dict() -> Any:
    return freeze({"a": 1, "b": {"c": 2}})


def _frozen_list() -> Any:
    return freeze([3, 1, 2])


DICT_MUTATIONS: dict[str, Callable[[Any], object]] = {
    "set an item": lambda d: d.__setitem__("z", 1),
    "replace an item": lambda d: d.__setitem__("a", 2),
    "delete an item": lambda d: d.__delitem__("a"),
    "clear": lambda d: d.clear(),
    "pop": lambda d: d.pop("a"),
    "pop with a default": lambda d: d.pop("missing", None),
    "popitem": lambda d: d.popitem(),
    "setdefault": lambda d: d.setdefault("z", 1),
    "update with a mapping": lambda d: d.update({"z": 1}),
    "update with keywords": lambda d: d.update(z=1),
    "in-place union": lambda d: d.__ior__({"z": 1}),
}

LIST_MUTATIONS: dict[str, Callable[[Any], object]] = {
    "set an item": lambda items: items.__setitem__(0, 9),
    "set a slice": lambda items: items.__setitem__(slice(0, 1), [9, 9]),
    "delete an item": lambda items: items.__delitem__(0),
    "delete a slice": lambda items: items.__delitem__(slice(0, 2)),
    "in-place concatenation": lambda items: items.__iadd__([9]),
    "in-place repetition": lambda items: items.__imul__(2),
    "append": lambda items: items.append(9),
    "extend": lambda items: items.extend([9]),
    "insert": lambda items: items.insert(0, 9),
    "pop": lambda items: items.pop(),
    "remove": lambda items: items.remove(1),
    "reverse": lambda items: items.reverse(),
    "sort": lambda items: items.sort(),
    "clear": lambda items: items.clear(),
}


# -- refusing mutation -------------------------------------------------------------------------


@pytest.mark.parametrize("mutate", DICT_MUTATIONS.values(), ids=DICT_MUTATIONS.keys())
def test_a_frozen_dict_refuses_to_change(mutate: Callable[[Any], object]) -> None:
    frozen = _frozen_dict()
    with pytest.raises(TypeError):
        mutate(frozen)
    assert frozen == {"a": 1, "b": {"c": 2}}


@pytest.mark.parametrize("mutate", LIST_MUTATIONS.values(), ids=LIST_MUTATIONS.keys())
def test_a_frozen_list_refuses_to_change(mutate: Callable[[Any], object]) -> None:
    frozen = _frozen_list()
    with pytest.raises(TypeError):
        mutate(frozen)
    assert frozen == [3, 1, 2]


def test_the_augmented_union_operator_on_a_frozen_dict_raises() -> None:
    frozen = _frozen_dict()
    with pytest.raises(TypeError):
        frozen |= {"z": 1}


def test_augmented_assignment_on_a_frozen_list_raises() -> None:
    frozen = _frozen_list()
    with pytest.raises(TypeError):
        frozen += [9]


def test_objects_nested_in_a_frozen_value_are_frozen_too() -> None:
    frozen = freeze(VALUE)
    with pytest.raises(TypeError):
        frozen["limits"]["items"] = 4


def test_arrays_nested_in_a_frozen_value_are_frozen_too() -> None:
    frozen = freeze(VALUE)
    with pytest.raises(TypeError):
        frozen["limits"]["tags"].append("c")


def test_objects_inside_arrays_are_frozen_too() -> None:
    frozen = freeze({"rows": [{"id": 1}]})
    with pytest.raises(TypeError):
        frozen["rows"][0]["id"] = 2


def test_the_refusal_points_to_thaw_for_a_mutable_copy() -> None:
    with pytest.raises(TypeError, match="thaw"):
        _frozen_dict()["z"] = 1


def test_freezing_copies_so_later_changes_to_the_input_do_not_leak_in() -> None:
    source = {"tags": ["a"], "nested": {"n": 1}}
    frozen = freeze(source)
    source["tags"].append("b")
    source["nested"]["n"] = 2
    source["new"] = True
    assert frozen == {"tags": ["a"], "nested": {"n": 1}}


def test_tuples_freeze_into_frozen_lists() -> None:
    assert isinstance(freeze((1, 2)), FrozenList)


def test_scalars_freeze_to_themselves() -> None:
    for scalar in ("text", 1, 1.5, True, None):
        assert freeze(scalar) is scalar


# -- behaving like plain JSON values -----------------------------------------------------------


def test_a_frozen_dict_is_a_dict() -> None:
    assert isinstance(freeze(VALUE), dict)


def test_a_frozen_list_is_a_list() -> None:
    assert isinstance(freeze([1]), list)


def test_a_frozen_value_equals_the_plain_value_it_was_made_from() -> None:
    assert freeze(VALUE) == VALUE


def test_a_plain_value_equals_the_frozen_value_made_from_it() -> None:
    # The plain dict on the left: Python then asks the subclass's reflected __eq__ first.
    assert VALUE == freeze(VALUE)  # noqa: SIM300


def test_a_frozen_list_equals_the_plain_list() -> None:
    assert freeze([1, [2, 3]]) == [1, [2, 3]]


def test_frozen_values_differ_when_their_contents_differ() -> None:
    assert freeze({"a": 1}) != {"a": 2}


def test_reading_a_frozen_dict_works_as_for_a_dict() -> None:
    frozen = freeze(VALUE)
    assert frozen["layout"] == "grid"
    assert frozen.get("missing", "default") == "default"
    assert list(frozen) == list(VALUE)
    assert len(frozen) == len(VALUE)
    assert "ratio" in frozen


def test_a_frozen_value_reprs_like_the_plain_value() -> None:
    assert repr(freeze(VALUE)) == repr(VALUE)


def test_json_dumps_writes_a_frozen_value_like_the_plain_value() -> None:
    assert json.dumps(freeze(VALUE), sort_keys=True) == json.dumps(VALUE, sort_keys=True)


@given(json_values)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_any_json_value_serialises_the_same_frozen_or_not(value: Any) -> None:
    assert json.dumps(freeze(value)) == json.dumps(value)


def test_equal_frozen_values_hash_equal() -> None:
    assert hash(freeze(VALUE)) == hash(freeze(copy.deepcopy(VALUE)))


def test_frozen_values_can_be_set_members() -> None:
    assert len({freeze(VALUE), freeze(copy.deepcopy(VALUE))}) == 1


def test_combining_a_frozen_dict_gives_a_new_dict_and_leaves_it_unchanged() -> None:
    frozen = _frozen_dict()
    combined = frozen | {"z": 1}
    assert combined == {"a": 1, "b": {"c": 2}, "z": 1}
    assert frozen == {"a": 1, "b": {"c": 2}}


# -- pickle and copy ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_frozen_value_survives_pickling(protocol: int) -> None:
    restored = pickle.loads(pickle.dumps(freeze(VALUE), protocol=protocol))
    assert restored == VALUE


def test_an_unpickled_frozen_value_is_still_read_only() -> None:
    restored = pickle.loads(pickle.dumps(freeze(VALUE)))
    assert isinstance(restored, FrozenDict)
    assert isinstance(restored["limits"], FrozenDict)
    assert isinstance(restored["limits"]["tags"], FrozenList)


def test_a_shallow_copy_is_equal() -> None:
    assert copy.copy(freeze(VALUE)) == VALUE


def test_a_shallow_copy_is_still_read_only() -> None:
    copied = copy.copy(freeze(VALUE))
    with pytest.raises(TypeError):
        copied["layout"] = "list"


def test_a_deep_copy_is_equal() -> None:
    assert copy.deepcopy(freeze(VALUE)) == VALUE


def test_a_deep_copy_is_still_read_only() -> None:
    copied = copy.deepcopy(freeze(VALUE))
    with pytest.raises(TypeError):
        copied["limits"]["tags"].append("c")


def test_a_frozen_list_can_be_copied_and_pickled() -> None:
    frozen = freeze([1, {"a": [2]}])
    assert copy.copy(frozen) == copy.deepcopy(frozen) == pickle.loads(pickle.dumps(frozen))


# -- thaw --------------------------------------------------------------------------------------


def test_thaw_gives_plain_builtin_types_all_the_way_down() -> None:
    thawed = thaw(freeze(VALUE))
    assert type(thawed) is dict
    assert type(thawed["limits"]) is dict
    assert type(thawed["limits"]["tags"]) is list


def test_a_thawed_value_can_be_changed() -> None:
    thawed = thaw(freeze(VALUE))
    thawed["limits"]["tags"].append("c")
    thawed["layout"] = "list"
    assert thawed["limits"]["tags"] == ["a", "b", "c"]


def test_changing_a_thawed_value_leaves_the_frozen_one_as_it_was() -> None:
    frozen = freeze(VALUE)
    thawed = thaw(frozen)
    thawed["limits"]["tags"].append("c")
    thawed["limits"]["items"] = 99
    assert frozen == VALUE


def test_thawing_twice_gives_independent_copies() -> None:
    frozen = freeze(VALUE)
    first, second = thaw(frozen), thaw(frozen)
    first["limits"]["tags"].append("c")
    assert second["limits"]["tags"] == ["a", "b"]


def test_thaw_copies_plain_values_too() -> None:
    source = {"tags": ["a"]}
    thawed = thaw(source)
    thawed["tags"].append("b")
    assert source == {"tags": ["a"]}


@given(json_values)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_thaw_undoes_freeze_for_any_json_value(value: Any) -> None:
    assert thaw(freeze(value)) == value
