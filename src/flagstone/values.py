"""Read-only JSON values: the variant values a resolution hands out.

Every resolution of a variant returns the same value object, compiled once. To keep one
caller from changing what the next one sees, values are deeply frozen: objects become
``FrozenDict`` and arrays ``FrozenList``. They are real ``dict`` and ``list`` subclasses, so
``isinstance`` checks, equality with plain dicts and ``json.dumps`` work as usual; only
mutation raises ``TypeError``. ``thaw`` gives back plain, mutable copies.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: flag values are shared between resolutions; "
        "use flagstone.values.thaw(value) for a mutable copy"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses changes (a variant value or an object inside one)."""

    __slots__ = ()
    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda item: item[0])))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


class FrozenList(list[Any]):
    """A ``list`` that refuses changes (an array inside a variant value)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = reverse = sort = clear = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenList:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)


_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Exact types no value needs to look into (one set look-up where ``isinstance`` against
three classes costs ~3 times as much, for each item of 20 000 variant values)."""


def freeze(value: Any) -> Any:
    """A deeply read-only copy of a JSON value (dicts and lists frozen, scalars as they are)."""
    if isinstance(value, dict):
        for item in value.values():
            if item.__class__ not in _SCALARS and isinstance(item, dict | list | tuple):
                return FrozenDict({key: freeze(item) for key, item in value.items()})
        return FrozenDict(value)  # scalars only (most variant values): copied in one call
    if isinstance(value, list | tuple):
        return FrozenList([freeze(item) for item in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (possibly frozen) JSON value."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
