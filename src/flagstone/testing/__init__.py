"""Test helpers: force a flag's variant in every ``Client`` of the process.

>>> with flagstone.testing.override("checkout-flag", "new-checkout"):
...     client.evaluate("checkout-flag", {"targeting_key": "u1"}).variant
'new-checkout'

``override`` works as a context manager and as a decorator, nests (the innermost wins) and
can be limited to some units. Forced resolutions have reason ``RESOLVE_REASON_OVERRIDE``
and record no exposure. An override is checked when it is set: ``OverrideError`` unless some
open client has the flag with that variant; a client built while such an override is set
raises too. ``client.override(flag, variant)`` forces a variant in one
client only, and wins over these. With pytest, the ``flag_overrides`` fixture (installed with
flagstone) sets overrides that are undone after each test::

    def test_new_checkout(flag_overrides):
        flag_overrides.set("checkout-flag", "new-checkout")
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ContextDecorator
from typing import Any

from .. import overrides as _registry

__all__ = ["FlagOverrides", "clear_overrides", "override"]


class override(ContextDecorator):
    """Force ``variant`` for ``flag`` (short or full name) while the block or decorated
    function runs, for every unit or only for ``units``."""

    def __init__(self, flag: str, variant: str, units: Iterable[str] | str | None = None) -> None:
        self.flag = flag
        self.variant = variant
        self.units: frozenset[str] | None = _unit_set(units)
        self._tokens: list[object] = []

    def __enter__(self) -> override:
        self._tokens.append(_registry.push(self.flag, self.variant, self.units))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _registry.pop(self._tokens.pop())


class FlagOverrides:
    """Overrides set one by one and undone together (what the pytest fixture yields)."""

    def __init__(self) -> None:
        self._tokens: list[object] = []

    def set(self, flag: str, variant: str, units: Iterable[str] | str | None = None) -> None:
        """Force ``variant`` for ``flag`` (for ``units`` only, if given) until ``clear``."""
        self._tokens.append(_registry.push(flag, variant, units))

    def clear(self) -> None:
        """Undo every override set through this object."""
        while self._tokens:
            _registry.pop(self._tokens.pop())


def _unit_set(units: Iterable[str] | str | None) -> frozenset[str] | None:
    """Read ``units`` once (it may be an iterator), so a decorator applies on every call."""
    if units is None:
        return None
    if isinstance(units, str):
        return frozenset((units,))
    return frozenset(str(unit) for unit in units)


def clear_overrides() -> None:
    """Remove every override in the process, whoever set it."""
    _registry.clear()
