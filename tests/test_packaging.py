"""What an installed flagstone tells package indexes and tools about itself: an SPDX license
expression with its license file, project links, Python-version and status classifiers, one
version (``flagstone/_version.py``), and a changelog that names it."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import flagstone

ROOT = Path(__file__).resolve().parent.parent
METADATA = importlib.metadata.metadata("flagstone")


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    assert METADATA["License-Expression"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]


def test_the_project_links_name_home_docs_repository_issues_and_changelog() -> None:
    links = dict(entry.split(", ", 1) for entry in METADATA.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Repository", "Issues", "Changelog"} <= set(links)
    assert all(url.startswith("https://") for url in links.values())


def test_classifiers_name_each_supported_python_and_a_status() -> None:
    classifiers = METADATA.get_all("Classifier") or []
    minimum = tuple(int(part) for part in re.findall(r"\d+", METADATA["Requires-Python"]))
    assert minimum == (3, 10)
    assert f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}" in (
        classifiers
    )
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert "Typing :: Typed" in classifiers


def test_one_version_everywhere() -> None:
    text = (ROOT / "src" / "flagstone" / "_version.py").read_text(encoding="utf-8")
    (written,) = re.findall(r'__version__ = "([^"]+)"', text)
    assert flagstone.__version__ == written == METADATA["Version"]
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[project]", 1)[1]
    assert 'dynamic = ["version"]' in project.split("\n[", 1)[0]


def test_the_changelog_has_a_section_for_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(flagstone.__version__)}\]", changelog, re.M)
