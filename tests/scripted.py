"""Running a test scenario as a script in its own interpreter (fork tests must not fork
pytest's own threads): the script prints a JSON report as its last stdout line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT_TIMEOUT = 180.0


@dataclass
class ScriptRun:
    """A finished script: its report, and its output for failure messages."""

    report: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def details(self) -> str:
        """Everything about the run, for failure messages."""
        return f"report: {self.report}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    @property
    def child(self) -> dict[str, Any]:
        """The forked child's part of the report (which must not be an error)."""
        child = self.report["child"]
        assert child is not None and "error" not in child, self.details
        return child


def run_script(script: Path, *args: object) -> ScriptRun:
    """Run ``script`` with this interpreter; fail the test if it fails or hangs."""
    command = [sys.executable, str(script), *map(str, args)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"{script.name} did not finish within {SCRIPT_TIMEOUT} s (a deadlock?)\n"
            f"stdout:\n{expired.stdout}\nstderr:\n{expired.stderr}"
        )
    lines = completed.stdout.splitlines()
    assert completed.returncode == 0 and lines, (
        f"{script.name} exited with status {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return ScriptRun(json.loads(lines[-1]), completed.stdout, completed.stderr)
