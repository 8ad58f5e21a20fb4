"""Package fronts whose names are imported on first use (PEP 562).

``import flagstone`` should not pay for the CLI, the A/B-test lifecycle, HTTP, SQLite or the
other file shapes when a process only resolves flags from a file: each front lists where its
names live, and a name's module is imported the first time the name is read (``flagstone.X``,
``from flagstone import X``, ``import *``). A front declares the same names in an
``if TYPE_CHECKING:`` block, so type checkers see them as plain imports::

    if TYPE_CHECKING:
        from .client import Client
    __getattr__, __dir__ = lazy_exports(__name__, globals(), {"Client": ".client"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    namespace: dict[str, Any],
    exports: Mapping[str, str],
    *,
    present_as: str | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package ``package`` (whose globals are
    ``namespace``): ``exports`` maps each lazy name to the module that defines it, relative to
    the package (``".client"``); a name that is that module's own last part
    (``"sinks": ".sinks"``) is the module itself. A name read once is kept in ``namespace``,
    so later reads cost nothing. With ``present_as``, classes and functions read through
    the front present themselves as that module's (``flagstone.Client`` in reprs)."""

    def __getattr__(name: str) -> Any:
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where, package)
        value = module if where.rsplit(".", 1)[-1] == name else getattr(module, name)
        if present_as is not None and (isinstance(value, type) or callable(value)):
            value.__module__ = present_as
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
