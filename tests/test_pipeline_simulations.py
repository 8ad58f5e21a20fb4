"""Seeded simulations through the whole pipeline: exposure and event files written here →
``aggregate`` (DuckDB) → the statistics ``analyze-stats`` reads → ``analyze``.

400 experiments share two files, told apart by a context attribute on their exposures
(``experiment``) and aggregated one by one through ``breakdown``. In 200 A/A experiments
each metric rejects at alpha 0.05 as often as it should; in 200 with a known relative lift
of +10 % on both metrics the 95 % interval of the relative difference covers +10 % in 95 %
of them. "As often as it should" is a two-sided exact binomial test (scipy's ``binomtest``)
at 0.001: a correct pipeline fails it once in a thousand runs, and the seed is fixed.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")

from scipy.stats import binomtest

from flagstone.analysis import Aggregated, aggregate, analyze, parse_input
from flagstone.formats import parse_snapshot
from tests.pipelinedata import START, TEST, rfc3339, snapshot_document

EXPERIMENTS = 200
UNITS = 400
LIFT = 0.10
RATE = 0.2
MEAN_VALUE = 20.0

METRICS = [
    {
        "name": "metrics/conversion",
        "event": "purchase",
        "aggregation": "CONVERSION",
        "window": {"end": "7d"},
    },
    {"name": "metrics/revenue", "event": "purchase", "aggregation": "SUM", "window": {"end": "7d"}},
]
ROLES = {"metrics/revenue": {"metricKind": "GUARDRAIL"}}  # its own family: alpha 0.05 each


def _write(directory: Path, seed: int) -> tuple[Path, Path]:
    rnd = random.Random(seed)
    exposures, events = [], []
    for kind in ("aa", "lift"):
        for experiment in range(EXPERIMENTS):
            name = f"{kind}-{experiment:03d}"
            for index in range(UNITS):
                unit = f"{name}-u{index}"
                variant = "control" if rnd.random() < 0.5 else "treatment"
                first = START + timedelta(seconds=rnd.randrange(2 * 86_400))
                exposures.append(
                    json.dumps(
                        {
                            "resolve_id": f"{rnd.getrandbits(64):016x}",
                            "apply_time": rfc3339(first),
                            "flag": "flags/checkout",
                            "variant": variant,
                            "targeting_key": unit,
                            "abtest": TEST,
                            "override": False,
                            "context": {"experiment": name},
                        }
                    )
                )
                lifted = kind == "lift" and variant == "treatment"
                if rnd.random() < RATE * (1 + LIFT if lifted else 1):
                    # one purchase: conversion and revenue both lift by LIFT in expectation
                    value = round(rnd.expovariate(1 / MEAN_VALUE), 2)
                    when = first + timedelta(seconds=rnd.randrange(3 * 86_400))
                    events.append(
                        json.dumps(
                            {
                                "event": "purchase",
                                "unit": unit,
                                "value": value,
                                "time": rfc3339(when),
                            }
                        )
                    )
    exposure_file, event_file = directory / "exposures.jsonl", directory / "events.jsonl"
    exposure_file.write_text("\n".join(exposures) + "\n")
    event_file.write_text("\n".join(events) + "\n")
    return exposure_file, event_file


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Aggregated]:
    exposures, events = _write(tmp_path_factory.mktemp("simulations"), seed=12)
    snapshot = parse_snapshot(snapshot_document(metrics=METRICS, roles=ROLES))
    result = aggregate(
        snapshot,
        TEST,
        str(exposures),
        str(events),
        at=START + timedelta(days=10),
        breakdown="experiment",
    )
    assert result.breakdown is not None
    assert len(result.breakdown) == 2 * EXPERIMENTS
    return dict(result.breakdown)


def _comparisons(aggregated: Aggregated) -> dict[str, Any]:
    outcome = analyze(parse_input(aggregated.stats))
    return {c.metric: c for c in outcome.comparisons}


def test_aa_experiments_reject_at_alpha(experiments: dict[str, Aggregated]) -> None:
    rejected = {"metrics/conversion": 0, "metrics/revenue": 0}
    for name, aggregated in experiments.items():
        if not name.startswith("aa-"):
            continue
        assert sum(aggregated.units.values()) == UNITS
        for metric, comparison in _comparisons(aggregated).items():
            assert comparison.adjusted_alpha == pytest.approx(0.05)
            rejected[metric] += comparison.latest.p_value < 0.05
    for metric, count in rejected.items():
        assert binomtest(count, EXPERIMENTS, 0.05).pvalue > 0.001, (metric, count)


def test_the_95_percent_interval_covers_a_known_lift(experiments: dict[str, Aggregated]) -> None:
    covered = {"metrics/conversion": 0, "metrics/revenue": 0}
    for name, aggregated in experiments.items():
        if not name.startswith("lift-"):
            continue
        for metric, comparison in _comparisons(aggregated).items():
            relative = comparison.latest.relative_difference
            assert relative.lower is not None and relative.upper is not None
            covered[metric] += relative.lower <= LIFT <= relative.upper
    for metric, count in covered.items():
        assert binomtest(count, EXPERIMENTS, 0.95).pvalue > 0.001, (metric, count)
