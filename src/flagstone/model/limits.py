"""The limits a snapshot must keep, so that loading one and evaluating its flags take bounded
time, memory and stack whatever the document holds (a snapshot comes from the network: it is
untrusted input). Validation reports a snapshot beyond any of them as a ``ConfigError``
problem with its JSON path; README.md, "Limits", lists them for users.

The bounds on decoding live where the decoding is (``flagstone.semantics.membership``) and
are re-exported here so that one module names every limit.
"""

from __future__ import annotations

from typing import Any

from ..semantics.membership import MAX_BITSET_BYTES, MAX_HASH_FUNCTIONS, MAX_INFLATED_BITSETS

__all__ = [
    "MAX_BITSET_BYTES",
    "MAX_EXPRESSION_DEPTH",
    "MAX_HASH_FUNCTIONS",
    "MAX_INFLATED_BITSETS",
    "MAX_NESTING",
    "MAX_REFERENCE_DEPTH",
    "nests_deeper_than",
]

MAX_NESTING = 200
"""JSON objects and arrays that hold something nest at most this many levels (the document
itself is level 1). It is the limit of the JSON decoder snapshots are read with
(pydantic's); a decoded document (``Client.from_dict``) is held to it too."""

MAX_REFERENCE_DEPTH = 16
"""A chain of segment references (a segment whose targeting references a segment that
references another, …) is at most this many segments long; segments on a reference cycle
(lenient mode) count one each. Evaluation descends the chain, so this bounds its stack."""

MAX_EXPRESSION_DEPTH = 32
"""A targeting expression nests ``and``/``or``/``not`` at most this many levels (a lone
``ref`` is one level)."""


def nests_deeper_than(value: Any, levels: int) -> bool:
    """Whether the JSON ``value`` nests objects and arrays that hold something more than
    ``levels`` deep (such an object or array is one level; a scalar or an empty one none, as
    the JSON decoder counts), found without recursion and without looking below
    ``levels + 1``."""
    level = [value]
    depth = 0
    while level:
        containers = [item for item in level if isinstance(item, dict | list | tuple) and item]
        if not containers:
            return False
        depth += 1
        if depth > levels:
            return True
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return False
