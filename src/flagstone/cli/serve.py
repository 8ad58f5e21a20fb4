"""``python -m flagstone serve FILE``: serve a snapshot over HTTP for development and tests
(:mod:`flagstone.sources.server` does the serving)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, PROG, CommandFailure, read_file, summary

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``serve`` to the command tree."""
    parser = commands.add_parser(
        "serve",
        help="serve a snapshot over HTTP (development and tests)",
        description="Serve FILE over HTTP with ETag/Last-Modified and 304s, gzip, and an "
        "optional HMAC signature; the file is reloaded when it changes, and a version that "
        "does not parse is not served. With a signing key each version is served with its "
        "top-level issuedAt set to the time it was loaded (always later than the previous "
        "one), so that clients can refuse an older signed snapshot as a rollback. Prints "
        "the URL, then serves until interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument(
        "--signing-key-file",
        metavar="F",
        default=None,
        help="add issuedAt and sign every answer (X-Flagstone-Signature, <path>.sig) with "
        "the key in F",
    )
    parser.set_defaults(run=run, prog=PROG)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C ends it with exit code 0)."""
    from ..errors import ConfigError
    from ..formats import parse_snapshot
    from ..sources.integrity import read_key
    from ..sources.server import SnapshotServer, make_server

    file: str = args.file
    try:  # an unreadable file is an input error (2), an invalid one exit 1: each said once
        parse_snapshot(read_file(file), source=file)
    except ConfigError as error:
        raise CommandFailure(EXIT_INVALID, summary(file, error)) from None
    try:
        key = read_key(args.signing_key_file) if args.signing_key_file is not None else None
    except (OSError, ValueError) as error:
        raise CommandFailure(EXIT_USAGE, f"cannot read the signing key: {error}") from None
    snapshot = SnapshotServer(file, signing_key=key)
    served = snapshot.current()
    if served is None:
        raise CommandFailure(
            EXIT_INVALID, f"{file} is not a snapshot that can be served (see validate)"
        )
    try:
        server = make_server(snapshot, args.host, args.port)
    except OSError as error:
        raise CommandFailure(
            EXIT_USAGE, f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    bound_port = server.server_address[1]
    print(
        f"serving {file} (version {served.version}) at http://{args.host}:{bound_port}/",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK
