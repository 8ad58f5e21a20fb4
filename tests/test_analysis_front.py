"""``flagstone.analysis``'s public front: exactly these names, each importable and documented,
and an install hint instead of a ``ModuleNotFoundError`` traceback without scipy.

The expected names are derived from the module (httpx's ``test_exported_members`` way: every
public attribute that is not a submodule) and also listed here, because adding or removing a
public name is a decision. Without scipy is simulated in a subprocess whose
``sitecustomize`` puts ``None`` in ``sys.modules["scipy"]`` (so ``import scipy`` fails as if
it were not installed), not by uninstalling anything.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import flagstone.analysis

ANALYSIS_NAMES = [
    "Aggregated",
    "AnalysisInput",
    "AnalysisOutcome",
    "Annotation",
    "Comparison",
    "Correction",
    "CovariateSums",
    "CupedResult",
    "DbApiEngine",
    "DuckDBEngine",
    "Estimate",
    "ExperimentAnalysis",
    "GroupInput",
    "GroupStats",
    "Horizon",
    "InterimInput",
    "IntervalResult",
    "Malformed",
    "MalformedRecord",
    "MetricComparison",
    "MetricInput",
    "NonInferiority",
    "Recommendation",
    "SampleSize",
    "SequentialBounds",
    "SequentialTest",
    "SrmCheck",
    "SrmResult",
    "TableSource",
    "achieved_power",
    "aggregate",
    "aggregation_sql",
    "analyze",
    "analyze_experiment",
    "bonferroni",
    "bonferroni_adjusted_p",
    "bonferroni_alpha",
    "cohens_h",
    "compare",
    "cuped",
    "holm",
    "information_fractions",
    "non_inferiority",
    "noncentrality",
    "parse_input",
    "powered_effect",
    "required_sample_size",
    "sample_ratio_mismatch",
    "sequential_bounds",
    "sequential_test",
    "spending",
    "spotify_powered_effect",
    "standardized_effect",
    "standardized_power",
    "standardized_powered_effect",
    "standardized_sample_size",
    "to_analysis_result",
    "to_computed_results",
    "to_html",
    "to_metric_snapshot",
    "to_table",
]
INSTALL_HINT = 'pip install "flagstone[analysis]"'


def public_attributes(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


def test_all_is_exactly_the_public_attributes() -> None:
    assert set(flagstone.analysis.__all__) == public_attributes(flagstone.analysis)


def test_all_is_the_decided_list() -> None:
    assert flagstone.analysis.__all__ == ANALYSIS_NAMES


def test_a_star_import_brings_exactly_the_public_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from flagstone.analysis import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(ANALYSIS_NAMES)


@pytest.mark.parametrize("name", ANALYSIS_NAMES)
def test_each_name_is_its_modules_object_and_documented(name: str) -> None:
    value = getattr(flagstone.analysis, name)
    module = sys.modules[value.__module__]
    assert module.__name__.startswith("flagstone.analysis.")
    assert getattr(module, name) is value
    doc = vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__
    assert isinstance(doc, str) and doc.strip(), f"flagstone.analysis.{name} has no docstring"


def test_the_front_has_a_docstring_naming_the_extra() -> None:
    assert flagstone.analysis.__doc__ is not None
    assert INSTALL_HINT in flagstone.analysis.__doc__


# -- without scipy ---------------------------------------------------------------------------


def run_without(
    blocked: list[str], tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """``python *arguments`` with the ``blocked`` modules unimportable."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    lines = ["import sys"] + [f"sys.modules[{name!r}] = None" for name in blocked]
    (shim / "sitecustomize.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


BLOCKED = [["scipy"], ["scipy", "numpy"]]

API_WITHOUT_SCIPY = """
import json, flagstone.analysis as analysis
from flagstone.analysis import GroupStats, holm, parse_input, required_sample_size, to_table
found = {"size": required_sample_size(0.01, 0.1, 0.1).per_group_control,
         "holm": holm([0.01, 0.06]).reject, "n": GroupStats(n=10, sum=3).n}
try:
    from flagstone.analysis import compare
except ModuleNotFoundError as error:
    found["error"] = [type(error).__name__, str(error), error.name]
try:
    analysis.no_such_name
except AttributeError as error:
    found["attribute"] = str(error)
print(json.dumps(found))
"""


@pytest.mark.parametrize("blocked", BLOCKED, ids=["-".join(b) for b in BLOCKED])
def test_the_api_says_how_to_install_the_extra(blocked: list[str], tmp_path: Path) -> None:
    done = run_without(blocked, tmp_path, "-c", API_WITHOUT_SCIPY)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    # what needs only the standard library still works
    assert found["size"] > 0 and found["holm"] == [True, False] and found["n"] == 10
    kind, message, name = found["error"]
    assert kind == "ModuleNotFoundError"
    assert INSTALL_HINT in message and "flagstone.analysis.compare" in message
    assert name in blocked
    assert "no_such_name" in found["attribute"]


def test_the_shim_really_hides_scipy(tmp_path: Path) -> None:
    done = run_without(["scipy"], tmp_path, "-c", "import scipy.stats")
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


@pytest.mark.parametrize("blocked", BLOCKED, ids=["-".join(b) for b in BLOCKED])
def test_analyze_stats_says_how_to_install_the_extra(blocked: list[str], tmp_path: Path) -> None:
    document = tmp_path / "input.json"
    groups = {"control": {"n": 1000, "sum": 100}, "treatment": {"n": 1000, "sum": 120}}
    document.write_text(json.dumps({"metrics": [{"id": "c", "groups": groups}]}), "utf-8")
    done = run_without(blocked, tmp_path, "-m", "flagstone", "analyze-stats", str(document))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("flagstone analyze-stats: ")
    assert blocked[0] in line and "analysis" in line and line.endswith(INSTALL_HINT)


def test_analyze_stats_help_works_without_scipy(tmp_path: Path) -> None:
    done = run_without(["scipy"], tmp_path, "-m", "flagstone", "analyze-stats", "--help")
    assert done.returncode == 0, done.stderr
    assert "analyze-stats" in done.stdout and "FILE" in done.stdout


# -- the README ------------------------------------------------------------------------------


def readme_analysis_code() -> list[str]:
    """The Python blocks of the README's Analysis section."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Analysis\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_imports_analysis_from_the_front_and_runs() -> None:
    blocks = readme_analysis_code()
    assert blocks
    for block in blocks:
        assert "from flagstone.analysis." not in block and "import flagstone.analysis." not in block
        exec(compile(block, "README.md", "exec"), {})
