"""A compiled flag's resolver is built on its first call (issue 15, goal 1: memory kept by a
load).

Loading checks and compiles every flag; the unrolled resolver of each (a function of the
compiled flag) is made when the flag is first evaluated, and put where ``evaluate`` finds it:
the flag's ``resolve`` and its plan's ``resolvers``. These tests pin what that must not
change: answers, the plan's entries once built, flags kept or retired by an update (with
the first call at any moment around it), and retired flags freed by reference counting.
"""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import MethodType
from typing import Any

import pytest

import flagstone
from flagstone.formats.native import parse_snapshot, read_snapshot
from flagstone.plan import compile_plan, resolver
from flagstone.plan.flag import RETIRED, FlagPlan, Plan
from flagstone.plan.resolver import resolve_flag, retire_replaced

from .test_incremental_plan import CONTEXTS
from .test_incremental_read import edit, many

CONTEXT = {"targeting_key": "user-3", "country": "C1"}


def waiting(resolve: Any) -> bool:
    """Whether ``resolve`` is the stand-in that builds a flag's resolver on its first call."""
    return isinstance(resolve, MethodType) and resolve.__func__ is resolver._first_call


def answer(resolution: Any) -> tuple[Any, ...]:
    return (
        resolution.variant,
        json.dumps(resolution.value, sort_keys=True),
        resolution.reason,
        resolution.rule,
        resolution.assignment_id,
        resolution.error,
        resolution.targeting_key,
        resolution.fallthrough,
        resolution.snapshot_version,
    )


def builds_counted(monkeypatch: pytest.MonkeyPatch) -> list[FlagPlan]:
    """The flags whose resolver is built from now on, in order."""
    built: list[FlagPlan] = []
    real = resolver.resolver_for

    def counting(flag: FlagPlan) -> Any:
        built.append(flag)
        return real(flag)

    monkeypatch.setattr(resolver, "resolver_for", counting)
    return built


def updated(document: dict[str, Any]) -> tuple[Plan, Plan]:
    """``(old, new)``: the plans of ``document`` and of an update of it that edits flag
    ``f3`` (compiled against ``old``: the other flags are kept)."""
    first = read_snapshot(json.dumps(document).encode())
    old = compile_plan(first, keep_state=True)
    second = read_snapshot(json.dumps(edit(document, "split", 3)).encode(), previous=first.index)
    return old, compile_plan(second, previous=old, keep_state=True)


@contextmanager
def collector_off() -> Iterator[None]:
    """No cyclic garbage collection inside: what is freed is freed by reference counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_loading_builds_no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    built = builds_counted(monkeypatch)
    client = flagstone.Client.from_dict(many(20))
    assert built == []
    assert all(waiting(flag.resolve) for flag in client._plan.values())


def test_the_first_call_builds_the_resolver_once_and_puts_it_where_evaluate_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = builds_counted(monkeypatch)
    client = flagstone.Client.from_dict(many(20))
    plan = client._plan
    client.evaluate("f4", CONTEXT)
    client.evaluate("flags/f4", CONTEXT)
    client.evaluate("f4", CONTEXT)
    flag = plan["flags/f4"]
    assert built == [flag]
    assert not waiting(flag.resolve)
    assert plan.resolvers["f4"] is plan.resolvers["flags/f4"] is flag.resolve
    assert all(waiting(other.resolve) for other in plan.values() if other is not flag)


def test_every_call_answers_as_the_rule_loop_first_call_or_not() -> None:
    document = many(12)
    for context in CONTEXTS:
        client = flagstone.Client.from_dict(document)  # every flag unbuilt
        for flag in client._plan.visible:
            loop = resolve_flag(flag, dict(context))
            first = client.evaluate(flag.name, dict(context))
            again = client.evaluate(flag.name, dict(context))
            assert answer(first) == answer(again) == answer(loop)


def test_a_flag_an_update_keeps_unbuilt_is_built_into_the_new_plan() -> None:
    document = many(10)
    old, new = updated(document)
    kept = new["flags/f4"]
    assert kept is old["flags/f4"] and waiting(kept.resolve)
    retire_replaced(old, new)
    expected = answer(resolve_flag(kept, dict(CONTEXT)))
    assert answer(new.resolvers["f4"](dict(CONTEXT))) == expected
    assert new.resolvers["f4"] is new.resolvers["flags/f4"] is kept.resolve
    assert not waiting(kept.resolve)
    # the replaced plan's entry still answers (an evaluation that took it before the swap)
    assert answer(old.resolvers["f4"](dict(CONTEXT))) == expected


def test_a_flag_retired_before_its_first_call_answers_and_stays_retired() -> None:
    document = many(10)
    old, new = updated(document)
    retire_replaced(old, new)
    retired = old["flags/f3"]
    fresh = compile_plan(parse_snapshot(json.dumps(document).encode()))
    for context in CONTEXTS:
        taken = old.resolvers["f3"](dict(context))  # taken before the swap, called after
        assert answer(taken)[:-1] == answer(fresh["flags/f3"].resolve(dict(context)))[:-1]
    assert retired.home is RETIRED
    assert retired.resolve.func is not resolver._first_call  # type: ignore[attr-defined]
    assert not waiting(retired.resolve) and "retired" in repr(retired.resolve)


def test_a_flag_retired_while_its_first_resolver_is_built_stays_retired_and_is_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = many(10)
    old, new = updated(document)
    flag = old["flags/f3"]
    stale = old.resolvers["f3"]
    real = resolver.resolver_for
    plans = [old, new]

    def retired_meanwhile(built: FlagPlan) -> Any:
        # an update retires the flag while a request thread builds its resolver
        if built.home is not RETIRED:
            retire_replaced(*plans)
        return real(built)

    expected = [answer(resolve_flag(flag, dict(context))) for context in CONTEXTS]
    monkeypatch.setattr(resolver, "resolver_for", retired_meanwhile)
    assert [answer(stale(dict(context))) for context in CONTEXTS] == expected
    assert flag.home is RETIRED and "retired" in repr(flag.resolve)
    gone = weakref.ref(flag)
    with collector_off():
        plans.clear()
        del flag, stale, old
        assert gone() is None  # no cycle left through the flag: freed by reference counting


def test_a_replaced_flag_evaluated_before_the_update_is_still_freed() -> None:
    document = many(10)
    client = flagstone.Client(None)
    first = read_snapshot(json.dumps(document).encode())
    client.install(first)
    client.evaluate("f5", CONTEXT)  # built: its resolver holds it
    replaced = weakref.ref(client._plan["flags/f5"])
    second = read_snapshot(json.dumps(edit(document, "split", 5)).encode(), previous=first.index)
    with collector_off():
        client.install(second)
        del first, second
        assert replaced() is None


def test_an_entry_taken_while_the_resolver_was_put_in_place_is_mended_by_its_next_call() -> None:
    plan = compile_plan(parse_snapshot(json.dumps(many(6)).encode()))
    stand_in = plan.resolvers["f2"]
    plan.resolvers["f2"](dict(CONTEXT))
    built = plan["flags/f2"].resolve
    # a plan made at that moment, which read the stand-in before the resolver replaced it
    later = Plan(dict(plan), version=plan.version, visible=plan.visible)
    later.resolvers["f2"] = stand_in
    assert answer(later.resolvers["f2"](dict(CONTEXT))) == answer(built(dict(CONTEXT)))
    assert later.resolvers["f2"] is built and later.resolvers["flags/f2"] is built


def test_threads_calling_a_flag_first_at_once_all_answer_and_leave_one_resolver_in_place() -> None:
    document = many(40)
    reference = flagstone.Client.from_dict(document)
    expected = {
        flag.name: answer(resolve_flag(flag, dict(CONTEXT))) for flag in reference._plan.visible
    }
    client = flagstone.Client.from_dict(document)
    names = [flag.name for flag in client._plan.visible]
    start = threading.Barrier(4)
    answers: list[dict[str, tuple[Any, ...]]] = []

    def work() -> None:
        start.wait()
        answers.append({name: answer(client.evaluate(name, dict(CONTEXT))) for name in names})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [expected] * 4
    plan = client._plan
    for flag in plan.visible:
        assert not waiting(flag.resolve)
        assert plan.resolvers[flag.name] is plan.resolvers[flag.short_name] is flag.resolve
