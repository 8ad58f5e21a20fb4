"""Metric definitions, and the ``metrics`` block of an A/B test (the Confidence A/B-test API's).

A **metric definition** says how a unit's events become one number per unit:

* ``event`` — the event name (``purchase``), as :func:`flagstone.Client.track` records it or
  as an application's own events table names it;
* ``aggregation`` — ``CONVERSION`` (1 when the unit has at least one such event, else 0),
  ``COUNT`` (how many), ``SUM`` (the sum of their values, null values skipped) or
  ``AVERAGE`` (the mean of their non-null values; a unit without one has no value and is
  left out of the metric's ``n``). Units without events count as 0 for the first three;
* or ``ratio`` — ``{"numerator": {"event", "aggregation"}, "denominator": {...}}``: the sum
  over units of one per-unit quantity over the sum of another (revenue per order:
  ``SUM`` of ``purchase`` over ``COUNT`` of ``purchase``), analysed with the delta method;
* ``window`` — when, after the unit's first exposure, its events count: ``{"start": "0s",
  "end": "7d"}`` (start inclusive, end exclusive); ``end`` left out means until the
  analysis time;
* ``covariateWindow`` — optionally, a window before the first exposure (``{"start":
  "-14d"}``, end ``"0s"`` by default) over which the same aggregation gives the CUPED
  covariate.

Durations are written ``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or combined (``"1d12h"``),
with a leading ``-`` before the exposure; they are held as whole seconds.

A metrics file is ``{"metrics": [definition, ...]}``; a snapshot may carry the same list
under its own top-level ``metrics`` key (so a snapshot is also a metrics file).

An A/B test's ``metrics`` block (the Confidence A/B-test API's) names the metrics it is
judged on with their role (``SUCCESS`` or ``GUARDRAIL``, minimum detectable effect,
non-inferiority margin), the preferred direction, the entity and the ``bucket`` of its
sequential looks (``DAYS`` or ``HOURS``), and exposure filters (targeting over the context
attributes recorded on exposures). The semantic checks are in :mod:`flagstone.model.validation`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, TypeAdapter

from .base import CONFIG, dataclass
from .targeting import Targeting

__all__ = [
    "AGGREGATIONS",
    "METRICS_FILE",
    "METRIC_PREFIX",
    "AbTestMetric",
    "AbTestMetrics",
    "Aggregation",
    "Bucket",
    "CovariateWindow",
    "Duration",
    "ExposureFilter",
    "MetricDefinition",
    "MetricDefinitions",
    "MetricKind",
    "MetricPart",
    "MetricRole",
    "PreferredDirection",
    "RatioSpec",
    "Window",
    "format_duration",
    "parse_duration",
]

METRIC_PREFIX = "metrics/"
"""What a metric's name starts with (``metrics/conversion-rate``)."""

Aggregation = Literal["CONVERSION", "COUNT", "SUM", "AVERAGE"]
AGGREGATIONS: tuple[Aggregation, ...] = ("CONVERSION", "COUNT", "SUM", "AVERAGE")
MetricKind = Literal["SUCCESS", "GUARDRAIL"]
PreferredDirection = Literal["INCREASE", "DECREASE"]
Bucket = Literal["DAYS", "HOURS"]

_DURATION = re.compile(r"(-)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)


def parse_duration(raw: Any) -> int:
    """``"7d"``, ``"-14d"``, ``"1d12h"``, ``"90m"``, ``"604800s"`` → whole seconds."""
    if not isinstance(raw, str):
        raise ValueError('a duration is a string such as "7d", "12h", "30m", "45s" or "-14d"')
    match = _DURATION.fullmatch(raw.strip())
    if match is None or not any(match.groups()[1:]):
        raise ValueError(f'{raw!r} is not a duration ("7d", "12h", "30m", "45s", "1d12h", "-14d")')
    seconds = sum(
        int(part) * unit
        for part, unit in zip(match.groups()[1:], _UNIT_SECONDS, strict=True)
        if part
    )
    return -seconds if match.group(1) else seconds


def format_duration(seconds: int) -> str:
    """Whole seconds as the shortest duration text: 604800 → ``"7d"``, -90 → ``"-1m30s"``."""
    if seconds == 0:
        return "0s"
    sign, left = ("-" if seconds < 0 else ""), abs(seconds)
    text = ""
    for unit, size in zip("dhms", _UNIT_SECONDS, strict=True):
        count, left = divmod(left, size)
        if count:
            text += f"{count}{unit}"
    return sign + text


Duration = Annotated[int, BeforeValidator(parse_duration)]
"""A duration written as text (``"7d"``), held as whole seconds."""


def _fraction(raw: Any) -> Any:
    """A number or a decimal string (protobuf writes some doubles as strings)."""
    if isinstance(raw, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(raw, str):
        try:
            raw = float(Decimal(raw.strip()))
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a decimal number") from None
    if isinstance(raw, int | float) and not math.isfinite(raw):
        raise ValueError(f"{raw!r} is not a finite number")
    return raw


Fraction = Annotated[float, BeforeValidator(_fraction)]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Window:
    """``[start, end)`` after the unit's first exposure; ``end`` ``None``: until the analysis
    time."""

    start: Duration = 0
    end: Duration | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class CovariateWindow:
    """``[start, end)`` before the unit's first exposure (``start`` negative, ``end`` at most
    0), over which the metric's own aggregation gives the CUPED covariate."""

    start: Duration
    end: Duration = 0


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MetricPart:
    """One per-unit quantity: an event and how a unit's events of it are aggregated."""

    event: str
    aggregation: Aggregation


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class RatioSpec:
    """Σ numerator / Σ denominator over the units (e.g. revenue per order)."""

    numerator: MetricPart
    denominator: MetricPart


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MetricDefinition:
    """One metric: ``event`` + ``aggregation``, or ``ratio``; its attribution ``window`` and
    an optional ``covariateWindow`` (see the module docstring)."""

    name: str
    display_name: str | None = None
    description: str | None = None
    event: str | None = None
    aggregation: Aggregation | None = None
    ratio: RatioSpec | None = None
    window: Window = Field(default_factory=Window)
    covariate_window: CovariateWindow | None = None

    @property
    def id(self) -> str:
        """The name without ``metrics/``."""
        return self.name.removeprefix(METRIC_PREFIX)

    @property
    def is_ratio(self) -> bool:
        return self.ratio is not None

    @property
    def parts(self) -> tuple[MetricPart, ...]:
        """``(value,)`` for a plain metric, ``(numerator, denominator)`` for a ratio; empty for
        a definition that validation refuses (neither)."""
        if self.ratio is not None:
            return (self.ratio.numerator, self.ratio.denominator)
        if self.event is not None and self.aggregation is not None:
            return (MetricPart(event=self.event, aggregation=self.aggregation),)
        return ()


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MetricDefinitions:
    """A metrics file: ``{"metrics": [definition, ...]}``."""

    metrics: list[MetricDefinition] = Field(default_factory=list)

    def get(self, reference: str) -> MetricDefinition | None:
        """The definition ``reference`` names: its full name (``metrics/x``) or its id
        (``x``); ``None`` if there is none."""
        for definition in self.metrics:
            if reference in (definition.name, definition.id):
                return definition
        full = reference if reference.startswith(METRIC_PREFIX) else METRIC_PREFIX + reference
        return next((d for d in self.metrics if d.name == full), None)


# -- the A/B test's metrics block (the Confidence A/B-test API's) --------------------------


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class MetricRole:
    """``{"metricKind": "SUCCESS", "minimumDetectableEffect": 0.01}``; the MDE and the
    non-inferiority margin are fractions of the control mean."""

    metric_kind: MetricKind = "SUCCESS"
    minimum_detectable_effect: Fraction | None = None
    non_inferiority_margin: Fraction | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestMetric:
    """A metric the test is judged on: ``metric`` names a definition (``metrics/<id>``)."""

    metric: str
    metric_role: MetricRole = Field(default_factory=MetricRole)
    preferred_direction: PreferredDirection = "INCREASE"


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class ExposureFilter:
    """Keep only the exposures whose recorded context matches ``filter`` (targeting:
    criteria + expression over context attributes)."""

    display_name: str | None = None
    filter: Targeting | None = None
    fact_table: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestMetrics:
    """An A/B test's ``metrics`` block (the Confidence A/B-test API's)."""

    assignment_table: str | None = None
    entity: str | None = None
    bucket: Bucket = "DAYS"
    filters: list[ExposureFilter] = Field(default_factory=list)
    metrics: list[AbTestMetric] = Field(default_factory=list)


METRICS_FILE: TypeAdapter[MetricDefinitions] = TypeAdapter(MetricDefinitions)
"""Validates a metrics file's document (types only; see ``formats.metrics.parse_metrics``)."""
