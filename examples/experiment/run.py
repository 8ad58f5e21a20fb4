"""An experiment end to end: simulate an A/B test through a real ``Client``, analyse its logs,
write the report.

    python examples/experiment/run.py [--units 8000] [--days 10] [--out DIR] [--seed 12]

1. **Simulate.** ``snapshot.json`` holds a live A/B test of the checkout page (``control``
   against ``one-page``, 50/50, sequential, looks by day) and its four metrics. Over
   ``--days`` days, ``--units`` users arrive at random times; each one's checkout is resolved
   by a real :class:`flagstone.Client`, which records the exposure, and some come back
   later (a second exposure, which the analysis must not count twice). The one-page
   checkout has a known effect: a user buys with probability 10 % in control and 12 % in
   one-page (+20 % relative), within hours to days of the first visit, for the same order
   values in both; 3 % of users contact support. Purchases and support contacts are
   recorded with ``client.track``, through the same sink as the exposures
   (``records.jsonl``). The clock is freezegun's, moved to each action's time, so every
   record carries the simulated time.
2. **Analyse** the exposure and event logs with
   :func:`flagstone.analysis.analyze_experiment` (what ``python -m flagstone analyze``
   runs) at the end of the last day, and print the table.
3. **Report:** write ``report.html`` (:func:`flagstone.analysis.to_html`), and
   ``truth.json``: what the simulation did (each user's variant, as the client resolved
   it, and their purchases), for anyone who wants to check the aggregation against it.

Needs the ``report`` extra and freezegun: ``pip install ".[report]" freezegun``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from freezegun import freeze_time

import flagstone
from flagstone.analysis import analyze_experiment, to_html, to_table

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "snapshot.json"
START = datetime(2026, 11, 16, tzinfo=timezone.utc)
FLAG = "checkout-flag"
TEST = "checkout-test"

CONVERSION = {"control": 0.10, "one-page": 0.12}
"""The known effect: a user's probability to buy, by variant (+20 % relative)."""
SUPPORT = 0.03
"""Both variants: the probability to contact support once."""


@dataclass(order=True)
class Action:
    """Something a user does at a time: ``visit`` (the checkout is resolved: an exposure),
    ``purchase`` or ``support_contact`` (an event)."""

    time: datetime
    kind: str = field(compare=False)
    unit: str = field(compare=False)
    value: float | None = field(default=None, compare=False)


def simulate(units: int, days: int, out: Path, seed: int) -> dict[str, object]:
    """Run the experiment through a real client; the logs go to ``out``. Returns the truth:
    each unit's variant (as the client resolved it) and first visit, and its purchases."""
    rng = random.Random(seed)
    horizon = START + timedelta(days=days)
    queue = [
        Action(START + timedelta(seconds=rng.uniform(0, days * 86_400)), "visit", f"user-{i}")
        for i in range(units)
    ]
    heapq.heapify(queue)
    assigned: dict[str, tuple[str, str]] = {}  # unit -> (variant, first visit)
    purchases: dict[str, list[tuple[str, float]]] = {}
    with freeze_time(START) as clock:
        client = flagstone.Client.from_file(
            SNAPSHOT, sinks=[flagstone.sinks.JsonlSink(out / "records.jsonl")]
        )
        while queue:
            action = heapq.heappop(queue)
            if action.time >= horizon:
                continue
            clock.move_to(action.time)
            context = {"targeting_key": action.unit}
            if action.kind == "visit":
                resolution = client.evaluate(FLAG, context)
                variant = str(resolution.variant)
                if action.unit in assigned:
                    continue  # a returning user: the exposure is recorded, nothing new follows
                assigned[action.unit] = (variant, action.time.isoformat())
                if rng.random() < 0.3:  # comes back to the checkout later
                    later = action.time + timedelta(hours=rng.uniform(1, 72))
                    heapq.heappush(queue, Action(later, "visit", action.unit))
                if rng.random() < CONVERSION[variant]:
                    when = action.time + timedelta(hours=rng.expovariate(1 / 20))
                    value = round(rng.lognormvariate(3.4, 0.6), 2)
                    heapq.heappush(queue, Action(when, "purchase", action.unit, value))
                if rng.random() < SUPPORT:
                    when = action.time + timedelta(hours=rng.uniform(0, 72))
                    heapq.heappush(queue, Action(when, "support_contact", action.unit))
            else:
                client.track(action.kind, context, value=action.value)
                if action.kind == "purchase":
                    assert action.value is not None
                    purchases.setdefault(action.unit, []).append(
                        (action.time.isoformat(), action.value)
                    )
        client.close()
    return {
        "start": START.isoformat(),
        "end": horizon.isoformat(),
        "variants": assigned,
        "purchases": purchases,
        "conversion": CONVERSION,
        "support": SUPPORT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=8000, help="users (default 8000)")
    parser.add_argument("--days", type=int, default=10, help="days (default 10)")
    parser.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "out", help="where the logs and report go"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in ("records.jsonl", "report.html", "truth.json"):
        (out / old).unlink(missing_ok=True)

    truth = simulate(args.units, args.days, out, args.seed)
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")

    analysis = analyze_experiment(
        SNAPSHOT,
        TEST,
        exposures=out / "records.jsonl",  # exposures and events share the sink's file
        events=out / "records.jsonl",
        at=START + timedelta(days=args.days),
    )
    sys.stdout.write(to_table(analysis.outcome))
    aggregated = analysis.aggregated
    print(
        f"\n{aggregated.exposures} exposures of {sum(aggregated.units.values())} users; "
        f"true effect on purchase: {CONVERSION['one-page'] / CONVERSION['control'] - 1:+.0%}"
    )
    report = out / "report.html"
    report.write_text(to_html(analysis), encoding="utf-8")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
