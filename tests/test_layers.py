"""The package's layers, read from the code's own imports (AST): dependencies point one way.

DESIGN.md, "Layers": model → formats → plan → sources/sinks → client → testing/analysis →
cli, with small foundation modules underneath. Every ``import`` in ``src/flagstone`` —
module-level, inside functions (lazy) and under ``TYPE_CHECKING`` alike, since each is an
arrow a reader must follow — goes to a module of its own package or of a lower rank; two
packages of the same rank never import each other; nothing imports the package front
(``flagstone/__init__.py``), and the analysis never reaches the client.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

RANKS: list[list[str]] = [
    # foundation: no flagstone imports but each other's lower rank
    [
        "flagstone._version",
        "flagstone.errors",
        "flagstone.reasons",
        "flagstone.values",
        "flagstone.semantics",
        "flagstone.process",
    ],
    ["flagstone.resolution", "flagstone.stores", "flagstone.model", "flagstone.transport"],
    ["flagstone.formats"],
    ["flagstone.plan", "flagstone.abtests"],
    # overrides: the test-override tables and their checks against compiled plans
    ["flagstone.sources", "flagstone.sinks", "flagstone.overrides"],
    ["flagstone.client"],
    ["flagstone.testing", "flagstone.analysis", "flagstone.openfeature"],
    ["flagstone.cli", "flagstone.live"],
    ["flagstone.__main__"],
]
"""Packages (and single-file modules) from the bottom up; a package's modules may import
each other freely."""

FORBIDDEN = {
    "flagstone.analysis": ("flagstone.client", "flagstone.sources", "flagstone.sinks"),
}
"""Imports a rank would allow that DESIGN.md rules out anyway."""

FRONT = "flagstone"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every flagstone import in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == FRONT:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != FRONT:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                # `from . import sinks` imports the submodule, not the package front
                yield node.lineno, submodule if _is_module(submodule) else target


def _owner(module: str) -> tuple[int, str]:
    """``(rank, package)`` of a module: the longest listed prefix."""
    best: tuple[int, str] | None = None
    for rank, packages in enumerate(RANKS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and (
                best is None or len(package) > len(best[1])
            ):
                best = (rank, package)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to RANKS")
    return best


def _sources() -> list[Path]:
    return sorted(p for p in (SRC / "flagstone").rglob("*.py"))


def test_every_module_is_in_a_layer() -> None:
    for path in _sources():
        module = _module_name(path)
        if module != FRONT:
            _owner(module)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    module = _module_name(path)
    if module == FRONT:
        return  # the front re-exports from every layer
    rank, package = _owner(module)
    wrong = []
    for line, imported in sorted(set(_imports(path))):
        where = f"{path.relative_to(SRC)}:{line} imports {imported}"
        if imported == FRONT:
            wrong.append(f"{where}: the package front (import from the module that defines it)")
            continue
        their_rank, their_package = _owner(imported)
        if their_package == package:
            continue
        if their_rank > rank:
            wrong.append(f"{where}: up from rank {rank} ({package}) to {their_rank}")
        elif their_rank == rank:
            wrong.append(f"{where}: sideways between {package} and {their_package}")
        elif any(imported.startswith(f) for f in FORBIDDEN.get(package, ())):
            wrong.append(f"{where}: {package} never imports {their_package} (DESIGN.md)")
    assert not wrong, "\n".join(wrong)
