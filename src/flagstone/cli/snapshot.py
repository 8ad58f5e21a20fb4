"""``python -m flagstone validate FILE`` and ``python -m flagstone evaluate FILE FLAG``:
check a snapshot, and resolve one flag from it.

``validate`` prints ``{"ok": true, "version": …, "flags": N, "segments": N, "abtests": N,
"warnings": […]}`` for a valid snapshot (``warnings``: ``{"path": …, "message": …}`` for what
loads but is most likely a mistake; they do not change the exit code) and
``{"ok": false, "problems": [{"path": …, "message": …}, …]}`` for an invalid one;
``evaluate`` prints the resolution (``Resolution.to_dict()``). Exit codes: see
:data:`EPILOG`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailure,
    fail,
    json_object_argument,
    print_json,
    read_file,
    report_problems,
    summary,
)

__all__ = ["EPILOG", "register"]

EPILOG = """\
exit codes:
  0  success (a valid snapshot; a resolved flag, whatever its reason)
  1  the snapshot is invalid (not JSON, or it fails validation)
  2  usage or input error: bad arguments, an unreadable file, --context that is not a
     JSON object, an unknown client secret, or a flag that is not found
"""


def register(commands: Any) -> None:
    """Add ``validate`` and ``evaluate`` to the command tree."""
    validate = commands.add_parser(
        "validate",
        help="check a snapshot and report every problem",
        description='Check a snapshot. Prints {"ok": true, "version", "flags", "segments", '
        '"abtests", "warnings": [{"path", "message"}]} or {"ok": false, "problems": '
        '[{"path", "message"}]}. Warnings (strict mode) do not change the exit code.',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
    _add_lenient(validate)
    validate.set_defaults(run=_run_validate, prog=PROG)

    evaluate = commands.add_parser(
        "evaluate",
        help="resolve one flag for a context",
        description="Resolve FLAG for a context and print the resolution as JSON. "
        "No exposure is recorded.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
    evaluate.add_argument("flag", metavar="FLAG", help='"checkout" or "flags/checkout"')
    evaluate.add_argument(
        "--context",
        metavar="JSON",
        default="{}",
        help="the evaluation context, a JSON object (default: {}), e.g. "
        '\'{"targeting_key": "user-1", "country": "SE"}\'',
    )
    evaluate.add_argument(
        "--client-secret",
        metavar="S",
        default=None,
        help="resolve as the client holding this secret (default: every flag, no environment)",
    )
    _add_lenient(evaluate)
    evaluate.set_defaults(run=_run_evaluate, prog=PROG)


def _add_lenient(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept what Confidence tolerates at resolve time (unknown segments, cycles, "
        "unrecognised rules) instead of rejecting it",
    )


def _run_validate(args: argparse.Namespace) -> int:
    return _validate(args.file, strict=not args.lenient)


def _run_evaluate(args: argparse.Namespace) -> int:
    return _evaluate(
        args.file,
        args.flag,
        context_text=args.context,
        client_secret=args.client_secret,
        strict=not args.lenient,
    )


def _validate(file: str, *, strict: bool) -> int:
    from ..errors import ConfigError
    from ..formats import parse_snapshot

    data = read_file(file)
    try:
        parsed = parse_snapshot(data, strict=strict, source=file)
    except ConfigError as error:
        return report_problems(file, error)
    model = parsed.model
    print_json(
        {
            "ok": True,
            "version": parsed.version,
            "flags": len(model.flags),
            "segments": len(model.segments),
            "abtests": len(model.abtests),
            "warnings": [
                {"path": warning.path, "message": warning.message} for warning in parsed.warnings
            ],
        }
    )
    return EXIT_OK


def _evaluate(
    file: str, flag: str, *, context_text: str, client_secret: str | None, strict: bool
) -> int:
    from ..client import Client
    from ..errors import ConfigError, UnknownClientError
    from ..reasons import ErrorCode

    context = json_object_argument(context_text, "--context")
    read_file(file)  # an unreadable file is an input error (2), not an invalid snapshot (1)
    try:
        client = Client.from_file(file, client_secret=client_secret, strict=strict)
    except UnknownClientError:
        # The secret itself is a credential: never echo it.
        raise CommandFailure(
            EXIT_USAGE, f"{file}: the client secret matches no client of the snapshot"
        ) from None
    except ConfigError as error:
        raise CommandFailure(EXIT_INVALID, summary(file, error)) from None
    with client:
        resolution = client.evaluate(flag, context, apply=False)
    print_json(resolution.to_dict())
    if resolution.error is ErrorCode.FLAG_NOT_FOUND:
        fail(resolution.error_message or f"no flag {flag!r}")
        return EXIT_USAGE
    return EXIT_OK
