"""The snapshot the sink tests share: one flag, ``checkout``, whose one rule gives every unit
(context ``{"user": {"id": unit}}``) the variant ``new-checkout``."""

from __future__ import annotations

from typing import Any

from flagstone.sinks import SinkStats

SEGMENT = "segments/everyone"
RULE = "flags/checkout/rules/everyone"

SNAPSHOT: dict[str, Any] = {
    "version": "2026-11-23.1",
    "flags": {
        "flags/checkout": {
            "name": "flags/checkout",
            "variants": [{"name": "new-checkout", "value": {"layout": "grid"}}],
            "rules": [
                {
                    "name": RULE,
                    "segment": SEGMENT,
                    "targetingKeySelector": "user.id",
                    "assignmentSpec": {
                        "bucketCount": 10,
                        "assignments": [
                            {
                                "assignmentId": "treatment",
                                "variant": {"variant": "new-checkout"},
                                "bucketRanges": [{"lower": 0, "upper": 10}],
                            }
                        ],
                    },
                }
            ],
        }
    },
    "segments": {SEGMENT: {"name": SEGMENT}},
}


def fallthrough_snapshot() -> dict[str, Any]:
    """``SNAPSHOT`` with a first rule whose one assignment falls through for everyone."""
    flag = dict(SNAPSHOT["flags"]["flags/checkout"])
    passed = {
        "name": "flags/checkout/rules/holdout",
        "segment": SEGMENT,
        "targetingKeySelector": "user.id",
        "assignmentSpec": {
            "bucketCount": 10,
            "assignments": [
                {
                    "assignmentId": "passed",
                    "fallthrough": {},
                    "bucketRanges": [{"lower": 0, "upper": 10}],
                }
            ],
        },
    }
    flag["rules"] = [passed, *flag["rules"]]
    return {**SNAPSHOT, "flags": {"flags/checkout": flag}}


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
