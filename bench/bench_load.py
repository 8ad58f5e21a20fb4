"""Loading, updating and importing, side by side with their baselines in one run (issue 15,
goals 1-3). Printed, never asserted.

    python bench/bench_load.py            # everything (~3 minutes)
    python bench/bench_load.py --quick    # fewer rounds, shorter latency runs
    python bench/bench_load.py --only load --rounds 5   # one part (load, update, latency, import)

The snapshot is ``bench/snapshots.py``'s: 10 000 flags, each with one segment targeting a
country and one 50/50 rule on ``targeting_key`` (7.8 MB of JSON).

1. **Load.** ``Client.from_file`` in a fresh process, after ``import flagstone`` and
   ``flagstone.Client`` (the client module imported; the snapshot models' validators are
   built on first use, so inside the load), next to ``json.loads`` of the same file read
   the same way in another fresh process, with the garbage collector as a normal process
   has it; rounds alternate the two. Times are wall-clock medians (CPU time beside them);
   the ratio is the median of the per-round ratios. Memory: the peak RSS the call added
   (``VmHWM`` after minus ``VmRSS`` before) and what it kept (``VmRSS`` after minus
   before), and what the process keeps once it evaluated every flag (each flag's resolver
   is built on its first call; not timed).
2. **Update.** In one process serving the snapshot, an updater polls a source whose
   document differs from the one served in k flags: its work for that check (reading the
   document against the one served, validating and compiling what changed, installing), next
   to ``json.loads`` of the same document in the same process right after, per round.
3. **Latency under updates.** Four threads call ``evaluate`` (a different flag and unit each
   call, exposures to a ``BatchingSink`` writing JSON lines) as fast as they can, each call
   timed; percentiles over all calls, in phases alternating between no updates and a new
   snapshot (k flags changed) every second, polled by the client's own updater.
4. **Import.** ``import flagstone`` (and then ``flagstone.Client``) in fresh processes,
   interleaved with ``import pydantic.dataclasses, mmh3``, several rounds; medians and the
   ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import snapshots

FLAGS = 10_000

_LOAD = """
import json, sys, time, gc
def status():
    with open("/proc/self/status") as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmHWM", "VmRSS"))}
mode, path = sys.argv[1], sys.argv[2]
import flagstone
flagstone.Client
before = status()
wall, cpu = time.perf_counter(), time.process_time()
if mode == "json":
    with open(path, "rb") as handle:
        loaded = json.loads(handle.read())
else:
    loaded = flagstone.Client.from_file(path)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
after = status()
used = after
if mode != "json":
    assert len(loaded.flags) == @FLAGS@
    for name in loaded.flags:  # each flag's resolver is built on its first call
        loaded.evaluate(name, {"targeting_key": "user-1", "country": "SE"})
    used = status()
print(json.dumps({"wall": wall, "cpu": cpu, "peak": (after["VmHWM"] - before["VmRSS"]) / 1024,
                  "kept": (after["VmRSS"] - before["VmRSS"]) / 1024,
                  "used": (used["VmRSS"] - before["VmRSS"]) / 1024}))
""".replace("@FLAGS@", str(FLAGS))


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def load(path: Path, rounds: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {"json": [], "load": []}
    for _ in range(rounds):
        for mode in ("json", "load"):
            runs[mode].append(_run(_LOAD, mode, str(path)))
    ratio = statistics.median(
        load["wall"] / baseline["wall"]
        for load, baseline in zip(runs["load"], runs["json"], strict=True)
    )
    print(
        f"\n1. load the {FLAGS:,}-flag snapshot ({path.stat().st_size / 1e6:.1f} MB), fresh "
        f"process each, {rounds} rounds"
    )
    print(f"   {'':28} {'wall':>8} {'CPU':>8} {'peak RSS':>10} {'kept RSS':>10}")
    for mode, label in (("json", "json.loads (GC as usual)"), ("load", "Client.from_file")):
        median = {key: statistics.median(run[key] for run in runs[mode]) for key in runs[mode][0]}
        print(
            f"   {label:28} {median['wall'] * 1000:6.0f} ms {median['cpu'] * 1000:5.0f} ms "
            f"{median['peak']:+7.1f} MiB {median['kept']:+7.1f} MiB"
        )
    print(
        f"   ratio (median of rounds): {ratio:.2f}x json.loads  (goal: <= 3x, peak <= 50 MiB, "
        "kept <= 30 MiB)"
    )
    used = statistics.median(run["used"] for run in runs["load"])
    print(
        f"   kept once every flag was evaluated (each flag's resolver is built on its first "
        f"call): {used:+.1f} MiB"
    )


_UPDATE = """
import json, sys, time, gc
sys.path.insert(0, sys.argv[1])
import snapshots, flagstone
from flagstone.sources.function import FunctionSource
from flagstone.sources.integrity import Integrity
from flagstone.sources.updater import Updater
k, rounds = int(sys.argv[2]), int(sys.argv[3])
document = snapshots.many_flags(@FLAGS@)
served = [snapshots.encoded(document)]
updater = Updater(FunctionSource(lambda: served[-1]), interval=3600.0, integrity=Integrity(),
                  strict=True)
client = flagstone.Client(None)
updater.bind(client)
updater.load_now()
results = []
for generation in range(1, rounds + 1):
    raw = snapshots.encoded(snapshots.changed(document, k, generation=generation))
    served.append(raw)
    wall, cpu = time.perf_counter(), time.process_time()
    assert updater.check(client)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert client.snapshot_version.endswith(f"+{generation}x{k}")
    base_wall, base_cpu = time.perf_counter(), time.process_time()
    json.loads(raw)
    base_wall, base_cpu = time.perf_counter() - base_wall, time.process_time() - base_cpu
    results.append((wall, cpu, base_wall, base_cpu))
print(json.dumps(results))
""".replace("@FLAGS@", str(FLAGS))


def update(rounds: int, ks: list[int]) -> None:
    print(
        f"\n2. update: the updater's work for a snapshot differing in k flags, next to "
        f"json.loads of it in the same process ({rounds} rounds each)"
    )
    print(f"   {'k':>6} {'update wall':>12} {'CPU':>8} {'json.loads':>11} {'CPU':>8} {'ratio':>7}")
    here = os.path.dirname(os.path.abspath(__file__))
    for k in ks:
        out = subprocess.run(
            [sys.executable, "-c", _UPDATE, here, str(k), str(rounds)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results = json.loads(out.strip().splitlines()[-1])[1:]  # the first warms up
        median = [statistics.median(row[i] for row in results) for i in range(4)]
        ratio = statistics.median(row[0] / row[2] for row in results)
        print(
            f"   {k:6d} {median[0] * 1000:9.1f} ms {median[1] * 1000:5.1f} ms "
            f"{median[2] * 1000:8.1f} ms {median[3] * 1000:5.1f} ms {ratio:6.2f}x"
        )
    print("   (goal for k = 1: <= 1.5x json.loads)")


_LATENCY = """
import json, sys, time, threading, tempfile, os
sys.path.insert(0, sys.argv[1])
import snapshots, flagstone
from flagstone.sinks import BatchingSink, JsonlSink
from flagstone.sources.function import FunctionSource
k, seconds, phases = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
document = snapshots.many_flags(@FLAGS@)
served = [snapshots.encoded(document)]
updating = [False]
def poll():
    if updating[0]:
        generation = len(served)
        served.append(snapshots.encoded(snapshots.changed(document, k, generation=generation)))
    return served[-1]
directory = tempfile.mkdtemp()
sink = BatchingSink(JsonlSink(os.path.join(directory, "exposures.jsonl")))
client = flagstone.Client.from_source(FunctionSource(poll), refresh_interval=1.0, wait=True,
                                      sinks=[sink])
names = [snapshots.flag_name(i) for i in range(@FLAGS@)]
contexts = [{"targeting_key": f"user-{i}", "country": snapshots.COUNTRIES[i % 8]}
            for i in range(4096)]
def work(stop, out, seed):
    evaluate, clock = client.evaluate, time.perf_counter_ns
    append = out.append
    i = seed
    while not stop.is_set():
        name, context = names[(i * 7919) % len(names)], contexts[i % 4096]
        start = clock()
        evaluate(name, context)
        append(clock() - start)
        i += 1
report = []
for phase in phases:
    updating[0] = phase == "updates"
    updates_before = client.status().updates
    stop, outs = threading.Event(), [[] for _ in range(4)]
    threads = [threading.Thread(target=work, args=(stop, outs[n], n * 100_003)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    calls = sorted(x for out in outs for x in out)
    pick = lambda q: calls[min(len(calls) - 1, int(q * len(calls)))]
    report.append({"phase": phase, "calls": len(calls), "p50": pick(0.5), "p99": pick(0.99),
                   "p999": pick(0.999), "p9999": pick(0.9999), "max": calls[-1],
                   "updates": client.status().updates - updates_before})
    sink.flush(30)
client.close()
print(json.dumps(report))
""".replace("@FLAGS@", str(FLAGS))


def latency(seconds: float, k: int, pairs: int) -> None:
    phases = ",".join(["none", "updates"] * pairs)
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", _LATENCY, here, str(k), str(seconds), phases],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    print(
        f"\n3. evaluate latency, 4 threads, BatchingSink(JsonlSink), {seconds:.0f} s phases; "
        f"'updates': a snapshot with k = {k} flags changed every second"
    )
    print(
        f"   {'phase':8} {'calls':>9} {'updates':>8} {'p50':>8} {'p99':>8} {'p99.9':>9} "
        f"{'p99.99':>9} {'max':>9}"
    )
    for row in report:
        print(
            f"   {row['phase']:8} {row['calls']:9d} {row['updates']:8d} "
            f"{row['p50'] / 1000:6.1f}us {row['p99'] / 1000:6.1f}us {row['p999'] / 1000:7.1f}us "
            f"{row['p9999'] / 1000:7.1f}us {row['max'] / 1e6:7.1f}ms"
        )
    p999 = {
        phase: statistics.median(r["p999"] for r in report if r["phase"] == phase)
        for phase in ("none", "updates")
    }
    print(f"   p99.9 with updates / without: {p999['updates'] / p999['none']:.2f}x (goal: <= 2x)")


def imports(rounds: int) -> None:
    snippets = {
        "import pydantic.dataclasses, mmh3": "import pydantic.dataclasses, mmh3",
        "import flagstone": "import flagstone",
        "import flagstone; flagstone.Client": "import flagstone; flagstone.Client",
    }
    code = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
    times: dict[str, list[float]] = {name: [] for name in snippets}
    for _ in range(rounds):
        for name, snippet in snippets.items():
            out = subprocess.run(
                [sys.executable, "-c", code.format(snippet)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            times[name].append(float(out))
    base = statistics.median(times["import pydantic.dataclasses, mmh3"])
    print(f"\n4. import, fresh processes, {rounds} interleaved rounds (medians)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"   {name:38} {median * 1000:6.1f} ms  {median / base:5.2f}x")
    print("   (goal: import flagstone <= 1.5x import pydantic.dataclasses, mmh3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    parser.add_argument(
        "--only",
        choices=("load", "update", "latency", "import"),
        help="run one part only",
    )
    parser.add_argument("--rounds", type=int, help="rounds of part 1 (load)")
    args = parser.parse_args()
    parts = (args.only,) if args.only else ("load", "update", "latency", "import")
    import flagstone

    print(
        f"flagstone {flagstone.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    if "load" in parts:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "snapshot.json"
            path.write_bytes(snapshots.encoded(snapshots.many_flags(FLAGS)))
            load(path, args.rounds or (3 if args.quick else 7))
    if "update" in parts:
        update(4 if args.quick else 8, [1, 100, 1000])
    if "latency" in parts:
        latency(4.0 if args.quick else 10.0, 1, 1 if args.quick else 2)
    if "import" in parts:
        imports(5 if args.quick else 11)


if __name__ == "__main__":
    main()
