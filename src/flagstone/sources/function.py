"""``FunctionSource``: snapshots from a function of yours (S3, Redis, a database, a vault…).

The function returns the document as ``bytes`` (or ``str``), ``(bytes, signature)``, a
``SourceDocument`` (to hand back a validator), or ``None`` for "nothing new"; it raises when
it cannot tell, and the client keeps its snapshot and shows the error in ``status()``. A
function that returns the same bytes every time is fine: the updater recognises them by their
digest and swaps nothing in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from .base import SourceDocument

__all__ = ["FunctionSource", "Returned"]

Returned: TypeAlias = bytes | str | tuple[bytes, str | None] | SourceDocument | None
"""What a source function may return."""


class FunctionSource:
    """Polls ``fn()`` (or, with ``conditional=True``, ``fn(current)``).

    ``conditional=True`` passes the document being served (``SourceDocument`` or ``None``),
    so that a function can ask its store "changed since?" with the validator it returned
    last time (``SourceDocument(body, etag=…)``) and return ``None`` when nothing changed:
    a validator the client refused is never handed back.

    ``name`` is what ``status().source`` shows (default: the function's qualified name);
    ``kind`` is ``status().loaded_from`` for what it delivered (default ``"function"``).
    """

    def __init__(
        self,
        fn: Callable[..., Returned],
        *,
        name: str | None = None,
        kind: str = "function",
        conditional: bool = False,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionSource needs a callable, not {type(fn).__name__}")
        self.fn = fn
        self.name = name if name is not None else _describe(fn)
        self.kind = kind
        self.conditional = conditional

    def poll(
        self, current: SourceDocument | None, *, need_signature: bool
    ) -> SourceDocument | None:
        """What the function returned, as a ``SourceDocument`` (``None`` for nothing new)."""
        returned = self.fn(current) if self.conditional else self.fn()
        return _document(returned, self.name)

    def close(self) -> None:
        """Nothing to release (the function's resources are yours)."""

    def __repr__(self) -> str:
        return f"FunctionSource({self.name!r})"


def _document(returned: object, name: str) -> SourceDocument | None:
    if returned is None or isinstance(returned, SourceDocument):
        return returned
    if isinstance(returned, bytes | bytearray | memoryview):
        return SourceDocument(bytes(returned))
    if isinstance(returned, str):
        return SourceDocument(returned.encode("utf-8"))
    if (
        isinstance(returned, tuple)
        and len(returned) == 2
        and isinstance(returned[0], bytes | bytearray | memoryview | str)
        and (returned[1] is None or isinstance(returned[1], str | bytes))
    ):
        body, signature = returned
        return SourceDocument(
            body.encode("utf-8") if isinstance(body, str) else bytes(body),
            signature.decode("ascii", "replace") if isinstance(signature, bytes) else signature,
        )
    raise TypeError(
        f"the source function {name} returned {type(returned).__name__}; expected bytes, "
        "str, (bytes, signature), a SourceDocument or None"
    )


def _describe(fn: Callable[..., object]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}" if module else qualname
