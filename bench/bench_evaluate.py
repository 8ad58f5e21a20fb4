"""How fast is ``Client.evaluate``? ns per call for five scenarios, each next to a minimal
pure-Python resolver that does the least the semantics need, timed in the same run.

    python bench/bench_evaluate.py            # all scenarios + the 10 000-flag load
    python bench/bench_evaluate.py --quick    # fewer repetitions

Scenarios (an A/B test instance with two 50/50 treatments on flag ``checkout``):

1. no targeting, no allocation
2. an ``eqRule`` on ``country`` (half the users match) and a 50 % allocation proportion
3. the same, where every user matches and is allocated (proportion 1)
4. scenario 2 with 10 000 other flags loaded
5. scenario 2 with a ``MemorySink`` recording exposures

and, beside scenario 1's ``evaluate`` in the same run, ``get_value`` of one of its fields
and ``evaluate_all`` over 100 flags of that kind (goals: ≤ 1.2x and ≤ 100x ``evaluate``).
``bench/peers/run.py`` times the same calls beside the peer SDKs.

The minimal resolver for a scenario is a dict lookup, the targeting comparison if there is
one, the 128-bit mmh3 buckets the scenario needs (allocation, variant) and a range scan,
returning the variant name. Tests never assert timings; this script only prints them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import mmh3

import flagstone

MASK = (1 << 64) - 1
USERS = 4096


def bucket(key: str, count: int) -> int:
    return ((mmh3.hash128(key, 0, True, False) & MASK) >> 4) % count


def ab_snapshot(
    *, targeting: bool, proportion: float | None, extra_flags: int = 0
) -> dict[str, Any]:
    segment: dict[str, Any] = {"name": "segments/checkout-test"}
    if targeting:
        segment["targeting"] = {
            "criteria": {
                "c": {
                    "attribute": {
                        "attributeName": "country",
                        "eqRule": {"value": {"stringValue": "SE"}},
                    }
                }
            },
            "expression": {"ref": "c"},
        }
    if proportion is not None:
        segment["allocation"] = {"proportion": {"value": str(proportion)}}
    flags: dict[str, Any] = {
        "flags/checkout": {
            "name": "flags/checkout",
            "variants": [
                {"name": "control", "value": {"layout": "classic"}},
                {"name": "treatment", "value": {"layout": "new"}},
            ],
        }
    }
    flags.update(filler_flags(extra_flags))
    return {
        "version": "bench",
        "flags": flags,
        "segments": {"segments/everyone": {"name": "segments/everyone"}},
        "abtests": [
            {
                "name": "workflows/abtest/instances/checkout-test",
                "state": "live",
                "abtest": {
                    "treatments": [
                        {"variant": "flags/checkout/variants/control", "weight": "5000"},
                        {"variant": "flags/checkout/variants/treatment", "weight": "5000"},
                    ]
                },
                "segment": segment,
            }
        ],
    }


def filler_flags(count: int) -> dict[str, Any]:
    flags = {}
    for index in range(count):
        name = f"flags/filler-{index}"
        flags[name] = {
            "name": name,
            "variants": [
                {"name": "on", "value": {"enabled": True, "limit": index}},
                {"name": "off", "value": {"enabled": False}},
            ],
            "rules": [
                {
                    "name": f"{name}/rules/rollout",
                    "segment": "segments/everyone",
                    "targetingKeySelector": "targeting_key",
                    "assignmentSpec": {
                        "bucketCount": 100,
                        "assignments": [
                            {
                                "assignmentId": "on",
                                "variant": {"variant": "on"},
                                "bucketRanges": [{"lower": 0, "upper": 50}],
                            },
                            {
                                "assignmentId": "off",
                                "variant": {"variant": "off"},
                                "bucketRanges": [{"lower": 50, "upper": 100}],
                            },
                        ],
                    },
                }
            ],
        }
    return flags


def contexts(half_match: bool) -> list[dict[str, Any]]:
    return [
        {"targeting_key": f"user-{i}", "country": "SE" if not half_match or i % 2 else "NO"}
        for i in range(USERS)
    ]


# -- the minimal resolvers --------------------------------------------------------------------

RANGES = ((0, 5000, "control"), (5000, 10000, "treatment"))
TABLE = {"checkout": RANGES}


def minimal_untargeted(flag: str, context: dict[str, Any]) -> str | None:
    ranges = TABLE[flag]
    b = bucket("checkout-test|" + context["targeting_key"], 10000)
    for lower, upper, variant in ranges:
        if lower <= b < upper:
            return variant
    return None


def minimal_targeted(flag: str, context: dict[str, Any]) -> str | None:
    ranges = TABLE[flag]
    unit = context["targeting_key"]
    if context.get("country") != "SE":
        return None
    if bucket("allocation-checkout-test|" + unit, 1_000_000) >= 500_000:
        return None
    b = bucket("checkout-test|" + unit, 10000)
    for lower, upper, variant in ranges:
        if lower <= b < upper:
            return variant
    return None


def minimal_all_match(flag: str, context: dict[str, Any]) -> str | None:
    ranges = TABLE[flag]
    unit = context["targeting_key"]
    if context.get("country") != "SE":
        return None
    b = bucket("checkout-test|" + unit, 10000)
    for lower, upper, variant in ranges:
        if lower <= b < upper:
            return variant
    return None


RECORDED: list[Any] = []


def minimal_recording(flag: str, context: dict[str, Any]) -> str | None:
    variant = minimal_targeted(flag, context)
    if variant is not None:
        RECORDED.append((variant, time.time()))
    return variant


# -- timing -----------------------------------------------------------------------------------


def ns_per_call(
    call: Callable[[str, dict[str, Any]], Any], ctxs: list[dict[str, Any]], repeats: int
) -> float:
    """Best of ``repeats`` passes over all contexts, in ns per call."""
    best = float("inf")
    flag = "checkout"
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter_ns()
        for context in ctxs:
            call(flag, context)
        elapsed = time.perf_counter_ns() - start
        gc.enable()
        best = min(best, elapsed / len(ctxs))
    return best


def scenario(
    name: str,
    client: flagstone.Client,
    minimal: Callable[..., Any],
    ctxs: list[dict[str, Any]],
    repeats: int,
    reset: Callable[[], None] | None = None,
) -> tuple[str, float, float]:
    for context in ctxs[:64]:  # both agree on the variant before we time anything
        expected = minimal("checkout", context)
        got = client.evaluate("checkout", context, apply=False).variant
        assert got == expected, (name, context, got, expected)
    ours = ns_per_call(client.evaluate, ctxs, repeats)
    if reset:
        reset()
    base = ns_per_call(minimal, ctxs, repeats)
    return name, ours, base


def run_scenarios(repeats: int) -> list[tuple[str, float, float]]:
    results = []
    untargeted = flagstone.Client.from_dict(ab_snapshot(targeting=False, proportion=None))
    results.append(
        scenario(
            "50/50 A/B test, no targeting", untargeted, minimal_untargeted, contexts(False), repeats
        )
    )
    targeted_doc = ab_snapshot(targeting=True, proportion=0.5)
    targeted = flagstone.Client.from_dict(targeted_doc)
    results.append(
        scenario(
            "eqRule (half match) + 50% allocation",
            targeted,
            minimal_targeted,
            contexts(True),
            repeats,
        )
    )
    all_match = flagstone.Client.from_dict(ab_snapshot(targeting=True, proportion=1.0))
    results.append(
        scenario(
            "eqRule, everyone matches and is allocated",
            all_match,
            minimal_all_match,
            contexts(False),
            repeats,
        )
    )
    big = flagstone.Client.from_dict(
        ab_snapshot(targeting=True, proportion=0.5, extra_flags=10_000)
    )
    results.append(
        scenario(
            "targeted, 10 000 other flags loaded", big, minimal_targeted, contexts(True), repeats
        )
    )
    sink = flagstone.sinks.MemorySink(dedup=True)
    recording = flagstone.Client.from_dict(targeted_doc, sinks=[sink])
    results.append(
        scenario(
            "targeted + MemorySink recording exposures",
            recording,
            minimal_recording,
            contexts(True),
            repeats,
            reset=RECORDED.clear,
        )
    )
    sink.clear()
    return results


def run_extras(repeats: int) -> list[tuple[str, float, float]]:
    """``(name, ns per call, ratio to evaluate)`` for ``get_value`` and ``evaluate_all`` over 100
    flags, each timed right after ``evaluate`` on the same contexts."""
    document = ab_snapshot(targeting=False, proportion=None)
    for index in range(99):  # 99 more 50/50 A/B tests, each on its own flag
        copy = json.loads(json.dumps(document["flags"]["flags/checkout"]))
        copy["name"] = f"flags/checkout-{index}"
        document["flags"][copy["name"]] = copy
        test = json.loads(json.dumps(document["abtests"][0]))
        test["name"] = f"workflows/abtest/instances/checkout-{index}"
        test["segment"]["name"] = f"segments/checkout-{index}"
        for treatment in test["abtest"]["treatments"]:
            treatment["variant"] = treatment["variant"].replace("checkout", f"checkout-{index}")
        document["abtests"].append(test)
    client = flagstone.Client.from_dict(document)
    ctxs = contexts(False)
    few = ctxs[:256]

    def evaluate(flag: str, context: dict[str, Any]) -> Any:
        return client.evaluate(flag, context).variant

    def get_value(flag: str, context: dict[str, Any]) -> Any:
        return client.get_value("checkout.layout", context, "classic")

    def evaluate_all(flag: str, context: dict[str, Any]) -> Any:
        return client.evaluate_all(context)

    results = []
    for name, call, timed in (("get_value", get_value, ctxs), ("evaluate_all", evaluate_all, few)):
        base = ns_per_call(evaluate, timed, repeats)
        mine = ns_per_call(call, timed, repeats)
        results.append((name, mine, mine / base))
    return results


# -- loading a 10 000-flag snapshot, in a fresh process ----------------------------------------

LOAD_SCRIPT = """
import json, sys, time

def peak_rss_kb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

start = time.perf_counter()
import flagstone
imported = time.perf_counter()
rss_import = peak_rss_kb()
client = flagstone.Client.from_file(sys.argv[1])
loaded = time.perf_counter()
assert len(client.flags) == 10_001
print(json.dumps({"import_s": imported - start, "load_s": loaded - imported,
                  "rss_import_kb": rss_import, "rss_kb": peak_rss_kb()}))
"""


def measure_load() -> dict[str, float]:
    document = ab_snapshot(targeting=True, proportion=0.5, extra_flags=10_000)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(document, handle)
        path = handle.name
    try:
        size = os.path.getsize(path)
        output = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, path], check=True, capture_output=True, text=True
        ).stdout
        result: dict[str, float] = json.loads(output)
        result["bytes"] = size
        return result
    finally:
        os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-load", action="store_true", help="skip the 10 000-flag load")
    args = parser.parse_args()
    repeats = 5 if args.quick else 25
    print(
        f"flagstone {flagstone.__version__}, Python {sys.version.split()[0]}, "
        f"{USERS} distinct users per pass, best of {repeats} passes"
    )
    print(f"{'scenario':45} {'flagstone':>11} {'minimal':>9} {'ratio':>6}")
    for name, ours, base in run_scenarios(repeats):
        print(f"{name:45} {ours:8.0f} ns {base:6.0f} ns {ours / base:5.2f}x")
    print(f"{'scenario 1, against evaluate(...).variant':45} {'per call':>11} {'':>9} {'ratio':>6}")
    for name, ours, ratio in run_extras(repeats):
        label = "get_value('checkout.layout')" if name == "get_value" else "evaluate_all, 100 flags"
        print(f"{label:45} {ours:8.0f} ns {'':>9} {ratio:5.2f}x")
    if not args.no_load:
        load = measure_load()
        print(
            f"load 10 000-flag snapshot ({load['bytes'] / 1e6:.1f} MB JSON): "
            f"{load['load_s'] * 1000:.0f} ms (import {load['import_s'] * 1000:.0f} ms), "
            f"max RSS {load['rss_kb'] / 1024:.1f} MB "
            f"(after import {load['rss_import_kb'] / 1024:.1f} MB)"
        )


if __name__ == "__main__":
    main()
