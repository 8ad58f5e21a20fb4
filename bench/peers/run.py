"""flagstone beside the Python SDKs a user would otherwise pick, in one process.

    pip install -r bench/peers/requirements.txt      # bench-only, in a venv of its own
    python bench/peers/run.py                        # writes bench/peers/results.json
    python bench/peers/table.py                      # prints the README's Markdown table

Per call (every SDK and the floor in one process, interleaved over ``--rounds`` rounds, the
order shuffled in each round):

1. ``50/50 flag`` — every unit gets control or treatment, half each;
2. ``behind one country rule`` — the same for units whose country is SE (half the users),
   the others get no variant;
3. ``… with 1 000 other flags`` — scenario 2 with 1 000 more flags loaded, each with its own
   segment and targeted 50/50 rule;
4. ``50/50, context built in the call`` — scenario 1 where each call also turns the
   application's ``(user id, attributes)`` into the SDK's context (in 1 to 3 it is built before
   timing, once per user, as a request does once for all the flags it evaluates).

Each pass evaluates the scenario's flag for 2 000 users (repeated so that a pass takes about
``--pass-ms``), timed as CPU time of the calling thread (``time.thread_time``: what the
request thread spends; SDKs' background threads are not counted) and as wall time. The
floor (``floor.py``) is timed in the same round; each round gives each SDK a ratio to it, and
the result is the median of those per-round ratios.

Exposure cost: scenario 1 with fresh users on every pass (nothing deduplicated), each SDK
with its exposure mechanism on and off in the same round; the cost is the median over rounds
of the difference, per exposure, on the request thread (CPU) and in wall time.

Loading: each SDK's 10 000-flag configuration (one segment and one targeted 50/50 rule per
flag) loaded in a fresh process (``load_one.py``), ``--load-runs`` times; the median time and
peak/kept RSS, next to ``json.loads`` of flagstone's file.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import configs  # noqa: E402
import sdks  # noqa: E402
from floor import Floor  # noqa: E402

User = tuple[str, dict[str, Any]]

SCENARIOS: dict[str, tuple[str, bool, int, bool]] = {
    # key: (label, checkout targeted, other flags, context built in the call)
    "fifty": ("evaluate, 50/50 flag", False, 0, False),
    "country": ("evaluate behind one country rule", True, 0, False),
    "country_1000": ("the same with 1 000 other flags", True, 1000, False),
    "fifty_raw": ("50/50, context built in the call", False, 0, True),
}
FLOOR = "floor"
LOAD_FLAGS = 10_000


def make_users(count: int, prefix: str = "user") -> list[User]:
    """Half in SE, half in NO, alternating."""
    return [(f"{prefix}-{i}", {"country": "SE" if i % 2 else "NO"}) for i in range(count)]


class Timed:
    """One thing timed in a scenario: its pass and how many times the pass repeats."""

    def __init__(self, run: Callable[[], None], calls_per_rep: int) -> None:
        self.run = run
        self.calls_per_rep = calls_per_rep
        self.reps = 1

    def calibrate(self, pass_ms: float) -> None:
        start = time.perf_counter()
        self.run()
        elapsed = max(time.perf_counter() - start, 1e-6)
        self.reps = max(1, round(pass_ms / 1000 / elapsed))

    def measure(self) -> tuple[float, float]:
        """(CPU ns, wall ns) per call over one pass."""
        run = self.run
        cpu = time.thread_time_ns()
        wall = time.perf_counter_ns()
        for _ in range(self.reps):
            run()
        wall = time.perf_counter_ns() - wall
        cpu = time.thread_time_ns() - cpu
        calls = self.reps * self.calls_per_rep
        return cpu / calls, wall / calls


def build(
    names: list[str], users: list[User], skipped: dict[str, str]
) -> tuple[dict[str, dict[str, Timed]], list[Callable[[], None]]]:
    """``{scenario: {name: Timed}}`` for every SDK that builds and passes ``check``."""
    timed: dict[str, dict[str, Timed]] = {}
    closers: list[Callable[[], None]] = []
    flag = configs.CHECKOUT
    for key, (_, targeted, others, raw) in SCENARIOS.items():
        timed[key] = {}
        floor = Floor(targeted, others)
        if raw:
            timed[key][FLOOR] = Timed(lambda f=floor: f.loop_raw(flag, users), len(users))
        else:
            contexts = floor.contexts(users)
            timed[key][FLOOR] = Timed(lambda f=floor, c=contexts: f.loop(flag, c), len(users))
        for name in names:
            if name in skipped:
                continue
            _, adapter, _ = sdks.ADAPTERS[name]
            try:
                target = adapter(targeted, others)
                closers.append(target.close)
                contexts = target.contexts(users)
                sdks.check(name, target, contexts, users, targeted)
            except Exception as error:  # reported in the table, never a fake number
                skipped[name] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                continue
            if raw:
                timed[key][name] = Timed(lambda t=target: t.loop_raw(flag, users), len(users))
            else:
                timed[key][name] = Timed(lambda t=target, c=contexts: t.loop(flag, c), len(users))
    return timed, closers


def per_call(
    names: list[str], rounds: int, users: list[User], pass_ms: float, seed: int
) -> dict[str, Any]:
    skipped: dict[str, str] = {}
    timed, closers = build(names, users, skipped)
    for scenario in timed.values():
        for item in scenario.values():
            item.calibrate(pass_ms)
    gc.collect()
    gc.freeze()  # setup is done: collections during passes walk only what the calls allocate
    rng = random.Random(seed)
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        key: {name: [] for name in scenario} for key, scenario in timed.items()
    }
    for index in range(rounds):
        for key, scenario in timed.items():
            order = list(scenario)
            rng.shuffle(order)
            for name in order:
                samples[key][name].append(scenario[name].measure())
        print(f"  round {index + 1}/{rounds}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    gc.unfreeze()
    for close in closers:
        with contextlib.suppress(Exception):
            close()
    return {"samples": samples, "skipped": skipped}


def exposure_cost(names: list[str], rounds: int, count: int, seed: int) -> dict[str, Any]:
    """Per SDK and exposure mode: ns added per fresh exposure, CPU of the request thread and
    wall, median over rounds; and whether exposures arrived."""
    results: dict[str, Any] = {}
    flag = configs.CHECKOUT
    rng = random.Random(seed)
    for name in names:
        _, adapter, modes = sdks.ADAPTERS[name]
        for mode in modes:
            label = f"{name} ({mode})"
            try:
                plain = adapter(False, 0)
                recording = adapter(False, 0, exposures=mode)
            except Exception as error:
                results[label] = {"error": f"{type(error).__name__}: {error}"}
                continue
            added_cpu: list[float] = []
            added_wall: list[float] = []
            for index in range(rounds):
                users = make_users(count, prefix=f"r{index}-{rng.random():.6f}")
                plain_contexts = plain.contexts(users)
                recording_contexts = recording.contexts(users)
                gc.collect()
                pair = [(plain, plain_contexts), (recording, recording_contexts)]
                if index % 2:
                    pair.reverse()
                times = {}
                for target, contexts in pair:
                    cpu = time.thread_time_ns()
                    wall = time.perf_counter_ns()
                    target.loop(flag, contexts)
                    times[id(target)] = (
                        (time.thread_time_ns() - cpu) / count,
                        (time.perf_counter_ns() - wall) / count,
                    )
                added_cpu.append(times[id(recording)][0] - times[id(plain)][0])
                added_wall.append(times[id(recording)][1] - times[id(plain)][1])
            time.sleep(0.2)  # let background threads take what was queued
            recorded = recording.exposures() if recording.exposures is not None else None
            for target in (plain, recording):
                with contextlib.suppress(Exception):
                    target.close()
            results[label] = {
                "cpu_ns": statistics.median(added_cpu),
                "wall_ns": statistics.median(added_wall),
                "recorded": recorded,
                "calls": rounds * count,
            }
    return results


def loads(names: list[str], runs: int) -> dict[str, Any]:
    """Median over ``runs`` fresh processes of each SDK's 10 000-flag load."""
    writers: dict[str, Callable[[], dict[str, Any]]] = {
        "flagstone": lambda: configs.flagstone_document(None, LOAD_FLAGS),
        "Eppo": lambda: configs.eppo_document(None, LOAD_FLAGS),
        "GrowthBook": lambda: configs.growthbook_document(None, LOAD_FLAGS),
        "LaunchDarkly": lambda: configs.launchdarkly_document(None, LOAD_FLAGS),
        "Unleash": lambda: configs.unleash_document(None, LOAD_FLAGS),
        "flagd": lambda: configs.flagd_document(None, LOAD_FLAGS),
    }
    results: dict[str, Any] = {}
    directory = tempfile.mkdtemp(prefix="peers-load-")
    paths = {}
    for name in ["flagstone", *[n for n in names if n != "flagstone"]]:
        path = os.path.join(directory, f"{name}.json")
        with open(path, "w") as file:
            json.dump(writers[name](), file)
        paths[name] = path
    jobs = [("json.loads", "json", paths["flagstone"])]
    jobs += [(name, name, paths[name]) for name in names]
    for label, sdk, path in jobs:
        measured = []
        error = None
        for _ in range(runs):
            done = subprocess.run(
                [sys.executable, os.path.join(HERE, "load_one.py"), sdk, path],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                error = (done.stderr.strip().splitlines() or ["failed"])[-1]
                break
            measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
        if error is not None:
            results[label] = {"error": error}
            continue
        results[label] = {
            "bytes": os.path.getsize(path),
            "load_s": statistics.median(m["load_s"] for m in measured),
            "load_cpu_s": statistics.median(m["load_cpu_s"] for m in measured),
            "peak_added_kb": statistics.median(m["peak_added_kb"] for m in measured),
            "kept_kb": statistics.median(m["kept_kb"] for m in measured),
            "runs": [m["load_s"] for m in measured],
        }
    for path in paths.values():
        os.unlink(path)
    os.rmdir(directory)
    return results


def flagstone_extras(rounds: int, users: list[User], pass_ms: float) -> dict[str, Any]:
    """flagstone-only rows: ``get_value`` and ``evaluate_all`` over 100 50/50 flags against
    ``evaluate`` of one, and all against the floor, interleaved the same way."""
    import flagstone

    client = flagstone.Client.from_dict(configs.flagstone_document(False, 99, False))
    floor = Floor(False, 0)
    contexts = floor.contexts(users)
    flag = configs.CHECKOUT
    few = contexts[: max(1, len(contexts) // 50)]

    def evaluate() -> None:
        call = client.evaluate
        for context in contexts:
            call(flag, context).variant  # noqa: B018

    def get_value() -> None:
        call = client.get_value
        for context in contexts:
            call("checkout.variant", context, "off")

    def evaluate_all() -> None:
        call = client.evaluate_all
        for context in few:
            call(context)

    timed = {
        FLOOR: Timed(lambda: floor.loop(flag, contexts), len(contexts)),
        "evaluate": Timed(evaluate, len(contexts)),
        "get_value": Timed(get_value, len(contexts)),
        "evaluate_all (100 flags)": Timed(evaluate_all, len(few)),
    }
    for item in timed.values():
        item.calibrate(pass_ms)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in timed}
    rng = random.Random(1)
    for _ in range(rounds):
        order = list(timed)
        rng.shuffle(order)
        for name in order:
            samples[name].append(timed[name].measure())
    return {"samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds (≥ 21)")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--pass-ms", type=float, default=20.0, help="length of one pass")
    parser.add_argument("--sdks", default=",".join(sdks.ADAPTERS), help="comma-separated")
    parser.add_argument("--load-runs", type=int, default=3, help="fresh processes per SDK")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-exposures", action="store_true")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", default=os.path.join(HERE, "results.json"))
    args = parser.parse_args()
    names = [name for name in args.sdks.split(",") if name]
    unknown = [name for name in names if name not in sdks.ADAPTERS]
    if unknown:
        parser.error(f"unknown SDKs {unknown}; known: {list(sdks.ADAPTERS)}")
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "rounds": args.rounds,
        "users": args.users,
        "versions": {name: sdks.version_of(sdks.ADAPTERS[name][0]) for name in names},
        "scenarios": {key: label for key, (label, *_rest) in SCENARIOS.items()},
    }
    users = make_users(args.users)
    print(f"per call: {len(names)} SDKs + floor, {args.rounds} rounds", file=sys.stderr)
    results["per_call"] = per_call(names, args.rounds, users, args.pass_ms, args.seed)
    if "flagstone" in names:
        print("flagstone get_value / evaluate_all", file=sys.stderr)
        results["flagstone_extras"] = flagstone_extras(args.rounds, users, args.pass_ms)
    if not args.no_exposures:
        print("exposure cost", file=sys.stderr)
        results["exposures"] = exposure_cost(names, args.rounds, 2000, args.seed)
    if not args.no_load:
        print("10 000-flag loads, fresh processes", file=sys.stderr)
        results["load"] = loads(names, args.load_runs)
    results["load_average_after"] = os.getloadavg()
    with open(args.out, "w") as file:
        json.dump(results, file, indent=1)
    import table

    print(table.render(results))
    sys.stdout.flush()
    os._exit(0)  # SDK background threads (file watchers, schedulers) would hold the exit


if __name__ == "__main__":
    main()
