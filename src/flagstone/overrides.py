"""The process-wide registry of test overrides (the engine behind ``flagstone.testing``).

Every ``Client`` of the process consults it on each evaluation, which costs one truth test
of a module-level dict while no override is set. Writers take a lock and replace the tuple
of entries for a flag; readers never lock. Later overrides win over earlier ones; an
override limited to units applies only to those units.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = ["REGISTRY", "OverrideEntry", "clear", "full_flag_name", "lookup", "pop", "push"]


class OverrideEntry(NamedTuple):
    variant: str
    units: frozenset[str] | None
    token: object


REGISTRY: dict[str, tuple[OverrideEntry, ...]] = {}
"""Full flag name → overrides, oldest first. Empty while no override is set."""

_lock = threading.Lock()


def full_flag_name(flag: str) -> str:
    """``"checkout"`` → ``"flags/checkout"``; a full name stays as it is."""
    return flag if flag.startswith("flags/") else f"flags/{flag}"


def push(flag: str, variant: str, units: Iterable[str] | str | None = None) -> object:
    """Force ``variant`` for ``flag`` (for ``units`` only, if given); returns a token for
    :func:`pop`."""
    if not isinstance(flag, str) or not flag:
        raise TypeError("flag must be a non-empty string")
    if not isinstance(variant, str) or not variant:
        raise TypeError("variant must be a non-empty string")
    if isinstance(units, str):
        units = (units,)
    unit_set = frozenset(str(unit) for unit in units) if units is not None else None
    token = object()
    name = full_flag_name(flag)
    with _lock:
        REGISTRY[name] = (*REGISTRY.get(name, ()), OverrideEntry(variant, unit_set, token))
    return token


def pop(token: object) -> None:
    """Undo the override that :func:`push` returned ``token`` for (in any order)."""
    with _lock:
        for name, entries in list(REGISTRY.items()):
            remaining = tuple(entry for entry in entries if entry.token is not token)
            if len(remaining) != len(entries):
                if remaining:
                    REGISTRY[name] = remaining
                else:
                    del REGISTRY[name]


def clear() -> None:
    """Remove every override in the process."""
    with _lock:
        REGISTRY.clear()


def lookup(
    flag: str, read_unit: Callable[[dict[str, Any]], Any], context: dict[str, Any]
) -> str | None:
    """The variant forced for ``flag`` in ``context``, or ``None``."""
    entries = REGISTRY.get(flag)
    if not entries:
        return None
    unit: Any = _UNREAD
    for entry in reversed(entries):
        if entry.units is None:
            return entry.variant
        if unit is _UNREAD:
            unit = read_unit(context)
        if isinstance(unit, str) and unit in entry.units:
            return entry.variant
    return None


_UNREAD = object()
