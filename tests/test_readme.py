"""Every command and every Python snippet of README.md runs as written.

The README is read section by section (``##`` headings). Each section runs in a directory of
its own holding a copy of ``examples/`` and ``.venv`` (a link to the running interpreter's
environment), with that environment's ``bin`` first on ``PATH`` — a shell where the README's
``. .venv/bin/activate`` was run — and its blocks run in order:

- ``python`` blocks run as a script (``python snippet.py``); the comments showing results are
  not checked, the snippet must exit 0;
- ``bash`` blocks run line by line (a ``\\`` continues a line), each command must exit 0;
- ``console`` blocks run each ``$ `` command (continued over lines while a quote is open);
  a command whose shown output starts with ``flagstone …:`` or ``{ "ok": false`` (an error
  the README demonstrates) must fail, every other must succeed; ``$ echo $?`` checks the
  status shown on the next line;
- ``json`` blocks must parse (one document, or one per line);
- blocks without a language and ``text`` blocks are output or synopsis, not run.

An HTML comment on the line before a block changes that (it is not rendered):
``<!-- readme-test: skip: REASON -->`` leaves the block out (a reason is required: a server,
the network, an installation), ``<!-- readme-test: file NAME -->`` writes the block to NAME
in the section's directory instead (a file the next blocks use), ``<!-- readme-test:
continues -->`` runs a ``python`` block after the section's previous one, in one script,
``<!-- readme-test: fragment: REASON -->`` exempts a ``json`` block that is an excerpt.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|file|continues|fragment)\b:?\s*(.*?)\s*-->\s*$")
TIMEOUT = 120


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str = ""
    argument: str = ""


@dataclass
class Section:
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)


def read_sections() -> list[Section]:
    lines = README.read_text(encoding="utf-8").split("\n")
    sections = [Section("(top)", 1)]
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            sections.append(Section(line[3:].strip(), index + 1))
        fence = FENCE.match(line)
        if fence:
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            block = Block(index + 1, fence.group(1), "\n".join(lines[index + 1 : end]) + "\n")
            marker = MARKER.match(lines[index - 1]) if index else None
            if marker:
                block.marker, block.argument = marker.group(1), marker.group(2)
            sections[-1].blocks.append(block)
            index = end
        index += 1
    return [section for section in sections if section.blocks]


SECTIONS = read_sections()


def test_the_readme_has_blocks_to_run() -> None:
    runnable = [
        block
        for section in SECTIONS
        for block in section.blocks
        if block.language in ("python", "bash", "console") and block.marker != "skip"
    ]
    assert len(runnable) >= 15


@pytest.mark.parametrize(
    "block",
    [block for section in SECTIONS for block in section.blocks if block.marker],
    ids=lambda block: f"line-{block.line}",
)
def test_each_marker_is_justified(block: Block) -> None:
    if block.marker in ("skip", "fragment"):
        assert len(block.argument.split()) >= 3, f"README line {block.line}: say why"
    if block.marker == "file":
        assert re.fullmatch(r"[\w.-]+", block.argument), block.argument
    if block.marker == "continues":
        assert block.language == "python"


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """``(command, the output lines shown after it)`` of a console block."""
    commands: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    for line in text.splitlines():
        if pending:
            pending.append(line)
        elif line.startswith("$ "):
            pending = [line[2:]]
        else:
            if commands:
                commands[-1][1].append(line)
            continue
        joined = "\n".join(pending)
        if complete(joined):
            commands.append((joined, []))
            pending = []
    assert not pending, f"an unterminated command: {pending}"
    return commands


def complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote
        return False
    return True


def bash_commands(text: str) -> list[str]:
    commands: list[str] = []
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if complete(pending):
            if pending.strip() and not pending.lstrip().startswith("#"):
                commands.append(pending)
            pending = ""
    assert not pending, f"an unterminated command: {pending}"
    return commands


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{workdir / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(workdir / ".venv")
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def cli_arguments(command: str) -> list[str] | None:
    """The arguments of a plain ``python -m flagstone …`` command (no redirection, pipe,
    list, variable or command substitution), else ``None``."""
    lexer = shlex.shlex(command.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = list(lexer)
    plain = not any(set(word) <= set("();<>|&") for word in words) and not re.search(
        r"[$`]", command
    )
    return words[3:] if plain and words[:3] == ["python", "-m", "flagstone"] else None


def run_shell(command: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run one command as bash would in ``workdir``. A plain ``python -m flagstone …`` runs in
    process, through ``flagstone.cli.main`` with the same arguments (what ``__main__``
    calls): half a second less per command."""
    arguments = cli_arguments(command)
    if arguments is not None:
        return run_cli(arguments, workdir)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=environment(workdir),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def run_cli(arguments: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    from flagstone.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    before = Path.cwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(arguments)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(arguments, status, stdout.getvalue(), stderr.getvalue())


def where(block: Block, what: str, result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"README line {block.line}: {what} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


def expected_to_fail(output: list[str]) -> bool:
    first = next((line for line in output if line.strip()), "")
    return bool(re.match(r"flagstone( \S+)?: ", first)) or first.startswith('{ "ok": false')


def run_section(section: Section, workdir: Path) -> None:
    script = ""
    for block in section.blocks:
        if block.marker == "skip":
            continue
        if block.marker == "file":
            (workdir / block.argument).write_text(block.text, encoding="utf-8")
            continue
        if block.language == "json":
            if block.marker != "fragment":
                check_json(block)
        elif block.language == "python":
            script = script + block.text if block.marker == "continues" else block.text
            (workdir / "snippet.py").write_text(script, encoding="utf-8")
            result = run_shell("python snippet.py", workdir)
            assert result.returncode == 0, where(block, "the snippet", result)
        elif block.language == "bash":
            for command in bash_commands(block.text):
                result = run_shell(command, workdir)
                assert result.returncode == 0, where(block, command, result)
        elif block.language == "console":
            status = 0
            for command, output in console_commands(block.text):
                if command.strip() == "echo $?":
                    assert output and int(output[0]) == status, f"README line {block.line}"
                    continue
                result = run_shell(command, workdir)
                status = result.returncode
                if expected_to_fail(output):
                    assert status != 0, where(block, f"{command} (shown failing)", result)
                else:
                    assert status == 0, where(block, command, result)


def check_json(block: Block) -> None:
    try:
        json.loads(block.text)
    except json.JSONDecodeError:
        for number, line in enumerate(block.text.splitlines(), block.line + 1):
            if line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as error:
                    pytest.fail(f"README line {number}: not JSON ({error})")


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.title[:40])
def test_the_sections_blocks_run_as_written(section: Section, workdir: Path) -> None:
    run_section(section, workdir)
