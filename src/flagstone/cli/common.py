"""What every command of ``python -m flagstone`` shares: exit codes, the failure a command
raises to be reported in one line, reading files and JSON arguments, and printing.

Every command prints one document on stdout (JSON with an indent of 2, or a table) and, on
failure, one line on stderr that says why, prefixed with the command's name.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import ConfigError

__all__ = [
    "EXIT_INVALID",
    "EXIT_NOT_ALLOWED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "CommandFailure",
    "add_lock_timeout",
    "add_subcommand",
    "fail",
    "json_object_argument",
    "print_json",
    "read_file",
    "report_problems",
    "summary",
]

PROG = "flagstone"

EXIT_OK = 0
"""Success."""
EXIT_INVALID = 1
"""The document read (a snapshot, an analysis input) is invalid; its problems are printed."""
EXIT_USAGE = 2
"""Usage or input error: bad arguments, an unreadable file, an unknown name."""
EXIT_NOT_ALLOWED = 3
"""``abtest``: the test's state does not allow the action."""


class CommandFailure(Exception):
    """A failure to report on stderr (one line) with an exit code. Commands raise it;
    :func:`flagstone.cli.main` prints it and returns the code. It never leaves the command
    line."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def fail(reason: str, prog: str = PROG) -> None:
    """Print ``"<prog>: <reason>"`` on stderr, on one line."""
    print(f"{prog}: {' '.join(reason.split())}", file=sys.stderr)


def print_json(document: Any) -> None:
    """Print ``document`` as JSON (indent 2; NaN and infinities refused) and a newline."""
    json.dump(document, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def read_file(file: str) -> bytes:
    """The bytes of ``file``; a usage error (exit 2) naming it when it cannot be read."""
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise CommandFailure(
            EXIT_USAGE, f"{file}: cannot read: {error.strerror or error}"
        ) from None


def json_object_argument(text: str, where: str) -> dict[str, Any]:
    """The JSON object an argument holds; a usage error (exit 2) naming ``where`` when it is
    not valid JSON or not an object."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"{where} is not valid JSON: {error}") from None
    except RecursionError:
        raise CommandFailure(EXIT_USAGE, f"{where} nests too deeply") from None
    if not isinstance(value, dict):
        raise CommandFailure(EXIT_USAGE, f"{where} must be a JSON object, not {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def summary(file: str, error: ConfigError, shown: int = 3) -> str:
    """``"FILE: N problems: path: message; …; and M more"``, the first ``shown`` in full."""
    count = len(error.problems)
    listed = "; ".join(str(problem) for problem in error.problems[:shown])
    more = f"; and {count - shown} more" if count > shown else ""
    return f"{file}: {count} problem{'s' if count != 1 else ''}: {listed}{more}"


def report_problems(file: str, error: ConfigError, prog: str = PROG) -> int:
    """Print ``{"ok": false, "problems": [{"path", "message"}, …]}`` on stdout and a one-line
    summary on stderr; return :data:`EXIT_INVALID`."""
    print_json(
        {
            "ok": False,
            "problems": [
                {"path": problem.path, "message": problem.message} for problem in error.problems
            ],
        }
    )
    fail(summary(file, error), prog)
    return EXIT_INVALID


def add_subcommand(actions: Any, name: str, help_: str, epilog: str) -> Any:
    """A subcommand of ``actions`` (an ``add_subparsers`` result) whose description is its
    help as a sentence, followed by the command's ``epilog``."""
    return actions.add_parser(
        name,
        help=help_,
        description=help_[:1].upper() + help_[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_lock_timeout(parser: Any, file: str = "FILE") -> None:
    """The ``--lock-timeout`` option of a command that edits ``file`` under the lock of
    ``flagstone.abtests.storage``."""
    from ..abtests.storage import DEFAULT_LOCK_TIMEOUT

    parser.add_argument(
        "--lock-timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_LOCK_TIMEOUT,
        help=f"how long to wait for another edit of {file} (default {DEFAULT_LOCK_TIMEOUT:g})",
    )
