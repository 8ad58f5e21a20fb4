"""Running ``python -m flagstone …`` in this process: ``flagstone.cli.main(argv)`` returns
the exit code, and pytest's ``capsys`` holds what it printed.

The ``cli`` fixture (``tests/conftest.py``) is the usual way in; ``run_command`` runs the real
``python -m flagstone`` in a child process, for the few tests whose point is the process
(the exit code reaching the shell, the console script, signals).
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flagstone.cli import main

__all__ = ["CliRunner", "Ran", "run_command"]


@dataclass(frozen=True)
class Ran:
    """A finished command: its exit code and what it printed (the fields a
    ``subprocess.CompletedProcess`` has, so a test reads the same either way)."""

    returncode: int
    stdout: str
    stderr: str


class CliRunner:
    """``cli(*argv, stdin=None)`` runs the command line in this process and returns a
    :class:`Ran`; a ``SystemExit`` (which ``main`` must never raise) fails the test."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
        self._capsys = capsys
        self._monkeypatch = monkeypatch

    def __call__(self, *argv: str | Path, stdin: str | None = None) -> Ran:
        self._capsys.readouterr()  # what the test printed before is not the command's
        with self._monkeypatch.context() as patch:
            if stdin is not None:
                patch.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                code = main([str(argument) for argument in argv])
            except SystemExit as exit_:  # pragma: no cover - a bug in main
                pytest.fail(f"flagstone.cli.main raised SystemExit({exit_.code!r})")
        captured = self._capsys.readouterr()
        return Ran(code, captured.out, captured.err)


def run_command(
    *argv: str | Path, cwd: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``python -m flagstone *argv`` in a child process (this interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "flagstone", *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
