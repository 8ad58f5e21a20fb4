"""What users read names the APIs flagstone follows (the Confidence A/B-test API, the
Experiments API, the Alexa skill A/B-testing API), never the project's internal words for
their texts ("seed 000", "seed 001's body", "the seeds' responses").

Checked: every ``--help`` of ``python -m flagstone`` and its subcommands, the README, and every
string in the package's source (docstrings, help texts, error messages; comments may keep the
seed file names where they point at the file).
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flagstone.cli import parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "flagstone"

INTERNAL = re.compile(r"\bseeds?(?:\s+|-)0\d\d\b|\bseeds?'|\bthe seeds?\b", re.IGNORECASE)
""""seed 000", "seed-001", "seed's", "seeds'", "the seed(s)": the words that name the texts the
project was built from rather than the APIs they describe."""


def helps(command: argparse.ArgumentParser, path: str = "flagstone") -> Iterator[tuple[str, str]]:
    """``(command path, --help text)`` of ``command`` and of every subcommand under it."""
    yield path, command.format_help()
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from helps(sub, f"{path} {name}")


HELPS = dict(helps(parser()))


def test_every_command_is_checked() -> None:
    assert {"flagstone abtest list", "flagstone abtest state", "flagstone validate"} <= set(HELPS)


@pytest.mark.parametrize("command", sorted(HELPS))
def test_help_names_the_apis(command: str) -> None:
    assert INTERNAL.findall(HELPS[command]) == [], HELPS[command]


def test_the_readme_names_the_apis() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")

    found = [
        (number, line) for number, line in enumerate(text.splitlines(), 1) if INTERNAL.search(line)
    ]

    assert found == []


def strings(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every string constant in a module (docstrings, messages, the
    literal parts of f-strings)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_checked() -> None:
    assert PACKAGE / "cli" / "abtest.py" in MODULES
    assert PACKAGE / "formats" / "alexa.py" in MODULES


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_docstrings_help_and_messages_name_the_apis(module: Path) -> None:
    found = [(line, text) for line, text in strings(module) if INTERNAL.search(text)]

    assert found == []
