"""Exposures recorded in ``multiprocessing`` workers reach the destination although nobody
closes the client there.

A worker leaves through ``os._exit`` after running ``multiprocessing``'s finalizers (never
``atexit``), and ``with Pool():`` ends with ``terminate()``, which sends SIGTERM to the
workers. flagstone registers its exit hook as a ``multiprocessing`` finalizer in every child
(forked: from the after-fork hook; spawned: on the first client, or from the same hook when
the client is built while the child imports its parent's main module), and
``install_signal_handlers()`` covers ``terminate()``. Each scenario runs
``tests/scripts/multiprocessing_exposures.py`` in its own interpreter (forking pytest itself
is unsafe) and compares the units written, across the workers' files, with the units the
tasks produced: every one, once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "scripts" / "multiprocessing_exposures.py"
UNITS_PER_TASK = 10  # as in the script
TIMEOUT = 60.0  # a hang fails the test; a run takes about a second


def produced_units(tasks: int) -> set[str]:
    """The units the script's tasks evaluate: task ``n`` evaluates ``t<n>-u0`` … ``-u9``."""
    return {f"t{task}-u{unit}" for task in range(tasks) for unit in range(UNITS_PER_TASK)}


def run(tmp_path: Path, method: str, shape: str, client: str) -> tuple[dict[str, int], list[str]]:
    """Run the script; its report and the units written in all the workers' files."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method!r} start method on this platform")
    out = tmp_path / "out"
    out.mkdir()
    environment = {
        **os.environ,
        "FLAGSTONE_TEST_OUT_DIR": str(out),
        "FLAGSTONE_TEST_CLIENT": client,
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), method, shape],
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    written = [
        json.loads(line)["targeting_key"]
        for path in sorted(out.glob("exposures-*.jsonl"))
        for line in path.read_text(encoding="ascii").splitlines()
    ]
    return json.loads(done.stdout.splitlines()[-1]), written


@pytest.mark.parametrize(
    ("method", "shape", "client"),
    [
        # forked workers inherit the parent's client (the usual pre-fork setup)
        ("fork", "pool", "module"),  # Pool, close(), join(): workers leave by os._exit
        ("fork", "process", "module"),  # Process children: os._exit too
        ("fork", "with-pool", "module"),  # terminate(): SIGTERM, handler inherited
        # spawned workers build their own: while importing the main module, or in a task
        ("spawn", "process", "module"),
        ("spawn", "with-pool", "task"),  # the handler installed by the pool's initializer
        # forkserver children leave by os._exit, with a client built in the child
        ("forkserver", "process", "task"),
    ],
)
def test_every_exposure_of_a_worker_that_never_closes_its_client_is_written_once(
    tmp_path, method, shape, client
) -> None:
    facts, written = run(tmp_path, method, shape, client)
    expected = produced_units(facts["tasks"])
    assert facts["produced"] == len(expected)
    assert len(written) == len(set(written)), "an exposure was written twice"
    missing = expected - set(written)
    assert not missing, f"{len(missing)} of {len(expected)} exposures lost: {sorted(missing)[:5]}…"
    assert set(written) == expected
