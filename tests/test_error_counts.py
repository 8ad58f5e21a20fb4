"""Every resolution answered with an error code is counted once in ``Client.stats()``,
whichever public method asked for it and whichever compiled resolver answered it.

Compiled flags count the errors they answer themselves (``FlagPlan.failed``), so that
``Client.evaluate`` reads nothing of the resolutions it returns; the client counts the ones
it makes (flag not found, invalid context, a test override naming a missing variant). These
tests catch a count made twice (by the flag and again by a caller) or never (a path that
neither counts): each call below resolves one erroring flag once, so the expected count is
the number of calls made, written here, never read from the code under test.

The paths: ``evaluate`` (with and without sinks, ``apply=False``, a context that is not a
``dict``, while test overrides are set), ``evaluate_all``, ``get_value`` (a path seen before
and a new one), ``get_value_details``, the typed getters, the OpenFeature provider; and across
updates: a flag replaced while an evaluation held it, a flag an incremental update kept, a
parsed snapshot given to two clients, a file compiled while it was read, a source polled.
"""

from __future__ import annotations

import itertools
import json
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.formats.reading import read_snapshot
from flagstone.plan import compile_plan
from flagstone.plan.compile import FlagCompiler
from flagstone.plan.flag import ErrorCounts
from flagstone.plan.resolver import resolver_for
from flagstone.sinks import MemorySink
from flagstone.sources import FunctionSource
from tests import builders as b

VARIANTS = {"on": {"x": 1, "b": True, "s": "on"}, "off": {"x": 0, "b": False, "s": "off"}}
GOOD = {"targeting_key": "user-1", "country": "SE"}
BAD_KEY = {"targeting_key": 3.5, "country": "SE"}  # not a whole number: TARGETING_KEY_ERROR
SWEDEN = b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))
MEMBERS = {  # a materialized segment: its criterion needs a store the clients here lack
    "name": "segments/members",
    "targeting": {
        "criteria": {"m": {"materializedSegment": {"materializedSegment": "materializations/m"}}},
        "expression": {"ref": "m"},
    },
}
KEY = "errors_targeting_key_error"
GENERAL = "errors_general"


def split(name: str = "flags/f/rules/split", segment: str = "sweden") -> dict[str, Any]:
    return b.split_rule(
        name, ["on", "off"], buckets_per_variant=50, segment=segment, selector="targeting_key"
    )


def fallback() -> dict[str, Any]:
    return b.everyone_gets("flags/f/rules/all", "off")


def sticky() -> dict[str, Any]:
    """A rule that reads and writes a materialization (no store: MATERIALIZATION_NOT_SUPPORTED,
    code GENERAL)."""
    materialization = {
        "readMaterialization": "materializations/m",
        "writeMaterialization": "materializations/m",
    }
    return b.rule(
        "flags/f/rules/sticky",
        [b.assignment("on", "on", (0, 100))],
        bucket_count=100,
        segment="sweden",
        materialization=materialization,
    )


def document(*rules: dict[str, Any], version: str = "v1", value: int = 1) -> dict[str, Any]:
    """One flag ``f`` (so that ``evaluate_all`` resolves exactly one flag), and ``g``
    archived (not resolved by ``evaluate_all``)."""
    return b.snapshot(
        b.flag("f", {"on": {**VARIANTS["on"], "x": value}, "off": VARIANTS["off"]}, list(rules)),
        b.flag("g", VARIANTS, state="ARCHIVED"),
        segments=[SWEDEN, MEMBERS, b.segment()],
        version=version,
    )


# (the document, a context whose resolution is an error, the stats key it is counted under,
# whether the flag is served by the unrolled single-rule resolver or by the rule loop)
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any], str, bool]] = {
    "key-error/unrolled": (document(split()), BAD_KEY, KEY, True),
    "key-error/rule-loop": (document(split(), fallback()), BAD_KEY, KEY, False),
    "needs-store/unrolled": (
        document(
            b.everyone_gets("flags/f/rules/m", "on", segment="members", selector="targeting_key")
        ),
        GOOD,
        GENERAL,
        True,
    ),
    "needs-store/rule-loop": (document(sticky(), fallback()), GOOD, GENERAL, False),
}

_fresh = itertools.count()


def _openfeature(client: flagstone.Client, context: dict[str, Any]) -> None:
    pytest.importorskip("openfeature", reason="the openfeature extra is not installed")
    from openfeature.evaluation_context import EvaluationContext

    from flagstone.openfeature import FlagstoneProvider

    details = FlagstoneProvider(client).resolve_object_details(
        "f", {}, EvaluationContext(attributes=dict(context))
    )
    assert details.error_code is not None


def _with_override(client: flagstone.Client, context: dict[str, Any]) -> None:
    with client.override("f", "on", units=["someone-else"]):  # set, but not for this unit
        client.evaluate("f", context)


def _all_with_override(client: flagstone.Client, context: dict[str, Any]) -> None:
    with client.override("f", "on", units=["someone-else"]):
        assert len(client.evaluate_all(context)) == 1


def _all(client: flagstone.Client, context: dict[str, Any]) -> None:
    assert len(client.evaluate_all(context)) == 1


def _new_path(client: flagstone.Client, context: dict[str, Any]) -> None:
    # a path get_value has not seen goes through get_value_details
    assert client.get_value(f"f.new{next(_fresh)}", context, "d") == "d"


PATHS: dict[str, Callable[[flagstone.Client, dict[str, Any]], object]] = {
    "evaluate": lambda client, context: client.evaluate("f", context),
    "evaluate-full-name": lambda client, context: client.evaluate("flags/f", context),
    "evaluate-apply-false": lambda client, context: client.evaluate("f", context, apply=False),
    "evaluate-mapping": lambda client, context: client.evaluate(
        "f", types.MappingProxyType(context)
    ),
    "evaluate-override-set": _with_override,
    "evaluate_all": _all,
    "evaluate_all-override-set": _all_with_override,
    "get_value": lambda client, context: client.get_value("f.x", context),
    "get_value-new-path": _new_path,
    "get_value_details": lambda client, context: client.get_value_details("f.x", context),
    "get_bool": lambda client, context: client.get_bool("f.b", context),
    "get_str": lambda client, context: client.get_str("f.s", context),
    "get_int": lambda client, context: client.get_int("f.x", context),
    "get_float": lambda client, context: client.get_float("f.x", context),
    "get_object": lambda client, context: client.get_object("f", context),
    "openfeature": _openfeature,
}


def errors(client: flagstone.Client) -> dict[str, int]:
    return {key: count for key, count in client.stats().items() if key.startswith("errors")}


def counted(key: str, times: int) -> dict[str, int]:
    """``stats()``'s error counters after ``times`` errors counted under ``key``."""
    zero = {
        f"errors_{code.value.lower()}": 0
        for code in flagstone.ErrorCode  # every code listed
    }
    return {**zero, key: times, "errors": times}


def check_resolver(client: flagstone.Client, unrolled: bool) -> None:
    """The kind is served by the resolver it is meant to exercise (white-box): the one its
    first call builds."""
    resolve = resolver_for(client._plan["flags/f"])
    assert isinstance(resolve, partial) is not unrolled


@pytest.fixture(scope="module", autouse=True)
def _seen_paths() -> None:
    # get_value's shortcut: a path split once (by any client) is read from a table after
    client = flagstone.Client.from_dict(document(split()))
    for getter, path in [("get_value", "f.x"), ("get_bool", "f.b"), ("get_str", "f.s")]:
        getattr(client, getter)(path, GOOD)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("sinks", [False, True], ids=["no-sink", "sink"])
def test_each_error_is_counted_once_whatever_asked(kind: str, path: str, sinks: bool) -> None:
    doc, context, key, unrolled = KINDS[kind]
    sink = MemorySink(dedup=False)
    client = flagstone.Client.from_dict(doc, sinks=[sink] if sinks else [])
    check_resolver(client, unrolled)
    for times in (1, 2, 3):
        PATHS[path](client, dict(context))
        assert errors(client) == counted(key, times)
    assert sink.exposures == []  # an error records no exposure


@pytest.mark.parametrize("path", sorted(set(PATHS) - {"openfeature", "get_value-new-path"}))
def test_a_resolution_without_an_error_is_not_counted(path: str) -> None:
    client = flagstone.Client.from_dict(document(split(), fallback()))
    for _ in range(3):
        PATHS[path](client, dict(GOOD))
    assert errors(client) == counted("errors", 0)


def test_errors_the_client_makes_are_counted_once() -> None:
    client = flagstone.Client.from_dict(document(split()))
    client.evaluate("nope", GOOD)  # FLAG_NOT_FOUND
    client.get_value("nope.x", GOOD)
    client.evaluate("f", "not a mapping")  # type: ignore[arg-type]  # INVALID_CONTEXT
    client.get_value("f.x", "not a mapping")  # type: ignore[arg-type]
    client.evaluate_all("not a mapping")  # type: ignore[arg-type]  # once: one active flag
    stats = errors(client)
    assert (stats["errors_flag_not_found"], stats["errors_invalid_context"]) == (2, 3)
    assert stats["errors"] == 5


def test_an_override_naming_a_variant_the_flag_lost_is_counted_once() -> None:
    client = flagstone.Client(None)
    client.install(read_snapshot(json.dumps(document(split())).encode()))
    with client.override("f", "on"):
        without_on = document(split())
        flag = without_on["flags"]["flags/f"]
        flag["variants"] = [v for v in flag["variants"] if v["name"] != "on"]
        flag["rules"] = [b.everyone_gets("flags/f/rules/all", "off")]
        client.install(read_snapshot(json.dumps(without_on).encode()))
        for path in ("evaluate", "evaluate_all", "get_value", "get_bool"):
            PATHS[path](client, dict(GOOD))
    assert errors(client) == counted(GENERAL, 4)


def test_a_flag_replaced_while_an_evaluation_held_it_counts_into_its_client() -> None:
    # evaluate_all resolves the flags of the plan it took; an update then retires the flags
    # it replaces (FlagPlan.retire): a retired flag still resolves, and still counts
    first = document(split())
    client = flagstone.Client(None)
    client.install(read_snapshot(json.dumps(first).encode()))
    taken = client._plan["flags/f"]
    client.install(read_snapshot(json.dumps(document(split(), version="v2", value=2)).encode()))
    assert client._plan["flags/f"] is not taken  # replaced: taken is retired
    taken.resolve(dict(BAD_KEY))
    taken.resolve(dict(BAD_KEY))
    client.evaluate("f", BAD_KEY)  # the new flag
    assert errors(client) == counted(KEY, 3)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_flag_kept_by_an_incremental_update_counts_into_the_client_serving_it(
    kind: str,
) -> None:
    # two clients install the same snapshots, each updating incrementally from its own plan:
    # each keeps its own compiled flag, which counts into that client only
    doc, context, key, _ = KINDS[kind]
    first = read_snapshot(json.dumps(doc).encode())
    changed = json.loads(json.dumps(doc))
    changed["version"] = "v2"
    changed["flags"]["flags/g"]["variants"][0]["value"] = {"x": 5}  # g changes, f does not
    clients = [flagstone.Client(None), flagstone.Client(None)]
    kept = []
    for client in clients:
        client.install(first)
        before = client._plan["flags/f"]
        client.install(read_snapshot(json.dumps(changed).encode(), previous=first.index))
        assert client._plan["flags/f"] is before  # kept, not compiled again
        kept.append(before)
    assert kept[0] is not kept[1]
    for times, client in enumerate(clients, start=1):
        for _ in range(times):
            client.evaluate("f", dict(context))
            client.evaluate_all(dict(context))
    assert errors(clients[0]) == counted(key, 2)
    assert errors(clients[1]) == counted(key, 4)


def test_an_incremental_compile_keeps_no_flag_that_counts_elsewhere() -> None:
    # the safety net under the test above: a previous plan compiled with other counts (no
    # client does that itself) lends no flag
    first = read_snapshot(json.dumps(document(split())).encode())
    changed = document(split(), version="v2")
    changed["flags"]["flags/g"]["variants"][0]["value"] = {"x": 5}  # f unchanged
    raw = json.dumps(changed).encode()
    theirs, mine = ErrorCounts(), ErrorCounts()
    old = compile_plan(first, keep_state=True, errors=theirs)
    same = compile_plan(read_snapshot(raw, previous=first.index), previous=old, errors=theirs)
    assert same["flags/f"] is old["flags/f"]  # kept for the same counts
    new = compile_plan(read_snapshot(raw, previous=first.index), previous=old, errors=mine)
    assert new["flags/f"] is not old["flags/f"]
    new["flags/f"].resolve(dict(BAD_KEY))
    assert (
        mine.counts()[flagstone.ErrorCode.TARGETING_KEY_ERROR],
        sum(theirs.counts().values()),
    ) == (1, 0)


@pytest.mark.parametrize("compiled_while_read", [False, True])
def test_a_parsed_snapshot_given_to_two_clients_counts_into_each_separately(
    compiled_while_read: bool,
) -> None:
    raw = json.dumps(document(split())).encode()
    compiler = FlagCompiler() if compiled_while_read else None
    parsed = read_snapshot(raw, compile=compiler)
    first, second = flagstone.Client(parsed), flagstone.Client(parsed)
    if compiled_while_read:  # the first took the flags compiled while reading, not the second
        assert parsed.parts is not None
        assert first._plan["flags/f"] is parsed.parts.compiled[0]
    assert first._plan["flags/f"] is not second._plan["flags/f"]
    first.evaluate("f", BAD_KEY)
    for _ in range(3):
        second.evaluate("f", BAD_KEY)
    assert errors(first) == counted(KEY, 1)
    assert errors(second) == counted(KEY, 3)


def test_a_file_compiled_while_read_counts_into_its_client(tmp_path: Path) -> None:
    path = b.write(tmp_path / "snapshot.json", document(split()))
    client = flagstone.Client.from_file(path)
    other = flagstone.Client.from_file(path)
    for _ in range(2):
        client.evaluate("f", BAD_KEY)
        client.get_int("f.x", BAD_KEY)
    assert errors(client) == counted(KEY, 4)
    assert errors(other) == counted(KEY, 0)


def test_a_polled_source_counts_into_its_client_across_updates() -> None:
    served = [json.dumps(document(split())).encode()]
    client = flagstone.Client.from_source(
        FunctionSource(lambda: served[-1]), refresh_interval=3600, wait=True
    )
    try:
        client.evaluate("f", BAD_KEY)
        changed = document(split(), version="v2")
        changed["flags"]["flags/g"]["variants"][0]["value"] = {"x": 5}  # f kept
        served.append(json.dumps(changed).encode())
        updater = client._updater
        assert updater is not None and updater.check(client)
        assert client.snapshot_version == "v2"
        client.evaluate("f", BAD_KEY)
        client.evaluate_all(BAD_KEY)
        assert errors(client) == counted(KEY, 3)
    finally:
        client.close()
