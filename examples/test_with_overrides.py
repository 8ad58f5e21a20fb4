"""How an application's tests force a treatment, whatever the hash would say.

    python -m pytest examples/test_with_overrides.py

Installing flagstone registers a pytest plugin with the ``flag_overrides`` fixture;
``flagstone.testing.override`` works as a context manager and as a decorator. Overrides apply
to every ``Client`` in the process and record no exposures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import flagstone
from flagstone.testing import FlagOverrides, override

SNAPSHOT = Path(__file__).with_name("flags.json")


def checkout_layout(client: flagstone.Client, user: str) -> str:
    """The application code under test: which checkout page to render."""
    return str(
        client.get_value(
            "checkout-flag.layout", {"targeting_key": user, "country": "SE"}, default="classic"
        )
    )


@pytest.fixture
def client() -> flagstone.Client:
    return flagstone.Client.from_file(SNAPSHOT)


def test_new_checkout_renders_the_one_page_layout(
    client: flagstone.Client, flag_overrides: FlagOverrides
) -> None:
    flag_overrides.set("checkout-flag", "new-checkout")
    assert checkout_layout(client, "any-user") == "one-page"


def test_control_renders_the_classic_layout(
    client: flagstone.Client, flag_overrides: FlagOverrides
) -> None:
    flag_overrides.set("checkout-flag", "control")
    assert checkout_layout(client, "any-user") == "classic"


@override("checkout-flag", "new-checkout", units=["vip-1"])
def test_an_override_can_be_limited_to_some_users(client: flagstone.Client) -> None:
    assert checkout_layout(client, "vip-1") == "one-page"
    assert client.evaluate("checkout-flag", {"targeting_key": "someone-else"}).reason is not (
        flagstone.Reason.OVERRIDE
    )


def test_the_kill_switch_can_be_flipped_in_a_block(client: flagstone.Client) -> None:
    with override("payments-enabled", "disabled"):
        assert client.get_value("payments-enabled.enabled", {}, default=True) is False
    assert client.get_value("payments-enabled.enabled", {}, default=False) is True
