"""The same flags written in each SDK's own configuration format.

Every flag the harness builds is one of two kinds, and every SDK gets both with the same
meaning:

* **50/50** — every unit gets ``control`` or ``treatment``, half each, by a hash of its id;
* **targeted 50/50** — a unit whose ``country`` is ``SE`` gets ``control`` or ``treatment``
  half each; any other unit gets no variant (the SDK's default or "off"). The country test
  sits in the SDK's reusable audience object where it has one (flagstone segment,
  LaunchDarkly segment, Unleash segment, flagd ``$evaluators`` entry, GrowthBook saved
  group); Eppo has none and carries the condition in the allocation.

A config of ``n`` flags (the load test, and the 1 000 other flags of the third scenario) has
one segment and one targeted 50/50 rule per flag, as the issue's harness built it.
``flagstone_document`` uses ``bench/snapshots.py`` when it is there (the generator the load
benchmarks share), else the generator below, which writes the same shape.

Each SDK hashes differently, so the variant one unit gets differs between SDKs; what is
the same is the rule, and ``sdks.check`` verifies it for each SDK before anything is timed.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = [
    "CHECKOUT",
    "eppo_document",
    "flagd_document",
    "flagstone_document",
    "growthbook_document",
    "launchdarkly_document",
    "other_flag_keys",
    "unleash_document",
]

CHECKOUT = "checkout"
"""The flag every per-call scenario evaluates."""

VARIANTS = ("control", "treatment")
COUNTRY = "SE"


def other_flag_keys(count: int) -> list[str]:
    return [f"flag-{index:05d}" for index in range(count)]


def _flags(
    checkout_targeted: bool | None, others: int, others_targeted: bool = True
) -> list[tuple[str, bool]]:
    """``(key, targeted)`` for the checkout flag (``None``: no checkout flag) and ``others``
    more flags, targeted or not."""
    flags = [(key, others_targeted) for key in other_flag_keys(others)]
    if checkout_targeted is not None:
        flags.insert(0, (CHECKOUT, checkout_targeted))
    return flags


# -- flagstone --------------------------------------------------------------------------------


def flagstone_document(
    checkout_targeted: bool | None, others: int = 0, others_targeted: bool = True
) -> dict[str, Any]:
    """A flagstone (Confidence resolver-state) snapshot."""
    shared = _shared_generator() if checkout_targeted is None else None
    if shared is not None:
        try:
            document = shared(others)
        except TypeError:  # another signature than snapshot(n): use ours
            document = None
        if isinstance(document, dict) and "flags" in document:
            return document
    flags: dict[str, Any] = {}
    segments: dict[str, Any] = {}
    for key, targeted in _flags(checkout_targeted, others, others_targeted):
        segment = f"segments/{key}"
        segments[segment] = {"name": segment}
        if targeted:
            segments[segment]["targeting"] = {
                "criteria": {
                    "country": {
                        "attribute": {
                            "attributeName": "country",
                            "eqRule": {"value": {"stringValue": COUNTRY}},
                        }
                    }
                },
                "expression": {"ref": "country"},
            }
        name = f"flags/{key}"
        flags[name] = {
            "name": name,
            "variants": [{"name": variant, "value": {"variant": variant}} for variant in VARIANTS],
            "rules": [
                {
                    "name": f"{name}/rules/experiment",
                    "segment": segment,
                    "targetingKeySelector": "targeting_key",
                    "assignmentSpec": {
                        "bucketCount": 10000,
                        "assignments": [
                            {
                                "assignmentId": variant,
                                "variant": {"variant": variant},
                                "bucketRanges": [{"lower": 5000 * i, "upper": 5000 * (i + 1)}],
                            }
                            for i, variant in enumerate(VARIANTS)
                        ],
                    },
                }
            ],
        }
    return {"version": f"peers-{others}", "flags": flags, "segments": segments}


def _shared_generator() -> Any:
    """``bench/snapshots.py``'s generator of an ``n``-flag snapshot, if it exists and has one
    (``snapshot(n)`` or ``build_snapshot(n)``)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "snapshots.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("_bench_snapshots", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("snapshot", "build_snapshot", "make_snapshot", "generate"):
        function = getattr(module, name, None)
        if callable(function):
            return function
    return None


# -- Eppo (Universal Flag Configuration) -------------------------------------------------------


def eppo_document(
    checkout_targeted: bool | None, others: int = 0, log: bool = False
) -> dict[str, Any]:
    """Eppo's UFC: ``log`` sets ``doLog`` (an assignment event per evaluation)."""
    flags = {}
    for key, targeted in _flags(checkout_targeted, others):
        allocation: dict[str, Any] = {
            "key": "experiment",
            "splits": [
                {
                    "variationKey": variant,
                    "shards": [
                        {"salt": key, "ranges": [{"start": 5000 * i, "end": 5000 * (i + 1)}]}
                    ],
                }
                for i, variant in enumerate(VARIANTS)
            ],
            "doLog": log,
        }
        if targeted:
            allocation["rules"] = [
                {"conditions": [{"attribute": "country", "operator": "ONE_OF", "value": [COUNTRY]}]}
            ]
        flags[key] = {
            "key": key,
            "enabled": True,
            "variationType": "STRING",
            "variations": {variant: {"key": variant, "value": variant} for variant in VARIANTS},
            "allocations": [allocation],
            "totalShards": 10000,
        }
    return {
        "createdAt": "2026-12-01T00:00:00.000Z",
        "format": "SERVER",
        "environment": {"name": "bench"},
        "flags": flags,
    }


# -- GrowthBook -------------------------------------------------------------------------------


def growthbook_document(checkout_targeted: bool | None, others: int = 0) -> dict[str, Any]:
    """GrowthBook's SDK payload: ``features`` and ``savedGroups``; each flag is an experiment
    rule (two variations, weights 0.5/0.5, hashed on ``id``) with default value ``off``."""
    features = {}
    saved_groups = {}
    for key, targeted in _flags(checkout_targeted, others):
        rule: dict[str, Any] = {
            "key": key,
            "variations": list(VARIANTS),
            "weights": [0.5, 0.5],
            "coverage": 1.0,
            "hashAttribute": "id",
        }
        if targeted:
            group = f"group-{key}"
            saved_groups[group] = {"type": "condition", "condition": {"country": COUNTRY}}
            rule["condition"] = {"$savedGroup": {"id": group}}
        features[key] = {"defaultValue": "off", "rules": [rule]}
    return {"features": features, "savedGroups": saved_groups}


# -- LaunchDarkly -----------------------------------------------------------------------------


def launchdarkly_document(
    checkout_targeted: bool | None, others: int = 0, track: bool = False
) -> dict[str, Any]:
    """LaunchDarkly's flag data (``Files.new_data_source``'s full format): a 50/50 rollout
    (weights in 1/100 000) in the fallthrough, or in a rule matching the flag's segment with
    fallthrough ``off``. ``track`` makes every evaluation a full feature event."""
    flags = {}
    segments = {}
    rollout = {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}
    for key, targeted in _flags(checkout_targeted, others):
        flag: dict[str, Any] = {
            "key": key,
            "version": 1,
            "on": True,
            "variations": [*VARIANTS, "off"],
            "offVariation": 2,
            "salt": key,
            "targets": [],
            "contextTargets": [],
            "prerequisites": [],
            "rules": [],
            "trackEvents": track,
            "trackEventsFallthrough": track,
            "deleted": False,
        }
        if targeted:
            segment = f"segment-{key}"
            segments[segment] = {
                "key": segment,
                "version": 1,
                "included": [],
                "excluded": [],
                "salt": segment,
                "deleted": False,
                "rules": [
                    {
                        "id": "country",
                        "clauses": [
                            {
                                "contextKind": "user",
                                "attribute": "country",
                                "op": "in",
                                "values": [COUNTRY],
                                "negate": False,
                            }
                        ],
                    }
                ],
            }
            flag["rules"] = [
                {
                    "id": "experiment",
                    "clauses": [
                        {
                            "contextKind": "user",
                            "attribute": "",
                            "op": "segmentMatch",
                            "values": [segment],
                            "negate": False,
                        }
                    ],
                    "rollout": rollout,
                    "trackEvents": track,
                }
            ]
            flag["fallthrough"] = {"variation": 2}
        else:
            flag["fallthrough"] = {"rollout": rollout}
        flags[key] = flag
    return {"flags": flags, "segments": segments}


# -- Unleash ----------------------------------------------------------------------------------


def unleash_document(
    checkout_targeted: bool | None, others: int = 0, impressions: bool = False
) -> dict[str, Any]:
    """Unleash's client features API (v2): one ``flexibleRollout`` strategy at 100 % with two
    variants weighted 500/500, behind the flag's segment when targeted (a unit outside it gets
    the ``disabled`` variant). ``impressions`` turns on ``impressionData``."""
    features = []
    segments = []
    for index, (key, targeted) in enumerate(_flags(checkout_targeted, others)):
        strategy: dict[str, Any] = {
            "name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": key},
            "variants": [
                {"name": variant, "weight": 500, "stickiness": "default", "weightType": "variable"}
                for variant in VARIANTS
            ],
        }
        if targeted:
            segments.append(
                {
                    "id": index + 1,
                    "name": f"segment-{key}",
                    "constraints": [
                        {
                            "contextName": "country",
                            "operator": "IN",
                            "values": [COUNTRY],
                            "inverted": False,
                            "caseInsensitive": False,
                        }
                    ],
                }
            )
            strategy["segments"] = [index + 1]
        features.append(
            {
                "name": key,
                "type": "experiment",
                "enabled": True,
                "strategies": [strategy],
                "impressionData": impressions,
            }
        )
    return {"version": 2, "features": features, "segments": segments}


# -- flagd ------------------------------------------------------------------------------------


def flagd_document(checkout_targeted: bool | None, others: int = 0) -> dict[str, Any]:
    """flagd's flag definition: ``fractional`` 50/50 on the targeting key (default bucketing:
    flag key + targeting key), behind ``{"$ref": <evaluator>}`` when targeted; default variant
    ``off``."""
    flags = {}
    evaluators = {}
    fractional = {"fractional": [[variant, 50] for variant in VARIANTS]}
    for key, targeted in _flags(checkout_targeted, others):
        targeting: dict[str, Any] = fractional
        if targeted:
            evaluator = f"segment-{key}"
            evaluators[evaluator] = {"in": [{"var": "country"}, [COUNTRY]]}
            targeting = {"if": [{"$ref": evaluator}, fractional, None]}
        flags[key] = {
            "state": "ENABLED",
            "variants": {variant: variant for variant in (*VARIANTS, "off")},
            "defaultVariant": "off",
            "targeting": targeting,
        }
    return {"flags": flags, "$evaluators": evaluators}
