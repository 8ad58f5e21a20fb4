"""An update compiled against the plan it replaces resolves exactly as the new document
compiled from scratch (issue 15, goal 2).

The reference for every update is a fresh ``Client(parse_snapshot(document))``: after each
edit of a random sequence, installed through ``Client.install`` (and through the updater
that polls a source), every flag the client sees resolves to the same variant, value,
reason, rule, segment, assignment, A/B test, error, unit, fallthrough and snapshot version,
for units and contexts of every kind; an invalid update is refused with the problems
``parse_snapshot`` names and the client keeps serving what it served.
"""

from __future__ import annotations

import base64
import copy
import gc
import gzip
import json
import weakref
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import flagstone
from flagstone import ConfigError
from flagstone.formats.native import parse_snapshot, read_snapshot
from flagstone.plan import compile_plan
from flagstone.plan.compile import FlagCompiler
from flagstone.plan.resolver import retire_replaced
from flagstone.process import gc as flagstone_gc
from flagstone.sinks import MemorySink
from flagstone.sources.function import FunctionSource
from flagstone.sources.integrity import Integrity
from flagstone.sources.updater import Updater

from . import builders as b
from .test_incremental_read import EDITS, ORIGINALS, edit, many
from .test_snapshot_mutations import mutated

SECRET = "secret-web"


def document_with_clients(count: int, layout: str) -> dict[str, Any]:
    """``many(count)`` plus what a client's view depends on: a client whose credential has
    environment ``prod``, flags listing it, a rule limited to ``prod``, and a bitset."""
    document = many(count, layout=layout)
    document["clients"] = {
        SECRET: b.credential(SECRET, "web", ["prod"]),
        "secret-app": b.credential("secret-app", "app"),
    }
    flags = document["flags"]
    items = list(flags.values()) if isinstance(flags, dict) else flags
    for index, flag in enumerate(items):
        flag["clients"] = ["clients/web"] if index % 3 else ["clients/web", "clients/app"]
    items[2]["rules"].insert(
        0,
        b.rule(
            "flags/f2/rules/prod",
            [b.assignment("prod", "treatment", (0, 10))],
            bucket_count=10,
            segment="s2",
            environments=["prod"],
        ),
    )
    document["bitsets"] = {"segments/s3": packed_bits(0x55)}
    return document


def packed_bits(byte: int) -> str:
    """A bitset as Confidence writes one (base64 of a gzipped bit vector over the 1 000 000
    account buckets), every byte ``byte``: compact, and admitting a good part of units."""
    return base64.b64encode(gzip.compress(bytes([byte]) * 125_000)).decode()


EDITS_WITH_CLIENTS = [*EDITS, "bitset", "client"]


def edit_more(document: dict[str, Any], kind: str, index: int) -> dict[str, Any]:
    if kind == "bitset":
        document = copy.deepcopy(document)
        document["bitsets"]["segments/s3"] = packed_bits(index * 37 % 256)
        document["version"] = f"{document['version']}.bitset{index}"
        return document
    if kind == "client":
        document = copy.deepcopy(document)
        document["clients"][SECRET]["clientCredential"]["environments"] = ["staging"]
        document["version"] = f"{document['version']}.client{index}"
        return document
    return edit(document, kind, index)


CONTEXTS = [
    {"targeting_key": f"user-{unit}", "country": country}
    for unit in range(12)
    for country in ("C0", "C1", "C2", "X0")
] + [{"country": "C0"}, {"targeting_key": 7}, {"targeting_key": ["bad"]}, {}]


def resolutions(client: flagstone.Client) -> dict[tuple[str, int], tuple[Any, ...]]:
    """Every flag the client sees, resolved for every context: the resolution's fields."""
    found = {}
    for position, context in enumerate(CONTEXTS):
        for name, r in client.evaluate_all(context).items():
            found[(name, position)] = (
                r.variant,
                json.dumps(r.value, sort_keys=True),
                r.reason,
                r.rule,
                r.segment,
                r.assignment_id,
                r.abtest,
                r.error,
                r.targeting_key,
                r.fallthrough,
                r.snapshot_version,
            )
    return found


def reference(document: dict[str, Any], strict: bool, secret: str | None) -> Any:
    """What a client compiled from scratch serves for ``document`` (or the problems)."""
    try:
        parsed = parse_snapshot(json.dumps(document).encode(), strict=strict)
    except ConfigError as error:
        return [(problem.path, problem.message) for problem in error.problems]
    return resolutions(flagstone.Client(parsed, client_secret=secret))


@given(
    layout=st.sampled_from(["map", "list"]),
    strict=st.booleans(),
    secret=st.sampled_from([None, SECRET]),
    edits=st.lists(
        st.tuples(st.sampled_from(EDITS_WITH_CLIENTS), st.integers(0, 30)), min_size=1, max_size=5
    ),
)
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_installed_updates_resolve_as_a_fresh_compile(
    layout: str, strict: bool, secret: str | None, edits: list[tuple[str, int]]
) -> None:
    document = document_with_clients(8, layout)
    parsed = read_snapshot(json.dumps(document).encode(), strict=strict)
    client = flagstone.Client(None, client_secret=secret)
    client.install(parsed)
    assert resolutions(client) == reference(document, strict, secret)
    for kind, index in edits:
        candidate = edit_more(document, kind, index)
        expected = reference(candidate, strict, secret)
        served = resolutions(client)
        try:
            update = read_snapshot(
                json.dumps(candidate).encode(), strict=strict, previous=parsed.index
            )
            client.install(update)
        except ConfigError as error:  # refused: the same problems, the old snapshot kept
            assert [(p.path, p.message) for p in error.problems] == expected
            assert resolutions(client) == served
            continue
        assert resolutions(client) == expected
        document, parsed = candidate, update


@given(
    strict=st.booleans(),
    secret=st.sampled_from([None, SECRET]),
    compiles=st.booleans(),
    edits=st.lists(
        st.tuples(st.sampled_from(EDITS_WITH_CLIENTS), st.integers(0, 30)), min_size=1, max_size=4
    ),
)
@settings(max_examples=30, deadline=None, derandomize=True, database=None)
def test_updates_polled_from_a_source_resolve_as_a_fresh_compile(
    strict: bool, secret: str | None, compiles: bool, edits: list[tuple[str, int]]
) -> None:
    # compiles: the updater compiles each changed flag while reading (as from_file's does)
    document = document_with_clients(6, "map")
    served = [json.dumps(document).encode()]
    made: list[FlagCompiler] = []

    def compiler() -> FlagCompiler:
        made.append(FlagCompiler(client_secret=secret))
        return made[-1]

    updater = Updater(
        FunctionSource(lambda: served[-1]),
        interval=60.0,
        integrity=Integrity(),
        strict=strict,
        compiler=compiler if compiles else None,
    )
    client = flagstone.Client(None, client_secret=secret)
    updater.bind(client)
    updater.load_now()
    assert len(made) == (1 if compiles else 0)  # one compiler per document read
    for kind, index in edits:
        candidate = edit_more(document, kind, index)
        served.append(json.dumps(candidate).encode())
        before = resolutions(client)
        expected = reference(candidate, strict, secret)
        if updater.check(client):
            assert resolutions(client) == expected
            document = candidate
        else:
            assert isinstance(expected, list)  # refused by the reference too
            assert updater.status().last_error is not None
            assert resolutions(client) == before


def test_an_unchanged_flag_keeps_its_compiled_form_and_reports_the_new_version() -> None:
    document = many(20)
    first = read_snapshot(json.dumps(document).encode())
    sink = MemorySink(dedup=False)
    client = flagstone.Client(None, sinks=[sink])
    client.install(first)
    context = {"targeting_key": "user-1", "country": "C1"}
    before_changed = client.evaluate("f7", context)
    before_unchanged = client.evaluate("f4", context)
    recorded_before = [event["snapshot_version"] for event in sink.events]
    updated = edit(document, "value", 7)  # flag f7 only
    client.install(read_snapshot(json.dumps(updated).encode(), previous=first.index))
    after = client.evaluate("f4", context)
    assert client.snapshot_version == updated["version"]
    # the changed flag's earlier resolution keeps its snapshot's version; the unchanged
    # flag's compiled form is the new snapshot's now (it resolves identically in both), so
    # its earlier resolution, read now, says so too
    assert before_changed.snapshot_version == document["version"]
    assert (after.snapshot_version, before_unchanged.snapshot_version) == (updated["version"],) * 2
    # exposure records carry the version served when they are made: the sink's template
    # of the unchanged flag's outcome, made before the update, is made again after it
    assert recorded_before == [document["version"]] * 2
    assert sink.events[-1]["flag"] == "flags/f4"
    assert sink.events[-1]["snapshot_version"] == updated["version"]


def test_a_replaced_flag_taken_before_the_update_still_resolves() -> None:
    document = many(10)
    first = read_snapshot(json.dumps(document).encode())
    old = compile_plan(first, keep_state=True)
    second = read_snapshot(json.dumps(edit(document, "split", 3)).encode(), previous=first.index)
    new = compile_plan(second, previous=old, keep_state=True)
    taken = old["flags/f3"]
    assert new["flags/f3"] is not taken and new["flags/f4"] is old["flags/f4"]
    fresh = compile_plan(parse_snapshot(json.dumps(document).encode()))
    retire_replaced(old, new)
    for context in CONTEXTS:
        mine = taken.resolve(dict(context))
        theirs = fresh["flags/f3"].resolve(dict(context))
        assert (mine.variant, mine.reason) == (theirs.variant, theirs.reason)
        assert mine.rule == theirs.rule


def test_a_large_load_is_frozen_and_a_replaced_flag_is_still_freed(monkeypatch: Any) -> None:
    monkeypatch.setattr(flagstone_gc, "FREEZE_AFTER", 1_000)
    document = many(60)
    frozen = gc.get_freeze_count()
    try:
        first = read_snapshot(json.dumps(document).encode())
        client = flagstone.Client(None)
        client.install(first)
        assert gc.get_freeze_count() > frozen  # the load left > 1 000 tracked objects
        replaced = weakref.ref(client._plan["flags/f5"])
        second = read_snapshot(
            json.dumps(edit(document, "split", 5)).encode(), previous=first.index
        )
        client.install(second)
        del first, second
        assert replaced() is None  # retired: freed by reference counting, frozen or not
    finally:
        gc.unfreeze()


@given(document=mutated([*ORIGINALS, document_with_clients(4, "map")]), strict=st.booleans())
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
def test_a_file_loads_as_parse_snapshot_reads_it(
    document: Any, strict: bool, tmp_path_factory: Any
) -> None:
    """``from_file`` compiles each flag while it reads it; whatever the document, it loads
    and resolves as a client of ``parse_snapshot``'s model, or refuses it alike."""
    raw = json.dumps(document).encode()
    path = tmp_path_factory.mktemp("load") / "snapshot.json"
    path.write_bytes(raw)
    try:
        expected: Any = resolutions(flagstone.Client(parse_snapshot(raw, strict=strict)))
    except ConfigError as error:
        expected = [(p.path, p.message) for p in error.problems]
    try:
        got: Any = resolutions(flagstone.Client.from_file(path, strict=strict))
    except ConfigError as error:
        got = [(p.path, p.message) for p in error.problems]
    assert got == expected
