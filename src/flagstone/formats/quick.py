"""Validators for the entity-by-entity read (``flagstone.formats.streamed``) that call no
Python function where pydantic-core can check the same thing itself.

A model's own validator calls ``_not_a_boolean`` before every whole number (a JSON ``true``
is not a count) and ``_not_null`` before every variant value: five calls from Rust into
Python for each flag of ``bench/snapshots.py``'s snapshot (~3 µs). The validators here are
the models' own core schemas with those two steps replaced by what accepts a subset of the
same input and builds the same models from it: a *strict* integer (a JSON number without
a fraction; never a boolean, nor the decimal string or ``5000.0`` a model also takes), and
nothing before a variant value (its union of non-null types refuses ``null`` anyway).
Validating the 10 000 flags takes ~95 ms instead of ~130 ms.

Only the answer matters here: an entity these validators refuse is read again by
``parse_snapshot`` with the models' own validators, which accept it or report it exactly
as always (``streamed`` raises ``Unreadable`` for any ``ValidationError``).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import SchemaValidator

from ..model import Flag, Segment
from ..model.base import _not_a_boolean
from ..model.flags import _not_null

__all__ = ["entity_validators"]


def _named(function: object) -> tuple[str, str] | None:
    """A function as ``(module, qualified name)``: compared by name, not identity, so that a
    model module imported again (a test that clears ``sys.modules``) still matches."""
    if function is None:
        return None
    return getattr(function, "__module__", ""), getattr(function, "__qualname__", "")


_NOT_A_BOOLEAN = _named(_not_a_boolean)
_NOT_NULL = _named(_not_null)


_building = threading.Lock()


@cache
def entity_validators() -> dict[str, Any]:
    """``{"flags": …, "segments": …}``: a validator (``validate_json(text)`` → model) for
    each entity collection, built on first use (by one thread at a time: an updater's
    thread may be the first)."""
    with _building:
        return {"flags": _quick(Flag), "segments": _quick(Segment)}


def _quick(model: type) -> Any:
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    rebuild = getattr(adapter, "rebuild", None)  # pydantic >= 2.10; earlier ones build now
    if rebuild is not None:
        rebuild()  # the models defer building their schemas to their first use
    schema = adapter.core_schema
    if not isinstance(schema, dict):  # pragma: no cover - a pydantic that built nothing
        return adapter
    return SchemaValidator(_without_calls(schema))


def _without_calls(schema: Any) -> Any:
    """``schema`` (a core schema, as nested dicts and lists) with the two Python steps
    replaced (see the module docstring); everything else as it is."""
    if isinstance(schema, list):
        return [_without_calls(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "function-before":
        function = _named(schema.get("function", {}).get("function"))
        inner = schema.get("schema")
        if function == _NOT_A_BOOLEAN and isinstance(inner, dict) and inner.get("type") == "int":
            return {**_without_calls(inner), "strict": True}
        if function == _NOT_NULL:
            return _without_calls(inner)
    return {key: _without_calls(value) for key, value in schema.items()}
