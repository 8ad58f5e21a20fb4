"""Does a background snapshot poller slow ``evaluate`` down? Printed, never asserted.

    python bench/bench_live.py            # full run
    python bench/bench_live.py --quick    # fewer repetitions

Two clients over the same snapshot (``examples/flags.json``): one built from the file, one
from ``python -m flagstone serve`` (a subprocess) with ``refresh_interval=0.05`` — twenty
conditional GETs a second, far more than a deployment would make — and a third whose
snapshot is swapped for a new version every 50 ms while it is timed. ``evaluate`` is timed
on each, alternating, best of the runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import flagstone
from flagstone.formats.native import parse_snapshot

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flags.json"
USERS = 4096


def per_call(client: flagstone.Client, contexts: list[dict[str, Any]]) -> float:
    evaluate = client.evaluate
    gc.disable()
    try:
        start = time.perf_counter()
        for context in contexts:
            evaluate("checkout-flag", context)
        return (time.perf_counter() - start) / len(contexts)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    repeats = 5 if parser.parse_args().quick else 25
    contexts = [{"targeting_key": f"user-{index}", "country": "SE"} for index in range(USERS)]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "flags.json"
        path.write_bytes(EXAMPLE.read_bytes())
        server = subprocess.Popen(
            [sys.executable, "-m", "flagstone", "serve", str(path), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip().rsplit(" ", 1)[-1] + "flags.json"
            static = flagstone.Client.from_file(path)
            polled = flagstone.Client.from_url(url, refresh_interval=0.05)
            assert polled.wait_until_ready(30), polled.status()
            swapped = flagstone.Client.from_file(path)
            stop = threading.Event()
            swapper = threading.Thread(target=swap_forever, args=(swapped, stop), daemon=True)
            swapper.start()
            timings: dict[str, list[float]] = {"static": [], "polled": [], "swapped": []}
            clients = {"static": static, "polled": polled, "swapped": swapped}
            for _ in range(repeats):
                for name, client in clients.items():
                    timings[name].append(per_call(client, contexts))
            stop.set()
            swapper.join()
            status = polled.status()
            polled.close()
        finally:
            server.terminate()
            server.wait()
    best = {name: min(values) for name, values in timings.items()}
    print(f"Python {sys.version.split()[0]}, best of {repeats} passes over {USERS} users")
    print(f"  from_file, nothing running           {best['static'] * 1e9:6.0f} ns per evaluate")
    print(
        f"  from_url, polling every 50 ms          {best['polled'] * 1e9:6.0f} ns "
        f"(x{best['polled'] / best['static']:.2f}); {status.failures} failed checks"
    )
    print(
        f"  snapshot swapped every 50 ms           {best['swapped'] * 1e9:6.0f} ns "
        f"(x{best['swapped'] / best['static']:.2f})"
    )


def swap_forever(client: flagstone.Client, stop: threading.Event) -> None:
    document = json.loads(EXAMPLE.read_text())
    versions = []
    for index in range(2):
        document["version"] = f"swap-{index}"
        versions.append(parse_snapshot(json.dumps(document)))
    turn = 0
    while not stop.wait(0.05):
        client.install(versions[turn % 2])
        turn += 1


if __name__ == "__main__":
    main()
