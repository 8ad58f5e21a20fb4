"""The walkthrough ``examples/experiment/run.py``, run as the README says (small: 1500 users
over 5 days).

The script simulates the experiment through a real ``Client`` (exposures from ``evaluate``,
events from ``Client.track``) and writes ``truth.json``: what the simulation did — each
user's variant as the client resolved it, their first visit and their purchases. The test
counts the metrics from that truth with plain loops and holds the analysis of the logs to
it: the whole chain (client, sink, records, aggregation) must agree with what happened.

It also checks that the analysis recovers the simulation's known effect: purchase
conversion is 10 % in control and 12 % in one-page (+20 % relative, ``truth.json``'s
``conversion``), and the 95 % interval of the relative difference covers it (a 95 %
interval misses 1 seed in 20; with the fixed seed this is one fixed draw, which covers it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "experiment"


def walkthrough(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "run.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_walkthrough_simulates_analyses_and_reports(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from flagstone.analysis import analyze_experiment

    done = walkthrough("--units", "1500", "--days", "5", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    truth: dict[str, Any] = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    end = datetime.fromisoformat(truth["end"])

    analysis = analyze_experiment(
        EXAMPLE / "snapshot.json",
        "checkout-test",
        exposures=tmp_path / "records.jsonl",
        events=tmp_path / "records.jsonl",
        at=end,
    )
    # every user the client assigned, in the variant it resolved, counted once
    assigned: dict[str, int] = {}
    for variant, _ in truth["variants"].values():
        assigned[variant] = assigned.get(variant, 0) + 1
    assert dict(analysis.aggregated.units) == assigned
    assert analysis.aggregated.excluded_multi_variant == 0

    groups = {m["id"]: m["groups"] for m in analysis.stats["metrics"]}
    # purchase conversion: a purchase within 7 days of the first visit (and before the end)
    converted = {variant: 0 for variant in assigned}
    revenue = {variant: 0.0 for variant in assigned}
    for unit, (variant, first) in truth["variants"].items():
        start = datetime.fromisoformat(first)
        times = [datetime.fromisoformat(t) for t, _ in truth["purchases"].get(unit, [])]
        converted[variant] += any(start <= t < start + timedelta(days=7) for t in times)
        revenue[variant] += sum(value for t, value in truth["purchases"].get(unit, []))
    for variant in assigned:
        assert groups["metrics/purchase"][variant]["n"] == assigned[variant]
        assert groups["metrics/purchase"][variant]["sum"] == converted[variant]
        assert groups["metrics/revenue"][variant]["sum"] == pytest.approx(revenue[variant])

    # the known effect: +20 % relative on purchase conversion, inside the 95 % interval
    truth_lift = truth["conversion"]["one-page"] / truth["conversion"]["control"] - 1
    (purchase,) = [
        c
        for c in analysis.outcome.comparisons
        if c.metric == "metrics/purchase" and c.compared == "one-page"
    ]
    relative = purchase.latest.relative_difference  # at the (spent) alpha: at least 95 %
    assert relative.lower is not None and relative.upper is not None
    assert relative.lower < truth_lift < relative.upper, (relative, truth_lift)
    # ... and the estimate is the plain ratio of the conversion rates counted from the truth
    # (no covariate on this metric, so no CUPED adjustment)
    rate = {variant: converted[variant] / assigned[variant] for variant in assigned}
    assert relative.value == pytest.approx(rate["one-page"] / rate["control"] - 1)

    # what it printed and wrote
    assert "metrics/purchase" in done.stdout and "report:" in done.stdout
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg ") == 2 * len(analysis.input.metrics) + 1  # sequential
