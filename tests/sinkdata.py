"""The snapshot the sink tests share: one flag, ``checkout``, whose one rule gives every unit
(context ``{"user": {"id": unit}}``) the variant ``new-checkout``; and the same with a live
A/B test on it."""

from __future__ import annotations

from typing import Any

from flagstone.sinks import SinkStats
from tests import builders as b

SEGMENT = "segments/everyone"
RULE = "flags/checkout/rules/everyone"

SNAPSHOT: dict[str, Any] = b.snapshot(
    b.flag(
        "checkout",
        {"new-checkout": {"layout": "grid"}},
        [
            b.everyone_gets(
                RULE, "new-checkout", bucket_count=10, assignment_id="treatment", selector="user.id"
            )
        ],
    ),
    version="2026-11-23.1",
    segments=[b.segment(SEGMENT)],
)


def fallthrough_snapshot() -> dict[str, Any]:
    """``SNAPSHOT`` with a first rule whose one assignment falls through for everyone."""
    flag = dict(SNAPSHOT["flags"]["flags/checkout"])
    passed = b.everyone_gets(
        "flags/checkout/rules/holdout",
        None,
        bucket_count=10,
        assignment_id="passed",
        selector="user.id",
        kind="fallthrough",
    )
    flag["rules"] = [passed, *flag["rules"]]
    return {**SNAPSHOT, "flags": {"flags/checkout": flag}}


INSTANCE = "workflows/abtest/instances/checkout-test"


def abtest_snapshot(overrides: dict[str, str]) -> dict[str, Any]:
    """``SNAPSHOT`` plus a live A/B test whose one treatment (all 10 000 basis points) is
    ``new-checkout``, with the given treatment overrides (recorded with ``override: true``)."""
    test = b.abtest(
        INSTANCE,
        flag="checkout",
        weights=[("new-checkout", 10000)],
        selector="user.id",
        overrides=overrides,
    )
    return {**SNAPSHOT, "abtests": [test]}


def assert_accounted(stats: SinkStats) -> None:
    """Every emitted exposure is delivered, deduplicated, dropped, queued or spooled."""
    assert stats["emitted"] == (
        stats["delivered"]
        + stats["deduplicated"]
        + stats["dropped"]
        + stats["queued"]
        + stats["in_spool"]
    ), stats
    assert stats["dropped"] == sum(stats["dropped_by_reason"].values()), stats
