"""Loading a hostile snapshot in a child process, measuring what it costs.

:func:`measure` writes nothing itself: it runs ``Client.from_file(path)`` (and, when asked,
``evaluate`` a number of times) in a fresh interpreter, and reports the wall time of each
step and how far the process's peak resident memory rose above what it held after reading
the file (``VmHWM`` of ``/proc/self/status``, reset through ``/proc/self/clear_refs`` where
the kernel allows it). A child that does not finish within ``timeout`` seconds is a failure
of the test that asked, reported as such, so a regression costs seconds, not minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Measured", "measure"]

_CHILD = r"""
import json, sys, time

def peak_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

path, strict, flag, context, evaluations = sys.argv[1:6]
strict, context, evaluations = strict == "1", json.loads(context), int(evaluations)
import flagstone
open(path, "rb").read()  # the file's bytes are in the page cache and counted once
try:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # the peak restarts from what the process holds now
except OSError:
    pass
base = peak_kb()
result = {"problems": None, "reason": None, "evaluate_s": None}
start = time.perf_counter()
try:
    client = flagstone.Client.from_file(path, strict=strict)
except flagstone.ConfigError as error:
    result["problems"] = [[problem.path, problem.message] for problem in error.problems]
    client = None
result["load_s"] = time.perf_counter() - start
if client is not None and flag:
    reasons = set()
    start = time.perf_counter()
    for _ in range(evaluations):
        reasons.add(client.evaluate(flag, context, apply=False).reason.value)
    result["evaluate_s"] = (time.perf_counter() - start) / evaluations
    result["reason"] = sorted(reasons)
result["growth_mb"] = (peak_kb() - base) / 1024
print(json.dumps(result))
"""


@dataclass(frozen=True)
class Measured:
    """What loading (and evaluating) cost in the child."""

    load_s: float
    growth_mb: float
    problems: list[tuple[str, str]] | None
    """The ``ConfigError``'s problems as ``(path, message)``; ``None`` when it loaded."""
    evaluate_s: float | None
    """Mean wall time of one ``evaluate``, when evaluations were asked for."""
    reasons: list[str] | None


def measure(
    path: Path,
    *,
    strict: bool = True,
    flag: str = "",
    context: dict[str, Any] | None = None,
    evaluations: int = 0,
    timeout: float = 10.0,
) -> Measured:
    """Load ``path`` in a child process and report the cost (see the module docstring)."""
    if not Path("/proc/self/status").exists():  # pragma: no cover - Linux-only measure
        pytest.skip("peak memory is read from /proc/self/status (Linux)")
    argv = [str(path), "1" if strict else "0", flag, json.dumps(context or {}), str(evaluations)]
    try:
        ran = subprocess.run(
            [sys.executable, "-c", _CHILD, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path.name} took more than {timeout} s (the child was killed)")
    if ran.returncode != 0:
        pytest.fail(f"the child failed with exit code {ran.returncode}:\n{ran.stderr[-3000:]}")
    result = json.loads(ran.stdout)
    problems = result["problems"]
    return Measured(
        load_s=result["load_s"],
        growth_mb=result["growth_mb"],
        problems=None if problems is None else [tuple(problem) for problem in problems],
        evaluate_s=result["evaluate_s"],
        reasons=result["reason"],
    )
