"""Snapshots the benchmarks share: the 10 000-flag document of issue 15 and its variations.

``many_flags(10_000)`` is the load benchmark's document, the one the peers' harness
(``bench/peers/``) builds for every SDK too: each flag has two variants and one rule that
buckets ``targeting_key`` 50/50 over 10 000 buckets, behind a segment of its own that targets
``country`` (an ``eqRule``). About 7.8 MB of compact JSON for 10 000 flags.

``changed(document, k)`` is the same document with ``k`` flags edited (a new variant value
and a different split), what the update benchmark installs over the original.

Only the standard library: the peers' harness imports this module before any SDK.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["COUNTRIES", "changed", "encoded", "flag_name", "many_flags"]

COUNTRIES = ("SE", "NO", "DK", "FI", "DE", "FR", "GB", "US")
"""Flag ``i`` targets ``COUNTRIES[i % 8]``."""


def flag_name(index: int) -> str:
    """``flags/flag-00042``: the full name of flag ``index``."""
    return f"flags/flag-{index:05d}"


def _flag(index: int, split: int = 5000, generation: int = 0) -> dict[str, Any]:
    name = flag_name(index)
    short = name.split("/", 1)[1]
    return {
        "name": name,
        "state": "ACTIVE",
        "variants": [
            {
                "name": "control",
                "value": {"enabled": False, "limit": index},
            },
            {
                "name": "treatment",
                "value": {"enabled": True, "limit": index + generation},
            },
        ],
        "rules": [
            {
                "name": f"{name}/rules/rollout",
                "segment": f"segments/{short}",
                "targetingKeySelector": "targeting_key",
                "assignmentSpec": {
                    "bucketCount": 10_000,
                    "assignments": [
                        {
                            "assignmentId": "control",
                            "variant": {"variant": "control"},
                            "bucketRanges": [{"lower": 0, "upper": split}],
                        },
                        {
                            "assignmentId": "treatment",
                            "variant": {"variant": "treatment"},
                            "bucketRanges": [{"lower": split, "upper": 10_000}],
                        },
                    ],
                },
            }
        ],
    }


def _segment(index: int) -> dict[str, Any]:
    short = flag_name(index).split("/", 1)[1]
    return {
        "name": f"segments/{short}",
        "targeting": {
            "criteria": {
                "country": {
                    "attribute": {
                        "attributeName": "country",
                        "eqRule": {"value": {"stringValue": COUNTRIES[index % len(COUNTRIES)]}},
                    }
                }
            },
            "expression": {"ref": "country"},
        },
    }


def many_flags(count: int = 10_000, *, version: str = "bench-1") -> dict[str, Any]:
    """A snapshot of ``count`` flags, each with one segment (``country`` equal to one of
    :data:`COUNTRIES`) and one 50/50 rule on ``targeting_key`` behind it, keyed by name as
    Confidence writes its resolver state."""
    return {
        "version": version,
        "account": {"name": "accounts/bench"},
        "flags": {flag_name(i): _flag(i) for i in range(count)},
        "segments": {segment["name"]: segment for segment in map(_segment, range(count))},
    }


def changed(document: dict[str, Any], k: int, *, generation: int = 1) -> dict[str, Any]:
    """``document`` (from :func:`many_flags`) with the first ``k`` flags edited: the
    treatment's value and the split differ (40/60), and the version is new. ``generation``
    varies the edit, so successive updates differ from each other."""
    result = copy.copy(document)
    result["flags"] = dict(document["flags"])
    result["version"] = f"{document['version']}+{generation}x{k}"
    for index in range(k):
        result["flags"][flag_name(index)] = _flag(index, split=4000, generation=generation)
    return result


def encoded(document: dict[str, Any]) -> bytes:
    """The document's JSON text, as a source would deliver it."""
    return json.dumps(document, separators=(",", ":")).encode()
