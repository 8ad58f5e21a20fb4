"""``python -m flagstone abtest …``: manage the A/B tests of a snapshot file.

This module owns the command: arguments, request bodies, exit codes and printing. The rules
are :class:`flagstone.abtests.lifecycle.AbTests`'s; the file is edited by
:func:`flagstone.abtests.storage.edit_document` (an exclusive lock, the whole snapshot
validated, then a temporary file, fsync and an atomic rename), so two edits never interleave
and an edit that is refused or interrupted leaves the file as it was::

    python -m flagstone abtest create FILE --body JSON [--id ID]
    python -m flagstone abtest list FILE [--state S] [--page-size N] [--page-token T]
    python -m flagstone abtest get FILE NAME
    python -m flagstone abtest update FILE NAME --body JSON
    python -m flagstone abtest update-segment FILE NAME [--mask targeting,allocation] --body JSON
    python -m flagstone abtest launch|end|archive|delete|enable|pause|resume FILE NAME
    python -m flagstone abtest override FILE NAME [UNIT [VARIANT | --remove]]
    python -m flagstone abtest exposure FILE NAME (--percentage P | --proportion P)
    python -m flagstone abtest state FILE NAME [TARGET_STATE] [--stopped-reason R]

NAME is ``workflows/abtest/instances/<id>`` or just ``<id>``. Bodies are JSON objects in the
seeds' request shapes (seed 000's create body, an update's fields, ``{"segment": {…}}`` or
the bare segment for ``update-segment``, whose body may carry seed 000's ``updateMask``);
``--body @PATH`` reads the body from a file and ``--body -`` from stdin.

Every command prints one JSON document on stdout (indent 2): the test as the seeds'
responses show it (``list``: ``{"abtests": […], "nextPageToken": …}``, ``delete``: ``{}``,
``override`` without a variant: the overrides, ``state`` without a target: the Alexa state).
On failure one line on stderr says why.

Exit codes:

0
    Done.
1
    The snapshot is invalid: the file is not a valid snapshot, or the change would make it
    invalid (a ``ConfigError``; nothing is written). ``{"ok": false, "problems": [{"path",
    "message"}, …]}`` is printed on stdout, as ``python -m flagstone validate`` does.
2
    Usage or input error: bad arguments, a file that cannot be read, written or locked, a
    body that is not a JSON object, an unknown test (or override).
3
    The test's state does not allow the action (a ``LifecycleError``): stderr names the state
    and the actions it allows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..cli import (
    CommandFailure,
    _fail,
    _json_kind,
    _print_json,
    parse_or_exit_code,
    report_problems,
)
from ..errors import AbTestNotFound, ConfigError, LifecycleError
from ..formats import parse_snapshot
from .lifecycle import AbTests
from .states import ALEXA_TARGETS, alexa_state
from .storage import (
    DEFAULT_LOCK_TIMEOUT,
    DocumentLockTimeout,
    edit_document,
    read_document,
)

__all__ = [
    "EXIT_INVALID_SNAPSHOT",
    "EXIT_NOT_ALLOWED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "main",
]

EXIT_OK = 0
EXIT_INVALID_SNAPSHOT = 1
EXIT_USAGE = 2
EXIT_NOT_ALLOWED = 3

PROG = "flagstone abtest"

T = TypeVar("T")

_EPILOG = """\
NAME is workflows/abtest/instances/<id> or just <id>. --body takes JSON, @PATH (a file) or
- (stdin).

exit codes:
  0  done
  1  the file is not a valid snapshot, or the change would make it invalid (nothing is
     written): the problems are printed as JSON
  2  usage or input error: bad arguments, a file that cannot be read, written or locked, a
     body that is not a JSON object, an unknown test
  3  the test's state does not allow the action (stderr names the state and what it allows)
"""

_TRANSITIONS = {
    "launch": ("draft → live: start serving the test", AbTests.launch),
    "end": ("live → ended: stop serving it (endTime is now)", AbTests.end),
    "archive": ("any state → archived", AbTests.archive),
    "enable": ("draft: serve its treatment overrides (Alexa ENABLED)", AbTests.enable),
    "pause": ("live: no new unit enters, assigned units keep their variant", AbTests.pause),
    "resume": ("live: let new units enter again", AbTests.resume),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Create, change and move the A/B tests of a snapshot file through their\n"
        "states. Edits take an exclusive lock, validate the whole snapshot and replace the\n"
        "file atomically; every command prints JSON.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str, *, test: bool = True, edits: bool = True) -> Any:
        sub = commands.add_parser(
            name,
            help=help_,
            description=help_[:1].upper() + help_[1:] + ".",
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("file", metavar="FILE", help="the snapshot (JSON)")
        if test:
            sub.add_argument("name", metavar="NAME", help="the test (<id> or its full name)")
        sub.add_argument(
            "--lenient",
            action="store_true",
            help="validate as Confidence resolves (see python -m flagstone validate --help)",
        )
        if edits:
            sub.add_argument(
                "--lock-timeout",
                type=float,
                metavar="SECONDS",
                default=DEFAULT_LOCK_TIMEOUT,
                help="how long to wait for another edit of FILE (default "
                f"{DEFAULT_LOCK_TIMEOUT:g})",
            )
        return sub

    create = command("create", "create a draft test from a seed-000 create body", test=False)
    create.add_argument("--body", required=True, metavar="JSON", help="the create body")
    create.add_argument("--id", default=None, help="its id (default: 20 random characters)")

    listing = command("list", "list the tests, a page at a time", test=False, edits=False)
    listing.add_argument("--state", default=None, help="only tests in this state (e.g. live)")
    listing.add_argument("--page-size", type=int, default=50, metavar="N", help="default 50")
    listing.add_argument("--page-token", default=None, metavar="T", help="from nextPageToken")

    command("get", "print one test", edits=False)

    update = command("update", "change fields of a draft test (null removes a field)")
    update.add_argument("--body", required=True, metavar="JSON", help="the fields to change")

    segment = command(
        "update-segment", "replace the targeting and/or allocation of a test's segment"
    )
    segment.add_argument(
        "--mask",
        default=None,
        metavar="MASK",
        help="targeting, allocation or targeting,allocation (default: the body's updateMask)",
    )
    segment.add_argument(
        "--body", required=True, metavar="JSON", help='{"segment": {…}} or the bare segment'
    )

    command("delete", "delete a test that is not live")
    for name, (help_, _) in _TRANSITIONS.items():
        command(name, help_)

    override = command(
        "override", "set, remove or print treatment overrides (unit → variant)", edits=True
    )
    override.add_argument("unit", metavar="UNIT", nargs="?", help="the unit (targeting key)")
    override.add_argument(
        "variant", metavar="VARIANT", nargs="?", help="its variant (short or full name)"
    )
    override.add_argument("--remove", action="store_true", help="remove UNIT's override")

    exposure = command("exposure", "set the share of targeted units that enter the test")
    share = exposure.add_mutually_exclusive_group(required=True)
    share.add_argument("--percentage", type=float, metavar="P", help="0 to 100 (Alexa)")
    share.add_argument("--proportion", metavar="P", help="0 to 1 (seed 000)")

    state = command("state", "print or change the test's Alexa state (targetState)")
    state.add_argument(
        "target",
        metavar="TARGET_STATE",
        nargs="?",
        choices=sorted({target for targets in ALEXA_TARGETS.values() for target in targets}),
        help="ENABLED, RUNNING or STOPPED (default: print the state)",
    )
    state.add_argument("--stopped-reason", default=None, metavar="R", help="kept with STOPPED")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``abtest`` with ``argv`` (the arguments after ``abtest``; default
    ``sys.argv[1:]``) and return the exit code. ``--help`` returns 0 and bad arguments 2
    (argparse's message on stderr) instead of raising ``SystemExit``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse_or_exit_code(_parser(), arguments)
    if isinstance(args, int):
        return args
    try:
        return _run(args)
    except CommandFailure as failure:
        _fail(failure.reason, PROG)
        return failure.code


def _run(args: argparse.Namespace) -> int:
    file: str = args.file
    try:
        _print_json(_perform(args))
    except ConfigError as error:
        return _invalid(file, error)
    except LifecycleError as error:
        raise CommandFailure(EXIT_NOT_ALLOWED, _not_allowed(error)) from None
    except AbTestNotFound as error:
        raise CommandFailure(EXIT_USAGE, f"{file}: {_message(error)}") from None
    except DocumentLockTimeout as error:
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    except OSError as error:
        where = error.filename if error.filename is not None else file
        raise CommandFailure(EXIT_USAGE, f"{where}: {error.strerror or error}") from None
    except ValueError as error:  # an argument the lifecycle refuses (--state, page token…)
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    return EXIT_OK


def _perform(args: argparse.Namespace) -> Any:
    """Run the command; return what to print."""
    command: str = args.command
    if command == "list":
        return _read(args).list(
            state=args.state, page_size=args.page_size, page_token=args.page_token
        )
    if command == "get":
        return _read(args).get(args.name)
    if command == "create":
        body = _body(args.body)
        return _edit(args, lambda tests: tests.create(body, abtest_id=args.id))
    if command == "update":
        changes = _body(args.body)
        return _edit(args, lambda tests: tests.update(args.name, changes))
    if command == "update-segment":
        segment, mask = _segment_request(_body(args.body), args.mask)
        return _edit(args, lambda tests: tests.update_segment(args.name, segment, mask))
    if command == "delete":
        _edit(args, lambda tests: tests.delete(args.name))
        return {}
    if command in _TRANSITIONS:
        _, transition = _TRANSITIONS[command]
        return _edit(args, lambda tests: transition(tests, args.name))
    if command == "override":
        return _override(args)
    if command == "exposure":
        proportion = args.proportion
        percentage = args.percentage
        return _edit(
            args,
            lambda tests: tests.set_exposure(
                args.name, proportion=proportion, percentage=percentage
            ),
        )
    if command == "state":
        if args.target is None:
            if args.stopped_reason is not None:
                raise CommandFailure(EXIT_USAGE, "--stopped-reason goes with TARGET_STATE")
            instance = _read(args).get(args.name)
            return {"name": instance["name"], "state": alexa_state(instance)}
        target, reason = args.target, args.stopped_reason
        return _edit(
            args, lambda tests: tests.set_alexa_state(args.name, target, stopped_reason=reason)
        )
    raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover


def _override(args: argparse.Namespace) -> Any:
    unit: str | None = args.unit
    variant: str | None = args.variant
    if unit is None:
        if args.remove:
            raise CommandFailure(EXIT_USAGE, "--remove needs the UNIT whose override goes")
        overrides = _read(args).overrides(args.name)
        return {"treatmentOverrides": overrides, "treatmentOverrideCount": len(overrides)}
    if args.remove and variant is not None:
        raise CommandFailure(EXIT_USAGE, "give either VARIANT or --remove, not both")
    if variant is None and not args.remove:
        overrides = _read(args).overrides(args.name)
        return {
            "unit": unit,
            "treatmentId": overrides.get(unit),
            "treatmentOverrideCount": len(overrides),
        }
    return _edit(args, lambda tests: tests.set_override(args.name, unit, variant))


def _read(args: argparse.Namespace) -> AbTests:
    """The tests of the file, for a command that only reads (no lock: edits are atomic)."""
    document = read_document(args.file)
    return AbTests(document, strict=not args.lenient)


def _edit(args: argparse.Namespace, action: Callable[[AbTests], T]) -> T:
    """Apply ``action`` to the file's tests under the lock; write the result if the whole
    snapshot validates."""
    strict = not args.lenient

    def change(document: dict[str, Any]) -> T:
        tests = AbTests(document, strict=strict)
        result = action(tests)
        document.clear()
        document.update(tests.document)
        return result

    def validate(document: dict[str, Any]) -> None:
        parse_snapshot(document, strict=strict, source=args.file)

    return edit_document(args.file, change, validate=validate, lock_timeout=args.lock_timeout)


def _body(text: str) -> dict[str, Any]:
    """``--body``: JSON text, ``@PATH`` (a file) or ``-`` (stdin); a JSON object."""
    if text == "-":
        raw = sys.stdin.read()
        where = "the body on stdin"
    elif text.startswith("@"):
        path = text[1:]
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise CommandFailure(
                EXIT_USAGE, f"--body {text}: cannot read: {reason or error}"
            ) from None
        where = f"--body {text}"
    else:
        raw = text
        where = "--body"
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"{where} is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise CommandFailure(EXIT_USAGE, f"{where} must be a JSON object, not {_json_kind(body)}")
    return body


def _segment_request(body: dict[str, Any], mask: str | None) -> tuple[dict[str, Any], str]:
    """Seed 000's ``{"updateMask": …, "segment": {…}}`` or the bare segment, and the mask
    (``--mask``, else the body's ``updateMask``)."""
    given_mask = body.get("updateMask")
    if "segment" in body:
        segment = body["segment"]
    else:
        segment = {key: value for key, value in body.items() if key != "updateMask"}
    if not isinstance(segment, dict):
        raise CommandFailure(EXIT_USAGE, "--body: segment must be a JSON object")
    if mask is None:
        if not isinstance(given_mask, str) or not given_mask:
            raise CommandFailure(
                EXIT_USAGE, "give --mask (targeting, allocation or both) or an updateMask"
            )
        return segment, given_mask
    if isinstance(given_mask, str) and _fields(given_mask) != _fields(mask):
        raise CommandFailure(
            EXIT_USAGE, f"--mask {mask!r} disagrees with the body's updateMask {given_mask!r}"
        )
    return segment, mask


def _fields(mask: str) -> set[str]:
    return {field.strip() for field in mask.split(",") if field.strip()}


def _invalid(file: str, error: ConfigError) -> int:
    """Print the problems (stdout, JSON) and a summary (stderr); the exit code for them."""
    report_problems(file, error, PROG)
    return EXIT_INVALID_SNAPSHOT


def _not_allowed(error: LifecycleError) -> str:
    """The error's message: it names the test's state and the actions it allows."""
    return str(error)


def _message(error: LookupError) -> str:
    """A ``LookupError``'s message (``KeyError`` quotes its argument)."""
    return str(error.args[0]) if error.args else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
