"""``python -m flagstone flag …``: create and change the flags of an authoring file (the
format written by hand, ``"format": "flagstone/flags@1"``)::

    python -m flagstone flag list FILE
    python -m flagstone flag get FILE FLAG
    python -m flagstone flag create FILE FLAG --variants JSON [--default V] [--description T]
    python -m flagstone flag set FILE FLAG VARIANT VALUE      VALUE is JSON: true, 3, '"blue"'
    python -m flagstone flag default FILE FLAG [VARIANT | --none]
    python -m flagstone flag rollout FILE FLAG VARIANT PERCENT [--rule RULE]
    python -m flagstone flag kill|revive FILE FLAG
    python -m flagstone flag add-rule FILE FLAG --body JSON [--position N]
    python -m flagstone flag remove-rule FILE FLAG RULE
    python -m flagstone flag delete FILE FLAG

The changes are :mod:`flagstone.formats.authoring.edits`; a file is changed as ``abtest``
changes one (:func:`flagstone.abtests.storage.patch_document`): under an exclusive lock
(``FILE.lock``) it is read, changed and validated whole, and replaced atomically (temporary
file, fsync, rename) with only the changed top-level value rewritten; a refused change writes
nothing. An edit prints the flag as it now is (``delete``: ``{}``), ``get`` the flag, ``list``
``{"flags": {name: {"enabled", "default", "variants", "rules"}}}``.

Exit codes: 0 done; 1 the change (or the file) is invalid, its problems printed as JSON on
stdout; 2 usage or input error (bad arguments, a file that cannot be read, written or locked,
a file that is not an authoring document, an unknown flag or rule, a VALUE that is not JSON).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any

from .common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailure,
    add_lock_timeout,
    add_subcommand,
    json_object_argument,
    print_json,
)

__all__ = ["register"]

_PROG = f"{PROG} flag"

_EPILOG = """\
FILE is an authoring document ({"format": "flagstone/flags@1", "flags": {...}}); python -m
flagstone convert writes one from a native snapshot. RULE is a rule's name, or the index of
an unnamed rule.

exit codes:
  0  done
  1  the change (or FILE) is invalid: nothing is written, the problems are printed as JSON
  2  usage or input error: bad arguments, a file that cannot be read, written or locked, a
     file that is not an authoring document, an unknown flag or rule, VALUE not JSON
"""


def register(commands: Any) -> None:
    """Add ``flag`` and its subcommands to the command tree."""
    parser = commands.add_parser(
        "flag",
        help="create and change the flags of a hand-written (authoring) file",
        description="Create and change the flags of an authoring file. Edits take an "
        "exclusive lock, validate the file and replace it atomically; every command prints "
        "JSON.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str, *, flag: bool = True, edits: bool = True) -> Any:
        sub = add_subcommand(actions, name, help_, _EPILOG)
        sub.add_argument("file", metavar="FILE", help="the authoring file (JSON)")
        if flag:
            sub.add_argument("flag", metavar="FLAG", help="the flag's name")
        if edits:
            add_lock_timeout(sub)
        sub.set_defaults(action=name)
        return sub

    command("list", "list the flags", flag=False, edits=False)
    command("get", "print one flag", edits=False)
    create = command("create", "add a flag")
    create.add_argument(
        "--variants",
        required=True,
        metavar="JSON",
        help='its variants, name → value: \'{"on": true, "off": false}\'',
    )
    create.add_argument("--default", default=None, metavar="V", help="the default variant")
    create.add_argument("--description", default=None, metavar="TEXT")
    setter = command("set", "set a variant's value (adding the variant if it is new)")
    setter.add_argument("variant", metavar="VARIANT")
    setter.add_argument("value", metavar="VALUE", help="JSON: true, 3, '\"blue\"', '{\"a\": 1}'")
    default = command("default", "set the variant served when no rule matches")
    default.add_argument("variant", metavar="VARIANT", nargs="?")
    default.add_argument("--none", action="store_true", help="serve no default")
    roll = command(
        "rollout",
        "serve VARIANT to PERCENT %% of the units of the flag's rollout (its unnamed split "
        "rule, added if missing) or of --rule; others' shares shrink, the last first, to fit",
    )
    roll.add_argument("variant", metavar="VARIANT")
    roll.add_argument("percent", metavar="PERCENT", type=float, help="0 to 100")
    roll.add_argument("--rule", default=None, metavar="RULE", help="the split rule to change")
    command("kill", "disable the flag: every evaluation gets the caller's default")
    command("revive", "enable a killed flag again, with its rules as they were")
    add = command("add-rule", "add a rule")
    add.add_argument("--body", required=True, metavar="JSON", help="the rule's JSON")
    add.add_argument("--position", type=int, default=None, metavar="N", help="default: last")
    remove = command("remove-rule", "remove a rule")
    remove.add_argument("rule", metavar="RULE")
    command("delete", "remove the flag")
    parser.set_defaults(run=_run, prog=_PROG)


def _run(args: argparse.Namespace) -> int:
    from ..abtests.storage import read_document
    from ..errors import ConfigError, DocumentLockTimeout
    from ..formats.authoring import edits
    from .common import report_problems

    file: str = args.file
    try:
        if args.action == "list":
            print_json({"flags": _summaries(read_document(file))})
        elif args.action == "get":
            print_json(edits.flag_of(read_document(file), args.flag))
        else:
            print_json(_edit(args, _change(args)))
    except ConfigError as error:
        if any(problem.path == "$.format" for problem in error.problems):
            raise CommandFailure(EXIT_USAGE, f"{file}: {error.problems[0].message}") from None
        return report_problems(file, error, _PROG)
    except edits.FlagNotFound as error:
        raise CommandFailure(EXIT_USAGE, f"{file}: {error}") from None
    except DocumentLockTimeout as error:
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    except OSError as error:
        where = error.filename if error.filename is not None else file
        raise CommandFailure(EXIT_USAGE, f"{where}: {error.strerror or error}") from None
    return EXIT_OK


def _change(args: argparse.Namespace) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The edit the arguments ask for, as a function of the document."""
    from ..formats.authoring import edits

    action, flag = args.action, args.flag
    if action == "create":
        variants = json_object_argument(args.variants, "--variants")
        return lambda d: edits.create_flag(
            d, flag, variants, default=args.default, description=args.description
        )
    if action == "set":
        value = _json_value(args.value)
        return lambda d: edits.set_value(d, flag, args.variant, value)
    if action == "default":
        if (args.variant is None) == (not args.none):
            raise CommandFailure(EXIT_USAGE, "give VARIANT or --none")
        return lambda d: edits.set_default(d, flag, args.variant)
    if action == "rollout":
        if not 0 <= args.percent <= 100:
            raise CommandFailure(EXIT_USAGE, f"PERCENT {args.percent:g} is not from 0 to 100")
        return lambda d: edits.rollout(d, flag, args.variant, args.percent, rule=args.rule)
    if action in ("kill", "revive"):
        return lambda d: edits.set_enabled(d, flag, action == "revive")
    if action == "add-rule":
        rule = json_object_argument(args.body, "--body")
        return lambda d: edits.add_rule(d, flag, rule, position=args.position)
    if action == "remove-rule":
        return lambda d: edits.remove_rule(d, flag, args.rule)
    assert action == "delete"
    return lambda d: edits.delete_flag(d, flag)


def _edit(args: argparse.Namespace, change: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Any:
    """Apply ``change`` to the file under its lock, validated; the flag as it now is."""
    from ..abtests.storage import patch_document
    from ..formats import parse_snapshot

    def patch(document: dict[str, Any]) -> tuple[Mapping[str, Any], Any]:
        new = change(document)
        parse_snapshot(new, source=args.file)
        return new, new.get("flags", {}).get(args.flag, {})

    return patch_document(args.file, patch, lock_timeout=args.lock_timeout)


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise CommandFailure(
            EXIT_USAGE,
            f"VALUE {text!r} is not JSON (a string is written with quotes: '\"{text}\"')",
        ) from None


def _summaries(document: Mapping[str, Any]) -> dict[str, Any]:
    from ..formats.authoring import edits

    edits.require_authoring(document)
    flags = document.get("flags")
    return {
        name: {
            "enabled": body.get("enabled", True),
            "default": body.get("default"),
            "variants": list(body.get("variants") or {}),
            "rules": len(body.get("rules") or []),
        }
        for name, body in (flags.items() if isinstance(flags, Mapping) else ())
        if isinstance(body, Mapping)
    }
