"""``python -m flagstone abtest …``: manage the A/B tests of a snapshot file, or of a file of
Experiments-API or Alexa experiments.

This module owns the command: arguments, request bodies, exit codes and printing. The rules
are the lifecycle's (:mod:`flagstone.abtests.transitions`); a snapshot file is edited by
:func:`flagstone.abtests.storage.patch_document`: under an exclusive lock it is read, parsed
and validated once, the transition validates the test it changes, and only that test is
written back into the file's text (every other byte stays), through a temporary file, fsync
and an atomic rename. Two edits never interleave, and an edit that is refused or interrupted
leaves the file as it was::

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
request shapes of the Confidence A/B-test API (its create body, an update's fields,
``{"segment": {…}}`` or the bare segment for ``update-segment``, whose body may carry the
API's ``updateMask``); ``--body @PATH`` reads the body from a file and ``--body -`` from
stdin.

Every command prints one JSON document on stdout (indent 2): the test as the API's responses
show it (``list``: ``{"abtests": […], "nextPageToken": …}``, ``delete``: ``{}``,
``override`` without a variant: the overrides, ``state`` without a target: the Alexa state).
On failure one line on stderr says why. Every edit that changes the file advances its
top-level ``version``, if it has one (:mod:`flagstone.abtests.version`).

The file's shape: ``--format`` (every subcommand; never guessed)
----------------------------------------------------------------

``--format native`` (the default)
    FILE is a flagstone snapshot (``flags``, ``segments``, ``abtests``, …).
``--format experiments-api``
    FILE is ``{"experiments": [...], "audiences": [...]}`` of the Experiments API
    (:mod:`flagstone.formats.experiments_api`).
``--format alexa``
    FILE is ``{"experiments": [{"experimentId", "experiment", "treatmentOverrides"?}, ...]}``
    of the Alexa skill A/B-testing API (:mod:`flagstone.formats.alexa`).

In the two other shapes the file is read into a native document (``shape.read``), the
lifecycle acts on it by that API's rules (``Document.shape``), and the result is written
back whole in the same shape (``shape.write``, by
:func:`flagstone.abtests.storage.edit_document`) and checked by reading it again; a result
the shape cannot express (an exposure that is not a whole percentage, …) is refused with
exit 1 and the file is left as it was. NAME is the experiment's id (the native test's id).
Each state of the shape allows the commands that API allows
(:data:`flagstone.model.states.ALEXA_ACTIONS`, ``EXPERIMENTS_API_ACTIONS``); any other
command, including one the API does not have, is refused with exit 3 and a message in the
shape's words: the experiment id, its state as the shape names it, and the commands that
state allows (``exp-1 is RUNNING: …; allowed: state STOPPED, exposure (up only),
override``). What is printed is the shape's object: the Experiments-API experiment, the
Alexa entry ``{"experimentId", "experiment", "treatmentOverrides"?}``; ``list`` prints
``{"experiments": […], "nextPageToken": …}``, and its ``--state`` takes the shape's state
names only (Alexa's CREATED … FAILED, the Experiments API's draft, running, stopped,
completed). ``state`` without a target prints ``{"experimentId", "state"}`` (Alexa) or
``{"id", "status"}`` (Experiments API). ``delete`` removes the experiment with its flag.
Request bodies are the shape's own where it has one:

* ``create``: the Experiments API's Create body (``name``, ``description``, ``type``,
  ``audienceId``, ``variants`` [{``name``, ``splitPercentage``, ``flowId``, ``config``}]),
  which becomes a ``draft`` experiment with ``createdAt``/``updatedAt`` now and variant ids
  v1, v2, …; Alexa's Create body ``{"experiment": {name, description, type, plannedDuration,
  exposurePercentage, metricConfigurations}}``, which becomes a ``CREATED`` entry with
  ``history.creationTime`` now. The id is ``--id`` or 20 random characters;
* ``update``: the Experiments API's partial experiment (``name``, ``description``, ``type``,
  ``audienceId``, ``variants``: each field given replaces the one the experiment has), in
  draft status only; Alexa's Update body ``{"experiment": {description, plannedDuration,
  exposurePercentage, metricConfigurations}}``, while CREATED only.

The other commands take the same arguments in every shape. The Experiments API's are
``launch`` (its start), ``pause`` (its stop), ``resume`` (start again), ``end`` (completed)
and ``delete``; Alexa's are ``state FILE ID ENABLED|RUNNING|STOPPED``, ``override`` (``C`` or
``T1``, until the test stops), ``exposure --percentage`` (while CREATED, and only up while
RUNNING) and ``delete``. An edit always writes the shape's file form (an Experiments-API
response ``{"data": …}`` or a single Alexa payload becomes ``{"experiments": […]}``).

Exit codes:

0
    Done.
1
    The file is invalid: it is not a valid document of its ``--format``, or the change would
    make it invalid or is one its shape cannot express (a ``ConfigError``; nothing is
    written). ``{"ok": false, "problems": [{"path", "message"}, …]}`` is printed on stdout,
    as ``python -m flagstone validate`` does.
2
    Usage or input error: bad arguments, a file that cannot be read, written or locked, a
    body that is not a JSON object, an unknown test (or override).
3
    The test's state does not allow the action, or the file's shape has no such command (a
    ``LifecycleError``): stderr names the state and the actions it allows, in the shape's
    words.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..abtests import transitions
from ..abtests.document import Change, Document
from ..abtests.file_shapes import SHAPES, Shape, entry_of, reshaped, test_id_of, written_in
from ..abtests.lifecycle import get_test, list_in_shape, list_tests
from ..abtests.storage import edit_document, patch_document, read_document
from ..abtests.transitions import new_abtest_id, now_timestamp
from ..errors import AbTestNotFound, ConfigError, DocumentLockTimeout, LifecycleError, Problem
from ..formats import parse_snapshot
from ..model.limits import MAX_NESTING
from ..model.states import ALEXA_TARGETS, EXPERIMENTS_API, alexa_state, shape_state
from .common import (
    EXIT_NOT_ALLOWED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailure,
    add_lock_timeout,
    add_subcommand,
    json_object_argument,
    print_json,
    report_problems,
)

__all__ = ["FORMATS", "main", "register"]

_PROG = f"{PROG} abtest"

FORMATS = ("native", "experiments-api", "alexa")
"""The shapes ``--format`` names: a flagstone snapshot, an Experiments-API file, an Alexa
file."""

_EPILOG = """\
NAME is workflows/abtest/instances/<id> or just <id>. --body takes JSON, @PATH (a file) or
- (stdin).

--format says which shape FILE is kept in; it is never guessed:
  native           a flagstone snapshot (the default)
  experiments-api  {"experiments": [...], "audiences": [...]} (the Experiments API)
  alexa            {"experiments": [{"experimentId", "experiment", ...}]} (the Alexa skill
                   A/B-testing API)
In the other shapes NAME is the experiment id, the test is printed in the shape, create and
update take the shape's own bodies, list --state and state use the shape's state names,
each state allows the commands that API allows (3 otherwise, in the shape's words), and a
change the shape cannot express is refused (1).

exit codes:
  0  done
  1  the file is not a valid document of its --format, or the change would make it invalid
     or cannot be expressed in it (nothing is written): the problems are printed as JSON
  2  usage or input error: bad arguments, a file that cannot be read, written or locked, a
     body that is not a JSON object, an unknown test
  3  the test's state does not allow the action, or the shape has no such command (stderr
     names the state and what it allows)
"""

_TRANSITIONS: dict[str, tuple[str, Callable[[Document, str], Change]]] = {
    "launch": ("draft → live: start serving the test", transitions.launch),
    "end": ("live → ended: stop serving it (endTime is now)", transitions.end),
    "archive": ("any state → archived", transitions.archive),
    "enable": ("draft: serve its treatment overrides (Alexa ENABLED)", transitions.enable),
    "pause": (
        "live: no new unit enters, assigned units keep their variant (Experiments-API stop)",
        transitions.pause,
    ),
    "resume": ("live: let new units enter again", transitions.resume),
}


# -- arguments --------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add ``abtest`` and its subcommands to the command tree."""
    parser = commands.add_parser(
        "abtest",
        help="create, change and move the A/B tests of a snapshot file through their states",
        description="Create, change and move the A/B tests of a snapshot file (or of a file\n"
        "of Experiments-API or Alexa experiments: --format) through their states. Edits\n"
        "take an exclusive lock, validate the file and replace it atomically, rewriting\n"
        "only the changed test of a snapshot; every command prints JSON.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str, *, test: bool = True, edits: bool = True) -> Any:
        sub = add_subcommand(actions, name, help_, _EPILOG)
        sub.add_argument("file", metavar="FILE", help="the snapshot or experiments file (JSON)")
        if test:
            sub.add_argument(
                "name",
                metavar="NAME",
                help="the test (<id> or its full name; the experiment id with --format)",
            )
        sub.add_argument(
            "--format",
            choices=FORMATS,
            default="native",
            help="the shape FILE is kept in (default native; never guessed): a snapshot, "
            "an Experiments-API file or an Alexa skill A/B-testing file",
        )
        sub.add_argument(
            "--lenient",
            action="store_true",
            help="validate as Confidence resolves (see python -m flagstone validate --help)",
        )
        if edits:
            add_lock_timeout(sub)
        return sub

    create = command(
        "create",
        "create a draft test from a create body (the Confidence A/B-test API's; with "
        "--format, the Experiments API's or Alexa's Create body)",
        test=False,
    )
    create.add_argument("--body", required=True, metavar="JSON", help="the create body")
    create.add_argument("--id", default=None, help="its id (default: 20 random characters)")

    listing = command("list", "list the tests, a page at a time", test=False, edits=False)
    listing.add_argument(
        "--state",
        default=None,
        help="only tests in this state, as the file's shape names it: draft, live, ended, "
        "archived; with --format alexa CREATED, ENABLING, ENABLED, RUNNING, STOPPING, "
        "STOPPED, FAILED; with --format experiments-api draft, running, stopped, completed",
    )
    listing.add_argument("--page-size", type=int, default=50, metavar="N", help="default 50")
    listing.add_argument("--page-token", default=None, metavar="T", help="from nextPageToken")

    command("get", "print one test", edits=False)

    update = command(
        "update",
        "change fields of a draft test (null removes a field; with --format, the Experiments "
        "API's partial experiment or Alexa's Update body)",
    )
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
    share.add_argument("--proportion", metavar="P", help="0 to 1 (the Confidence API's)")

    state = command(
        "state",
        "print or change the test's Alexa state (targetState); with --format "
        "experiments-api, print its status",
    )
    state.add_argument(
        "target",
        metavar="TARGET_STATE",
        nargs="?",
        choices=sorted({target for targets in ALEXA_TARGETS.values() for target in targets}),
        help="ENABLED, RUNNING or STOPPED (default: print the state)",
    )
    state.add_argument("--stopped-reason", default=None, metavar="R", help="kept with STOPPED")
    parser.set_defaults(run=_run, prog=_PROG)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``abtest`` with ``argv`` (the arguments after ``abtest``; default
    ``sys.argv[1:]``) and return the exit code (see :func:`flagstone.cli.main`)."""
    from . import main as flagstone_main

    return flagstone_main(["abtest", *(sys.argv[1:] if argv is None else argv)])


def _run(args: argparse.Namespace) -> int:
    file: str = args.file
    try:
        print_json(_perform(args))
    except ConfigError as error:
        return _invalid(file, error)
    except RecursionError:  # a file nested deeper than its JSON reader can descend
        problem = Problem("$", f"the document nests more than {MAX_NESTING} levels deep")
        return _invalid(file, ConfigError([problem]))
    except LifecycleError as error:
        raise CommandFailure(EXIT_NOT_ALLOWED, str(error)) from None  # names state, allowed
    except AbTestNotFound as error:
        raise CommandFailure(EXIT_USAGE, f"{file}: {_message(error)}") from None
    except DocumentLockTimeout as error:
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    except BrokenPipeError:
        raise  # stdout's reader went away: flagstone.cli.main ends quietly
    except OSError as error:
        where = error.filename if error.filename is not None else file
        raise CommandFailure(EXIT_USAGE, f"{where}: {error.strerror or error}") from None
    except ValueError as error:  # an argument the lifecycle refuses (--state, page token…)
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    return EXIT_OK


# -- the commands -----------------------------------------------------------------------------


@dataclass
class _Tests:
    """The file's tests as a valid native document, and for another shape the file as its
    writer gives it back (to print the shape's objects from)."""

    document: Document
    shape: Shape | None
    written: dict[str, Any] | None

    def show(self, instance: Mapping[str, Any]) -> Any:
        """A test as the file's shape shows it."""
        if self.shape is None:
            return instance
        assert self.written is not None
        return entry_of(self.shape, self.written, test_id_of(instance))


def _perform(args: argparse.Namespace) -> Any:
    """Run the command; return what to print."""
    command: str = args.command
    name: str = getattr(args, "name", "")
    if command == "list":
        read = _read(args)
        if read.shape is None:
            return list_tests(
                read.document.raw,
                state=args.state,
                page_size=args.page_size,
                page_token=args.page_token,
            )
        page = list_in_shape(
            read.document,
            state=args.state,
            page_size=args.page_size,
            page_token=args.page_token,
        )
        return {
            "experiments": [read.show(instance) for instance in page["abtests"]],
            "nextPageToken": page["nextPageToken"],
        }
    if command == "get":
        read = _read(args)
        return read.show(get_test(read.document.raw, name))
    if command == "create":
        body = _body(args.body)
        if args.format in SHAPES:
            return _create_in_shape(args, SHAPES[args.format], body)
        return _edit(args, lambda document: transitions.create(document, body, abtest_id=args.id))
    if command == "update":
        changes = _body(args.body)
        if args.format in SHAPES:
            return _update_in_shape(args, SHAPES[args.format], changes)
        return _edit(args, lambda document: transitions.update(document, name, changes))
    if command == "update-segment":
        segment, mask = _segment_request(_body(args.body), args.mask)
        return _edit(
            args, lambda document: transitions.update_segment(document, name, segment, mask)
        )
    if command == "delete":
        if args.format in SHAPES:
            _delete_in_shape(args, SHAPES[args.format])
        else:
            _edit(args, lambda document: transitions.delete(document, name))
        return {}
    if command in _TRANSITIONS:
        _, transition = _TRANSITIONS[command]
        return _edit(args, lambda document: transition(document, name))
    if command == "override":
        return _override(args)
    if command == "exposure":
        proportion = args.proportion
        percentage = args.percentage
        return _edit(
            args,
            lambda document: transitions.set_exposure(
                document, name, proportion=proportion, percentage=percentage
            ),
        )
    if command == "state":
        if args.target is None:
            if args.stopped_reason is not None:
                raise CommandFailure(EXIT_USAGE, "--stopped-reason goes with TARGET_STATE")
            read = _read(args)
            _, instance = read.document.find(name)
            if read.shape is None:
                return {"name": instance.name, "state": alexa_state(instance)}
            key = "status" if read.shape.format == EXPERIMENTS_API else "state"
            return {
                read.shape.id_key: instance.instance_id,
                key: shape_state(instance, read.shape.format),
            }
        target, reason = args.target, args.stopped_reason
        return _edit(
            args,
            lambda document: transitions.set_alexa_state(
                document, name, target, stopped_reason=reason
            ),
        )
    raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover


def _override(args: argparse.Namespace) -> Any:
    name: str = args.name
    unit: str | None = args.unit
    variant: str | None = args.variant
    if unit is None:
        if args.remove:
            raise CommandFailure(EXIT_USAGE, "--remove needs the UNIT whose override goes")
        overrides = _overrides(args)
        return {"treatmentOverrides": overrides, "treatmentOverrideCount": len(overrides)}
    if args.remove and variant is not None:
        raise CommandFailure(EXIT_USAGE, "give either VARIANT or --remove, not both")
    if variant is None and not args.remove:
        overrides = _overrides(args)
        return {
            "unit": unit,
            "treatmentId": overrides.get(unit),
            "treatmentOverrideCount": len(overrides),
        }
    return _edit(args, lambda document: transitions.set_override(document, name, unit, variant))


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    """The test's treatment overrides, as the file holds them (read without the lock)."""
    test = get_test(_read(args).document.raw, args.name)
    return dict(test.get("treatmentOverrides") or {})


# -- reading and editing the file -------------------------------------------------------------


def _read(args: argparse.Namespace) -> _Tests:
    """The tests of the file, for a command that only reads (no lock: edits are atomic).
    The file must be a valid document of its ``--format`` (``ConfigError`` otherwise)."""
    raw = read_document(args.file)
    shape = SHAPES.get(args.format)
    if shape is None:
        return _Tests(Document.parse(raw, strict=not args.lenient, source=args.file), None, None)
    document = _parse_in(shape, raw, args)
    return _Tests(document, shape, written_in(shape, document.raw))


def _edit(args: argparse.Namespace, transition: Callable[[Document], Change]) -> Any:
    """Apply ``transition`` to the file's tests under the lock and write the result. Return
    what to print: the changed test as the file's shape shows it (``{}`` when removed).

    A native file is parsed and validated once; the transition validates what it changed,
    and only the changed test is written back into the file's text (the rest keeps its
    bytes). A file in another shape is read into a native document, and the result is
    written back whole in the shape and checked by reading it again."""
    shape = SHAPES.get(args.format)
    if shape is None:
        strict = not args.lenient

        def patch(raw: dict[str, Any]) -> tuple[Mapping[str, Any], Any]:
            change = transition(Document.parse(raw, strict=strict, source=args.file))
            return change.document.raw, {} if change.test is None else change.test

        return patch_document(args.file, patch, lock_timeout=args.lock_timeout)

    def rewrite(document: dict[str, Any]) -> Any:
        native = _parse_in(shape, document, args)
        change = transition(native)
        new = written_in(shape, change.document.raw)
        document.clear()
        document.update(new)
        return {} if change.test is None else entry_of(shape, new, test_id_of(change.test))

    return edit_document(
        args.file, rewrite, validate=_validator(args, shape), lock_timeout=args.lock_timeout
    )


def _parse_in(shape: Shape, document: Mapping[str, Any], args: argparse.Namespace) -> Document:
    """The tests of a file in ``shape`` as a native document the transitions act on by the
    shape's rules (``ConfigError`` for a file that is not a valid document of the shape)."""
    return Document.parse(
        shape.read(document), strict=not args.lenient, source=args.file, shape=shape.format
    )


def _validator(args: argparse.Namespace, shape: Shape) -> Callable[[dict[str, Any]], None]:
    """The check of an edited file in another shape: read back into a snapshot."""
    strict = not args.lenient

    def validate(document: dict[str, Any]) -> None:
        parse_snapshot(shape.read(document), strict=strict, source=args.file)

    return validate


def _create_in_shape(args: argparse.Namespace, shape: Shape, body: dict[str, Any]) -> Any:
    """``create`` in another shape: the shape's create body becomes a new entry at the end
    of the file's experiments."""

    def add(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
        written = written_in(shape, shape.read(document))
        entries: list[dict[str, Any]] = written["experiments"]
        path = f"$.experiments[{len(entries)}]"
        taken = {entry.get(shape.id_key) for entry in entries}
        test_id: str = args.id if args.id is not None else new_abtest_id()
        while args.id is None and test_id in taken:  # pragma: no cover - 36**20 ids
            test_id = new_abtest_id()
        entry = shape.new_entry(body, test_id, now_timestamp(), path)
        problems = []
        if test_id in taken:
            problems.append(
                Problem(f"{path}.{shape.id_key}", f"an experiment {test_id!r} exists already")
            )
        entries.append(entry)
        problems += shape.name_clashes(entries, len(entries) - 1)
        if problems:
            raise ConfigError(problems)
        return written, test_id

    return _edit_entries(args, shape, add)


def _delete_in_shape(args: argparse.Namespace, shape: Shape) -> None:
    """``delete`` in another shape: the lifecycle checks the state, and the experiment leaves
    the file with the flag it owns (its variants are its treatments)."""

    def delete(document: dict[str, Any]) -> None:
        native = _parse_in(shape, document, args)
        _, instance = native.find(args.name)
        transitions.delete(native, args.name)  # refuses a state that keeps the test
        written = written_in(shape, native.raw)
        written["experiments"] = [
            entry
            for entry in written["experiments"]
            if entry.get(shape.id_key) != instance.instance_id
        ]
        new = reshaped(shape, written)
        document.clear()
        document.update(new)

    edit_document(
        args.file, delete, validate=_validator(args, shape), lock_timeout=args.lock_timeout
    )


def _update_in_shape(args: argparse.Namespace, shape: Shape, body: dict[str, Any]) -> Any:
    """``update`` in another shape: the lifecycle checks that the test is a draft (and stamps
    its update time), then the shape's update body changes its entry."""

    def update(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
        native = _parse_in(shape, document, args)
        change = transitions.update(native, args.name, {})
        assert change.test is not None
        test_id = test_id_of(change.test)
        written = written_in(shape, change.document.raw)
        entries: list[dict[str, Any]] = written["experiments"]
        index = next(i for i, entry in enumerate(entries) if entry.get(shape.id_key) == test_id)
        entries[index] = shape.update_entry(entries[index], body, f"$.experiments[{index}]")
        clashes = shape.name_clashes(entries, index)
        if clashes:
            raise ConfigError(clashes)
        return written, test_id

    return _edit_entries(args, shape, update)


def _edit_entries(
    args: argparse.Namespace,
    shape: Shape,
    edit: Callable[[dict[str, Any]], tuple[dict[str, Any], str]],
) -> Any:
    """Under the lock, ``edit`` turns the file into its edited entries (in the shape) and the
    id of the test it changed; the result is read back into a native document (every problem
    at its path in the file to be), written in the shape, validated and stored. Return the
    changed test's entry."""

    def change(document: dict[str, Any]) -> Any:
        written, test_id = edit(document)
        new = reshaped(shape, written)
        document.clear()
        document.update(new)
        return entry_of(shape, new, test_id)

    return edit_document(
        args.file, change, validate=_validator(args, shape), lock_timeout=args.lock_timeout
    )


# -- request bodies ---------------------------------------------------------------------------


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
    return json_object_argument(raw, where)


def _segment_request(body: dict[str, Any], mask: str | None) -> tuple[dict[str, Any], str]:
    """The Confidence API's ``{"updateMask": …, "segment": {…}}`` or the bare segment, and the mask
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
    return report_problems(file, error, _PROG)


def _message(error: LookupError) -> str:
    """A ``LookupError``'s message (``KeyError`` quotes its argument)."""
    return str(error.args[0]) if error.args else type(error).__name__
