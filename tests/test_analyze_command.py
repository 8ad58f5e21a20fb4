"""``python -m flagstone analyze SNAPSHOT``: from exposure and event logs to the analysis, its
formats, the report, the SQL, and every bad input as one line and exit 2
(``flagstone.cli.analyze``, ``flagstone.analysis.analyze_experiment``).

The logs are generated here (flagstone's exposure records, README "The exposure record",
and event records, DESIGN_12's schema) with a seeded generator that remembers what it wrote,
so the per-variant units and conversions the command must find are counted by a plain loop
over the generated units, not by the code under test. The command runs in process through
:func:`flagstone.cli.main`; one test runs it as a subprocess to see the exit code and the
streams as a user does.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from flagstone.analysis import (
    analyze,
    analyze_experiment,
    outputs,
    parse_input,
)
from flagstone.cli import main

START = datetime(2026, 11, 16, tzinfo=timezone.utc)
AT = START + timedelta(days=7)
TEST = "workflows/abtest/instances/checkout-test"
WINDOW = timedelta(days=3)  # the purchase metric's attribution window


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


SNAPSHOT: dict[str, Any] = {
    "version": "cmd-1",
    "segments": {"segments/everyone": {"name": "segments/everyone"}},
    "flags": {
        "flags/checkout": {
            "name": "flags/checkout",
            "variants": [{"name": "control", "value": {}}, {"name": "one-page", "value": {}}],
            "rules": [],
        }
    },
    "metrics": [
        {
            "name": "metrics/purchase",
            "displayName": "Purchase conversion",
            "event": "purchase",
            "aggregation": "CONVERSION",
            "window": {"start": "0s", "end": "3d"},
        },
        {"name": "metrics/revenue", "event": "purchase", "aggregation": "SUM"},
    ],
    "abtests": [
        {
            "name": TEST,
            "displayName": "Checkout",
            "state": "live",
            "abtest": {
                "treatments": [
                    {"variant": "flags/checkout/variants/control", "weight": "5000"},
                    {"variant": "flags/checkout/variants/one-page", "weight": "5000"},
                ]
            },
            "metrics": {
                "bucket": "DAYS",
                "metrics": [
                    {
                        "metric": "metrics/purchase",
                        "metricRole": {"metricKind": "SUCCESS", "minimumDetectableEffect": 0.1},
                        "preferredDirection": "INCREASE",
                    },
                    {
                        "metric": "metrics/revenue",
                        "metricRole": {"metricKind": "GUARDRAIL", "nonInferiorityMargin": 0.05},
                        "preferredDirection": "INCREASE",
                    },
                ],
            },
        }
    ],
}


@dataclass
class Logs:
    """Files of one generated experiment and what was written into them."""

    directory: Path
    snapshot: Path
    exposures: Path
    events: Path
    first: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # unit -> (time, variant)
    purchases: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    malformed_exposures: int = 0
    malformed_events: int = 0

    def args(self, *extra: str) -> list[str]:
        return [
            "analyze",
            str(self.snapshot),
            "--test",
            "checkout-test",
            "--exposures",
            str(self.exposures),
            "--events",
            str(self.events),
            "--at",
            rfc3339(AT),
            *extra,
        ]

    def reference(self, at: datetime = AT) -> dict[str, tuple[int, int]]:
        """Per variant: units first exposed before ``at``, and those with a purchase in
        ``[first exposure, first exposure + 3 days)`` before ``at`` — the metric's rule,
        counted directly."""
        found: dict[str, tuple[int, int]] = {"control": (0, 0), "one-page": (0, 0)}
        for unit, (first, variant) in self.first.items():
            if first >= at:
                continue
            converted = any(
                first <= when < first + WINDOW and when < at
                for when, _ in self.purchases.get(unit, [])
            )
            n, s = found[variant]
            found[variant] = (n + 1, s + int(converted))
        return found


def exposure(unit: str, variant: str, when: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "type": "exposure",
        "resolve_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "apply_time": rfc3339(when),
        "flag": "flags/checkout",
        "variant": variant,
        "reason": "RESOLVE_REASON_MATCH",
        "rule": f"{TEST}/rule",
        "segment": "segments/abtest-checkout-test",
        "assignment_id": variant,
        "targeting_key": unit,
        "targeting_key_selector": "targeting_key",
        "fallthrough": [],
        "abtest": TEST,
        "override": False,
        "snapshot_version": "cmd-1",
    }


def event(unit: str, when: datetime, value: float, rng: random.Random) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "type": "event",
        "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "event": "purchase",
        "unit": unit,
        "unit_selector": "targeting_key",
        "value": value,
        "properties": {},
        "time": rfc3339(when),
        "snapshot_version": "cmd-1",
    }


def generate(directory: Path, *, units: int = 1200, seed: int = 5, malformed: bool = False) -> Logs:
    """``units`` users first exposed over 6 days (a few exposed again later), 10 % (control)
    and 13 % (one-page) of them buying within 4 days, some after the window or after the
    analysis time; with ``malformed``, a few broken lines in both files."""
    rng = random.Random(seed)
    logs = Logs(
        directory,
        directory / "snapshot.json",
        directory / "exposures.jsonl",
        directory / "events.jsonl",
    )
    logs.snapshot.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    exposure_lines: list[str] = []
    event_lines: list[str] = []
    for index in range(units):
        unit = f"user-{index}"
        variant = "control" if index % 2 else "one-page"
        first = START + timedelta(seconds=rng.uniform(0, 7.5 * 86_400))
        logs.first[unit] = (first, variant)
        exposure_lines.append(json.dumps(exposure(unit, variant, first, rng)))
        if rng.random() < 0.3:  # seen again later: the first exposure stays the assignment
            later = first + timedelta(hours=rng.uniform(1, 30))
            exposure_lines.append(json.dumps(exposure(unit, variant, later, rng)))
        if rng.random() < (0.10 if variant == "control" else 0.13):
            when = first + timedelta(hours=rng.uniform(0, 96))
            value = round(rng.uniform(5.0, 60.0), 2)
            logs.purchases.setdefault(unit, []).append((when, value))
            event_lines.append(json.dumps(event(unit, when, value, rng)))
    rng.shuffle(exposure_lines)
    if malformed:
        # not JSON, not an object, an exposure of the test without a unit (README: malformed)
        no_unit = exposure("ghost", "control", START + timedelta(days=1), rng)
        del no_unit["targeting_key"]
        for position, line in ((3, "{not json"), (10, "[1, 2]"), (40, json.dumps(no_unit))):
            exposure_lines.insert(position, line)
        logs.malformed_exposures = 3
        event_lines.insert(2, "garbage")
        logs.malformed_events = 1
    logs.exposures.write_text("\n".join(exposure_lines) + "\n", encoding="utf-8")
    logs.events.write_text("\n".join(event_lines) + "\n", encoding="utf-8")
    return logs


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    return generate(tmp_path_factory.mktemp("logs"))


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(*arguments: str, capsys: pytest.CaptureFixture[str]) -> Run:
    code = main(list(arguments))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def same(actual: Any, expected: Any) -> None:
    """``actual == expected`` as JSON, floats to 1e-9 relative: the command and the API run
    the aggregation separately, and DuckDB sums doubles in parallel, in an order that can
    change the last bits from one run to the next."""
    if isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys()
        for key in expected:
            same(actual[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected)
        for item, wanted in zip(actual, expected, strict=True):
            same(item, wanted)
    else:
        assert actual == expected


def one_line_usage_error(result: Run, *fragments: str) -> None:
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("flagstone analyze: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# -- the two halves ----------------------------------------------------------------------------


def test_stats_are_the_counts_of_the_logs_and_what_analyze_stats_reads(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run(*logs.args("--format", "stats"), capsys=capsys)
    assert result.code == 0, result.err
    stats = json.loads(result.out)
    purchase = next(m for m in stats["metrics"] if m["id"] == "metrics/purchase")
    expected = logs.reference()
    assert {g: (v["n"], v["sum"]) for g, v in purchase["groups"].items()} == expected
    revenue = next(m for m in stats["metrics"] if m["id"] == "metrics/revenue")
    # revenue: every purchase before the analysis time (no window end), summed per unit
    for group, values in revenue["groups"].items():
        sums = [
            sum(v for when, v in logs.purchases.get(unit, []) if first <= when < AT)
            for unit, (first, variant) in logs.first.items()
            if variant == group and first < AT
        ]
        assert values["n"] == len(sums)
        assert values["sum"] == pytest.approx(sum(sums), rel=1e-12)
        assert values["sum_sq"] == pytest.approx(sum(s * s for s in sums), rel=1e-12)
    assert stats["expected_weights"] == {"control": 0.5, "one-page": 0.5}

    # the other half: analyze-stats on that file prints the table analyze prints
    saved = tmp_path / "stats.json"
    saved.write_text(result.out, encoding="utf-8")
    separate = run("analyze-stats", str(saved), capsys=capsys)
    together = run(*logs.args(), capsys=capsys)
    assert separate.code == 0 and together.code == 0
    assert together.out.startswith(separate.out)
    assert f"units: control {expected['control'][0]}, one-page {expected['one-page'][0]}" in (
        together.out
    )


def test_the_api_returns_what_the_command_prints(
    logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    analysis = analyze_experiment(
        logs.snapshot, "checkout-test", exposures=str(logs.exposures), events=logs.events, at=AT
    )
    assert analysis.test == TEST and analysis.display_name == "Checkout"
    assert analysis.at == AT
    assert analysis.outcome == analyze(parse_input(analysis.stats))
    assert set(analysis.metrics) == {"metrics/purchase", "metrics/revenue"}
    assert analysis.metrics["metrics/purchase"].display_name == "Purchase conversion"

    stats = run(*logs.args("--format", "stats"), capsys=capsys)
    same(json.loads(stats.out), analysis.stats)
    table = run(*logs.args(), capsys=capsys)
    assert table.out.startswith(outputs.to_table(analysis.outcome))
    document = run(*logs.args("--format", "analysis-result"), capsys=capsys)
    same(
        json.loads(document.out),
        outputs.to_analysis_result(analysis.outcome, name=TEST, result_time=rfc3339(AT)),
    )
    alexa = run(*logs.args("--format", "alexa"), capsys=capsys)
    same(json.loads(alexa.out), outputs.to_metric_snapshot(analysis.outcome, "one-page"))
    experiments = run(
        *logs.args("--format", "experiments", "--metric", "metrics/purchase"), capsys=capsys
    )
    same(
        json.loads(experiments.out),
        outputs.to_computed_results(analysis.outcome, "metrics/purchase"),
    )
    needs_metric = run(*logs.args("--format", "experiments"), capsys=capsys)
    one_line_usage_error(needs_metric, "--metric is required")


def test_the_analysis_time_cuts_exposures_and_events(
    logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = START + timedelta(days=4, hours=6)
    arguments = logs.args("--format", "stats")
    arguments[arguments.index("--at") + 1] = "2026-11-20T08:00:00+02:00"  # = earlier, in UTC+2
    result = run(*arguments, capsys=capsys)
    assert result.code == 0, result.err
    purchase = next(m for m in json.loads(result.out)["metrics"] if m["id"] == "metrics/purchase")
    assert {g: (v["n"], v["sum"]) for g, v in purchase["groups"].items()} == logs.reference(earlier)


def test_html_writes_one_report_file_and_nothing_on_stdout(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "report.html"
    result = run(*logs.args("--format", "html", "-o", str(target)), capsys=capsys)
    assert result.code == 0, result.err
    assert result.out == "" and result.err == ""
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # per metric a forest plot and (sequential? no: this test is fixed-horizon) the assignment
    assert page.count("<svg ") == 2 + 1
    assert "Purchase conversion" in page and "Checkout" in page
    # what the metric counts, from its definition: the event and the window
    assert "&#x27;purchase&#x27; event" in page and "from 0s to 3d after" in page


def test_html_without_matplotlib_says_how_to_install_it(
    logs: Logs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run(*logs.args("--format", "html"), capsys=capsys)
    one_line_usage_error(result, "matplotlib", 'pip install "flagstone[report]"')


def test_emit_sql_prints_the_aggregation_for_a_warehouse(
    logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlglot

    result = run(
        "analyze",
        str(logs.snapshot),
        "--test",
        "checkout-test",
        "--events",
        "analytics.purchases",
        "--event-column",
        "unit=user_id",
        "--at",
        rfc3339(AT),
        "--emit-sql",
        "postgres",
        capsys=capsys,
    )
    assert result.code == 0, result.err
    statements = sqlglot.parse(result.out, read="postgres")
    assert len([s for s in statements if s is not None]) == 2
    assert "analytics.purchases" in result.out and "user_id" in result.out
    assert "exposures" in result.out


# -- malformed lines, progress -----------------------------------------------------------------


def test_malformed_lines_are_counted_and_shown_and_the_analysis_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = generate(tmp_path, units=400, malformed=True)
    result = run(*logs.args("--format", "stats"), capsys=capsys)
    assert result.code == 0
    (warning,) = result.err.strip().splitlines()
    assert warning.startswith("flagstone analyze: warning: ")
    assert f"{logs.malformed_exposures} malformed exposure record(s)" in warning
    assert f"{logs.malformed_events} malformed event(s)" in warning
    assert f"{logs.exposures}:" in warning  # file:line of the first ones
    purchase = next(m for m in json.loads(result.out)["metrics"] if m["id"] == "metrics/purchase")
    assert {g: (v["n"], v["sum"]) for g, v in purchase["groups"].items()} == logs.reference()
    table = run(*logs.args(), capsys=capsys)
    assert "3 malformed exposure records, 1 malformed events" in table.out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_and_not_when_piped(
    logs: Logs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", terminal)
        assert main(logs.args("--format", "stats")) == 0
    shown = terminal.getvalue()
    assert "\r" in shown and "checkout-test" in shown
    assert shown.endswith("\r\x1b[K")  # the line is cleared before the output is read
    capsys.readouterr()
    piped = run(*logs.args("--format", "stats"), capsys=capsys)
    assert piped.code == 0 and piped.err == ""


def test_progress_redraws_a_long_step_with_its_elapsed_time() -> None:
    import threading

    from flagstone.cli.analyze import _Progress

    now = [100.0]
    drawn = threading.Event()

    class Stream(_Terminal):
        def write(self, text: str) -> int:
            if "(7 s)" in text:
                drawn.set()
            return super().write(text)

    stream = Stream()
    progress = _Progress(stream, interval=0.01, clock=lambda: now[0])
    progress("aggregating 10 units of t")
    now[0] += 7.2  # one long query: no new step, the line is redrawn with the time
    assert drawn.wait(5)
    progress.close()
    shown = stream.getvalue()
    assert shown.startswith("\r\x1b[Kflagstone analyze: aggregating 10 units of t (0 s)")
    assert shown.endswith("\r\x1b[K")
    after = len(shown)
    now[0] += 5
    threading.Event().wait(0.05)
    assert len(stream.getvalue()) == after  # stopped: nothing drawn after close


# -- bad input: one line, exit 2 ---------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Iterator[Logs]:
    yield generate(tmp_path, units=200)


def test_an_unknown_test_is_one_line(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = logs.args()
    arguments[arguments.index("--test") + 1] = "no-such-test"
    one_line_usage_error(run(*arguments, capsys=capsys), "unknown A/B test", "no-such-test")


def test_an_unknown_metric_is_one_line(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics.json"
    definitions = [m for m in SNAPSHOT["metrics"] if m["name"] != "metrics/revenue"]
    metrics.write_text(json.dumps({"metrics": definitions}), encoding="utf-8")
    result = run(*logs.args("--metrics", str(metrics)), capsys=capsys)
    one_line_usage_error(result, "unknown metric", "metrics/revenue")


def test_an_unknown_column_is_one_line(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(*logs.args("--event-column", "unit=user_id"), capsys=capsys)
    one_line_usage_error(result, "user_id")
    result = run(*logs.args("--event-column", "colour=hue"), capsys=capsys)
    one_line_usage_error(result, "unknown column 'colour'")


def test_no_exposures_is_one_line(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = logs.args()
    arguments[arguments.index("--at") + 1] = rfc3339(START)  # before every exposure
    one_line_usage_error(run(*arguments, capsys=capsys), "no exposures")


def test_an_empty_file_of_exposures_is_one_line(
    copy: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    copy.exposures.write_text("", encoding="utf-8")
    one_line_usage_error(run(*copy.args(), capsys=capsys), "no exposures")


def test_an_empty_window_is_one_line(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics.json"
    late = [dict(m, window={"start": "30d"}) for m in SNAPSHOT["metrics"]]
    metrics.write_text(json.dumps({"metrics": late}), encoding="utf-8")
    result = run(*logs.args("--metrics", str(metrics)), capsys=capsys)
    one_line_usage_error(result, "window")


def test_a_naive_analysis_time_is_one_line(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = logs.args()
    arguments[arguments.index("--at") + 1] = "2026-11-23T00:00:00"
    one_line_usage_error(run(*arguments, capsys=capsys), "--at", "time zone")
    arguments[arguments.index("--at") + 1] = "next tuesday"
    one_line_usage_error(run(*arguments, capsys=capsys), "--at", "RFC 3339")


@pytest.mark.parametrize("kind", ["naive", "mixed"])
def test_naive_or_mixed_timestamps_in_the_logs_are_one_line(
    copy: Logs, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    lines = copy.exposures.read_text(encoding="utf-8").splitlines()
    count = len(lines) if kind == "naive" else 1
    for index in range(count):
        record = json.loads(lines[index])
        record["apply_time"] = record["apply_time"].removesuffix("Z")
        lines[index] = json.dumps(record)
    copy.exposures.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one_line_usage_error(run(*copy.args(), capsys=capsys), "time zone")


def test_a_glob_that_matches_nothing_is_one_line(
    logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = logs.args()
    arguments[arguments.index("--events") + 1] = str(logs.directory / "nothing-*.jsonl")
    one_line_usage_error(run(*arguments, capsys=capsys), "--events", "no such file")


def test_an_invalid_metrics_file_prints_its_problems(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"metrics": [{"name": "metrics/x", "event": 3}]}), "utf-8")
    result = run(*logs.args("--metrics", str(metrics)), capsys=capsys)
    assert result.code == 1
    problems = json.loads(result.out)["problems"]
    assert problems and all(p["path"].startswith("$.metrics[0]") for p in problems)


# -- nothing writes over its inputs ------------------------------------------------------------


@pytest.mark.parametrize("which", ["snapshot", "exposures", "events", "link", "relative"])
def test_output_never_overwrites_an_input(
    copy: Logs, capsys: pytest.CaptureFixture[str], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p: p.read_bytes() for p in (copy.snapshot, copy.exposures, copy.events)}
    if which == "link":
        target = copy.directory / "link.jsonl"
        target.symlink_to(copy.events)
    elif which == "relative":
        monkeypatch.chdir(copy.directory)
        target = Path("./sub/../exposures.jsonl")
        (copy.directory / "sub").mkdir()
    else:
        target = getattr(copy, which)
    result = run(*copy.args("--format", "html", "-o", str(target)), capsys=capsys)
    one_line_usage_error(result, "-o", "one of the inputs")
    assert {p: p.read_bytes() for p in before} == before


def test_the_command_as_a_user_runs_it(copy: Logs, tmp_path: Path) -> None:
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "flagstone", *copy.args()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "metrics/purchase" in done.stdout and "SRM:" in done.stdout
    assert done.stderr == ""  # piped: no progress
    bad = subprocess.run(
        [sys.executable, "-m", "flagstone", *copy.args()[:-2], "--at", "2026-11-23T00:00"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
