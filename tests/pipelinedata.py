"""Generated exposures and events for the pipeline's tests, and a plain-Python reference of
the aggregation written from the rules of issue 12, item 3 (not from the SQL).

``edge_case_data(seed)`` builds records with every edge the issue lists: events before the
first exposure and after the window (and exactly on both bounds), duplicate and override
exposures, units exposed to two variants, units without events, ratio metrics whose
denominators are 0 for many units, first exposures a millisecond before midnight, exposures
and events after the analysis time, other tests' exposures and other events.
``reference(data, plan)`` computes per look the per-variant sums the statistics hold.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TEST = "workflows/abtest/instances/checkout-test"
FLAG = "flags/checkout"
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)
START = datetime(2026, 11, 2, 21, 0, tzinfo=timezone.utc)
AT = START + timedelta(days=9, hours=5)

METRICS: list[dict[str, Any]] = [
    {
        "name": "metrics/conversion",
        "event": "purchase",
        "aggregation": "CONVERSION",
        "window": {"end": "7d"},
        "covariateWindow": {"start": "-14d"},
    },
    {
        "name": "metrics/clicks",
        "event": "click",
        "aggregation": "COUNT",
        "window": {"start": "1h", "end": "3d"},
    },
    {
        "name": "metrics/revenue",
        "event": "purchase",
        "aggregation": "SUM",
        "covariateWindow": {"start": "-7d", "end": "-1h"},
    },
    {
        "name": "metrics/order-value",
        "event": "purchase",
        "aggregation": "AVERAGE",
        "window": {"end": "7d"},
        "covariateWindow": {"start": "-14d"},
    },
    {
        "name": "metrics/revenue-per-click",
        "ratio": {
            "numerator": {"event": "purchase", "aggregation": "SUM"},
            "denominator": {"event": "click", "aggregation": "COUNT"},
        },
        "window": {"end": "5d"},
    },
    {
        "name": "metrics/buyers-per-visitor",
        "ratio": {
            "numerator": {"event": "purchase", "aggregation": "CONVERSION"},
            "denominator": {"event": "visit", "aggregation": "CONVERSION"},
        },
    },
]


def snapshot_document(
    *,
    metrics: list[dict[str, Any]] | None = None,
    sequential: bool = False,
    bucket: str = "DAYS",
    weights: tuple[int, int] = (5000, 5000),
    filters: list[dict[str, Any]] | None = None,
    roles: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A snapshot with the flag, the test (metrics block naming every definition) and the
    definitions."""
    definitions = copy.deepcopy(METRICS if metrics is None else metrics)  # callers may edit it
    block: dict[str, Any] = {
        "entity": "entities/user",
        "bucket": bucket,
        "metrics": [
            {
                "metric": d["name"],
                **({"metricRole": roles[d["name"]]} if roles and d["name"] in roles else {}),
            }
            for d in definitions
        ],
    }
    if filters:
        block["filters"] = filters
    test: dict[str, Any] = {
        "name": TEST,
        "state": "live",
        "abtest": {
            "treatments": [
                {"variant": f"{FLAG}/variants/control", "weight": weights[0]},
                {"variant": f"{FLAG}/variants/treatment", "weight": weights[1]},
            ]
        },
        "metrics": block,
    }
    if sequential:
        test["stats"] = {"testHorizonStrategy": "SEQUENTIAL"}
    return {
        "flags": {
            FLAG: {
                "name": FLAG,
                "state": "ACTIVE",
                "variants": [
                    {"name": f"{FLAG}/variants/control"},
                    {"name": f"{FLAG}/variants/treatment"},
                ],
            }
        },
        "abtests": [test],
        "metrics": definitions,
    }


def rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Data:
    exposures: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def write_jsonl(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        exposures, events = directory / "exposures.jsonl", directory / "events.jsonl"
        exposures.write_text("".join(json.dumps(r) + "\n" for r in self.exposures))
        events.write_text("".join(json.dumps(r) + "\n" for r in self.events))
        return exposures, events


def _exposure(
    rnd: random.Random, unit: str, variant: str, time: datetime, **extra: Any
) -> dict[str, Any]:
    record = {
        "schema_version": 1,
        "type": "exposure",
        "resolve_id": f"{rnd.getrandbits(128):032x}",
        "apply_time": rfc3339(time),
        "flag": FLAG,
        "variant": variant,
        "reason": "RESOLVE_REASON_MATCH",
        "targeting_key": unit,
        "targeting_key_selector": "targeting_key",
        "abtest": TEST,
        "override": False,
        "snapshot_version": "v1",
    }
    record.update(extra)
    return record


def _event(
    rnd: random.Random, unit: str, name: str, time: datetime, value: float | None
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "type": "event",
        "event_id": f"{rnd.getrandbits(128):032x}",
        "event": name,
        "unit": unit,
        "value": value,
        "time": rfc3339(time),
    }


def edge_case_data(seed: int, units: int = 300) -> Data:
    """Records with every edge (see the module docstring)."""
    rnd = random.Random(seed)
    data = Data()
    variants = ["control", "treatment"]
    for index in range(units):
        unit = f"user-{index}"
        variant = rnd.choice(variants)
        spelled = f"{FLAG}/variants/{variant}" if rnd.random() < 0.3 else variant
        kind = rnd.choices(
            ["normal", "duplicate", "two", "override-only", "override-first", "late", "midnight"],
            weights=[50, 8, 6, 4, 6, 3, 8],
        )[0]
        first = START + timedelta(milliseconds=rnd.randrange(6 * 86_400_000))
        if kind == "midnight":
            first = first.replace(hour=23, minute=59, second=59, microsecond=999_000)
        if kind == "late":
            first = AT + timedelta(minutes=rnd.randrange(1, 600))
        context = {
            "country": rnd.choice(["SE", "NO", "DK"]),
            "platform": rnd.choice(["ios", "web"]),
        }
        records = [_exposure(rnd, unit, spelled, first, context=context)]
        for _ in range(rnd.randrange(0, 3)):
            later = first + timedelta(milliseconds=rnd.randrange(1, 3 * 86_400_000))
            records.append(_exposure(rnd, unit, variant, later, context=context))
        if kind == "duplicate":
            records.append(dict(records[0]))
        if kind == "two":
            other = variants[1 - variants.index(variant)]
            records.append(
                _exposure(
                    rnd, unit, other, first + timedelta(hours=rnd.randrange(1, 40)), context=context
                )
            )
        if kind == "override-only":
            records = [
                _exposure(
                    rnd, unit, variant, first, override=True, reason="RESOLVE_REASON_OVERRIDE"
                )
            ]
        if kind == "override-first":
            other = variants[1 - variants.index(variant)]
            records.insert(
                0,
                _exposure(
                    rnd,
                    unit,
                    other,
                    first - timedelta(hours=5),
                    override=True,
                    reason="RESOLVE_REASON_OVERRIDE",
                ),
            )
        if rnd.random() < 0.1:  # the same unit in another test
            records.append(
                _exposure(
                    rnd, unit, "control", first - DAY, abtest="workflows/abtest/instances/other"
                )
            )
        rnd.shuffle(records)
        data.exposures += records
        if rnd.random() < 0.25:
            continue  # no events at all
        for _ in range(rnd.randrange(1, 9)):
            name = rnd.choices(["purchase", "click", "visit", "page_view"], weights=[4, 4, 2, 1])[0]
            offset = timedelta(milliseconds=rnd.randrange(-16 * 86_400_000, 10 * 86_400_000))
            value = None if rnd.random() < 0.15 else float(rnd.randrange(1, 60))
            data.events.append(_event(rnd, unit, name, first + offset, value))
        # exactly on the bounds of the windows
        for name, offset in [
            ("purchase", timedelta(0)),
            ("purchase", 7 * DAY),
            ("purchase", 7 * DAY - MS),
            ("purchase", -MS),
            ("purchase", -14 * DAY),
            ("purchase", -14 * DAY - MS),
            ("purchase", -timedelta(hours=1)),
            ("click", timedelta(hours=1)),
            ("click", timedelta(hours=1) - MS),
            ("click", 3 * DAY),
            ("click", 5 * DAY - MS),
            ("purchase", 5 * DAY),
        ]:
            if rnd.random() < 0.12:
                data.events.append(
                    _event(rnd, unit, name, first + offset, float(rnd.randrange(1, 30)))
                )
    for index in range(20):  # events of units never exposed
        data.events.append(_event(rnd, f"stranger-{index}", "purchase", START + DAY, float(index)))
    data.events.append(_event(rnd, "user-1", "purchase", AT + MS, 5.0))  # after the analysis
    rnd.shuffle(data.events)
    return data


# -- the reference ----------------------------------------------------------------------------


@dataclass
class Reference:
    """What the aggregation must give: per look end, per variant, per metric the sums."""

    looks: list[datetime]
    units: list[dict[str, int]]
    sums: list[dict[str, dict[str, dict[str, float]]]]  # look -> metric -> variant -> sums
    multi_variant: int
    overrides: int
    duplicates: int


def _seconds(text: str | None, default: float | None) -> float | None:
    if text is None:
        return default
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("-")
    total = 0
    number = ""
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[char]
            number = ""
    return sign * total


def reference(
    data: Data,
    metrics: list[dict[str, Any]],
    at: datetime,
    bucket: timedelta = DAY,
    context_filter: Any = None,
    origin: datetime | None = None,
) -> Reference:
    """The aggregation computed record by record (see the module docstring); ``origin``
    is where the first look's bucket starts when not the earliest assignment's (a
    breakdown's values share the overall one)."""
    short = {"control": "control", "treatment": "treatment"}
    short.update({f"{FLAG}/variants/{v}": v for v in ("control", "treatment")})
    seen: set[tuple[str, str]] = set()
    overrides = duplicates = 0
    first: dict[str, datetime] = {}
    variants: dict[str, set[str]] = defaultdict(set)
    for record in data.exposures:
        time = parse(record["apply_time"])
        if record["abtest"] != TEST or time >= at:
            continue
        if context_filter is not None and not context_filter(record.get("context") or {}):
            continue
        if record["override"]:
            overrides += 1
            continue
        key = (record["resolve_id"], record["flag"])
        if key in seen:
            duplicates += 1
        seen.add(key)
        unit = record["targeting_key"]
        variants[unit].add(short[record["variant"]])
        if unit not in first or time < first[unit]:
            first[unit] = time
    assigned = {u: next(iter(v)) for u, v in variants.items() if len(v) == 1}
    multi = sum(1 for v in variants.values() if len(v) > 1)
    earliest = min(first[u] for u in assigned)
    size = bucket.total_seconds()
    if origin is None:  # the start of the bucket of the earliest assignment
        origin = datetime.fromtimestamp(
            math.floor(earliest.timestamp() / size) * size, timezone.utc
        )
    looks = []
    end = origin + bucket
    while end < at:
        looks.append(end)
        end += bucket
    looks.append(at)
    by_unit: dict[str, list[tuple[str, datetime, float | None]]] = defaultdict(list)
    for event in data.events:
        by_unit[event["unit"]].append((event["event"], parse(event["time"]), event["value"]))

    def part_value(
        unit: str, part: dict[str, Any], start: float, stop: float | None, look: datetime
    ) -> tuple[float, bool]:
        """(value, has a value): the unit's events of the part in [first+start, first+stop)
        before the look."""
        lo = first[unit] + timedelta(seconds=start)
        hi = first[unit] + timedelta(seconds=stop) if stop is not None else None
        chosen = [
            value
            for name, time, value in by_unit.get(unit, [])
            if name == part["event"]
            and lo <= time
            and (hi is None or time < hi)
            and time < look
            and time < at
        ]
        aggregation = part["aggregation"]
        if aggregation == "CONVERSION":
            return (1.0 if chosen else 0.0), True
        if aggregation == "COUNT":
            return float(len(chosen)), True
        values = [v for v in chosen if v is not None]
        if aggregation == "SUM":
            return float(sum(values)), True
        if not values:
            return 0.0, False
        return sum(values) / len(values), True

    units_per_look: list[dict[str, int]] = []
    sums_per_look: list[dict[str, dict[str, dict[str, float]]]] = []
    for look in looks:
        present = {u: v for u, v in assigned.items() if first[u] < look}
        units_per_look.append(
            {g: sum(1 for v in present.values() if v == g) for g in ("control", "treatment")}
        )
        per_metric: dict[str, dict[str, dict[str, float]]] = {}
        for metric in metrics:
            window = metric.get("window", {})
            start = _seconds(window.get("start"), 0.0)
            stop = _seconds(window.get("end"), None)
            covariate = metric.get("covariateWindow")
            groups: dict[str, dict[str, float]] = {
                g: defaultdict(float) for g in ("control", "treatment")
            }
            for unit, group in present.items():
                sums = groups[group]
                if "ratio" in metric:
                    y, _ = part_value(unit, metric["ratio"]["numerator"], start, stop, look)
                    d, _ = part_value(unit, metric["ratio"]["denominator"], start, stop, look)
                    sums["n"] += 1
                    sums["sum"] += y
                    sums["sum_sq"] += y * y
                    sums["d_sum"] += d
                    sums["d_sum_sq"] += d * d
                    sums["yd_sum"] += y * d
                    continue
                y, has = part_value(unit, metric, start, stop, look)
                if not has:
                    continue
                sums["n"] += 1
                sums["sum"] += y
                sums["sum_sq"] += y * y
                if covariate is not None:
                    x, _ = part_value(
                        unit,
                        metric,
                        _seconds(covariate["start"], 0.0),
                        _seconds(covariate.get("end"), 0.0),
                        look,
                    )
                    sums["x_sum"] += x
                    sums["x_sum_sq"] += x * x
                    sums["xy_sum"] += x * y
            per_metric[metric["name"]] = {g: dict(s) for g, s in groups.items()}
        sums_per_look.append(per_metric)
    return Reference(looks, units_per_look, sums_per_look, multi, overrides, duplicates)
