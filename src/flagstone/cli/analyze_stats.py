"""``python -m flagstone analyze-stats FILE``: analyse an experiment's sufficient statistics.

This module owns the command: arguments, reading the file, exit codes and printing. Parsing
is :func:`flagstone.analysis.inputs.parse_input`, the statistics
:func:`flagstone.analysis.engine.analyze`, the formats :mod:`flagstone.analysis.outputs`
(the first two imported when the command runs, so this module imports without them)::

    python -m flagstone analyze-stats FILE [--format table|analysis-result|alexa|experiments]
                                           [--treatment T] [--metric M]

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
    The input is invalid: not JSON (or JSON nested more than 200 levels deep), refused by
    ``parse_input`` (a ``ConfigError``), or data the engine cannot analyse (a
    ``ValueError``). ``{"ok": false, "problems": [{"path", "message"}, …]}`` is printed on
    stdout and a one-line summary on stderr, as
    ``python -m flagstone validate`` does.
2
    Usage error: bad arguments, a file that cannot be read, an unknown ``--treatment`` or
    ``--metric``, a missing one where the format needs it, or ``--format experiments`` on a
    metric that is not a 0/1 metric. One line on stderr says why.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .common import (
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailure,
    print_json,
    read_file,
    report_problems,
)

if TYPE_CHECKING:
    from ..analysis.results import AnalysisOutcome
    from ..errors import ConfigError

__all__ = ["FORMATS", "register"]

_PROG = f"{PROG} analyze-stats"

FORMATS = ("table", "analysis-result", "alexa", "experiments")

_EPILOG = """\
exit codes:
  0  the analysis was printed
  1  the input is invalid (not JSON, refused, or data that cannot be analysed): the
     problems are printed as JSON
  2  usage error: bad arguments, an unreadable file, an unknown --treatment or --metric,
     or one missing where the format needs it
"""


def register(commands: Any) -> None:
    """Add ``analyze-stats`` to the command tree."""
    parser = commands.add_parser(
        "analyze-stats",
        help="analyse an experiment's sufficient statistics (needs the analysis extra)",
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
    parser.set_defaults(run=_run_args, prog=_PROG)


def _run_args(args: argparse.Namespace) -> int:
    return _run(args.file, args.format, args.treatment, args.metric)


def _run(file: str, output: str, treatment: str | None, metric: str | None) -> int:
    from ..analysis import outputs
    from ..analysis.inputs import parse_input
    from ..errors import ConfigError, Problem
    from ..model.limits import MAX_NESTING, nests_deeper_than

    data = read_file(file)
    too_deep = ConfigError(
        [Problem("$", f"the document nests more than {MAX_NESTING} levels deep")]
    )
    try:
        document = json.loads(data)
    except ValueError as error:  # UnicodeDecodeError included
        return _invalid(file, ConfigError([Problem("$", f"not valid JSON: {error}")]))
    except RecursionError:  # deeper than the decoder can descend
        return _invalid(file, too_deep)
    if nests_deeper_than(document, MAX_NESTING):  # what later steps could not descend
        return _invalid(file, too_deep)

    try:
        spec = parse_input(document, source=file)
    except ConfigError as error:
        return _invalid(file, error)

    from ..analysis.engine import analyze

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
        print_json(outputs.to_analysis_result(outcome))
        return EXIT_OK
    if output == "alexa":
        print_json(outputs.to_metric_snapshot(outcome, _only("treatment", outcome.treatments)))
        return EXIT_OK
    chosen = _only("metric", tuple(dict.fromkeys(c.metric for c in outcome.comparisons)))
    try:
        results = outputs.to_computed_results(outcome, chosen)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"--format experiments: {error}") from None
    print_json(results)
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
    return report_problems(file, error, _PROG)
