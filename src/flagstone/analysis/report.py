"""The experiment report: one self-contained HTML page from an :class:`ExperimentAnalysis`.

:func:`to_html` writes what an experimenter reads before deciding, top to bottom:

* the **decision** per treatment (ship, do not ship, inconclusive) with its reasons;
* a **summary table** of every metric and treatment (means, differences with their
  intervals, p-value, adjusted alpha, status);
* per metric, a **forest plot** of each treatment's relative effect and its interval
  against zero, with the minimum detectable effect (MDE) and the non-inferiority margin
  marked, and for a sequential test the **path of the test statistic** against the
  group-sequential bounds at each look;
* the **assignment**: units per variant over time, their share against the planned split,
  and the sample-ratio-mismatch (SRM) p-value at each look; what the aggregation dropped
  (units exposed to more than one variant, override exposures, duplicates, malformed lines
  with the first few shown);
* every **annotation** of the analysis.

The plots are drawn with matplotlib (the ``report`` extra) and inlined as SVG: text is
drawn as paths, so the page needs no font, script, style sheet or image from anywhere else
and looks the same offline, in a mail attachment or an archive. Every number comes from
the analysis as the engine computed it; this module only draws. On the sequential plot the
statistic is the z-equivalent of the look's p-value, ``sign(statistic) * Phi^-1(1 - p/2)`` (the
statistic itself for a z-test), and each look's bound is ``Phi^-1(1 - alpha_k/2)`` for its
adjusted alpha ``alpha_k``, so a point crosses its bound exactly when the look is significant,
whichever the test.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flagstone._version import __version__
from flagstone.analysis.normal import normal_quantile

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from flagstone.analysis.experiment import ExperimentAnalysis
    from flagstone.analysis.inputs import MetricInput
    from flagstone.analysis.results import MetricComparison
    from flagstone.model.metrics import MetricDefinition, MetricPart

__all__ = ["to_html"]

_STATUS_PREFIX = "METRIC_RESULT_STATUS_"
_RECOMMENDATION_PREFIX = "TREATMENT_RECOMMENDATION_"

# status → (label, colour); colours pass WCAG AA on white
_STATUSES: dict[str, tuple[str, str]] = {
    "SIGNIFICANT_POSITIVE": ("significant, positive", "#1a7f37"),
    "SIGNIFICANT_NEGATIVE": ("significant, negative", "#cf222e"),
    "GUARDRAIL_DETERIORATION": ("guardrail deterioration", "#cf222e"),
    "NOT_SIGNIFICANT": ("not significant", "#57606a"),
    "UNDERPOWERED": ("underpowered", "#9a6700"),
}
_RECOMMENDATIONS: dict[str, tuple[str, str]] = {
    "SHIP": ("Ship", "#1a7f37"),
    "DO_NOT_SHIP": ("Do not ship", "#cf222e"),
    "INCONCLUSIVE": ("Inconclusive", "#57606a"),
}
_LEVELS = {"error": "#cf222e", "warning": "#9a6700", "info": "#0969da"}
_PALETTE = ("#0969da", "#bf3989", "#1b7c83", "#bc4c00", "#4d2d8f", "#6e7781")
"""Treatment colours (the control is drawn in :data:`_CONTROL`)."""
_CONTROL = "#24292f"
_MDE = "#8250df"
_MARGIN = "#cf222e"
_BOUND = "#8c959f"
_MALFORMED_SHOWN = 5
_MINUS = "\u2212"  # a typographic minus, as wide as a plus

_RC: dict[str, Any] = {
    "svg.fonttype": "path",  # text as paths: no font needed where the page is read
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "axes.labelcolor": "#24292f",
    "xtick.color": "#57606a",
    "ytick.color": "#24292f",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
}


def to_html(analysis: ExperimentAnalysis) -> str:
    """The report of ``analysis`` as one self-contained HTML document (see the module
    docstring for what it shows).

    Needs matplotlib (``pip install "flagstone[report]"``); without it raises
    :class:`ModuleNotFoundError` naming it and the extra.
    """
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "the HTML report needs matplotlib, which is not installed: "
            'pip install "flagstone[report]"',
            name="matplotlib",
        ) from error
    return _Page(analysis).render()


# -- formatting --------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else _MINUS + "∞"
    return f"{value:.4g}".replace("-", _MINUS)


def _percent(fraction: float | None, *, signed: bool = True) -> str:
    if fraction is None or math.isnan(fraction):
        return "n/a"
    if math.isinf(fraction):
        return "∞" if fraction > 0 else _MINUS + "∞"
    text = f"{fraction * 100:+.2f}" if signed else f"{fraction * 100:.2f}"
    return text.replace("-", _MINUS) + " %"


def _p_value(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _interval(value: float | None, lower: float | None, upper: float | None, pct: bool) -> str:
    show = _percent if pct else _number
    if value is None:
        return "n/a"
    return f"{show(value)} <span class=ci>[{show(lower)}, {show(upper)}]</span>"


def _status(status: str) -> tuple[str, str]:
    short = status.removeprefix(_STATUS_PREFIX)
    return _STATUSES.get(short, (short.lower().replace("_", " "), "#57606a"))


def _readable(text: str) -> str:
    """``text`` with the APIs' status constants spelled as the report labels them."""
    return re.sub(
        r"(?:METRIC_RESULT_STATUS_|TREATMENT_RECOMMENDATION_)([A-Z_]+)",
        lambda match: (
            _status(match.group(1))[0]
            if match.group(0).startswith(_STATUS_PREFIX)
            else _recommendation(match.group(1))[0].lower()
        ),
        text,
    )


def _recommendation(status: str) -> tuple[str, str]:
    short = status.removeprefix(_RECOMMENDATION_PREFIX)
    return _RECOMMENDATIONS.get(short, (short.replace("_", " ").title(), "#57606a"))


def _time(text: str) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset) as an aware datetime; ``None`` otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_AGGREGATIONS = {
    "CONVERSION": "at least one {event!r} event (0/1)",
    "COUNT": "the number of {event!r} events",
    "SUM": "the sum of the values of {event!r} events",
    "AVERAGE": "the average value of {event!r} events (units with one)",
}


def _part(part: MetricPart) -> str:
    return _AGGREGATIONS[part.aggregation].format(event=part.event)


_TOTALS = {
    "CONVERSION": "units with a {event!r} event",
    "COUNT": "{event!r} events",
    "SUM": "{event!r} values",
    "AVERAGE": "per-unit average {event!r} values",
}


def _defined(definition: MetricDefinition) -> str:
    """What a metric counts per unit, and when, in a sentence."""
    from flagstone.model.metrics import format_duration

    if definition.ratio is not None:
        numerator, denominator = definition.ratio.numerator, definition.ratio.denominator
        what = (
            f"the total of {_TOTALS[numerator.aggregation].format(event=numerator.event)} over "
            f"the total of {_TOTALS[denominator.aggregation].format(event=denominator.event)}, "
            "across units (a ratio metric, delta method)"
        )
    else:
        parts = definition.parts
        what = f"per unit, {_part(parts[0])}" if parts else "per unit"
    window = definition.window
    start = format_duration(window.start)
    if window.end is None:
        when = f"from {start} after the unit's first exposure until the analysis time"
    else:
        when = f"from {start} to {format_duration(window.end)} after the unit's first exposure"
    text = f"{what}, {when}"
    covariate = definition.covariate_window
    if covariate is not None:
        text += (
            f"; CUPED covariate: the same from {format_duration(covariate.start)} to "
            f"{format_duration(covariate.end)} around the first exposure"
        )
    if definition.description:
        text += f". {definition.description}"
    return text


def _metric_sort(comparisons: Iterable[MetricComparison]) -> list[str]:
    return list(dict.fromkeys(c.metric for c in comparisons))


# -- plots -------------------------------------------------------------------------------------


_ID = re.compile(r'\b(id)="([^"]+)"')
_REFERENCE = re.compile(r'((?:xlink:)?href="|url\()#([^")]+)')


class _Plots:
    """Figures drawn with matplotlib's object API (no pyplot, no global state but the
    rcParams of one ``rc_context`` per figure), each returned as inline SVG."""

    def __init__(self) -> None:
        self._count = 0

    def svg(self, figure: Figure, label: str) -> str:
        """``figure`` as an ``<svg>`` element (no XML prolog, no metadata) with a text
        alternative, its ids (and the references to them) prefixed with the figure's number
        so they stay unique when several figures share one page."""
        buffer = io.StringIO()
        figure.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
        text = buffer.getvalue()
        svg = text[text.index("<svg") :].strip()
        prefix = f"fig{self._count}-"
        svg = _ID.sub(lambda m: f'{m.group(1)}="{prefix}{m.group(2)}"', svg)
        svg = _REFERENCE.sub(lambda m: f"{m.group(1)}#{prefix}{m.group(2)}", svg)
        return svg.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" class="plot" ', 1)

    def draw(self, build: Any, *args: Any, label: str) -> str:
        """Build a figure with ``build(*args)`` under the report's style and return its SVG.
        Each figure hashes its SVG ids with a salt of its own, so ids stay unique when
        several figures share one page."""
        from matplotlib import rc_context

        self._count += 1
        settings: Any = {**_RC, "svg.hashsalt": f"flagstone-report-{self._count}"}
        with rc_context(settings):
            figure = build(*args)
            return self.svg(figure, label)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _forest(
    metric: MetricInput, comparisons: Sequence[MetricComparison], colors: Mapping[str, str]
) -> Figure:
    """Each treatment's relative effect (percent) with its interval, against zero, the MDE
    (in the preferred direction) and the non-inferiority margin (against it, its side
    shaded)."""
    from matplotlib.lines import Line2D

    rows = len(comparisons)
    figure = _figure(8.6, 0.5 * rows + 1.25)
    axes = figure.add_subplot()
    sign = 1.0 if metric.direction == "INCREASE" else -1.0
    mde = metric.minimum_detectable_effect
    margin = metric.non_inferiority_margin
    marks = [0.0]
    if mde is not None:
        marks.append(100 * sign * mde)
    if margin is not None:
        marks.append(-100 * sign * margin)
    finite = list(marks)
    for comparison in comparisons:
        relative = comparison.latest.relative_difference
        for value in (relative.value, relative.lower, relative.upper):
            if value is not None and math.isfinite(value):
                finite.append(100 * value)
    low, high = min(finite), max(finite)
    pad = max(0.12 * (high - low), 0.5)
    low, high = low - pad, high + pad
    axes.set_xlim(low, high)
    axes.set_ylim(-0.7, rows - 0.3)

    handles = [Line2D([], [], color=_CONTROL, linewidth=1.0, label="no effect")]
    axes.axvline(0.0, color=_CONTROL, linewidth=1.0, zorder=1)
    if mde is not None:
        x = 100 * sign * mde
        axes.axvline(x, color=_MDE, linestyle="--", linewidth=1.2, zorder=1)
        handles.append(
            Line2D([], [], color=_MDE, linestyle="--", label=f"MDE {_percent(sign * mde)}")
        )
    if margin is not None:
        x = -100 * sign * margin
        axes.axvline(x, color=_MARGIN, linestyle=":", linewidth=1.5, zorder=1)
        axes.axvspan(*((low, x) if sign > 0 else (x, high)), color=_MARGIN, alpha=0.07, lw=0)
        handles.append(
            Line2D(
                [],
                [],
                color=_MARGIN,
                linestyle=":",
                linewidth=1.5,
                label=f"non-inferiority margin {_percent(-sign * margin)}",
            )
        )

    labels = []
    for index, comparison in enumerate(comparisons):
        y = rows - 1 - index
        labels.append((y, comparison.compared))
        relative = comparison.latest.relative_difference
        _, color = _status(comparison.status)
        text_y = axes.get_yaxis_transform()
        if relative.value is None:
            axes.text(
                0.5,
                y,
                "no relative difference (the control mean is 0)",
                transform=text_y,
                ha="center",
                va="center",
                color="#57606a",
            )
            continue
        lower = relative.lower if relative.lower is not None else -math.inf
        upper = relative.upper if relative.upper is not None else math.inf
        left = max(100 * lower, low)
        right = min(100 * upper, high)
        axes.plot([left, right], [y, y], color=color, linewidth=2.6, solid_capstyle="butt")
        for end, open_, marker in (
            (left, 100 * lower <= low, "<"),
            (right, 100 * upper >= high, ">"),
        ):
            if open_:
                axes.plot([end], [y], marker=marker, color=color, markersize=7)
            else:
                axes.plot([end, end], [y - 0.14, y + 0.14], color=color, linewidth=1.6)
        axes.plot(
            [100 * relative.value],
            [y],
            marker="D",
            markersize=7,
            color=color,
            markeredgecolor="white",
            zorder=3,
        )
        axes.text(
            1.01,
            y,
            f"{_percent(relative.value)}  [{_percent(relative.lower)}, {_percent(relative.upper)}]",
            transform=text_y,
            ha="left",
            va="center",
            color=color,
        )
    axes.set_yticks([y for y, _ in labels], [name for _, name in labels])
    for tick, (_, name) in zip(axes.get_yticklabels(), labels, strict=True):
        tick.set_color(colors.get(name, _CONTROL))
        tick.set_fontweight("bold")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(nbins=7))
    span = high - low
    decimals = 0 if span >= 12 else 1 if span >= 2 else 2
    axes.xaxis.set_major_formatter(
        lambda value, _: f"{value:+.{decimals}f} %".replace("-", _MINUS).replace("+0 %", "0 %")
    )
    axes.set_xlabel("relative difference, treatment / control \u2212 1, with its interval")
    axes.grid(axis="x", color="#eaeef2", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        borderaxespad=0.2,
    )
    return figure


def _z_equivalent(comparison: MetricComparison, method: str) -> list[float]:
    """Each look's statistic on the z scale (see the module docstring)."""
    values = []
    for look in comparison.intervals:
        if method == "METHOD_Z_TEST":
            z = look.statistic
        elif look.p_value <= 0.0:
            z = math.copysign(math.inf, look.statistic)
        else:
            z = math.copysign(-normal_quantile(min(look.p_value, 1.0) / 2), look.statistic)
            z = 0.0 if look.p_value >= 1.0 else z
        values.append(z if math.isfinite(z) else math.nan)
    return values


def _bounds(comparison: MetricComparison) -> list[float]:
    """Each look's two-sided bound on the z scale; NaN where the look spends no alpha."""
    return [
        -normal_quantile(look.adjusted_alpha / 2) if look.adjusted_alpha > 0 else math.nan
        for look in comparison.intervals
    ]


def _look_axis(times: Sequence[str | None]) -> tuple[list[Any], bool]:
    """The x values of the looks: datetimes when every look has an RFC 3339 time, else the
    look numbers 1, 2, …"""
    moments = [_time(t) if t is not None else None for t in times]
    if moments and all(m is not None for m in moments):
        return list(moments), True
    return list(range(1, len(times) + 1)), False


def _dates(axes: Axes, most: int = 8) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=2, maxticks=most)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    formats = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%S.%f"]
    zero_formats = ["", "%Y", "%b %d", "%b %d", "%H:%M", "%H:%M"]
    axes.xaxis.set_major_formatter(
        ConciseDateFormatter(  # type: ignore[no-untyped-call]
            locator, formats=formats, zero_formats=zero_formats, show_offset=False
        )
    )


def _sequential(
    comparisons: Sequence[MetricComparison], method: str, colors: Mapping[str, str]
) -> Figure:
    """Each treatment's statistic at every look against its bounds +-Phi^-1(1 - alpha_k/2)."""
    figure = _figure(8.6, 2.7)
    axes = figure.add_subplot()
    reach = 3.0
    dated = False
    for comparison in comparisons:
        color = colors.get(comparison.compared, _CONTROL)
        x, dated = _look_axis([look.time for look in comparison.intervals])
        z = _z_equivalent(comparison, method)
        bound = _bounds(comparison)
        axes.plot(x, bound, color=color, linestyle="--", linewidth=1.0, alpha=0.7)
        axes.plot(x, [-b for b in bound], color=color, linestyle="--", linewidth=1.0, alpha=0.7)
        axes.plot(
            x,
            z,
            color=color,
            marker="o",
            markersize=4.5,
            linewidth=1.8,
            label=f"{comparison.compared}",
        )
        significant = [
            xi for xi, look in zip(x, comparison.intervals, strict=True) if look.significant
        ]
        sig_z = [zi for zi, look in zip(z, comparison.intervals, strict=True) if look.significant]
        if significant:
            axes.plot(
                significant,
                sig_z,
                linestyle="none",
                marker="o",
                markersize=9,
                markerfacecolor="none",
                markeredgecolor=color,
                markeredgewidth=1.4,
            )
        reach = max([reach, *(abs(v) for v in (*z, *bound) if math.isfinite(v))])
    axes.axhline(0.0, color=_CONTROL, linewidth=0.8)
    axes.set_ylim(-1.12 * reach, 1.12 * reach)
    axes.set_ylabel("statistic (z scale)")
    axes.grid(axis="y", color="#eaeef2", linewidth=0.8)
    axes.set_axisbelow(True)
    if dated:
        _dates(axes)
    else:
        axes.set_xlabel("look")
        axes.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    from matplotlib.lines import Line2D

    handles, _ = axes.get_legend_handles_labels()
    handles.append(Line2D([], [], color=_BOUND, linestyle="--", label="bounds at each look"))
    handles.append(
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markerfacecolor="none",
            markeredgecolor=_BOUND,
            label="significant look",
        )
    )
    axes.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        borderaxespad=0.2,
    )
    return figure


def _srm_path(
    timeline: Sequence[tuple[str, Mapping[str, int]]],
    groups: Sequence[str],
    weights: Sequence[float],
) -> list[float]:
    """The SRM p-value at each look of ``timeline`` (NaN before every group has units)."""
    from flagstone.analysis.srm import sample_ratio_mismatch

    path = []
    for _, units in timeline:
        observed = [int(units.get(group, 0)) for group in groups]
        if sum(observed) == 0:
            path.append(math.nan)
            continue
        path.append(sample_ratio_mismatch(observed, weights).p_value)
    return path


def _assignment(
    timeline: Sequence[tuple[str, Mapping[str, int]]],
    groups: Sequence[str],
    weights: Sequence[float],
    srm_p: float | None,
    srm_alpha: float,
    colors: Mapping[str, str],
) -> Figure:
    """Units per variant over time, their share against the plan, the SRM p-value."""
    figure = _figure(10.0, 2.9)
    units_axes, share_axes, srm_axes = figure.subplots(1, 3)
    x, dated = _look_axis([time for time, _ in timeline])
    total_weight = sum(weights) or 1.0
    for group, weight in zip(groups, weights, strict=True):
        color = colors.get(group, _CONTROL)
        counts = [int(units.get(group, 0)) for _, units in timeline]
        totals = [sum(int(v) for v in units.values()) for _, units in timeline]
        units_axes.plot(
            x, counts, color=color, marker="o", markersize=3.5, linewidth=1.6, label=group
        )
        shares = [100 * c / t if t else math.nan for c, t in zip(counts, totals, strict=True)]
        share_axes.plot(x, shares, color=color, marker="o", markersize=3.5, linewidth=1.6)
        planned = 100 * weight / total_weight
        shared = sum(1 for w in weights if abs(w - weight) <= 1e-9 * total_weight) > 1
        share_axes.axhline(
            planned, color=_BOUND if shared else color, linestyle="--", linewidth=1.2, alpha=0.9
        )
    units_axes.set_title("units assigned (cumulative)", loc="left")
    units_axes.legend(loc="upper left")
    units_axes.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    share_axes.set_title("share of units; dashed: planned", loc="left")
    share_axes.yaxis.set_major_formatter(lambda value, _: f"{value:.1f} %")
    path = _srm_path(timeline, groups, weights)
    srm_axes.plot(x, path, color=_CONTROL, marker="o", markersize=3.5, linewidth=1.6)
    srm_axes.axhline(srm_alpha, color=_MARGIN, linestyle=":", linewidth=1.5)
    srm_axes.set_yscale("log")
    finite = [p for p in path if math.isfinite(p) and p > 0]
    srm_axes.set_ylim(min([srm_alpha / 10, *finite]) / 2, 1.5)
    srm_axes.text(
        0.02,
        srm_alpha,
        f" mismatch below {srm_alpha:g}",
        color=_MARGIN,
        va="bottom",
        transform=srm_axes.get_yaxis_transform(),
    )
    last = f"{srm_p:.3g}" if srm_p is not None else "n/a"
    srm_axes.set_title(f"SRM p-value (now {last})", loc="left")
    for axes in (units_axes, share_axes, srm_axes):
        axes.grid(axis="y", color="#eaeef2", linewidth=0.8)
        axes.set_axisbelow(True)
        if dated:
            _dates(axes, most=4)
        else:
            axes.set_xlabel("look")
    return figure


# -- the page ----------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 28px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; }
header .sub { color: #57606a; margin: 0; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 18px 22px; margin: 20px 0; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 22px 0 4px; }
h3:first-of-type { margin-top: 4px; }
.meta { color: #57606a; margin: 0 0 8px; font-size: 14px; }
.decisions { display: flex; flex-wrap: wrap; gap: 14px; }
.decision { flex: 1 1 300px; border: 1px solid #d0d7de; border-left: 6px solid;
  border-radius: 6px; padding: 10px 14px; }
.decision .verdict { font-size: 20px; font-weight: 700; }
.decision ul { margin: 6px 0 0; padding-left: 18px; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; }
th, td { text-align: left; padding: 5px 7px; border-bottom: 1px solid #eaeef2;
  vertical-align: top; }
th { color: #57606a; font-weight: 600; border-bottom: 1px solid #d0d7de; }
td.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.ci { color: #57606a; }
td.num .ci { display: block; font-size: 12px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12.5px;
  font-weight: 600; color: #fff; }
.plot { display: block; width: 100%; height: auto; margin: 6px 0; }
.notes { list-style: none; padding: 0; margin: 0; }
.notes li { border-left: 4px solid; padding: 4px 10px; margin: 6px 0; background: #f6f8fa; }
.level { font-weight: 700; text-transform: uppercase; font-size: 12px; margin-right: 6px; }
code { font-size: 13px; background: #f6f8fa; padding: 0 4px; border-radius: 4px; }
footer { color: #57606a; font-size: 13px; text-align: center; }
"""


class _Page:
    """The HTML of one report; sections render in order."""

    def __init__(self, analysis: ExperimentAnalysis) -> None:
        self.analysis = analysis
        self.outcome = analysis.outcome
        self.plots = _Plots()
        groups = [self.outcome.control, *self.outcome.treatments]
        self.colors = {self.outcome.control: _CONTROL}
        for index, treatment in enumerate(self.outcome.treatments):
            self.colors[treatment] = _PALETTE[index % len(_PALETTE)]
        self.groups = groups

    def render(self) -> str:
        analysis = self.analysis
        title = analysis.display_name or analysis.test.rsplit("/", 1)[-1]
        body = "\n".join(
            [
                self._header(title),
                self._decisions(),
                self._summary(),
                self._metrics(),
                self._assignment(),
                self._annotations(),
                f"<footer>flagstone {_e(__version__)} · analysis of {_e(analysis.test)} at "
                f"{_e(_when(analysis.at))}</footer>",
            ]
        )
        return (
            "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
            '<meta name=viewport content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)} · experiment report</title>\n<style>{_CSS}</style>\n"
            f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
        )

    # -- sections --

    def _header(self, title: str) -> str:
        outcome = self.outcome
        units = sum(int(v) for v in self.analysis.aggregated.units.values())
        method = {"METHOD_Z_TEST": "z-test", "METHOD_T_TEST": "Welch's t-test"}.get(
            outcome.method, outcome.method
        )
        settings = (
            f"alpha {outcome.alpha:g} · power {outcome.power:g} · {method} · "
            f"{outcome.horizon.lower()} horizon · {outcome.correction} correction"
        )
        return (
            f"<header><h1>{_e(title)}</h1>"
            f"<p class=sub><code>{_e(self.analysis.test)}</code> · analysed at "
            f"{_e(_when(self.analysis.at))} · {units:,} units in {len(self.groups)} variants "
            f"· control <b>{_e(outcome.control)}</b></p>"
            f"<p class=sub>{_e(settings)}</p></header>"
        )

    def _decisions(self) -> str:
        cards = []
        for recommendation in self.outcome.recommendations:
            label, color = _recommendation(recommendation.status)
            reasons = "".join(
                f"<li>{_e(_readable(reason))}</li>" for reason in recommendation.reasons
            )
            cards.append(
                f'<div class=decision style="border-left-color:{color}">'
                f'<div><b style="color:{self.colors.get(recommendation.treatment, _CONTROL)}">'
                f"{_e(recommendation.treatment)}</b> vs {_e(self.outcome.control)}</div>"
                f'<div class=verdict style="color:{color}">{_e(label)}</div>'
                f"{f'<ul>{reasons}</ul>' if reasons else ''}</div>"
            )
        return f"<section><h2>Decision</h2><div class=decisions>{''.join(cards)}</div></section>"

    def _summary(self) -> str:
        rows = []
        for comparison in self.outcome.comparisons:
            latest = comparison.latest
            label, color = _status(comparison.status)
            relative = latest.relative_difference
            absolute = latest.difference
            rows.append(
                "<tr>"
                f"<td>{self._metric_name(comparison.metric)}</td>"
                f'<td><b style="color:{self.colors.get(comparison.compared, _CONTROL)}">'
                f"{_e(comparison.compared)}</b></td>"
                f"<td class=num>{_number(latest.baseline_mean)}</td>"
                f"<td class=num>{_number(latest.compared_mean)}</td>"
                f"<td class=num>{_interval(relative.value, relative.lower, relative.upper, True)}"
                "</td>"
                f"<td class=num>{_interval(absolute.value, absolute.lower, absolute.upper, False)}"
                "</td>"
                f"<td class=num>{_p_value(latest.p_value)}</td>"
                f"<td class=num>{_number(comparison.adjusted_alpha)}</td>"
                f'<td><span class=badge style="background:{color}">{_e(label)}</span></td>'
                "</tr>"
            )
        head = (
            "<tr><th>metric</th><th>treatment</th><th>control mean</th>"
            "<th>treatment mean</th><th>relative difference</th><th>absolute difference</th>"
            "<th>p-value</th><th>adj. alpha</th><th>status</th></tr>"
        )
        return (
            "<section><h2>Results</h2>"
            f"<div class=wide><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            "</div><p class=meta>Differences are treatment \u2212 control; intervals are at each "
            "comparison's adjusted alpha"
            + (", at the latest look" if self.outcome.horizon == "SEQUENTIAL" else "")
            + ". Means are CUPED-adjusted where the metric has a covariate. A status comes from "
            "the test of the absolute difference; the relative interval (delta method) can "
            "disagree with it by a hair near zero.</p></section>"
        )

    def _metric_name(self, metric: str) -> str:
        """A metric's display name over its id (small), or its id alone."""
        definition = self.analysis.metrics.get(metric)
        if definition is None or not definition.display_name:
            return _e(metric)
        return f"{_e(definition.display_name)}<br><span class=ci>{_e(metric)}</span>"

    def _metrics(self) -> str:
        inputs = {metric.id: metric for metric in self.analysis.input.metrics}
        parts = ["<section><h2>Metrics</h2>"]
        for metric_id in _metric_sort(self.outcome.comparisons):
            metric = inputs[metric_id]
            comparisons = [c for c in self.outcome.comparisons if c.metric == metric_id]
            parts.append(self._metric(metric, comparisons))
        parts.append("</section>")
        return "".join(parts)

    def _metric(self, metric: MetricInput, comparisons: Sequence[MetricComparison]) -> str:
        facts = [
            f"{metric.kind.lower()} metric",
            f"preferred direction: {metric.direction.lower()}",
            "MDE "
            + (
                _percent(metric.minimum_detectable_effect, signed=False)
                if metric.minimum_detectable_effect is not None
                else "not set"
            ),
        ]
        if metric.non_inferiority_margin is not None:
            facts.append(
                f"non-inferiority margin {_percent(metric.non_inferiority_margin, signed=False)}"
            )
        definition = self.analysis.metrics.get(metric.id)
        title = _e(metric.id)
        if definition is not None and definition.display_name:
            title = f"{_e(definition.display_name)} <code>{_e(metric.id)}</code>"
        parts = [f"<h3>{title}</h3>"]
        if definition is not None:
            parts.append(f"<p class=meta>{_e(_defined(definition))}</p>")
        parts.append(f"<p class=meta>{_e(' · '.join(facts))}</p>")
        parts.append(
            self.plots.draw(
                _forest,
                metric,
                comparisons,
                self.colors,
                label=f"forest plot of the relative effect on {metric.id}",
            )
        )
        sequential = self.outcome.horizon == "SEQUENTIAL"
        if sequential:
            parts.append(
                f"<p class=meta>Sequential test: the statistic at each of "
                f"{len(comparisons[0].intervals)} looks against its alpha-spending bounds "
                "(dashed); it is significant when it crosses them.</p>"
            )
            parts.append(
                self.plots.draw(
                    _sequential,
                    comparisons,
                    self.outcome.method,
                    self.colors,
                    label=f"sequential test statistic of {metric.id} against its bounds",
                )
            )
        rows = []
        for comparison in comparisons:
            label, color = _status(comparison.status)
            power = []
            if comparison.powered is not None:
                power.append("powered" if comparison.powered else "not powered yet")
            if comparison.required_sample_size is not None:
                power.append(
                    f"{comparison.current_sample_size:,} of "
                    f"{comparison.required_sample_size:,} units needed for the MDE"
                )
            if comparison.powered_effect_rel is not None:
                power.append(f"detects {_percent(comparison.powered_effect_rel, signed=False)} now")
            extra = []
            if comparison.variance_reduction_rate is not None:
                reduction = _percent(comparison.variance_reduction_rate, signed=False)
                extra.append(f"CUPED variance reduction {reduction}")
            if comparison.non_inferiority_p_value is not None:
                p_value = _p_value(comparison.non_inferiority_p_value)
                extra.append(
                    f"non-inferiority p {p_value if p_value[0] == '<' else '= ' + p_value}"
                )
            rows.append(
                f'<tr><td><b style="color:{self.colors.get(comparison.compared, _CONTROL)}">'
                f"{_e(comparison.compared)}</b></td>"
                f"<td class=nowrap>"
                f'<span class=badge style="background:{color}">{_e(label)}</span></td>'
                f"<td>{_e(comparison.message)}</td>"
                f"<td>{_e('; '.join(power + extra)) or '—'}</td></tr>"
            )
        parts.append(
            "<table><thead><tr><th>treatment</th><th>status</th><th>why</th>"
            f"<th>power</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        return "".join(parts)

    def _assignment(self) -> str:
        aggregated = self.analysis.aggregated
        srm = self.outcome.srm
        weights_by_group = self.analysis.input.expected_weights or {}
        groups = list(self.groups)
        weights = [float(weights_by_group.get(group, 1.0)) for group in groups]
        total_weight = sum(weights) or 1.0
        parts = ["<section><h2>Assignment</h2>"]
        from flagstone.analysis.engine import SRM_ALPHA

        if srm is not None:
            verdict = (
                f'<b style="color:{_LEVELS["error"]}">sample ratio mismatch</b>'
                if srm.mismatch
                else "no sample ratio mismatch"
            )
            parts.append(
                f"<p class=meta>{verdict}: chi-square {srm.statistic:.3g}, "
                f"p = {srm.p_value:.3g} (a mismatch is p &lt; {SRM_ALPHA:g})</p>"
            )
        timeline = list(aggregated.timeline)
        if timeline:
            parts.append(
                self.plots.draw(
                    _assignment,
                    timeline,
                    groups,
                    weights,
                    srm.p_value if srm is not None else None,
                    SRM_ALPHA,
                    self.colors,
                    label="units per variant over time, their share and the SRM p-value",
                )
            )
        units = aggregated.units
        total = sum(int(units.get(g, 0)) for g in groups) or 1
        rows = "".join(
            f'<tr><td><b style="color:{self.colors.get(group, _CONTROL)}">{_e(group)}</b></td>'
            f"<td class=num>{int(units.get(group, 0)):,}</td>"
            f"<td class=num>{_percent(int(units.get(group, 0)) / total, signed=False)}</td>"
            f"<td class=num>{_percent(weight / total_weight, signed=False)}</td></tr>"
            for group, weight in zip(groups, weights, strict=True)
        )
        parts.append(
            "<table><thead><tr><th>variant</th><th>units</th><th>share</th><th>planned</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        parts.append(self._dropped())
        parts.append("</section>")
        return "".join(parts)

    def _dropped(self) -> str:
        aggregated = self.analysis.aggregated
        malformed = aggregated.malformed
        items = [
            f"{aggregated.exposures:,} exposure records of the test read",
            f"{aggregated.excluded_multi_variant:,} units exposed to more than one variant "
            "(excluded)",
            f"{aggregated.dropped_overrides:,} override exposures (dropped)",
            f"{aggregated.duplicates:,} duplicate exposures (dropped)",
        ]
        if aggregated.unknown_variants:
            items.append(
                f"{aggregated.unknown_variants:,} exposures to a variant that is not one of "
                "the test's treatments (dropped)"
            )
        if aggregated.duplicate_events:
            items.append(f"{aggregated.duplicate_events:,} duplicate events (dropped)")
        lines = "".join(f"<li>{_e(item)}</li>" for item in items)
        lines += (
            f"<li>{malformed.exposures:,} malformed exposure records and {malformed.events:,} "
            "malformed events (skipped)"
        )
        shown = [f"<li><code>{_e(example)}</code></li>" for example in malformed.examples]
        if malformed.total > len(malformed.examples) and shown:
            shown.append(f"<li>… and {malformed.total - len(malformed.examples):,} more</li>")
        if shown:
            lines += f"<ul>{''.join(shown)}</ul>"
        lines += "</li>"
        return f"<p class=meta>What the aggregation left out:</p><ul>{lines}</ul>"

    def _annotations(self) -> str:
        notes = []
        for annotation in self.outcome.annotations:
            color = _LEVELS.get(annotation.level, "#57606a")
            context = (
                f" <span class=ci>({_e(', '.join(annotation.context))})</span>"
                if annotation.context
                else ""
            )
            notes.append(
                f'<li style="border-left-color:{color}"><span class=level style="color:{color}">'
                f"{_e(annotation.level)}</span>{_e(annotation.message)}{context}</li>"
            )
        body = f"<ul class=notes>{''.join(notes)}</ul>" if notes else "<p class=meta>none</p>"
        return f"<section><h2>Annotations</h2>{body}</section>"
