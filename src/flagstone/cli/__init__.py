"""The command line: ``python -m flagstone COMMAND …`` (also installed as ``flagstone``).

One argparse tree; each command lives in a module of its own that adds its parser
(``register``) and runs it (``run``), importing what it needs only when it runs, so
``--help`` and every command start without loading what the others use::

    flagstone validate FILE [--lenient]                       snapshot.py
    flagstone evaluate FILE FLAG [--context JSON] …           snapshot.py
    flagstone serve FILE [--port N] [--host H] …              serve.py
    flagstone abtest COMMAND FILE …                           abtest.py
    flagstone flag COMMAND FILE …                             flag.py
    flagstone convert IN OUT --to native|authoring            convert.py
    flagstone schema [--format F]                             schema.py
    flagstone analyze-stats FILE [--format …]                 analyze_stats.py
    flagstone analyze SNAPSHOT --test T --exposures … --events …  analyze.py

This package owns arguments, exit codes and printing, nothing else: the logic is the library's
(``flagstone.formats``, ``flagstone.Client``, ``flagstone.abtests``, ``flagstone.analysis``,
``flagstone.sources.server``). Exit codes: 0 success, 1 an invalid document (its problems are
printed as JSON), 2 a usage or input error, 3 an A/B-test action its state does not allow;
each command's ``--help`` lists its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import abtest, analyze, analyze_stats, convert, flag, schema, serve, snapshot
from .common import EXIT_OK, EXIT_USAGE, PROG, CommandFailure, fail

__all__ = ["main", "parser"]

_EXTRAS = {"scipy": "analysis", "duckdb": "analysis", "openfeature": "openfeature"}
"""Modules an optional extra installs → the extra's name, for the install hint."""


def parser() -> argparse.ArgumentParser:
    """The whole argument tree of ``python -m flagstone``."""
    root = argparse.ArgumentParser(
        prog=PROG,
        description="Validate flagstone snapshots, resolve flags from them, serve them, manage "
        "their A/B tests, and analyse experiments' statistics.",
        epilog=snapshot.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="_command", metavar="COMMAND", required=True)
    snapshot.register(commands)
    analyze_stats.register(commands)
    analyze.register(commands)
    abtest.register(commands)
    flag.register(commands)
    convert.register(commands)
    schema.register(commands)
    serve.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code.
    ``--help`` returns 0 and bad arguments 2 (argparse's message on stderr) instead of
    raising ``SystemExit``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(arguments)
    except SystemExit as exit_:
        status = exit_.code
        return EXIT_OK if status is None else status if isinstance(status, int) else EXIT_USAGE
    prog: str = args.prog
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except CommandFailure as failure:
        fail(failure.reason, prog)
        return failure.code
    except ModuleNotFoundError as missing:
        extra = _EXTRAS.get((missing.name or "").partition(".")[0])
        if extra is None:
            raise
        fail(
            f"this command needs the {extra!r} extra ({missing.name} is not installed): "
            f'pip install "flagstone[{extra}]"',
            prog,
        )
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader (`| head`) went away: not an error of ours; keep Python from printing
        # another traceback when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code
