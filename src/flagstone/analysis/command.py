"""``python -m flagstone analyze-stats FILE``: analyse an experiment's sufficient statistics.

This module owns the command: arguments, reading the file, exit codes and printing. Parsing
is :func:`flagstone.analysis.inputs.parse_input`, the statistics
:func:`flagstone.analysis.engine.analyze`, the formats :mod:`flagstone.analysis.outputs`
(the first two imported when the command runs, so this module imports without them)::

    python -m flagstone analyze-stats FILE [--format table|analysis-result|alexa|experiments]
                                           [--treatment T] [--metric M]

(``python -m flagstone.analysis.command FILE …`` runs it too.)

``--format`` picks the output: ``table`` (the default, for the terminal),
``analysis-result`` (Confidence's AnalysisResult), ``alexa`` (Alexa's metric snapshot of one
treatment) or ``experiments`` (the Experiments API's computed results of one 0/1 metric);
the JSON formats are printed with an indent of 2. ``--treatment`` and ``--metric`` restrict
every format to that treatment's and that metric's comparisons; ``alexa`` needs a treatment
and ``experiments`` a metric, which may be left out when the input has only one.

Exit codes:

0
    The analysis was printed.
1
    The input is invalid: not JSON, refused by ``parse_input`` (a ``ConfigError``), or data
    the engine cannot analyse (a ``ValueError``). ``{"ok": false, "problems": [{"path",
    "message"}, …]}`` is printed on stdout and a one-line summary on stderr, as
    ``python -m flagstone validate`` does.
2
    Usage error: bad arguments, a file that cannot be read, an unknown ``--treatment`` or
    ``--metric``, a missing one where the format needs it, ``--format experiments`` on a
    metric that is not a 0/1 metric, or the ``analysis`` extra not installed (the line says
    ``pip install "flagstone[analysis]"``). One line on stderr says why.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flagstone.analysis import outputs
from flagstone.cli import CommandFailure, _read, parse_or_exit_code, report_problems
from flagstone.cli import _fail as report_failure
from flagstone.errors import ConfigError, Problem

if TYPE_CHECKING:
    from flagstone.analysis.results import AnalysisOutcome

_PROG = "flagstone analyze-stats"

__all__ = ["EXIT_INVALID_INPUT", "EXIT_OK", "EXIT_USAGE", "FORMATS", "PROG", "main"]

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2

PROG = "python -m flagstone analyze-stats"
FORMATS = ("table", "analysis-result", "alexa", "experiments")

_EPILOG = """\
exit codes:
  0  the analysis was printed
  1  the input is invalid (not JSON, refused, or data that cannot be analysed): the
     problems are printed as JSON
  2  usage error: bad arguments, an unreadable file, an unknown --treatment or --metric,
     one missing where the format needs it, or the analysis extra not installed
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compare every treatment with the control on every metric, from the\n"
        "groups' sufficient statistics (n, sum, sum_sq, covariates) in FILE, and print\n"
        "the result.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the analysis input (JSON)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), analysis-result (Confidence), alexa (metric snapshot of one "
        "treatment) or experiments (computed results of one 0/1 metric)",
    )
    parser.add_argument(
        "--treatment",
        metavar="T",
        default=None,
        help="only this treatment (alexa: the treatment shown as T1)",
    )
    parser.add_argument(
        "--metric", metavar="M", default=None, help="only this metric (experiments: the metric)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``analyze-stats`` with ``argv`` (the arguments after the command name; default
    ``sys.argv[1:]``) and return the exit code. ``--help`` returns 0 and bad arguments 2
    (argparse's message is on stderr) instead of raising ``SystemExit``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse_or_exit_code(_parser(), arguments)
    if isinstance(args, int):
        return args
    try:
        from flagstone.analysis import analyze  # noqa: F401 - scipy is there
    except ModuleNotFoundError as error:
        _fail(
            f"needs the analysis extra, which is not installed ({error.name} is missing): "
            'pip install "flagstone[analysis]"'
        )
        return EXIT_USAGE
    try:
        return _run(args.file, args.format, args.treatment, args.metric)
    except CommandFailure as failure:
        _fail(failure.reason)
        return failure.code


def _run(file: str, output: str, treatment: str | None, metric: str | None) -> int:
    data = _read(file)
    try:
        document = json.loads(data)
    except ValueError as error:  # UnicodeDecodeError included
        return _invalid(file, ConfigError([Problem("$", f"not valid JSON: {error}")]))

    from flagstone.analysis.inputs import parse_input

    try:
        spec = parse_input(document, source=file)
    except ConfigError as error:
        return _invalid(file, error)

    from flagstone.analysis import analyze

    try:
        outcome = analyze(spec)
    except ConfigError as error:
        return _invalid(file, error)
    except ValueError as error:
        return _invalid(file, ConfigError([Problem("$", str(error))]))

    outcome = _select(outcome, treatment=treatment, metric=metric)
    if output == "table":
        sys.stdout.write(outputs.to_table(outcome))
        return EXIT_OK
    if output == "analysis-result":
        _print_json(outputs.to_analysis_result(outcome))
        return EXIT_OK
    if output == "alexa":
        _print_json(outputs.to_metric_snapshot(outcome, _only("treatment", outcome.treatments)))
        return EXIT_OK
    chosen = _only("metric", tuple(dict.fromkeys(c.metric for c in outcome.comparisons)))
    try:
        results = outputs.to_computed_results(outcome, chosen)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"--format experiments: {error}") from None
    _print_json(results)
    return EXIT_OK


def _select(
    outcome: AnalysisOutcome, *, treatment: str | None, metric: str | None
) -> AnalysisOutcome:
    """The outcome restricted to one treatment and/or one metric (usage error if unknown)."""
    comparisons = outcome.comparisons
    treatments = outcome.treatments
    recommendations = outcome.recommendations
    if treatment is not None:
        if treatment not in treatments:
            raise CommandFailure(
                EXIT_USAGE, f"unknown --treatment {treatment!r} (treatments: {_listed(treatments)})"
            )
        comparisons = tuple(c for c in comparisons if c.compared == treatment)
        treatments = (treatment,)
        recommendations = tuple(r for r in recommendations if r.treatment == treatment)
    if metric is not None:
        metrics = tuple(dict.fromkeys(c.metric for c in outcome.comparisons))
        if metric not in metrics:
            raise CommandFailure(
                EXIT_USAGE, f"unknown --metric {metric!r} (metrics: {_listed(metrics)})"
            )
        comparisons = tuple(c for c in comparisons if c.metric == metric)
    return replace(
        outcome, comparisons=comparisons, treatments=treatments, recommendations=recommendations
    )


def _only(option: str, choices: tuple[str, ...]) -> str:
    """The one choice left (after ``--treatment``/``--metric``), else a usage error."""
    if len(choices) != 1:
        raise CommandFailure(
            EXIT_USAGE,
            f"--{option} is required: the input has {len(choices)} {option}s ({_listed(choices)})",
        )
    return choices[0]


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) or "none"


def _invalid(file: str, error: ConfigError) -> int:
    """Print the problems (stdout, JSON) and a summary (stderr); the exit code for them."""
    report_problems(file, error, _PROG)
    return EXIT_INVALID_INPUT


def _fail(reason: str) -> None:
    report_failure(reason, _PROG)


def _print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
