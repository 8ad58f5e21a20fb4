"""The HTML experiment report (``flagstone.analysis.report``): what it draws and writes.

The analyses are built from hand-written sufficient statistics run through the engine, so
the numbers a plot must show are the engine's (tested on their own against statsmodels and
scipy); these tests check that each plot draws exactly those numbers with the conventions
the report states (MDE on the preferred side, the non-inferiority margin on the other, the
sequential statistic on the z scale against ``Phi^-1(1 - alpha_k/2)``), with independent references
from scipy where the report computes something itself (the z-equivalent of a t-test's
p-value, the SRM p-value at each look: ``scipy.stats.norm.isf``, ``scipy.stats.chisquare``).
The page's rendering in a browser is ``tests/test_report_render.py``.
"""

from __future__ import annotations

import html.parser
import math
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

pytest.importorskip("matplotlib")
from scipy import stats as scipy_stats

from flagstone.analysis import report
from flagstone.analysis.engine import analyze
from flagstone.analysis.experiment import ExperimentAnalysis
from flagstone.analysis.inputs import parse_input
from flagstone.analysis.pipeline import Aggregated, Malformed, MalformedRecord

START = datetime(2026, 11, 16, tzinfo=timezone.utc)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def looks(
    rates: Mapping[str, float], per_day: Mapping[str, int], days: int
) -> list[tuple[str, dict[str, dict[str, float]]]]:
    """Cumulative 0/1 statistics at the end of each day: ``per_day`` units a day per group,
    ``rates`` their conversion rates."""
    found = []
    for day in range(1, days + 1):
        groups = {
            group: {"n": per_day[group] * day, "sum": round(per_day[group] * day * rate)}
            for group, rate in rates.items()
        }
        found.append((rfc3339(START + timedelta(days=day)), groups))
    return found


def revenue(groups: Mapping[str, Mapping[str, float]], lift: Mapping[str, float]) -> dict:
    """A continuous metric over the same units: mean 12 (times the group's lift), sd 30."""
    return {
        group: {
            "n": g["n"],
            "sum": g["n"] * 12.0 * lift.get(group, 1.0),
            "sum_sq": g["n"] * ((12.0 * lift.get(group, 1.0)) ** 2 + 30.0**2),
        }
        for group, g in groups.items()
    }


def make_analysis(
    *,
    sequential: bool = False,
    method: str = "z",
    direction: str = "INCREASE",
    rates: Mapping[str, float] | None = None,
    per_day: Mapping[str, int] | None = None,
    days: int = 6,
    weights: Mapping[str, float] | None = None,
    malformed: Malformed | None = None,
    names: tuple[str, str] = ("purchase", "revenue"),
) -> ExperimentAnalysis:
    rates = rates or {"control": 0.10, "treatment": 0.13, "big-button": 0.095}
    per_day = per_day or {group: 500 for group in rates}
    weights = weights or {group: 1.0 for group in rates}
    timeline = looks(rates, per_day, days)
    success: dict[str, Any] = {
        "id": names[0],
        "kind": "SUCCESS",
        "direction": direction,
        "minimum_detectable_effect": 0.1,
    }
    guardrail: dict[str, Any] = {
        "id": names[1],
        "kind": "GUARDRAIL",
        "direction": direction,
        "minimum_detectable_effect": 0.05,
        "non_inferiority_margin": 0.03,
    }
    lift = {"treatment": 1.01}
    if sequential:
        success["interims"] = [{"time": t, "groups": g} for t, g in timeline]
        guardrail["interims"] = [{"time": t, "groups": revenue(g, lift)} for t, g in timeline]
    else:
        success["groups"] = timeline[-1][1]
        guardrail["groups"] = revenue(timeline[-1][1], lift)
    document: dict[str, Any] = {
        "method": method,
        "control": "control",
        "expected_weights": dict(weights),
        "metrics": [success, guardrail],
    }
    if sequential:
        total = 2 * sum(per_day.values()) // len(per_day) * (days + 2)
        document["horizon"] = {"kind": "SEQUENTIAL", "expected_final_total": total}
    spec = parse_input(document)
    aggregated = Aggregated(
        stats=document,
        units={group: int(g["n"]) for group, g in timeline[-1][1].items()},
        timeline=tuple((t, {k: int(v["n"]) for k, v in g.items()}) for t, g in timeline),
        excluded_multi_variant=4,
        dropped_overrides=2,
        duplicates=31,
        malformed=malformed or Malformed(),
        exposures=sum(int(g["n"]) for g in timeline[-1][1].values()) + 37,
    )
    return ExperimentAnalysis(
        test="workflows/abtest/instances/checkout-test",
        display_name="Checkout redesign",
        at=START + timedelta(days=days),
        aggregated=aggregated,
        input=spec,
        outcome=analyze(spec),
    )


# -- the forest plot -------------------------------------------------------------------------


def _vertical_lines(axes: Any) -> list[float]:
    """The x of every full-height vertical line (``axvline``: y from 0 to 1 in axes units)."""
    return [
        float(line.get_xdata()[0])
        for line in axes.lines
        if len(line.get_xdata()) == 2
        and line.get_xdata()[0] == line.get_xdata()[1]
        and list(line.get_ydata()) == [0, 1]
    ]


@pytest.mark.parametrize("direction", ["INCREASE", "DECREASE"])
def test_forest_plot_draws_each_treatments_interval_and_the_mde_and_margin(direction: str) -> None:
    analysis = make_analysis(direction=direction)
    metric = analysis.input.metrics[1]  # the guardrail: MDE 5 %, margin 3 %
    comparisons = [c for c in analysis.outcome.comparisons if c.metric == metric.id]
    figure = report._forest(metric, comparisons, {})
    axes = figure.axes[0]

    # zero, the MDE on the preferred side, the margin on the other (percent)
    preferred = 1.0 if direction == "INCREASE" else -1.0
    assert sorted(_vertical_lines(axes)) == pytest.approx(
        sorted([0.0, preferred * 5.0, -preferred * 3.0])
    )
    # each treatment's row: its interval from lower to upper and its estimate, in percent
    ticks = zip(axes.get_yticklabels(), axes.get_yticks(), strict=True)
    rows = {tick.get_text(): y for tick, y in ticks}
    assert set(rows) == {"treatment", "big-button"}
    horizontal = [
        line
        for line in axes.lines
        if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]
    ]
    diamonds = [line for line in axes.lines if line.get_marker() == "D"]
    for comparison in comparisons:
        y = rows[comparison.compared]
        relative = comparison.latest.relative_difference
        assert relative.value is not None and relative.lower is not None
        assert relative.upper is not None
        spans = [sorted(line.get_xdata()) for line in horizontal if line.get_ydata()[0] == y]
        assert [100 * relative.lower, 100 * relative.upper] in [
            pytest.approx(span) for span in spans
        ]
        points = [d.get_xdata()[0] for d in diamonds if d.get_ydata()[0] == y]
        assert points == [pytest.approx(100 * relative.value)]


def test_forest_plot_marks_an_open_interval_at_the_edge_with_an_arrow() -> None:
    # a sequential look that spends no alpha has an unbounded interval (engine docstring)
    analysis = make_analysis()
    metric = analysis.input.metrics[0]
    comparison = next(c for c in analysis.outcome.comparisons if c.metric == metric.id)
    from dataclasses import replace

    from flagstone.analysis.results import Estimate

    relative = comparison.latest.relative_difference
    open_latest = replace(
        comparison.latest,
        relative_difference=Estimate(relative.value, -math.inf, math.inf),
    )
    figure = report._forest(metric, [replace(comparison, latest=open_latest)], {})
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    markers = {
        line.get_marker(): line.get_xdata()[0] for line in axes.lines if len(line.get_xdata()) == 1
    }
    assert markers["<"] == pytest.approx(low) and markers[">"] == pytest.approx(high)


# -- the sequential plot ---------------------------------------------------------------------


def test_sequential_plot_shows_the_z_equivalent_statistic_against_each_looks_bound() -> None:
    # Welch's t-test, so the z-equivalent of each p-value differs from the statistic
    analysis = make_analysis(
        sequential=True,
        method="t",
        rates={"control": 0.10, "treatment": 0.125},
        per_day={"control": 700, "treatment": 700},
        days=6,
    )
    comparison = analysis.outcome.comparisons[0]
    figure = report._sequential([comparison], analysis.outcome.method, {"treatment": "#123456"})
    axes = figure.axes[0]
    statistic_line = next(
        line for line in axes.lines if line.get_marker() == "o" and line.get_linestyle() == "-"
    )
    bound_lines = [line for line in axes.lines if line.get_linestyle() == "--"]

    expected_z = [
        math.copysign(scipy_stats.norm.isf(look.p_value / 2), look.statistic)
        for look in comparison.intervals
    ]
    expected_bound = [
        scipy_stats.norm.isf(look.adjusted_alpha / 2) for look in comparison.intervals
    ]
    assert list(statistic_line.get_ydata()) == pytest.approx(expected_z, rel=1e-9)
    uppers = [list(line.get_ydata()) for line in bound_lines]
    assert pytest.approx(expected_bound, rel=1e-9) in uppers
    assert pytest.approx([-b for b in expected_bound], rel=1e-9) in uppers
    # the point crosses its bound exactly at the looks the engine calls significant
    crossed = [abs(z) >= b for z, b in zip(expected_z, expected_bound, strict=True)]
    assert crossed == [look.significant for look in comparison.intervals]
    assert any(crossed) and not all(crossed)  # the data cross the bound mid-way
    # and the significant looks are circled
    circles = [line for line in axes.lines if line.get_linestyle() in ("None", "none")]
    circled = sorted(x for line in circles for x in line.get_xdata())
    times = [report._time(look.time or "") for look in comparison.intervals]
    assert circled == sorted(t for t, c in zip(times, crossed, strict=True) if c)


def test_a_z_test_plots_its_own_statistic() -> None:
    analysis = make_analysis(sequential=True)
    comparison = analysis.outcome.comparisons[0]
    z = report._z_equivalent(comparison, "METHOD_Z_TEST")
    assert z == [look.statistic for look in comparison.intervals]


# -- the assignment plot ---------------------------------------------------------------------


def test_assignment_plot_shows_units_shares_and_the_srm_p_value_at_each_look() -> None:
    analysis = make_analysis(
        rates={"control": 0.1, "treatment": 0.1},
        per_day={"control": 500, "treatment": 560},
        weights={"control": 1, "treatment": 1},
    )
    timeline = analysis.aggregated.timeline
    groups = ["control", "treatment"]
    figure = report._assignment(
        timeline, groups, [1.0, 1.0], analysis.outcome.srm.p_value, 0.001, {}
    )
    units_axes, share_axes, srm_axes = figure.axes
    for group, line in zip(groups, units_axes.lines, strict=True):
        assert list(line.get_ydata()) == [units[group] for _, units in timeline]
    control_share = [100 * u["control"] / (u["control"] + u["treatment"]) for _, u in timeline]
    assert list(share_axes.lines[0].get_ydata()) == pytest.approx(control_share)
    expected = [scipy_stats.chisquare([u["control"], u["treatment"]]).pvalue for _, u in timeline]
    assert list(srm_axes.lines[0].get_ydata()) == pytest.approx(expected, rel=1e-9)
    # the last look is the engine's SRM check
    assert expected[-1] == pytest.approx(analysis.outcome.srm.p_value, rel=1e-9)


# -- the page --------------------------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


@pytest.fixture(scope="module")
def sequential_page() -> tuple[ExperimentAnalysis, str]:
    analysis = make_analysis(
        sequential=True,
        # an imbalance the SRM check catches: an error annotation and DO_NOT_SHIP
        per_day={"control": 500, "treatment": 560, "big-button": 500},
        malformed=Malformed(
            exposures=7,
            events=2,
            examples=(
                MalformedRecord("exposures", "exposures.jsonl", 12, "not JSON"),
                MalformedRecord("events", "events.jsonl", 3, "no unit (unit)"),
            ),
        ),
    )
    return analysis, report.to_html(analysis)


def test_the_page_needs_nothing_from_elsewhere(sequential_page: tuple[Any, str]) -> None:
    _, page = sequential_page
    tags = _tags(page)
    names = {tag for tag, _ in tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "image"}
    for tag, attrs in tags:
        for name, value in attrs.items():
            if name in ("href", "xlink:href", "src"):
                assert value is not None and value.startswith("#"), (tag, name, value)
            if name in ("xmlns", "xmlns:xlink"):
                continue  # namespace names, never fetched
            assert "http" not in (value or ""), (tag, name, value)
    assert "url(" not in page.replace("url(#", "")  # clip paths point inside the page
    assert "@import" not in page and "@font-face" not in page


def test_the_page_has_every_plot_with_unique_svg_ids(sequential_page: tuple[Any, str]) -> None:
    analysis, page = sequential_page
    metrics = len(analysis.input.metrics)
    tags = _tags(page)
    svgs = [attrs for tag, attrs in tags if tag == "svg"]
    # per metric a forest plot and a sequential path, and the assignment plot
    assert len(svgs) == 2 * metrics + 1
    assert all(attrs.get("aria-label") for attrs in svgs)
    ids = [attrs["id"] for _, attrs in tags if attrs.get("id")]
    assert len(ids) == len(set(ids))


def test_a_fixed_horizon_page_has_no_sequential_plot() -> None:
    analysis = make_analysis()
    page = report.to_html(analysis)
    assert page.count("<svg ") == len(analysis.input.metrics) + 1
    assert "Sequential test" not in page


def test_the_page_states_every_decision_status_and_annotation(
    sequential_page: tuple[Any, str],
) -> None:
    analysis, page = sequential_page
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", page, flags=re.S))
    text = " ".join(html.unescape(text).split())
    for recommendation in analysis.outcome.recommendations:
        label = {
            "TREATMENT_RECOMMENDATION_SHIP": "Ship",
            "TREATMENT_RECOMMENDATION_DO_NOT_SHIP": "Do not ship",
            "TREATMENT_RECOMMENDATION_INCONCLUSIVE": "Inconclusive",
        }[recommendation.status]
        assert f"{recommendation.treatment} vs control {label}" in text
    for comparison in analysis.outcome.comparisons:
        assert " ".join(comparison.message.split()) in text
    assert analysis.outcome.annotations
    for annotation in analysis.outcome.annotations:
        assert " ".join(annotation.message.split()) in text
    # what the aggregation dropped, and the malformed lines with the first ones shown
    for fragment in (
        "4 units exposed to more than one variant",
        "2 override exposures",
        "31 duplicate exposures",
        "7 malformed exposure records and 2 malformed events",
        "exposures.jsonl:12: not JSON",
        "events.jsonl:3: no unit (unit)",
        "… and 7 more",
    ):
        assert fragment in text
    srm = analysis.outcome.srm
    assert f"p = {srm.p_value:.3g}" in text


def test_names_are_escaped() -> None:
    analysis = make_analysis(
        rates={"control": 0.1, "<b>x</b>": 0.12}, names=("<script>alert(1)</script>", "r&d")
    )
    page = report.to_html(analysis)
    assert "<script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "r&amp;d" in page


def test_without_matplotlib_the_report_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analysis = make_analysis()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ModuleNotFoundError, match=re.escape('pip install "flagstone[report]"')):
        report.to_html(analysis)


def _unused(_: Sequence[Any]) -> None:
    return None
