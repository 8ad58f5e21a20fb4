"""``python -m flagstone analyze SNAPSHOT``: an A/B test analysed from its exposure and event
logs.

This module owns the command: arguments, exit codes, progress and printing. The work is
:func:`flagstone.analysis.analyze_experiment` (aggregation, then the engine), the formats
:mod:`flagstone.analysis.outputs` (as ``analyze-stats`` prints them) and
:func:`flagstone.analysis.report.to_html`, all imported when the command runs::

    python -m flagstone analyze SNAPSHOT --test NAME --exposures GLOB --events GLOB
        [--metrics FILE] [--at TIME] [--event-column OURS=THEIRS ...]
        [--format table|stats|analysis-result|alexa|experiments|html]
        [--treatment T] [--metric M] [-o FILE] [--emit-sql DIALECT]

``--format stats`` writes the aggregated sufficient statistics, exactly the JSON
``analyze-stats`` reads, so the aggregation and the analysis can be checked apart;
``table`` (the default), ``analysis-result``, ``alexa`` and ``experiments`` are
``analyze-stats``'s formats (``--treatment``/``--metric`` as there); ``html`` is the
self-contained report. ``-o FILE`` writes the output there instead of stdout, and never
over one of the command's inputs. ``--emit-sql DIALECT`` prints the aggregation as SQL for
that warehouse instead of running it.

Malformed exposure or event lines do not stop the analysis: their count and the first few
are reported on stderr (and in the table and the report). While the aggregation runs, a
progress line is shown on stderr when it is a terminal, and nothing when it is not.

Exit codes:

0
    The analysis (or the SQL) was written.
1
    The snapshot or the metrics file is invalid: its problems are printed as JSON on stdout
    and summarised on stderr, as ``python -m flagstone validate`` does.
2
    Usage or input error, one line on stderr: bad arguments, an unreadable file, an unknown
    test, metric or column, no exposures, an empty metric window, naive or mixed
    timestamps, ``-o`` naming an input, a missing extra.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .common import EXIT_OK, EXIT_USAGE, PROG, CommandFailure, read_file, report_problems

if TYPE_CHECKING:
    from ..analysis.experiment import ExperimentAnalysis

__all__ = ["FORMATS", "register"]

_PROG = f"{PROG} analyze"

FORMATS = ("table", "stats", "analysis-result", "alexa", "experiments", "html")
DIALECTS = ("duckdb", "postgres", "bigquery", "snowflake", "spark", "trino")
_SHOWN_MALFORMED = 3

_EPILOG = """\
exit codes:
  0  the analysis (or the SQL) was written
  1  the snapshot or the metrics file is invalid: the problems are printed as JSON
  2  usage or input error: bad arguments, an unreadable file, an unknown test, metric or
     column, no exposures, an empty window, naive or mixed timestamps, -o naming an input

examples:
  python -m flagstone analyze flags.json --test checkout-test \\
      --exposures 'logs/exposures-*.jsonl' --events 'logs/events-*.jsonl'
  python -m flagstone analyze flags.json --test checkout-test --exposures e.jsonl \\
      --events purchases.parquet --event-column unit=user_id --event-column time=ts \\
      --format html -o report.html
"""


def register(commands: Any) -> None:
    """Add ``analyze`` to the command tree."""
    parser = commands.add_parser(
        "analyze",
        help="analyse an A/B test from its exposure and event logs (needs the analysis extra)",
        description="Aggregate the exposures and metric events of an A/B test of SNAPSHOT\n"
        "into per-variant statistics, compare every treatment with the control on\n"
        "every metric of the test, and write the result.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("snapshot", metavar="SNAPSHOT", help="the snapshot holding the test")
    parser.add_argument(
        "--test", metavar="NAME", required=True, help="the A/B test: its name or its id"
    )
    parser.add_argument(
        "--exposures",
        metavar="GLOB",
        action="append",
        help="exposure records: files or a glob (JSONL, JSONL.gz, Parquet); repeatable; "
        "with --emit-sql, the table's name (default exposures)",
    )
    parser.add_argument(
        "--events",
        metavar="GLOB",
        action="append",
        help="metric events: flagstone's event records or your own table (JSONL, CSV, "
        "Parquet); repeatable; with --emit-sql, the table's name (default events)",
    )
    parser.add_argument(
        "--event-column",
        metavar="OURS=THEIRS",
        action="append",
        default=[],
        help="read the events' OURS column (unit, event, value, time, event_id) from "
        "THEIRS in your own table; repeatable",
    )
    parser.add_argument(
        "--metrics",
        metavar="FILE",
        default=None,
        help="metric definitions (default: the snapshot's own metrics section)",
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        default=None,
        help="analysis time, RFC 3339 with a time zone (default: now); later events and "
        "exposures are not counted",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), stats (the JSON analyze-stats reads), analysis-result, alexa, "
        "experiments (as analyze-stats), or html (the report)",
    )
    parser.add_argument(
        "--treatment", metavar="T", default=None, help="only this treatment (alexa: T1)"
    )
    parser.add_argument(
        "--metric", metavar="M", default=None, help="only this metric (experiments: the metric)"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write there instead of stdout (never over an input)",
    )
    parser.add_argument(
        "--emit-sql",
        metavar="DIALECT",
        choices=DIALECTS,
        default=None,
        help=f"print the aggregation as SQL for DIALECT ({', '.join(DIALECTS)}) instead of "
        "running it",
    )
    parser.set_defaults(run=_run, prog=_PROG)


def _run(args: argparse.Namespace) -> int:
    at = _analysis_time(args.at)
    columns = _columns(args.event_column)
    if args.emit_sql is None:
        for option in ("exposures", "events"):
            if not getattr(args, option):
                raise CommandFailure(EXIT_USAGE, f"--{option} is required (files or a glob)")
        exposures = _paths("--exposures", args.exposures)
        events = _paths("--events", args.events)
    else:
        exposures = _one_table("--exposures", args.exposures, "exposures")
        events = _one_table("--events", args.events, "events")
    if args.output is not None:
        files = [*exposures, *events] if args.emit_sql is None else []
        _refuse_inputs(args.output, [args.snapshot, *filter(None, [args.metrics]), *files])

    from ..errors import ConfigError, PipelineError
    from ..formats.metrics import parse_metrics
    from ..formats.reading import parse_snapshot

    try:
        snapshot = parse_snapshot(read_file(args.snapshot), strict=False, source=args.snapshot)
    except ConfigError as error:
        return report_problems(args.snapshot, error, _PROG)
    metrics = None
    if args.metrics is not None:
        try:
            metrics = parse_metrics(read_file(args.metrics), source=args.metrics)
        except ConfigError as error:
            return report_problems(args.metrics, error, _PROG)

    from ..analysis.pipeline import TableSource

    if args.emit_sql is not None:
        from ..analysis.pipeline import aggregation_sql

        try:
            sql = aggregation_sql(
                snapshot.model,
                args.test,
                TableSource(table=exposures[0]),
                TableSource(table=events[0], columns=columns),
                metrics=metrics,
                at=at,
                dialect=args.emit_sql,
            )
        except PipelineError as error:
            raise CommandFailure(EXIT_USAGE, str(error)) from None
        _write(args.output, sql if sql.endswith("\n") else sql + "\n")
        return EXIT_OK

    from ..analysis.experiment import analyze_experiment

    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        analysis = analyze_experiment(
            snapshot.model,
            args.test,
            exposures=TableSource(paths=tuple(exposures)),
            events=TableSource(paths=tuple(events), columns=columns),
            metrics=metrics,
            at=at,
            progress=progress,
        )
    except PipelineError as error:
        raise CommandFailure(EXIT_USAGE, str(error)) from None
    finally:
        if progress is not None:
            progress.close()
    _report_malformed(analysis)
    _write(args.output, _render(analysis, args.format, args.treatment, args.metric))
    return EXIT_OK


# -- arguments ---------------------------------------------------------------------------------


def _analysis_time(text: str | None) -> datetime | None:
    """``--at`` as an aware datetime; a usage error when it is not RFC 3339 or has no zone."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CommandFailure(
            EXIT_USAGE, f"--at {text!r} is not an RFC 3339 time (e.g. 2026-11-23T00:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise CommandFailure(
            EXIT_USAGE, f"--at {text!r} has no time zone: add Z (UTC) or an offset such as +01:00"
        )
    return moment


_COLUMNS = ("unit", "event", "value", "time", "event_id")


def _columns(pairs: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise CommandFailure(
                EXIT_USAGE, f"--event-column {pair!r} is not OURS=THEIRS (e.g. unit=user_id)"
            )
        if ours not in _COLUMNS:
            raise CommandFailure(
                EXIT_USAGE,
                f"--event-column {pair!r}: unknown column {ours!r} (columns: "
                f"{', '.join(_COLUMNS)})",
            )
        mapping[ours] = theirs
    return mapping


def _paths(option: str, patterns: Sequence[str]) -> list[str]:
    """The files the patterns name (globs expanded, sorted), each once; a usage error for a
    pattern that matches nothing."""
    found: list[str] = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else []
        if not matched:
            if glob.has_magic(pattern) or not Path(pattern).exists():
                raise CommandFailure(EXIT_USAGE, f"{option} {pattern!r}: no such file")
            matched = [pattern]
        found += [path for path in matched if path not in found]
    return found


def _one_table(option: str, given: Sequence[str] | None, default: str) -> list[str]:
    """The table ``--emit-sql`` reads (one name, default ``default``)."""
    if not given:
        return [default]
    if len(given) > 1:
        raise CommandFailure(EXIT_USAGE, f"{option}: --emit-sql reads one table, not {len(given)}")
    return [given[0]]


def _refuse_inputs(output: str, inputs: Sequence[str]) -> None:
    """A usage error when ``output`` is (or links to) one of ``inputs``."""
    target = Path(output)
    for path in inputs:
        candidate = Path(path)
        same = target.resolve() == candidate.resolve()
        if not same and target.exists() and candidate.exists():
            try:
                same = os.path.samefile(target, candidate)
            except OSError:
                same = False
        if same:
            raise CommandFailure(
                EXIT_USAGE, f"-o {output!r} is one of the inputs ({path}): refusing to overwrite it"
            )


# -- output ------------------------------------------------------------------------------------


def _render(
    analysis: ExperimentAnalysis, output: str, treatment: str | None, metric: str | None
) -> str:
    from ..analysis import outputs

    if output == "stats":
        return json.dumps(analysis.stats, indent=2, allow_nan=False) + "\n"
    if output == "html":
        try:
            from ..analysis.report import to_html
        except ModuleNotFoundError as missing:  # pragma: no cover - the module needs none
            raise CommandFailure(EXIT_USAGE, str(missing)) from None
        try:
            return to_html(analysis)
        except ModuleNotFoundError as missing:
            raise CommandFailure(
                EXIT_USAGE,
                f"--format html needs the 'report' extra ({missing.name} is not installed): "
                'pip install "flagstone[report]"',
            ) from None
    from .analyze_stats import _only, _select

    outcome = _select(analysis.outcome, treatment=treatment, metric=metric)
    if output == "table":
        return outputs.to_table(outcome) + _aggregation_lines(analysis)
    if output == "analysis-result":
        document = outputs.to_analysis_result(
            outcome, name=analysis.test, result_time=_rfc3339(analysis.at)
        )
        return json.dumps(document, indent=2, allow_nan=False) + "\n"
    if output == "alexa":
        snapshot = outputs.to_metric_snapshot(outcome, _only("treatment", outcome.treatments))
        return json.dumps(snapshot, indent=2, allow_nan=False) + "\n"
    chosen = _only("metric", tuple(dict.fromkeys(c.metric for c in outcome.comparisons)))
    try:
        results = outputs.to_computed_results(outcome, chosen)
    except ValueError as error:
        raise CommandFailure(EXIT_USAGE, f"--format experiments: {error}") from None
    return json.dumps(results, indent=2, allow_nan=False) + "\n"


def _rfc3339(moment: datetime) -> str:
    from datetime import timezone

    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aggregation_lines(analysis: ExperimentAnalysis) -> str:
    """What the aggregation found, under the table."""
    aggregated = analysis.aggregated
    units = ", ".join(f"{group} {count}" for group, count in aggregated.units.items())
    lines = [
        "",
        f"units: {units}",
        f"left out: {aggregated.excluded_multi_variant} units exposed to more than one "
        f"variant, {aggregated.dropped_overrides} override exposures, "
        f"{aggregated.duplicates} duplicate exposures, {aggregated.malformed.exposures} "
        f"malformed exposure records, {aggregated.malformed.events} malformed events",
    ]
    return "\n".join(lines) + "\n"


def _report_malformed(analysis: ExperimentAnalysis) -> None:
    """One stderr line when records were malformed: the counts and the first few."""
    malformed = analysis.aggregated.malformed
    if not malformed.total:
        return
    shown = "; ".join(str(example) for example in malformed.examples[:_SHOWN_MALFORMED])
    more = "; …" if malformed.total > min(len(malformed.examples), _SHOWN_MALFORMED) else ""
    print(
        f"{_PROG}: warning: skipped {malformed.exposures} malformed exposure record(s) and "
        f"{malformed.events} malformed event(s) ({shown}{more})",
        file=sys.stderr,
    )


def _write(output: str | None, text: str) -> None:
    """``text`` to stdout, or to ``output`` (a usage error when it cannot be written)."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandFailure(
            EXIT_USAGE, f"-o {output}: cannot write: {error.strerror or error}"
        ) from None


class _Progress:
    """The current step on one terminal line with the seconds it has taken so far, redrawn
    every ``interval`` seconds by a daemon thread (a step can be one long query), and cleared
    by :meth:`close`."""

    def __init__(
        self,
        stream: TextIO,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._step: str | None = None
        self._since = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, step: str) -> None:
        with self._lock:
            self._step = step
            self._since = self._clock()
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._tick, name="flagstone-analyze-progress", daemon=True
            )
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        if self._step is None or self._stop.is_set():
            return
        elapsed = self._clock() - self._since
        self._stream.write(f"\r\x1b[K{_PROG}: {self._step} ({elapsed:.0f} s)")
        self._stream.flush()

    def close(self) -> None:
        """Stop redrawing and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._step is not None:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
