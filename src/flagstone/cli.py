"""The command line: ``python -m flagstone validate|evaluate …`` (also installed as
``flagstone``).

This module owns argument handling, exit codes and printing, nothing else: parsing and
validating go through ``flagstone.formats.parse_snapshot``, resolving through
``flagstone.Client``.

Commands::

    flagstone validate FILE [--lenient]
    flagstone evaluate FILE FLAG [--context JSON] [--client-secret S] [--lenient]
    flagstone abtest create|list|get|update|update-segment|launch|end|archive|delete|
                     override|exposure|enable|pause|resume|state FILE …

Every command prints one JSON document on stdout. ``validate`` prints
``{"ok": true, "version": …, "flags": N, "segments": N, "abtests": N}`` for a valid snapshot
and ``{"ok": false, "problems": [{"path": …, "message": …}, …]}`` for an invalid one;
``evaluate`` prints the resolution (``Resolution.to_dict()``). On failure one line on stderr
says why.

Exit codes:

0
    Success: the snapshot is valid, or the flag was resolved (whatever the reason, except a
    flag that is not found).
1
    The snapshot is invalid: not JSON, or a ``ConfigError`` with its problems.
2
    Usage or input error: bad arguments, a snapshot file that cannot be read, ``--context``
    that is not JSON or not a JSON object, a client secret the snapshot does not know, or a
    flag the snapshot (or that client) does not have (the resolution is still printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .client import Client
from .errors import ConfigError, UnknownClientError
from .formats import parse_snapshot
from .reasons import ErrorCode

__all__ = ["EXIT_INVALID_SNAPSHOT", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_INVALID_SNAPSHOT = 1
EXIT_USAGE = 2

PROG = "flagstone"

_EPILOG = """\
exit codes:
  0  success (a valid snapshot; a resolved flag, whatever its reason)
  1  the snapshot is invalid (not JSON, or it fails validation)
  2  usage or input error: bad arguments, an unreadable file, --context that is not a
     JSON object, an unknown client secret, or a flag that is not found
"""


class CommandFailure(Exception):
    """A failure to report on stderr (one line) with an exit code (shared by the
    subcommands, ``analyze-stats`` included)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Validate flagstone snapshots, resolve flags from them, serve them, and "
        "analyse experiments' statistics.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = commands.add_parser(
        "validate",
        help="check a snapshot and report every problem",
        description='Check a snapshot. Prints {"ok": true, "version", "flags", "segments", '
        '"abtests"} or {"ok": false, "problems": [{"path", "message"}]}.',
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
    _add_lenient(validate)

    evaluate = commands.add_parser(
        "evaluate",
        help="resolve one flag for a context",
        description="Resolve FLAG for a context and print the resolution as JSON. "
        "No exposure is recorded.",
        epilog=_EPILOG,
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

    commands.add_parser(
        "analyze-stats",
        help="analyse an experiment's sufficient statistics (needs the analysis extra)",
        description="See: python -m flagstone analyze-stats --help",
        add_help=False,
    )

    commands.add_parser(
        "abtest",
        help="create, change and move the A/B tests of a snapshot file through their states",
        description="See: python -m flagstone abtest --help",
        add_help=False,
    )

    serve = commands.add_parser(
        "serve",
        help="serve a snapshot over HTTP (development and tests)",
        description="Serve FILE over HTTP with ETag/Last-Modified and 304s, gzip, and an "
        "optional HMAC signature; the file is reloaded when it changes, and a version that "
        "does not parse is not served. Prints the URL, then serves until interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument(
        "--signing-key-file",
        metavar="F",
        default=None,
        help="sign every answer (X-Flagstone-Signature, <path>.sig) with the key in F",
    )
    return parser


def _add_lenient(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept what Confidence tolerates at resolve time (unknown segments, cycles, "
        "unrecognised rules) instead of rejecting it",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["analyze-stats"]:
        from .analysis.command import main as analyze_stats

        return analyze_stats(arguments[1:])
    if arguments[:1] == ["abtest"]:
        from .abtests.command import main as abtest

        return abtest(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        if args.command == "validate":
            return _validate(args.file, strict=not args.lenient)
        if args.command == "serve":
            return _serve(args.file, args.host, args.port, args.signing_key_file)
        return _evaluate(
            args.file,
            args.flag,
            context_text=args.context,
            client_secret=args.client_secret,
            strict=not args.lenient,
        )
    except CommandFailure as failure:
        _fail(failure.reason)
        return failure.code


def _serve(file: str, host: str, port: int, key_file: str | None) -> int:
    from .sources.integrity import read_key
    from .sources.server import SnapshotServer, make_server

    try:
        key = read_key(key_file) if key_file is not None else None
    except (OSError, ValueError) as error:
        raise CommandFailure(2, f"cannot read the signing key: {error}") from None
    snapshot = SnapshotServer(file, signing_key=key)
    served = snapshot.current()
    if served is None:
        raise CommandFailure(1, f"{file} is not a snapshot that can be served (see validate)")
    try:
        server = make_server(snapshot, host, port)
    except OSError as error:
        raise CommandFailure(
            2, f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None
    bound_port = server.server_address[1]
    print(
        f"serving {file} (version {served.version}) at http://{host}:{bound_port}/",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _validate(file: str, *, strict: bool) -> int:
    data = _read(file)
    try:
        parsed = parse_snapshot(data, strict=strict, source=file)
    except ConfigError as error:
        report_problems(file, error)
        return EXIT_INVALID_SNAPSHOT
    model = parsed.model
    _print_json(
        {
            "ok": True,
            "version": parsed.version,
            "flags": len(model.flags),
            "segments": len(model.segments),
            "abtests": len(model.abtests),
        }
    )
    return EXIT_OK


def _evaluate(
    file: str, flag: str, *, context_text: str, client_secret: str | None, strict: bool
) -> int:
    context = _context(context_text)
    _read(file)  # an unreadable file is an input error (2), not an invalid snapshot (1)
    try:
        client = Client.from_file(file, client_secret=client_secret, strict=strict)
    except UnknownClientError:
        # The secret itself is a credential: never echo it.
        raise CommandFailure(
            EXIT_USAGE, f"{file}: the client secret matches no client of the snapshot"
        ) from None
    except ConfigError as error:
        raise CommandFailure(EXIT_INVALID_SNAPSHOT, _summary(file, error)) from None
    with client:
        resolution = client.evaluate(flag, context, apply=False)
    _print_json(resolution.to_dict())
    if resolution.error is ErrorCode.FLAG_NOT_FOUND:
        _fail(resolution.error_message or f"no flag {flag!r}")
        return EXIT_USAGE
    return EXIT_OK


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise CommandFailure(
            EXIT_USAGE, f"{file}: cannot read: {error.strerror or error}"
        ) from None


def _context(text: str) -> dict[str, Any]:
    return json_object_argument(text, "--context")


def json_object_argument(text: str, where: str) -> dict[str, Any]:
    """The JSON object an argument holds; a usage error (exit 2) naming ``where`` when it is
    not valid JSON or not an object."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"{where} is not valid JSON: {error}") from None
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


def _summary(file: str, error: ConfigError, shown: int = 3) -> str:
    """``"FILE: N problems: path: message; …; and M more"``, the first ``shown`` in full."""
    count = len(error.problems)
    listed = "; ".join(str(problem) for problem in error.problems[:shown])
    more = f"; and {count - shown} more" if count > shown else ""
    return f"{file}: {count} problem{'s' if count != 1 else ''}: {listed}{more}"


def parse_or_exit_code(
    parser: argparse.ArgumentParser, arguments: list[str]
) -> argparse.Namespace | int:
    """``parser.parse_args(arguments)``, or the exit code argparse chose instead of raising
    ``SystemExit``: 0 after ``--help``, 2 for bad arguments (its message is on stderr)."""
    try:
        return parser.parse_args(arguments)
    except SystemExit as exit_:
        code = exit_.code
        return EXIT_OK if code is None else code if isinstance(code, int) else EXIT_USAGE


def report_problems(file: str, error: ConfigError, prog: str = PROG) -> None:
    """Print ``{"ok": false, "problems": [{"path", "message"}, …]}`` on stdout and a one-line
    summary on stderr (shared by the subcommands that read a document)."""
    _print_json(
        {
            "ok": False,
            "problems": [
                {"path": problem.path, "message": problem.message} for problem in error.problems
            ],
        }
    )
    _fail(_summary(file, error), prog)


def _fail(reason: str, prog: str = PROG) -> None:
    print(f"{prog}: {' '.join(reason.split())}", file=sys.stderr)


def _print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
