"""``python -m flagstone convert IN OUT --to native|authoring``: write a snapshot in the other
format.

IN's format is the one it declares (a ``format`` key: the authoring format) or native (no
such key); nothing is guessed. ``--to native`` compiles an authoring document into the native
snapshot it stands for (:func:`flagstone.formats.authoring.compile_document`); ``--to
authoring`` writes a native snapshot as an authoring document where the authoring format can
say everything that decides a resolution (:func:`flagstone.formats.authoring.native_back.
from_native`), and refuses otherwise. Either way the result is validated before it is written,
and gives every unit in every context the same variant, value and reason as IN.

OUT ``-`` prints the document on stdout. Otherwise OUT is written whole (JSON, indent 2): an
existing OUT is replaced under its lock, atomically (as ``abtest`` and ``flag`` edit files),
a new one is created; stdout gets ``{"ok": true, "from", "to", "out", "flags", "notes"}``.
Notes (stderr with ``-``) list what changed on the way without changing which variant and
value a unit gets: a variant's full name written short, assignment ids renamed after their
variant, display names and bookkeeping dropped.

Exit codes: 0 written; 1 IN is invalid, or the authoring format cannot say what it holds (the
problems, at their paths in IN, printed as JSON on stdout); 2 usage or input error (bad
arguments, a file that cannot be read or written, IN already in the format asked for).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailure,
    add_lock_timeout,
    fail,
    print_json,
    read_file,
)

__all__ = ["register"]

_PROG = f"{PROG} convert"

_EPILOG = """\
exit codes:
  0  written
  1  IN is invalid, or the authoring format has no words for something it holds (bitsets,
     sticky assignments, exclusive allocations, bucket layouts other than one range per
     variant from bucket 0, …): the problems are printed as JSON
  2  usage or input error: bad arguments, a file that cannot be read or written, IN already
     in the format asked for
"""


def register(commands: Any) -> None:
    """Add ``convert`` to the command tree."""
    convert = commands.add_parser(
        "convert",
        help="write a snapshot in the other format (native or authoring)",
        description="Write the snapshot IN in the format --to names: native from an authoring "
        "document, authoring from a native snapshot (refused, with the problems, where the "
        "authoring format cannot say it). The result is validated before it is written.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("input", metavar="IN", help="the snapshot to convert (JSON)")
    convert.add_argument("output", metavar="OUT", help="where to write it (- for stdout)")
    convert.add_argument("--to", required=True, choices=("native", "authoring"))
    convert.add_argument(
        "--lenient",
        action="store_true",
        help="validate as Confidence resolves (see python -m flagstone validate --help)",
    )
    add_lock_timeout(convert, "OUT")
    convert.set_defaults(run=_run, prog=_PROG)


def _run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, DocumentLockTimeout
    from .common import report_problems

    source: str = args.input
    try:
        document, notes, origin = _converted(source, read_file(source), args.to, not args.lenient)
    except ConfigError as error:
        return report_problems(source, error, _PROG)
    if args.output == "-":
        print_json(document)
        for note in notes:
            fail(f"note: {note}", _PROG)
        return EXIT_OK
    try:
        _write(args.output, document, strict=not args.lenient, lock_timeout=args.lock_timeout)
    except DocumentLockTimeout as error:
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    except OSError as error:
        where = error.filename if error.filename is not None else args.output
        raise CommandFailure(EXIT_USAGE, f"{where}: {error.strerror or error}") from None
    print_json(
        {
            "ok": True,
            "from": origin,
            "to": args.to,
            "out": args.output,
            "flags": len(document.get("flags") or {}),
            "notes": [{"path": note.path, "message": note.message} for note in notes],
        }
    )
    return EXIT_OK


def _converted(source: str, raw: bytes, to: str, strict: bool) -> tuple[dict[str, Any], Any, str]:
    """``(the document in format to, the notes, IN's format)``; ``ConfigError`` for what is
    invalid or cannot be said."""
    from ..errors import ConfigError, Problem
    from ..formats import parse_snapshot
    from ..formats.authoring import FORMAT, compile_document
    from ..formats.authoring.native_back import from_native

    try:
        decoded = json.loads(raw)
    except ValueError as error:
        raise ConfigError([Problem("$", f"not valid JSON: {error}")], source=source) from None
    if not isinstance(decoded, dict):
        message = f"a snapshot is a JSON object, not {type(decoded).__name__}"
        raise ConfigError([Problem("$", message)], source=source)
    origin = "authoring" if decoded.get("format") == FORMAT else "native"
    parse_snapshot(raw, strict=strict, source=source)  # IN is valid (an unknown format is not)
    if origin == to:
        raise CommandFailure(EXIT_USAGE, f"{source} is already in the {to} format")
    if to == "native":
        return compile_document(decoded).native, (), origin
    conversion = from_native(decoded, strict=strict)
    parse_snapshot(conversion.document, strict=strict, source=source)
    return conversion.document, conversion.notes, origin


def _write(path: str, document: dict[str, Any], *, strict: bool, lock_timeout: float) -> None:
    """OUT replaced under its lock when it exists, else created."""
    from ..abtests.storage import edit_document, encode_document
    from ..formats import parse_snapshot

    def replace(existing: dict[str, Any]) -> None:
        existing.clear()
        existing.update(document)

    def validate(new: dict[str, Any]) -> None:
        parse_snapshot(new, strict=strict)

    if os.path.exists(path):
        edit_document(path, replace, validate=validate, lock_timeout=lock_timeout)
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(encode_document(document))
        stream.flush()
        os.fsync(stream.fileno())
