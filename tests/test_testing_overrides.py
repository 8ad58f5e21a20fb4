"""Process-wide test overrides (``flagstone.testing``, DESIGN decision 5) and the pytest
plugin's ``flag_overrides`` fixture.

The snapshot's one rule gives every unit the variant ``on``; an override forcing ``off``
is therefore visible in every resolution it reaches.
"""

from __future__ import annotations

from typing import Any

import pytest

import flagstone
from flagstone import Reason
from flagstone.sinks import MemorySink
from flagstone.testing import clear_overrides, override
from tests import builders as b

pytest_plugins = ["pytester"]

USER = {"targeting_key": "user-1"}
OFF_VALUE = {"enabled": False, "label": "old"}


def make_flag(
    flag_id: str, *, selector: str = "targeting_key", variant_prefix: str = ""
) -> dict[str, Any]:
    """A flag whose one rule gives everyone ``on``; ``off`` is its other variant."""
    on, off = f"{variant_prefix}on", f"{variant_prefix}off"
    everyone = b.everyone_gets(
        f"flags/{flag_id}/rules/everyone", on, bucket_count=10, selector=selector
    )
    return b.flag(flag_id, {on: {"enabled": True, "label": "new"}, off: OFF_VALUE}, [everyone])


def make_client(*flags: dict[str, Any], **options: Any) -> flagstone.Client:
    flags = flags or (make_flag("checkout"),)
    return flagstone.Client.from_dict(b.snapshot(*flags, segments=[b.segment()]), **options)


def variant(
    client: flagstone.Client, context: dict[str, Any] = USER, flag: str = "checkout"
) -> str | None:
    return client.evaluate(flag, context).variant


# -- as a context manager and as a decorator -------------------------------------------------


def test_override_forces_the_variant_inside_the_block() -> None:
    client = make_client()
    with override("checkout", "off"):
        assert variant(client) == "off"


def test_override_is_undone_when_the_block_exits() -> None:
    client = make_client()
    with override("checkout", "off"):
        pass
    assert variant(client) == "on"


def test_override_is_undone_when_the_block_raises() -> None:
    client = make_client()
    with pytest.raises(RuntimeError), override("checkout", "off"):
        raise RuntimeError("boom")
    assert variant(client) == "on"


def test_override_as_decorator_forces_the_variant_while_the_function_runs() -> None:
    client = make_client()

    @override("checkout", "off")
    def seen() -> str | None:
        return variant(client)

    assert seen() == "off"


def test_override_as_decorator_is_undone_after_each_call() -> None:
    client = make_client()

    @override("checkout", "off")
    def seen() -> str | None:
        return variant(client)

    seen()
    seen()
    assert variant(client) == "on"


def test_override_as_decorator_applies_on_every_call() -> None:
    client = make_client()

    @override("checkout", "off")
    def seen() -> str | None:
        return variant(client)

    assert [seen(), seen()] == ["off", "off"]


# -- nesting ---------------------------------------------------------------------------------


def test_innermost_override_wins() -> None:
    client = make_client()
    with override("checkout", "on"), override("checkout", "off"):
        assert variant(client) == "off"


def test_outer_override_is_restored_when_the_inner_one_exits() -> None:
    client = make_client()
    with override("checkout", "off"):
        with override("checkout", "on"):
            pass
        assert client.evaluate("checkout", USER).reason == Reason.OVERRIDE


def test_outer_override_is_restored_with_its_own_variant() -> None:
    client = make_client()
    with override("checkout", "off"):
        with override("checkout", "on"):
            pass
        assert variant(client) == "off"


def test_inner_override_for_some_units_leaves_the_outer_one_for_the_others() -> None:
    client = make_client()
    with override("checkout", "off"), override("checkout", "on", units=["user-2"]):
        assert client.evaluate("checkout", USER).reason == Reason.OVERRIDE


# -- units -----------------------------------------------------------------------------------


def test_override_for_units_applies_to_those_units() -> None:
    client = make_client()
    with override("checkout", "off", units=["user-1", "user-2"]):
        assert [variant(client, {"targeting_key": u}) for u in ("user-1", "user-2")] == [
            "off",
            "off",
        ]


def test_override_for_units_leaves_other_units_alone() -> None:
    client = make_client()
    with override("checkout", "off", units=["user-1"]):
        r = client.evaluate("checkout", {"targeting_key": "user-9"})
    assert (r.variant, r.reason) == ("on", Reason.MATCH)


def test_override_for_a_single_unit_given_as_a_string() -> None:
    client = make_client()
    with override("checkout", "off", units="user-1"):
        assert [variant(client, {"targeting_key": u}) for u in ("user-1", "user-10")] == [
            "off",
            "on",
        ]


def test_override_for_units_given_as_an_iterator_applies_on_every_call() -> None:
    client = make_client()

    @override("checkout", "off", units=iter(["user-1"]))
    def seen() -> str | None:
        return variant(client)

    assert [seen(), seen()] == ["off", "off"]


def test_override_for_units_reads_the_unit_with_the_flags_targeting_key_selector() -> None:
    client = make_client(make_flag("checkout", selector="user.id"))
    with override("checkout", "off", units=["user-1"]):
        assert variant(client, {"user": {"id": "user-1"}, "targeting_key": "user-9"}) == "off"


def test_override_for_units_ignores_targeting_key_when_the_flag_selects_another_path() -> None:
    client = make_client(make_flag("checkout", selector="user.id"))
    with override("checkout", "off", units=["user-1"]):
        assert variant(client, {"user": {"id": "user-9"}, "targeting_key": "user-1"}) == "on"


def test_override_for_units_leaves_a_context_without_a_unit_alone() -> None:
    client = make_client()
    with override("checkout", "off", units=["user-1"]):
        assert client.evaluate("checkout", {}).reason == Reason.NO_SEGMENT_MATCH


# -- flag names ------------------------------------------------------------------------------


@pytest.mark.parametrize("set_as", ["checkout", "flags/checkout"])
@pytest.mark.parametrize("evaluate_as", ["checkout", "flags/checkout"])
def test_override_by_short_or_full_name_applies_to_both_names(set_as, evaluate_as) -> None:
    client = make_client()
    with override(set_as, "off"):
        assert variant(client, flag=evaluate_as) == "off"


def test_override_of_another_flag_leaves_this_flag_alone() -> None:
    client = make_client(make_flag("checkout"), make_flag("search"))
    with override("search", "off"):
        assert variant(client, flag="checkout") == "on"


def test_override_by_short_variant_name_reports_the_name_the_snapshot_defines() -> None:
    client = make_client(make_flag("checkout", variant_prefix="flags/checkout/variants/"))
    with override("checkout", "off"):
        assert variant(client) == "flags/checkout/variants/off"


# -- the forced resolution -------------------------------------------------------------------


def test_forced_resolution_has_reason_override() -> None:
    with override("checkout", "off"):
        r = make_client().evaluate("checkout", USER)
    assert (r.reason, r.error) == (Reason.OVERRIDE, None)


def test_forced_resolution_is_marked_as_an_override() -> None:
    with override("checkout", "off"):
        assert make_client().evaluate("checkout", USER).override is True


def test_forced_resolution_carries_the_variants_value() -> None:
    with override("checkout", "off"):
        assert make_client().evaluate("checkout", USER).value == OFF_VALUE


def test_forced_resolution_names_the_full_flag() -> None:
    with override("checkout", "off"):
        assert make_client().evaluate("checkout", USER).flag == "flags/checkout"


def test_forced_resolution_records_no_exposure() -> None:
    sink = MemorySink()
    client = make_client(sinks=[sink])
    with override("checkout", "off"):
        client.evaluate("checkout", USER)
        client.evaluate_all(USER)
        client.apply(client.evaluate("checkout", USER, apply=False))
    assert sink.events == []


def test_forced_resolution_is_not_to_be_applied() -> None:
    with override("checkout", "off"):
        assert make_client().evaluate("checkout", USER).should_apply is False


def test_get_value_reads_the_forced_variant() -> None:
    with override("checkout", "off"):
        assert make_client().get_value("checkout.label", USER, "default") == "old"


def test_override_naming_a_variant_a_new_snapshot_lost_resolves_to_an_error() -> None:
    # checked when set (tests/test_checked_overrides.py); a snapshot installed afterwards
    # cannot raise, so the flag resolves to an error instead of a silent default
    client = make_client()
    with override("checkout", "off"):
        client.install(
            flagstone.formats.parse_snapshot(
                b.snapshot(make_flag("checkout", variant_prefix="new-"), segments=[b.segment()])
            )
        )
        r = client.evaluate("checkout", USER)
    assert (r.reason, r.variant, r.error) == (Reason.ERROR, None, flagstone.ErrorCode.GENERAL)


# -- process-wide ----------------------------------------------------------------------------


def test_override_applies_in_every_client_of_the_process() -> None:
    first, second = make_client(), make_client()
    with override("checkout", "off"):
        assert [variant(first), variant(second)] == ["off", "off"]


def test_override_applies_to_a_client_built_while_it_is_set() -> None:
    with override("checkout", "off"):
        assert variant(make_client()) == "off"


def test_clear_overrides_removes_every_override() -> None:
    client = make_client(make_flag("checkout"), make_flag("search"))
    with override("checkout", "off"), override("search", "off", units=["user-1"]):
        clear_overrides()
        assert [variant(client, flag="checkout"), variant(client, flag="search")] == [
            "on",
            "on",
        ]


def test_leaving_a_block_after_clear_overrides_does_not_raise() -> None:
    client = make_client()
    with override("checkout", "off"):
        clear_overrides()
    assert variant(client) == "on"


# -- the pytest plugin -----------------------------------------------------------------------

PLUGIN_TESTS = """
import flagstone
from flagstone import Reason

SEGMENT = "segments/everyone"
SNAPSHOT = {
    "flags": {
        "flags/checkout": {
            "name": "flags/checkout",
            "variants": [{"name": "on", "value": {}}, {"name": "off", "value": {}}],
            "rules": [{
                "name": "flags/checkout/rules/everyone",
                "segment": SEGMENT,
                "assignmentSpec": {"bucketCount": 10, "assignments": [{
                    "assignmentId": "everyone",
                    "variant": {"variant": "on"},
                    "bucketRanges": [{"lower": 0, "upper": 10}],
                }]},
            }],
        },
    },
    "segments": {SEGMENT: {"name": SEGMENT}},
}
CLIENT = flagstone.Client.from_dict(SNAPSHOT)


def resolve(unit="user-1"):
    return CLIENT.evaluate("checkout", {"targeting_key": unit})


def test_1_forces_a_variant(flag_overrides):
    flag_overrides.set("checkout", "off")
    r = resolve()
    assert (r.variant, r.reason) == ("off", Reason.OVERRIDE)


def test_2_sees_no_override_left_by_the_previous_test():
    r = resolve()
    assert (r.variant, r.reason) == ("on", Reason.MATCH)


def test_3_forces_a_variant_for_some_units(flag_overrides):
    flag_overrides.set("flags/checkout", "off", units=["user-1"])
    assert (resolve("user-1").variant, resolve("user-2").variant) == ("off", "on")


def test_4_fails_with_an_override_set(flag_overrides):
    flag_overrides.set("checkout", "off")
    raise AssertionError("this test fails on purpose")


def test_5_sees_no_override_left_by_the_failed_test():
    r = resolve()
    assert (r.variant, r.reason) == ("on", Reason.MATCH)
"""


@pytest.fixture
def plugin_run(pytester: pytest.Pytester) -> pytest.RunResult:
    """Run the small test file above in a fresh pytest session, verbosely."""
    pytester.makepyfile(test_with_flag_overrides=PLUGIN_TESTS)
    return pytester.runpytest("-p", "no:cacheprovider", "-v")


def test_plugin_run_has_only_the_deliberate_failure(plugin_run) -> None:
    plugin_run.assert_outcomes(passed=4, failed=1)


def test_flag_overrides_fixture_forces_a_variant(plugin_run) -> None:
    plugin_run.stdout.fnmatch_lines(
        [
            "*::test_1_forces_a_variant PASSED*",
            "*::test_3_forces_a_variant_for_some_units PASSED*",
        ]
    )


def test_flag_overrides_fixture_undoes_its_overrides_after_each_test(plugin_run) -> None:
    plugin_run.stdout.fnmatch_lines(
        [
            "*::test_2_sees_no_override_left_by_the_previous_test PASSED*",
            "*::test_5_sees_no_override_left_by_the_failed_test PASSED*",
        ]
    )


def test_flag_overrides_fixture_leaves_no_override_in_the_process(plugin_run) -> None:
    assert variant(make_client()) == "on"
