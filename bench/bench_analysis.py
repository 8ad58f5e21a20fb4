"""How long does ``flagstone.analysis.engine.analyze`` take? Printed, never asserted.

    python bench/bench_analysis.py            # best of 7 runs (sequential Holm: 2)
    python bench/bench_analysis.py --quick    # best of 3 (sequential Holm: 1)

An experiment of 100 metrics x 5 groups (a control and 4 treatments, so 400 comparisons):
every tenth metric a guardrail with a non-inferiority margin, the others success metrics;
half 0/1 metrics, half continuous, a quarter of those with CUPED covariates; every metric
with a minimum detectable effect. Timed: ``analyze`` on the parsed input (the parse, with
its validation, is timed on its own), best of several runs, for

1. a FIXED horizon with Bonferroni (the goal: under 50 ms) and with Holm;
2. a SEQUENTIAL horizon with 5 interims, Bonferroni: every metric counts the same units per
   look, as in a real experiment, so comparisons share their sequential bounds (one
   Lan-DeMets computation per treatment and alternative, each some milliseconds);
3. the same with Holm, the worst case: each comparison has its own corrected alpha, so
   each needs its own bounds.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from flagstone.analysis.engine import analyze
from flagstone.analysis.inputs import AnalysisInput, parse_input

METRICS = 100
GROUPS = ["control", "t1", "t2", "t3", "t4"]
UNITS = 20_000  # per group at the end
LOOKS = 5


def group_sums(
    rng: np.random.Generator, n: int, index: int, lift: float, covariate: bool
) -> dict[str, float | int]:
    """Sufficient statistics of ``n`` units of metric ``index`` (0/1 when even)."""
    if index % 2 == 0:
        return {"n": n, "sum": int(rng.binomial(n, min(1.0, 0.1 * (1 + lift))))}
    mean, sd = 50.0 * (1 + lift), 20.0
    total = float(rng.normal(n * mean, sd * np.sqrt(n)))
    sums: dict[str, float | int] = {
        "n": n,
        "sum": total,
        "sum_sq": (n - 1) * sd * sd + total * total / n,
    }
    if covariate:
        x_mean, x_sd, rho = 48.0, 19.0, 0.7
        x_total = float(rng.normal(n * x_mean, x_sd * np.sqrt(n)))
        sums["x_sum"] = x_total
        sums["x_sum_sq"] = (n - 1) * x_sd * x_sd + x_total * x_total / n
        sums["xy_sum"] = (n - 1) * rho * sd * x_sd + x_total * total / n
    return sums


def document(*, sequential: bool, correction: str, seed: int = 7) -> dict[str, Any]:
    """The benchmark's input document."""
    rng = np.random.default_rng(seed)
    metrics = []
    sizes = {group: UNITS + 37 * k for k, group in enumerate(GROUPS)}
    for index in range(METRICS):
        guardrail = index % 10 == 9
        covariate = index % 4 == 3
        lifts = {group: 0.0 if group == "control" else 0.004 * k for k, group in enumerate(GROUPS)}
        metric: dict[str, Any] = {
            "id": f"metric-{index:03d}",
            "kind": "GUARDRAIL" if guardrail else "SUCCESS",
            "direction": "DECREASE" if index % 3 == 0 else "INCREASE",
            "minimum_detectable_effect": 0.02,
            "non_inferiority_margin": 0.02 if guardrail else None,
        }
        if sequential:
            metric["interims"] = [
                {
                    "time": f"2026-11-{20 + look:02d}",
                    "groups": {
                        group: group_sums(
                            rng, sizes[group] * (look + 1) // LOOKS, index, lifts[group], covariate
                        )
                        for group in GROUPS
                    },
                }
                for look in range(LOOKS)
            ]
        else:
            metric["groups"] = {
                group: group_sums(rng, sizes[group], index, lifts[group], covariate)
                for group in GROUPS
            }
        metrics.append(metric)
    horizon: dict[str, Any] = {"kind": "FIXED"}
    if sequential:
        horizon = {"kind": "SEQUENTIAL", "expected_final_total": 2 * UNITS + 1000}
    return {"correction": correction, "horizon": horizon, "metrics": metrics}


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The fastest of ``runs`` timed calls, in seconds (garbage collection paused)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            action()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def report(label: str, spec: AnalysisInput, runs: int, goal_ms: float | None = None) -> None:
    seconds = best_of(runs, lambda: analyze(spec))
    comparisons = len(spec.metrics) * len(spec.treatments)
    goal = f"   (goal < {goal_ms:.0f} ms)" if goal_ms is not None else ""
    print(
        f"{label:<42} {seconds * 1e3:9.1f} ms   {seconds / comparisons * 1e6:7.1f} us per "
        f"comparison, best of {runs}{goal}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    runs = 3 if parser.parse_args().quick else 7
    slow_runs = 1 if runs == 3 else 2

    print(f"{METRICS} metrics x {len(GROUPS)} groups (1 control + {len(GROUPS) - 1} treatments)")
    fixed = document(sequential=False, correction="bonferroni")
    parse_seconds = best_of(runs, lambda: parse_input(fixed))
    print(f"{'parse_input, FIXED (validation included)':<42} {parse_seconds * 1e3:9.1f} ms")
    sequential = document(sequential=True, correction="bonferroni")
    parse_seconds = best_of(runs, lambda: parse_input(sequential))
    print(f"{'parse_input, SEQUENTIAL, 5 interims':<42} {parse_seconds * 1e3:9.1f} ms")

    report("analyze FIXED, bonferroni", parse_input(fixed), runs, goal_ms=50)
    report("analyze FIXED, holm", parse_input(document(sequential=False, correction="holm")), runs)
    report("analyze SEQUENTIAL 5 interims, bonferroni", parse_input(sequential), runs)
    holm = parse_input(document(sequential=True, correction="holm"))
    report("analyze SEQUENTIAL 5 interims, holm", holm, slow_runs)


if __name__ == "__main__":
    main()
