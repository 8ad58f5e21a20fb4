"""Test overrides: the process-wide registry (the engine behind ``flagstone.testing``), the
per-client tables (``Client.override``) and the checks that an override names a real flag
and variant.

Every ``Client`` of the process tests :data:`ACTIVE` on each evaluation, which costs one
truth test of a module-level dict while no override is set anywhere. Writers take a lock and
replace the tuple of entries for a flag; readers never lock. Later overrides win over earlier
ones; an override limited to units applies only to those units. A client's own overrides
win over the process-wide ones.

An override is checked when it is set: some open client (not closed, still referenced) must
have the flag with that variant (``OverrideError`` otherwise). A client checks the
process-wide overrides when it is built, against itself and the other open clients.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .errors import OverrideError
from .model.validation import short_variant_name

if TYPE_CHECKING:
    from .plan import FlagPlan

__all__ = [
    "ACTIVE",
    "REGISTRY",
    "OverrideEntry",
    "OverrideHandle",
    "Table",
    "add",
    "check",
    "check_registry",
    "clear",
    "full_flag_name",
    "lookup",
    "pop",
    "push",
    "register",
    "unit_set",
    "valid_names",
]


class OverrideEntry(NamedTuple):
    variant: str
    units: frozenset[str] | None
    token: object


Table = dict[str, tuple[OverrideEntry, ...]]
"""Full flag name → overrides, oldest first."""

REGISTRY: Table = {}
"""The process-wide overrides. Empty while none is set."""

ACTIVE: dict[object, None] = {}
"""The token of every override set in the process, process-wide or a client's own: what
evaluation tests before it looks for one. Empty while no override is set anywhere."""

_lock = threading.Lock()


class _Open(Protocol):
    def _checked_plan(self) -> Mapping[str, FlagPlan] | None:
        """The plan the client serves, or ``None`` when it is closed or has none yet."""


_CLIENTS: weakref.WeakSet[_Open] = weakref.WeakSet()


def register(client: _Open) -> None:
    """Check process-wide overrides against ``client`` too from now on."""
    _CLIENTS.add(client)


def full_flag_name(flag: str) -> str:
    """``"checkout"`` → ``"flags/checkout"``; a full name stays as it is."""
    return flag if flag.startswith("flags/") else f"flags/{flag}"


def unit_set(units: Iterable[str] | str | None) -> frozenset[str] | None:
    """``units`` read once (it may be an iterator); ``None`` for every unit."""
    if units is None:
        return None
    if isinstance(units, str):
        return frozenset((units,))
    return frozenset(str(unit) for unit in units)


def valid_names(flag: object, variant: object) -> None:
    if not isinstance(flag, str) or not flag:
        raise TypeError("flag must be a non-empty string")
    if not isinstance(variant, str) or not variant:
        raise TypeError("variant must be a non-empty string")


def _open_plans() -> list[Mapping[str, FlagPlan]]:
    plans = []
    for client in list(_CLIENTS):
        plan = client._checked_plan()
        if plan is not None:
            plans.append(plan)
    return plans


def check(flag: str, variant: str, plans: Iterable[Mapping[str, FlagPlan]]) -> None:
    """Raise ``OverrideError`` unless some plan of ``plans`` has ``flag`` with ``variant``;
    nothing to check when ``plans`` is empty. (Some, not every: a test run may hold clients
    of other snapshots, where the same flag name means another flag.)"""
    name = full_flag_name(flag)
    plans = list(plans)
    if not plans:
        return
    variants: dict[str, None] = {}  # of the flag, in every plan that has it
    found = False
    for plan in plans:
        flag_plan = plan.get(name)
        if flag_plan is None:
            continue
        found = True
        if flag_plan.variant_value(variant) is not None:
            return
        variants.update(dict.fromkeys(short_variant_name(known) for known in flag_plan.variants))
    if found:
        raise OverrideError(
            f"cannot override {name!r} with {variant!r}: that flag has no such variant "
            f"(its variants: {', '.join(map(repr, variants)) or 'none'})",
            flag=name,
            variants=list(variants),
        )
    known = sorted({key for plan in plans for key in plan if key.startswith("flags/")})
    shown = ", ".join(repr(key) for key in known[:20]) + (" …" if len(known) > 20 else "")
    raise OverrideError(
        f"cannot override {name!r}: no open client has that flag (flags: {shown or 'none'})",
        flag=name,
    )


def check_registry(plan: Mapping[str, FlagPlan]) -> None:
    """Check every process-wide override against ``plan`` (a client being built) and the
    open clients' plans."""
    entries = [(name, entry.variant) for name, table in REGISTRY.items() for entry in table]
    if entries:
        plans = [plan, *_open_plans()]
        for name, variant in entries:
            check(name, variant, plans)


def push(flag: str, variant: str, units: Iterable[str] | str | None = None) -> object:
    """Force ``variant`` for ``flag`` (for ``units`` only, if given) in every client; returns
    a token for :func:`pop`. Raises ``OverrideError`` if the open clients do not have the
    flag or the variant."""
    valid_names(flag, variant)
    check(flag, variant, _open_plans())
    return add(REGISTRY, flag, variant, unit_set(units))


def add(table: Table, flag: str, variant: str, units: frozenset[str] | None) -> object:
    """Add an override to ``table`` (the registry or a client's own); returns its token."""
    token = object()
    name = full_flag_name(flag)
    with _lock:
        table[name] = (*table.get(name, ()), OverrideEntry(variant, units, token))
        ACTIVE[token] = None
    return token


def pop(token: object, table: Table = REGISTRY) -> None:
    """Undo the override of ``table`` that :func:`push` or :func:`add` returned ``token`` for
    (in any order; nothing if it is already undone)."""
    with _lock:
        ACTIVE.pop(token, None)
        for name, entries in list(table.items()):
            remaining = tuple(entry for entry in entries if entry.token is not token)
            if len(remaining) != len(entries):
                if remaining:
                    table[name] = remaining
                else:
                    del table[name]


def clear(table: Table = REGISTRY) -> None:
    """Remove every override of ``table`` (by default every process-wide one)."""
    with _lock:
        for entries in table.values():
            for entry in entries:
                ACTIVE.pop(entry.token, None)
        table.clear()


def lookup(
    flag: str,
    read_unit: Callable[[dict[str, Any]], Any],
    context: dict[str, Any],
    table: Table = REGISTRY,
) -> str | None:
    """The variant forced for ``flag`` in ``context`` by ``table``, or ``None``."""
    entries = table.get(flag)
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


class OverrideHandle:
    """One override of a client's own (``Client.override``): in force from when it is made
    until :meth:`undo`, or until the ``with`` block it opens ends."""

    __slots__ = ("_table", "_token", "flag", "units", "variant")

    def __init__(self, table: Table, flag: str, variant: str, units: frozenset[str] | None) -> None:
        self.flag = full_flag_name(flag)
        self.variant = variant
        self.units = units
        self._table = table
        self._token = add(table, flag, variant, units)

    def undo(self) -> None:
        """Remove this override (nothing if it is already removed)."""
        pop(self._token, self._table)

    def __enter__(self) -> OverrideHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.undo()

    def __repr__(self) -> str:
        units = "" if self.units is None else f", units={sorted(self.units)!r}"
        return f"OverrideHandle({self.flag!r}, {self.variant!r}{units})"
