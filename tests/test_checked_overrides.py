"""Checked test overrides and per-client overrides.

An override that names a flag no open client has, or a variant its flag does not have, raises
``OverrideError`` (naming the flag and its variants) when it is set — ``override``, the
``flag_overrides`` fixture, ``Client.override`` — and a client built while such a
process-wide override is set raises when it is built. ``Client.override`` forces a variant in
one client only, and wins over the process-wide overrides.
"""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import flagstone
from flagstone import OverrideError, Reason
from flagstone.sinks import MemorySink
from flagstone.sources import FunctionSource
from flagstone.testing import FlagOverrides, clear_overrides, override
from tests import builders as b

pytest_plugins = ["pytester"]

USER = {"targeting_key": "user-1"}


def make_flag(flag_id: str, *variants: str) -> dict[str, Any]:
    """A flag whose one rule gives everyone its first variant."""
    variants = variants or ("on", "off")
    everyone = b.everyone_gets(f"flags/{flag_id}/rules/everyone", variants[0], bucket_count=10)
    return b.flag(flag_id, {name: {"name": name} for name in variants}, [everyone])


def snapshot(*flags: dict[str, Any]) -> dict[str, Any]:
    return b.snapshot(*(flags or (make_flag("ovr-checkout"),)), segments=[b.segment()])


HELD: list[flagstone.Client] = []
"""The clients of the running test: a client nobody holds is not open."""


def make_client(*flags: dict[str, Any], **options: Any) -> flagstone.Client:
    client = flagstone.Client.from_dict(snapshot(*flags), **options)
    HELD.append(client)
    return client


@pytest.fixture(autouse=True)
def _no_stray_clients() -> Iterator[None]:
    # a client nobody holds any more is not open: collect those of earlier tests (cycles)
    gc.collect()
    yield
    clear_overrides()
    HELD.clear()


@pytest.fixture
def no_open_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """No client is open yet (clients other test modules hold stay open otherwise)."""
    monkeypatch.setattr(flagstone.overrides, "_CLIENTS", weakref.WeakSet())


def test_a_client_nobody_holds_is_not_checked_against() -> None:
    flagstone.Client.from_dict(snapshot(make_flag("ovr-search")))  # dropped at once
    checkout = make_client()
    with override("ovr-checkout", "off"):
        assert checkout.evaluate("ovr-checkout", USER).reason is Reason.OVERRIDE


# -- process-wide: checked when set ---------------------------------------------------------


def test_an_override_of_an_unknown_flag_raises_when_set() -> None:
    client = make_client()
    with pytest.raises(OverrideError) as raised, override("ovr-chekout", "on"):
        pass
    assert raised.value.flag == "flags/ovr-chekout"
    assert "'flags/ovr-chekout': no open client has that flag" in str(raised.value)
    assert client.evaluate("ovr-checkout", USER).reason is Reason.MATCH  # nothing was set


def test_an_override_of_an_unknown_variant_raises_naming_the_known_variants() -> None:
    make_client(make_flag("ovr-checkout", "control", "treatment"))
    with pytest.raises(OverrideError) as raised, override("ovr-checkout", "treatmnet"):
        pass
    assert raised.value.variants == ("control", "treatment")
    message = str(raised.value)
    assert all(
        name in message for name in ("flags/ovr-checkout", "treatmnet", "control", "treatment")
    )


def test_an_override_error_is_a_flagstone_error_and_a_lookup_error() -> None:
    make_client()
    with pytest.raises(flagstone.FlagstoneError), override("nope", "on"):
        pass
    with pytest.raises(LookupError), override("ovr-checkout", "nope"):
        pass


def test_the_fixture_object_checks_each_override_it_sets() -> None:
    make_client()
    overrides = FlagOverrides()
    overrides.set("ovr-checkout", "off")
    with pytest.raises(OverrideError):
        overrides.set("ovr-checkout", "purple")
    overrides.clear()


def test_a_refused_override_leaves_nothing_set() -> None:
    client = make_client()
    with pytest.raises(OverrideError), override("ovr-checkout", "purple"):
        pass
    assert not flagstone.overrides.REGISTRY and not flagstone.overrides.ACTIVE
    assert client.evaluate("ovr-checkout", USER).variant == "on"


def test_a_flag_one_open_client_has_may_be_overridden() -> None:
    # several snapshots in one test run: the flag must be somewhere, not everywhere
    make_client(make_flag("ovr-search"))
    checkout = make_client()
    with override("ovr-checkout", "off"):
        assert checkout.evaluate("ovr-checkout", USER).reason is Reason.OVERRIDE


def test_a_variant_one_open_client_has_may_be_forced() -> None:
    # another snapshot of the same test run may use the flag name for another flag
    make_client(make_flag("ovr-checkout", "new-checkout"))
    mine = make_client(make_flag("ovr-checkout", "on", "off", "beta"))
    with override("ovr-checkout", "beta"):
        assert mine.evaluate("ovr-checkout", USER).variant == "beta"


def test_a_variant_no_open_client_has_names_every_variant_of_the_flag() -> None:
    make_client(make_flag("ovr-checkout", "on", "off", "beta"))
    make_client(make_flag("ovr-checkout", "on", "gamma"))
    with pytest.raises(OverrideError) as raised, override("ovr-checkout", "delta"):
        pass
    assert sorted(raised.value.variants) == ["beta", "gamma", "off", "on"]  # clients unordered


def test_a_closed_client_is_not_checked_against() -> None:
    make_client(make_flag("ovr-search"))
    make_client().close()
    with override("ovr-search", "off"):
        pass
    with pytest.raises(OverrideError), override("ovr-checkout", "off"):
        pass


@pytest.mark.usefixtures("no_open_client")
def test_an_override_set_with_no_client_open_is_checked_when_a_client_is_built() -> None:
    # nothing to check against when it is set
    with override("ovr-checkout", "purple"), pytest.raises(OverrideError, match="purple"):
        make_client()


@pytest.mark.usefixtures("no_open_client")
def test_a_client_built_while_an_override_of_an_unknown_flag_is_set_raises() -> None:
    with override("ovr-chekout", "on"), pytest.raises(OverrideError, match="flags/ovr-chekout"):
        make_client()


@pytest.mark.usefixtures("no_open_client")
def test_a_client_built_while_a_valid_override_is_set_uses_it() -> None:
    with override("ovr-checkout", "off"):
        assert make_client().evaluate("ovr-checkout", USER).variant == "off"


@pytest.mark.usefixtures("no_open_client")
def test_a_client_of_a_source_that_waits_is_checked_once_its_snapshot_is_in() -> None:
    body = json.dumps(snapshot()).encode()
    with override("ovr-checkout", "purple"), pytest.raises(OverrideError):
        flagstone.Client.from_source(FunctionSource(lambda: body), wait=True)


def test_the_flag_overrides_fixture_raises_at_set(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import flagstone
        from tests import builders as b

        def test_typo(flag_overrides):
            everyone = b.everyone_gets("flags/ovr-checkout/rules/e", "on", bucket_count=10)
            flag = b.flag("ovr-checkout", {"on": {}, "off": {}}, [everyone])
            with flagstone.Client.from_dict(b.snapshot(flag, segments=[b.segment()])):
                flag_overrides.set("ovr-checkout", "offf")
        """
    )
    pytester.syspathinsert(str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-n", "0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*OverrideError*offf*'on', 'off'*"])


# -- per client ------------------------------------------------------------------------------


def test_a_client_override_forces_the_variant_in_that_client_only() -> None:
    mine, other = make_client(), make_client()
    handle = mine.override("ovr-checkout", "off")
    try:
        forced = mine.evaluate("ovr-checkout", USER)
        assert (forced.variant, forced.reason) == ("off", Reason.OVERRIDE)
        assert other.evaluate("ovr-checkout", USER).variant == "on"
    finally:
        handle.undo()
    assert mine.evaluate("ovr-checkout", USER).reason is Reason.MATCH


def test_a_client_override_is_a_context_manager() -> None:
    client = make_client()
    with client.override("ovr-checkout", "off"):
        assert client.evaluate("ovr-checkout", USER).reason is Reason.OVERRIDE
    assert client.evaluate("ovr-checkout", USER).reason is Reason.MATCH
    assert not flagstone.overrides.ACTIVE


def test_a_client_override_wins_over_a_process_wide_one() -> None:
    client = make_client(make_flag("ovr-checkout", "on", "off", "beta"))
    with override("ovr-checkout", "beta"), client.override("ovr-checkout", "off"):
        assert client.evaluate("ovr-checkout", USER).variant == "off"
    with client.override("ovr-checkout", "off"), override("ovr-checkout", "beta"):  # set after
        assert client.evaluate("ovr-checkout", USER).variant == "off"


def test_the_process_wide_override_applies_again_when_the_clients_own_is_undone() -> None:
    client = make_client(make_flag("ovr-checkout", "on", "off", "beta"))
    with override("ovr-checkout", "beta"):
        with client.override("ovr-checkout", "off"):
            pass
        assert client.evaluate("ovr-checkout", USER).variant == "beta"


def test_a_client_override_for_units_leaves_other_units_alone() -> None:
    client = make_client()
    with client.override("ovr-checkout", "off", units=["user-1"]):
        assert client.evaluate("ovr-checkout", USER).reason is Reason.OVERRIDE
        assert client.evaluate("ovr-checkout", {"targeting_key": "user-2"}).reason is Reason.MATCH


def test_the_latest_client_override_wins_and_undo_in_any_order() -> None:
    client = make_client(make_flag("ovr-checkout", "on", "off", "beta"))
    first = client.override("ovr-checkout", "off")
    second = client.override("ovr-checkout", "beta")
    assert client.evaluate("ovr-checkout", USER).variant == "beta"
    second.undo()
    assert client.evaluate("ovr-checkout", USER).variant == "off"
    second.undo()  # twice: nothing
    first.undo()
    assert client.evaluate("ovr-checkout", USER).reason is Reason.MATCH


def test_a_client_override_is_checked_against_that_client() -> None:
    client = make_client()
    make_client(make_flag("ovr-search"))  # another client's flags do not count
    with pytest.raises(OverrideError, match="flags/ovr-search"):
        client.override("ovr-search", "on")
    with pytest.raises(OverrideError) as raised:
        client.override("ovr-checkout", "purple")
    assert raised.value.variants == ("on", "off")


def test_a_client_override_applies_to_every_path_of_the_client() -> None:
    client = make_client()
    with client.override("ovr-checkout", "off"):
        assert client.evaluate_all(USER)["flags/ovr-checkout"].reason is Reason.OVERRIDE
        assert client.get_value("ovr-checkout.name", USER) == "off"
        assert client.get_str("ovr-checkout.name", USER) == "off"
        assert client.get_value_details("ovr-checkout.name", USER).reason is Reason.OVERRIDE
        assert client.evaluate("ovr-checkout", USER, apply=False).reason is Reason.OVERRIDE


def test_a_client_override_records_no_exposure() -> None:
    sink = MemorySink(dedup=False)
    client = make_client(sinks=[sink])
    with client.override("ovr-checkout", "off"):
        client.evaluate("ovr-checkout", USER)
        client.get_str("ovr-checkout.name", USER)
    assert sink.exposures == []


def test_clear_overrides_and_close_remove_a_clients_own_overrides() -> None:
    client = make_client()
    client.override("ovr-checkout", "off")
    client.clear_overrides()
    assert client.evaluate("ovr-checkout", USER).reason is Reason.MATCH
    client.override("ovr-checkout", "off")
    client.close()
    assert not flagstone.overrides.ACTIVE  # other clients are back on the fast path
