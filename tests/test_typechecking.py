"""mypy keeps the types honest: the package passes ``mypy --strict`` and so does
``tests/typechecking/check_public_api.py``, which uses the public API as an application would.

mypy comes with the ``test`` extra, so ``.ci/run`` runs these (beside ruff:
``tests/test_lint.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
PUBLIC_API_CHECK = ROOT / "tests" / "typechecking" / "check_public_api.py"


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for both runs, outside the repository."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(PYPROJECT),
            "--cache-dir",
            str(cache),
            "--no-color-output",
            "--no-error-summary",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "MYPY_FORCE_COLOR": "0"},
    )


def test_the_package_and_the_public_api_check_pass_mypy_strict(mypy_cache: Path) -> None:
    result = _mypy(mypy_cache, "src/flagstone", "tests/typechecking")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_api_check_type_checks_for_a_user(mypy_cache: Path) -> None:
    # What an application sees: flagstone's own modules are analysed for their types, but
    # only the user's code (here the check file) is reported on.
    result = _mypy(mypy_cache, "--follow-imports=silent", str(PUBLIC_API_CHECK))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_api_check_is_not_collected_as_a_test() -> None:
    # pytest collects test_*.py; the check file is for mypy only and must keep its name.
    assert PUBLIC_API_CHECK.is_file()
    assert not PUBLIC_API_CHECK.name.startswith("test_")
