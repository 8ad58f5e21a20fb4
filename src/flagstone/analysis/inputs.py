"""The input of an analysis: pydantic models of the JSON document and :func:`parse_input`.

This module owns what ``python -m flagstone analyze-stats FILE`` reads and
:func:`flagstone.analysis.engine.analyze` takes: the settings of the analysis (alpha, power,
method, pooled test, relative interval, multiple-testing correction, horizon), the control
group's id, the
planned allocation, and per metric its kind, preferred direction, minimum detectable effect,
non-inferiority margin and the sufficient statistics of every group::

    {
      "alpha": 0.05, "power": 0.8, "method": "z", "pooled": false,
      "relative_interval": "delta",
      "correction": "bonferroni", "horizon": {"kind": "FIXED"},
      "control": "control", "expected_weights": {"control": 0.5, "treatment": 0.5},
      "metrics": [
        {"id": "conversion", "kind": "SUCCESS", "direction": "INCREASE",
         "minimum_detectable_effect": 0.05, "non_inferiority_margin": null,
         "groups": {"control": {"n": 10000, "sum": 1210},
                    "treatment": {"n": 10050, "sum": 1333}}}
      ]
    }

Defaults: ``alpha`` 0.05, ``power`` 0.8, ``method`` ``"z"`` (``"t"``: Welch), ``pooled``
``false`` (``true``: the pooled z-test of two proportions, for inputs whose metrics are
all 0/1 without covariates, with ``method`` ``"z"``), ``relative_interval`` ``"delta"``
(or ``"spotify"``: spotify-confidence compatibility, see
:mod:`flagstone.analysis.engine`), ``correction`` ``"bonferroni"`` (or
``"holm"``), ``horizon`` ``{"kind": "FIXED"}``, ``control`` ``"control"``,
``expected_weights`` equal for every group, a metric's ``kind`` ``"SUCCESS"`` (or
``"GUARDRAIL"``) and ``direction`` ``"INCREASE"`` (or ``"DECREASE"``). The MDE and the
non-inferiority margin are fractions of the control mean (0.05 = 5 %).

A group is ``{"n", "sum"}`` for a 0/1 metric, ``{"n", "sum", "sum_sq"}`` for a continuous
one, plus ``"x_sum"``, ``"x_sum_sq"`` and ``"xy_sum"`` (a pre-experiment covariate) for
CUPED — given for every group of the metric or for none. A ratio metric (``Σy / Σd``,
revenue per order) gives the numerator's ``sum`` and ``sum_sq`` and the denominator's
``"d_sum"``, ``"d_sum_sq"`` and ``"yd_sum"`` (the sum of the products), in every group,
analysed with the delta method (:mod:`flagstone.analysis.groups`).

A ``{"kind": "SEQUENTIAL", "expected_final_total": N}`` horizon (``N``: the units a
comparison, control plus one treatment, is expected to reach) allows ``interims`` on a
metric: ``[{"time": "2026-11-20", "groups": {...}}, ...]``, the cumulative statistics at
each look in time order, the last being the latest. A metric with interims may leave out
``groups``; if it gives them, they must equal the last interim's. A sequential metric
without interims has one look, its ``groups``.

:func:`parse_input` raises :class:`flagstone.ConfigError` naming every problem with its JSON
path (``$.metrics[1].groups.control.n``): the types, unknown fields, and what the types do not
say — the control group present in every metric, the same groups in every metric and
interim, ``0 <= sum <= n`` for a 0/1 metric, ``sum_sq >= sum²/n``, ``n >= 2`` where a
variance is needed (continuous and ratio metrics, covariates, Welch's test), one kind of
metric (0/1, continuous or ratio) and covariates in all groups of a metric or none, a ratio
with ``sum_sq``, without covariates and with a non-zero ``d_sum``, interims only with a
sequential horizon and with cumulative sizes that never decrease, unique metric ids,
margins only on guardrails, ``expected_weights`` naming exactly the groups. Building an
:class:`AnalysisInput` directly in Python runs the same checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flagstone.analysis.groups import GroupStats
from flagstone.errors import ConfigError, Problem
from flagstone.model.documents import decoded_json
from flagstone.model.paths import join_path, key_path

__all__ = [
    "AnalysisInput",
    "GroupInput",
    "Horizon",
    "InterimInput",
    "MetricInput",
    "parse_input",
]

_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

_Count = Annotated[int, Field(ge=1)]
_Probability = Annotated[float, Field(gt=0.0, lt=1.0)]
_PositiveFraction = Annotated[float, Field(gt=0.0)]
_GroupId = Annotated[str, Field(min_length=1)]


class GroupInput(BaseModel):
    """The sufficient statistics of one group (see
    :class:`~flagstone.analysis.groups.GroupStats`): ``sum_sq`` ``None`` for a 0/1 metric, the
    covariate sums all three or none, the ratio's denominator sums all three or none."""

    model_config = _CONFIG

    n: _Count
    sum: float
    sum_sq: Annotated[float, Field(ge=0.0)] | None = None
    x_sum: float | None = None
    x_sum_sq: Annotated[float, Field(ge=0.0)] | None = None
    xy_sum: float | None = None
    d_sum: float | None = None
    d_sum_sq: Annotated[float, Field(ge=0.0)] | None = None
    yd_sum: float | None = None

    @property
    def is_binary(self) -> bool:
        """True for a 0/1 metric (no ``sum_sq``)."""
        return self.sum_sq is None

    @property
    def has_covariate(self) -> bool:
        """True when any covariate sum is given (a valid input gives all three)."""
        return self.x_sum is not None or self.x_sum_sq is not None or self.xy_sum is not None

    @property
    def is_ratio(self) -> bool:
        """True when any ratio sum is given (a valid input gives all three)."""
        return self.d_sum is not None or self.d_sum_sq is not None or self.yd_sum is not None

    def stats(self) -> GroupStats:
        """These sums as a :class:`GroupStats`."""
        return GroupStats(
            n=self.n,
            sum=self.sum,
            sum_sq=self.sum_sq,
            x_sum=self.x_sum,
            x_sum_sq=self.x_sum_sq,
            xy_sum=self.xy_sum,
            d_sum=self.d_sum,
            d_sum_sq=self.d_sum_sq,
            yd_sum=self.yd_sum,
        )


Groups = dict[_GroupId, GroupInput]


class InterimInput(BaseModel):
    """One look of a sequential test: a label (e.g. a date) and the cumulative statistics
    of every group at that time."""

    model_config = _CONFIG

    time: Annotated[str, Field(min_length=1)]
    groups: Groups


class MetricInput(BaseModel):
    """One metric: what it is, and its groups' statistics (or its interims')."""

    model_config = _CONFIG

    id: Annotated[str, Field(min_length=1)]
    kind: Literal["SUCCESS", "GUARDRAIL"] = "SUCCESS"
    direction: Literal["INCREASE", "DECREASE"] = "INCREASE"
    minimum_detectable_effect: _PositiveFraction | None = None
    non_inferiority_margin: _PositiveFraction | None = None
    groups: Groups | None = None
    interims: Annotated[list[InterimInput], Field(min_length=1)] | None = None

    def looks(self) -> list[tuple[str | None, Groups]]:
        """The looks in time order, ``(time, groups)``: the interims, or the groups alone
        (time ``None``). The last one is the latest."""
        if self.interims:
            return [(interim.time, interim.groups) for interim in self.interims]
        return [(None, self.groups or {})]

    @property
    def latest(self) -> Groups:
        """The groups' statistics at the latest look."""
        return self.looks()[-1][1]


class Horizon(BaseModel):
    """``FIXED`` (one analysis at the end) or ``SEQUENTIAL`` (group-sequential looks, with
    the total units a comparison is expected to reach)."""

    model_config = _CONFIG

    kind: Literal["FIXED", "SEQUENTIAL"] = "FIXED"
    expected_final_total: _Count | None = None


class _Settings(BaseModel):
    """Everything but the metrics (checked on its own when some metric does not parse)."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False, frozen=True)

    alpha: _Probability = 0.05
    power: _Probability = 0.8
    method: Literal["z", "t"] = "z"
    pooled: bool = False
    relative_interval: Literal["delta", "spotify"] = "delta"
    correction: Literal["bonferroni", "holm"] = "bonferroni"
    horizon: Horizon = Horizon()
    control: _GroupId = "control"
    expected_weights: dict[_GroupId, Annotated[float, Field(ge=0.0)]] | None = None


class AnalysisInput(_Settings):
    """A whole analysis: the settings and the metrics (see the module docstring).

    Construction checks everything :func:`parse_input` does and raises
    :class:`~flagstone.errors.ConfigError` for what the types alone do not catch.
    """

    model_config = _CONFIG

    metrics: Annotated[list[MetricInput], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisInput:
        problems = _semantic_problems(self, list(enumerate(self.metrics)))
        if problems:
            raise ConfigError(problems)
        return self

    @property
    def groups(self) -> list[str]:
        """Every group id, in the order of the first metric's latest look."""
        return list(self.metrics[0].latest)

    @property
    def treatments(self) -> list[str]:
        """The groups other than the control, in order."""
        return [group for group in self.groups if group != self.control]


def parse_input(
    document: Mapping[str, Any] | str | bytes, *, source: str | None = None
) -> AnalysisInput:
    """Validate an analysis input: JSON text (``str``/``bytes``) or the decoded object.

    Raises :class:`~flagstone.errors.ConfigError` naming every problem found, each with its
    JSON path; ``source`` (e.g. the file name) is mentioned in its message.
    """
    data = decoded_json(document, what="an analysis input", source=source)
    if not isinstance(data, Mapping):
        raise ConfigError([Problem("$", "expected a JSON object")], source=source)
    try:
        return AnalysisInput.model_validate(data)
    except ConfigError as error:
        raise ConfigError(error.problems, source=source) from None
    except ValidationError as error:
        problems = _translate(error)
        problems += _problems_of_parsable_parts(data)
        raise ConfigError(problems, source=source) from None


# -- structural problems ---------------------------------------------------------------------

_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "model_type": "expected an object",
    "dict_type": "expected an object",
    "list_type": "expected a list",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "string_type": "expected a string",
    "finite_number": "expected a finite number",
}


def _translate(error: ValidationError) -> list[Problem]:
    """pydantic's errors as problems with JSON paths."""
    problems = []
    for item in error.errors(include_url=False):
        path = join_path("$", [part for part in item["loc"] if isinstance(part, str | int)])
        message = _MESSAGES.get(item["type"])
        if message is None:
            message = str(item["msg"]).removeprefix("Value error, ")
            message = message[:1].lower() + message[1:]
        problems.append(Problem(path, message))
    return problems


def _problems_of_parsable_parts(data: Mapping[str, Any]) -> list[Problem]:
    """The semantic problems of the metrics (and settings) that do parse, in a document that
    as a whole does not: one run shows everything to fix."""
    settings: _Settings | None
    try:
        settings = _Settings.model_validate(data)
    except ValidationError:
        settings = None
    metrics: list[tuple[int, MetricInput]] = []
    raw_metrics = data.get("metrics")
    if isinstance(raw_metrics, list):
        for index, item in enumerate(raw_metrics):
            with contextlib.suppress(ValidationError):
                metrics.append((index, MetricInput.model_validate(item)))
    return _semantic_problems(settings, metrics)


# -- semantic problems -----------------------------------------------------------------------


def _names(ids: Iterable[str]) -> str:
    return ", ".join(repr(group) for group in ids)


class _Checker:
    def __init__(self, settings: _Settings | None) -> None:
        self.settings = settings
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def check_settings(self, settings: _Settings) -> None:
        horizon = settings.horizon
        if horizon.kind == "SEQUENTIAL" and horizon.expected_final_total is None:
            self.add(
                "$.horizon.expected_final_total",
                "a SEQUENTIAL horizon needs the total units a comparison is expected to reach",
            )
        if horizon.kind == "FIXED" and horizon.expected_final_total is not None:
            self.add("$.horizon.expected_final_total", "only a SEQUENTIAL horizon takes it")
        if not settings.power > settings.alpha / 2:
            self.add("$.power", f"power must exceed alpha/2 = {settings.alpha / 2}")
        if settings.pooled and settings.method != "z":
            self.add("$.pooled", 'the pooled test is a z-test: it needs "method": "z"')
        weights = settings.expected_weights
        if weights is not None and not any(weight > 0 for weight in weights.values()):
            self.add("$.expected_weights", "the weights must not all be 0")

    def check_metrics(self, metrics: Sequence[tuple[int, MetricInput]]) -> None:
        settings = self.settings
        seen: dict[str, int] = {}
        reference: tuple[int, list[str]] | None = None
        for index, metric in metrics:
            path = f"$.metrics[{index}]"
            if metric.id in seen:
                self.add(f"{path}.id", f"metric {metric.id!r} is also $.metrics[{seen[metric.id]}]")
            seen.setdefault(metric.id, index)
            if metric.non_inferiority_margin is not None and metric.kind != "GUARDRAIL":
                self.add(f"{path}.non_inferiority_margin", "only a GUARDRAIL metric takes one")
            if metric.groups is None and metric.interims is None:
                self.add(f"{path}.groups", "required field is missing")
                continue
            sequential = settings is None or settings.horizon.kind == "SEQUENTIAL"
            if metric.interims is not None and not sequential:
                self.add(f"{path}.interims", "interims need a SEQUENTIAL horizon")
            ids = list(metric.latest)
            latest_path = (
                f"{path}.interims[{len(metric.interims) - 1}].groups"
                if metric.interims
                else f"{path}.groups"
            )
            if settings is not None and settings.control not in ids:
                self.add(latest_path, f"the control group {settings.control!r} is missing")
            if len(ids) < 2:
                self.add(latest_path, "needs the control group and at least one treatment")
            if reference is None:
                reference = (index, ids)
            elif set(ids) != set(reference[1]):
                self.add(
                    latest_path,
                    f"has the groups {_names(ids)} but $.metrics[{reference[0]}] has "
                    f"{_names(reference[1])}: every metric needs the same groups",
                )
            self.check_looks(path, metric, ids)
        weights = settings.expected_weights if settings is not None else None
        if weights is not None and reference is not None:
            ids = reference[1]
            for group in ids:
                if group not in weights:
                    self.add("$.expected_weights", f"no weight for the group {group!r}")
            for group in weights:
                if group not in ids:
                    self.add(key_path("$.expected_weights", group), f"unknown group {group!r}")

    def check_looks(self, path: str, metric: MetricInput, ids: list[str]) -> None:
        looks: list[tuple[str, Groups, bool]] = []  # (path, groups, cumulative interim)
        if metric.interims is not None:
            looks += [
                (f"{path}.interims[{k}].groups", interim.groups, True)
                for k, interim in enumerate(metric.interims)
            ]
        if metric.groups is not None:
            if not looks:
                looks.append((f"{path}.groups", metric.groups, False))
            elif metric.groups != looks[-1][1]:
                self.add(
                    f"{path}.groups",
                    f"must equal the latest look's, {looks[-1][0]} (or be left out)",
                )
                looks.append((f"{path}.groups", metric.groups, False))
        control = self.settings.control if self.settings is not None else None
        first = metric.latest.get(control) if control is not None else None
        if first is None:
            first = next(iter(metric.latest.values()))
        binary = first.is_binary
        covariate = None not in (first.x_sum, first.x_sum_sq, first.xy_sum)
        ratio = first.is_ratio
        if self.settings is not None and self.settings.pooled and (covariate or not binary):
            what = "has covariates" if covariate else "is continuous (sum_sq)"
            self.add(
                path,
                "the pooled test ($.pooled) is for 0/1 metrics without covariates; "
                f"this one {what}",
            )
        previous: Groups | None = None
        for look_path, groups, cumulative in looks:
            if set(groups) != set(ids):
                self.add(
                    look_path, f"has the groups {_names(groups)}; the latest look {_names(ids)}"
                )
            for group, stats in groups.items():
                group_path = key_path(look_path, group)
                self.check_group(group_path, stats, binary, covariate, ratio)
                before = previous.get(group) if previous is not None else None
                if before is not None and stats.n < before.n:
                    self.add(
                        f"{group_path}.n",
                        f"cumulative sizes must not decrease: {stats.n} after {before.n}",
                    )
            if cumulative:
                previous = groups

    def check_group(
        self, path: str, group: GroupInput, binary: bool, covariate: bool, ratio: bool
    ) -> None:
        found = len(self.problems)
        ratio_names = ("d_sum", "d_sum_sq", "yd_sum")
        ratio_given = [getattr(group, name) is not None for name in ratio_names]
        if any(ratio_given) and not all(ratio_given):
            self.add(path, "the ratio sums d_sum, d_sum_sq and yd_sum go together")
        elif group.is_ratio and not ratio:
            self.add(path, "ratio sums given here but not in the metric's other groups")
        elif ratio and not group.is_ratio:
            self.add(path, "ratio sums missing here but given in the metric's other groups")
        elif group.is_ratio:
            if group.is_binary:
                self.add(f"{path}.sum_sq", "a ratio metric needs sum_sq (the numerator's)")
            if group.has_covariate:
                self.add(path, "a ratio metric takes no covariate sums (CUPED)")
            if group.d_sum == 0:
                self.add(f"{path}.d_sum", "the denominator sums to 0: the ratio is undefined")
        if group.is_binary != binary:
            if binary:
                self.add(f"{path}.sum_sq", "given here, but not in the metric's other groups")
            else:
                self.add(f"{path}.sum_sq", "missing here, but given in the metric's other groups")
        names = ("x_sum", "x_sum_sq", "xy_sum")
        given = [getattr(group, name) is not None for name in names]
        if any(given) and not all(given):
            self.add(path, "the covariate sums x_sum, x_sum_sq and xy_sum go together")
        elif group.has_covariate and not covariate:
            self.add(path, "covariate sums given here but not in the metric's other groups")
        elif covariate and not group.has_covariate:
            self.add(path, "covariate sums missing here but given in the metric's other groups")
        if group.is_binary and not 0 <= group.sum <= group.n:
            self.add(
                f"{path}.sum",
                f"a 0/1 metric (no sum_sq) needs 0 <= sum <= n, got {group.sum} with n={group.n}",
            )
        needs_two = (
            not group.is_binary
            or group.is_ratio
            or group.has_covariate
            or (self.settings is not None and self.settings.method == "t")
        )
        if needs_two and group.n < 2:
            why = (
                "a ratio metric"
                if group.is_ratio
                else "a continuous metric"
                if not group.is_binary
                else "CUPED"
                if group.has_covariate
                else "Welch's t-test"
            )
            self.add(f"{path}.n", f"{why} needs n >= 2 for a variance, got {group.n}")
        if len(self.problems) == found:
            try:
                group.stats()
            except ValueError as error:
                where = path
                if "d_sum_sq" in str(error):
                    where = f"{path}.d_sum_sq"
                elif group.sum_sq is not None and "sum_sq" in str(error):
                    where = f"{path}.sum_sq"
                self.add(where, str(error))


def _semantic_problems(
    settings: _Settings | None, metrics: Sequence[tuple[int, MetricInput]]
) -> list[Problem]:
    checker = _Checker(settings)
    if settings is not None:
        checker.check_settings(settings)
    checker.check_metrics(metrics)
    return checker.problems
