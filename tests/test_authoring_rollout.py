"""Percentage rollouts of the authoring format: stable as they grow, independent per flag.

The reference bucket is computed here from DESIGN.md's statement of the hash (MurmurHash3
x64 128, seed 0, over ``f"{salt}|{unit}"``; the unsigned low 64 bits shifted right by 4,
modulo the bucket count) with the salt the README gives a flag's unnamed split rule: the
flag's name. The independence check is scipy's ``chi2_contingency``.
"""

from __future__ import annotations

import math
from typing import Any

import mmh3
from scipy.stats import chi2_contingency

import flagstone
from flagstone.formats.authoring import edits

from .test_authoring import authoring

UNITS = [f"user-{index}" for index in range(20_000)]


def bucket(salt: str, unit: str, count: int) -> int:
    return ((mmh3.hash128(f"{salt}|{unit}", 0, True, False) & (2**64 - 1)) >> 4) % count


def served(document: dict[str, Any], flag: str, variant: str, **context: Any) -> set[str]:
    client = flagstone.Client.from_dict(document)
    return {
        unit
        for unit in UNITS
        if client.evaluate(flag, {"targeting_key": unit, **context}, apply=False).variant == variant
    }


def near(count: int, n: int, p: float) -> bool:
    """Within 5 binomial standard deviations of n·p."""
    return abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p))


def rollout_flag(serve: dict[str, float], **rule: Any) -> dict[str, Any]:
    return {
        "variants": {"on": True, "off": False},
        "default": "off",
        "rules": [{**rule, "serve": serve}],
    }


def test_a_rollout_buckets_by_the_flags_name_as_the_design_states() -> None:
    on = served(authoring({"dark-mode": rollout_flag({"on": 10})}), "dark-mode", "on")
    expected = {unit for unit in UNITS if bucket("dark-mode", unit, 10_000) < 1_000}
    assert on == expected
    assert near(len(on), len(UNITS), 0.10)


def test_growing_a_rollout_keeps_every_unit_it_had() -> None:
    before = served(authoring({"f": rollout_flag({"on": 10})}), "f", "on")
    after = served(authoring({"f": rollout_flag({"on": 50})}), "f", "on")
    assert before < after
    assert near(len(before), len(UNITS), 0.10) and near(len(after), len(UNITS), 0.50)


def test_the_flag_command_s_rollout_grows_either_end_of_a_split_keeping_its_units() -> None:
    for order in (["on", "off"], ["off", "on"]):
        start = {variant: (10 if variant == "on" else 90) for variant in order}
        document = authoring({"f": rollout_flag(start)})
        grown = edits.rollout(document, "f", "on", 50)
        assert grown["flags"]["f"]["rules"][0]["serve"] == {
            variant: 50 for variant in order
        }  # the other variant gave way
        on_before = served(document, "f", "on")
        on_after = served(grown, "f", "on")
        off_before = served(document, "f", "off")
        off_after = served(grown, "f", "off")
        assert on_before < on_after and off_after < off_before
        assert near(len(on_after), len(UNITS), 0.5)


def test_a_targeted_named_rollout_grows_the_same_way_and_ignores_what_comes_before() -> None:
    rule = {"name": "nordics", "when": {"country": ["SE", "NO"]}}
    before = served(authoring({"f": rollout_flag({"on": 20}, **rule)}), "f", "on", country="SE")
    after = served(authoring({"f": rollout_flag({"on": 60}, **rule)}), "f", "on", country="SE")
    assert before < after
    assert before == {unit for unit in UNITS if bucket("f.nordics", unit, 10_000) < 2_000}
    # a rule added in front of the flag's unnamed split rule does not move its units
    flag = rollout_flag({"on": 30})
    in_front = {**flag, "rules": [{"when": {"beta": True}, "serve": "off"}, *flag["rules"]]}
    assert served(authoring({"f": flag}), "f", "on", beta=False) == served(
        authoring({"f": in_front}), "f", "on", beta=False
    )


def test_each_flag_buckets_independently() -> None:
    document = authoring({"a": rollout_flag({"on": 50}), "b": rollout_flag({"on": 50})})
    in_a, in_b = served(document, "a", "on"), served(document, "b", "on")
    both = len(in_a & in_b)
    table = [
        [both, len(in_a) - both],
        [len(in_b) - both, len(UNITS) - len(in_a) - len(in_b) + both],
    ]
    assert chi2_contingency(table).pvalue > 1e-4
    assert near(both, len(UNITS), 0.25)


def test_one_explicit_salt_makes_two_flags_bucket_alike() -> None:
    document = authoring(
        {
            "a": rollout_flag({"on": 50}, salt="shared"),
            "b": rollout_flag({"on": 50}, salt="shared"),
        }
    )
    assert served(document, "a", "on") == served(document, "b", "on")
