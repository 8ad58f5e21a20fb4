"""ruff keeps the code clean: ``ruff check`` and ``ruff format --check`` pass over every
Python file of the repository (the package, its tests, the benchmarks and the examples), with
the settings in ``pyproject.toml``. ruff comes with the ``test`` extra, so ``.ci/run`` runs
these beside mypy (``tests/test_typechecking.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("src", "tests", "bench", "examples")


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("directory", CHECKED)
def test_the_checked_directories_exist(directory: str) -> None:
    # a directory renamed away would silently leave the lint below checking less
    assert (ROOT / directory).is_dir()


def test_ruff_check_passes() -> None:
    result = _ruff("check", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes() -> None:
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
