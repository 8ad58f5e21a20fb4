"""``get_value``'s shortcut (no ``ValueDetails``, paths split once, the lookup inline)
answers exactly as ``get_value_details(...).value`` and records the same exposures.

``get_value_details`` is the reference: its code is the statement of what a value is (the
variant's value walked along the path, ``default`` when there is no variant or the type
differs). Every combination below runs on two clients of the same snapshot, one through each
method, each with its own ``MemorySink``; the values and the exposures recorded must match.
"""

from __future__ import annotations

from typing import Any

import pytest

import flagstone
from flagstone import client as client_module
from flagstone.sinks import MemorySink
from flagstone.testing import override
from tests import builders as b

VALUE = {"layout": "one-page", "steps": 1, "ratio": 0.5, "on": True, "tags": ["a"], "n": {"k": 2}}


def document() -> dict[str, Any]:
    rules = [
        b.rule(
            "flags/f/rules/r",
            [
                b.assignment("new", "new", (0, 40)),
                b.assignment("old", "old", (40, 70)),
                b.assignment("cd", None, (70, 85), kind="clientDefault"),
                b.assignment("ft", None, (85, 100), kind="fallthrough"),
            ],
            bucket_count=100,
            segment="sweden",
            selector="targeting_key",
        )
    ]
    return b.snapshot(
        b.flag("f", {"new": VALUE, "old": {"layout": "classic"}}, rules),
        segments=[b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))],
    )


PATHS = ["f", "flags/f", "f.layout", "f.steps", "f.ratio", "f.on", "f.tags", "f.n", "f.n.k",
         "f.missing", "f.layout.deeper", "nope.layout", "", "."]  # fmt: skip
DEFAULTS: list[Any] = [None, "x", 0, 0.0, True, {}, [], ("t",), object()]
CONTEXTS: list[Any] = [
    *({"targeting_key": f"u{i}", "country": "SE"} for i in range(40)),
    {"targeting_key": "u1", "country": "NO"},
    {"country": "SE"},
    {"targeting_key": ["bad"], "country": "SE"},
    None,
    42,
]


@pytest.mark.parametrize("apply", [True, False])
def test_get_value_answers_as_get_value_details(apply: bool) -> None:
    fast_sink, reference_sink = MemorySink(dedup=False), MemorySink(dedup=False)
    fast = flagstone.Client.from_dict(document(), sinks=[fast_sink])
    reference = flagstone.Client.from_dict(document(), sinks=[reference_sink])
    for path in PATHS:
        for default in DEFAULTS:
            for context in CONTEXTS:
                for _ in range(2):  # the first call of a path splits it, the second reads it
                    got = fast.get_value(path, context, default, apply=apply)
                    want = reference.get_value_details(path, context, default, apply=apply).value
                    assert got == want and type(got) is type(want), (path, default, context)
    strip = ("apply_time", "resolve_id")  # a fresh time and id per exposure
    assert [{k: v for k, v in e.items() if k not in strip} for e in fast_sink.events] == [
        {k: v for k, v in e.items() if k not in strip} for e in reference_sink.events
    ]
    assert (len(fast_sink.events) > 0) is apply


def test_get_value_under_a_test_override_and_for_odd_paths() -> None:
    client = flagstone.Client.from_dict(document())
    context = {"targeting_key": "u1", "country": "NO"}  # outside the segment: no variant
    assert client.get_value("f.layout", context, "none") == "none"
    with override("f", "old"):
        assert client.get_value("f.layout", context, "none") == "classic"
    assert client.get_value("f.layout", context, "none") == "none"

    class Path(str):
        def __hash__(self) -> int:
            raise RuntimeError("a hostile str subclass")

    for odd in (Path("f.layout"), ["f"], None, 3):
        assert client.get_value(odd, context, "d") == "d"  # type: ignore[arg-type]


def test_the_split_paths_stay_bounded() -> None:
    client = flagstone.Client.from_dict(document())
    client_module._PATHS.clear()
    for index in range(client_module._MAX_PATHS + 500):
        client.get_value(f"f.field{index}", {"targeting_key": "u"}, None)
    assert len(client_module._PATHS) == client_module._MAX_PATHS
    assert client.get_value("f.layout", {"targeting_key": "u0", "country": "SE"}) in (
        "one-page",
        "classic",
        None,
    )
