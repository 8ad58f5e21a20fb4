"""``python -m flagstone schema [--format F]``: print the JSON Schema (draft 2020-12) of a
format flagstone reads, for an editor to validate files as they are typed.

``--format``: ``snapshot`` (the default: a snapshot file in either format — authoring when it
has a ``format`` key, native otherwise), ``native``, ``authoring``, ``metrics`` (a metrics
file), ``experiments-api`` and ``alexa`` (the Experiments API's and Alexa's A/B-test files,
as ``abtest --format`` reads them) and ``analysis-input`` (what ``analyze-stats`` reads).
The schemas are :mod:`flagstone.formats.schemas`' (and, for ``analysis-input``, generated from
:class:`flagstone.analysis.inputs.AnalysisInput`). Exit code 0, or 2 for bad arguments.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_OK, PROG, print_json

__all__ = ["FORMATS", "register"]

FORMATS = (
    "snapshot",
    "native",
    "authoring",
    "metrics",
    "experiments-api",
    "alexa",
    "analysis-input",
)
"""What ``--format`` names (``flagstone.formats.schemas.FORMATS`` and the analysis input)."""


def register(commands: Any) -> None:
    """Add ``schema`` to the command tree."""
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a format flagstone reads",
        description="Print the JSON Schema (draft 2020-12) of a format flagstone reads, for "
        'editors: e.g. "$schema" in an authoring file, or VS Code\'s json.schemas setting.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema.add_argument(
        "--format",
        choices=FORMATS,
        default="snapshot",
        help="default snapshot: a snapshot in either format (authoring when it has a format "
        "key, native otherwise)",
    )
    schema.set_defaults(run=_run, prog=f"{PROG} schema")


def _run(args: argparse.Namespace) -> int:
    from ..formats import schemas

    if args.format == "analysis-input":
        from pydantic import TypeAdapter

        from ..analysis.inputs import AnalysisInput

        document = schemas.model_schema(TypeAdapter(AnalysisInput), "flagstone analysis input")
    else:
        document = schemas.json_schema(args.format)
    print_json(document)
    return EXIT_OK
