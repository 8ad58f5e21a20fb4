"""Print the README's "Performance" table from ``run.py``'s results.

python bench/peers/table.py [bench/peers/results.json]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Any

# ruff: noqa: RUF001

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = "floor"
HEADINGS = {
    "Eppo": "Eppo (Rust core)",
    "Unleash": "Unleash (Rust core)",
    "flagd": "flagd (OpenFeature)",
}


def ratios(samples: dict[str, list[list[float]]], name: str, column: int) -> list[float]:
    """Per-round ratios of ``name`` to the floor (column 0: CPU, 1: wall)."""
    return [
        mine[column] / floor[column]
        for mine, floor in zip(samples[name], samples[FLOOR], strict=True)
    ]


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".") if value < 20 else f"{value:.0f}"
    return f"{value:.2f}"


def _ns(value: float) -> str:
    return f"{value / 1000:.1f} µs" if value >= 10_000 else f"{value:,.0f} ns".replace(",", " ")


def render(results: dict[str, Any]) -> str:
    versions: dict[str, str] = results["versions"]
    names = list(versions)
    per_call = results["per_call"]
    skipped: dict[str, str] = per_call["skipped"]
    samples = per_call["samples"]
    heading = ["", *[f"{HEADINGS.get(n, n)} {versions[n]}" for n in names]]
    lines = ["| " + " | ".join(heading) + " |", "| --- |" + " ---: |" * len(names)]

    def row(label: str, cells: list[str]) -> None:
        lines.append("| " + " | ".join([label, *cells]) + " |")

    for column, unit in ((0, "CPU"), (1, "wall")):
        for key, label in results["scenarios"].items():
            cells = []
            for name in names:
                if name in skipped:
                    cells.append("—")
                elif name in samples[key]:
                    cells.append(_number(statistics.median(ratios(samples[key], name, column))))
                else:
                    cells.append("—")
            row(f"{label} (× floor, {unit})", cells)
    cells = []
    for name in names:
        found = samples["fifty"].get(name)
        cells.append(_ns(statistics.median(s[0] for s in found)) if found else "—")
    floor_ns = statistics.median(s[0] for s in samples["fifty"][FLOOR])
    row(f"50/50 flag, CPU per call (floor {_ns(floor_ns)})", cells)
    exposures = results.get("exposures", {})
    if exposures:
        cells = []
        for name in names:
            found = [
                (label.split(" (", 1)[1].rstrip(")"), value)
                for label, value in exposures.items()
                if label.split(" (", 1)[0] == name
            ]
            if not found:
                cells.append("none")
                continue
            parts = []
            for mode, value in found:
                if "error" in value:
                    parts.append(f"{mode}: failed")
                else:
                    parts.append(f"{mode}: +{_ns(value['cpu_ns'])}")
            cells.append("; ".join(parts))
        row("exposure cost, request thread CPU per fresh exposure", cells)
    load = results.get("load", {})
    if load:
        reference = load.get("json.loads", {})
        cells = []
        for name in names:
            found = load.get(name)
            if found is None or "error" in found:
                cells.append("failed" if found else "—")
            else:
                cells.append(f"{found['load_s']:.2f} s")
        label = "load a 10 000-flag config, fresh process"
        if "load_s" in reference:
            label += f" (`json.loads` {reference['load_s'] * 1000:.0f} ms)"
        row(label, cells)
        cells = []
        for name in names:
            found = load.get(name)
            if found is None or "error" in found:
                cells.append("—")
            else:
                cells.append(
                    f"+{found['peak_added_kb'] / 1024:.0f} / +{found['kept_kb'] / 1024:.0f} MiB"
                )
        row("RSS added by that load, peak / kept", cells)
        cells = []
        for name in names:
            found = load.get(name)
            cells.append(f"{found['bytes'] / 1e6:.1f} MB" if found and "bytes" in found else "—")
        row("that config's JSON", cells)
    out = ["\n".join(lines)]
    extras = results.get("flagstone_extras")
    if extras:
        s = extras["samples"]
        evaluate = [x[0] for x in s["evaluate"]]
        lines = [
            "| flagstone | CPU per call | × floor | × `evaluate` |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name in ("evaluate", "get_value", "evaluate_all (100 flags)"):
            mine = [x[0] for x in s[name]]
            floor = [x[0] for x in s[FLOOR]]
            to_floor = statistics.median(a / b for a, b in zip(mine, floor, strict=True))
            to_evaluate = statistics.median(a / b for a, b in zip(mine, evaluate, strict=True))
            lines.append(
                f"| `{name}` | {_ns(statistics.median(mine))} | "
                f"{_number(to_floor)} | {_number(to_evaluate)} |"
            )
        out.append("\n".join(lines))
    if skipped:
        out.append("\n".join(f"- {name}: not measured ({why})" for name, why in skipped.items()))
    if "flagstone" in names and "Eppo" in names and "Eppo" not in skipped:
        counts = []
        for key in ("fifty", "country", "country_1000"):
            mine = ratios(samples[key], "flagstone", 0)
            eppo = ratios(samples[key], "Eppo", 0)
            counts.append(str(sum(a < b for a, b in zip(mine, eppo, strict=True))))
        out.append(
            f"flagstone's CPU ratio is below Eppo's in {', '.join(counts)} of the "
            f"{len(samples['fifty'][FLOOR])} rounds (the three cases, in order)."
        )
    footer = (
        f"Python {results['python']}, {results['machine']}, {results['rounds']} interleaved "
        f"rounds, {results['users']} users per pass, load average "
        f"{results['load_average'][0]:.1f} before, {results['load_average_after'][0]:.1f} after."
    )
    out.append(footer)
    return "\n\n".join(out)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results.json")
    with open(path) as file:
        print(render(json.load(file)))


if __name__ == "__main__":
    main()
