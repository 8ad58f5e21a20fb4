"""The HTML report as a browser shows it: headless Chromium renders the page, and the
screenshot must show every plot.

The same page is rendered twice: as written, and with every ``<svg>`` replaced by an empty
box of the same size (so the layout is identical). The rows where the two screenshots
differ must form exactly one band per plot, each as tall as a plot and full of drawing,
and nothing outside those bands may differ — which fails if an SVG does not render, renders
empty, or breaks the layout. Specific plot elements are then looked for by colour: each
forest plot draws its intervals in the status colour of its comparisons.

Chromium is Debian's ``chromium``; ``.ci/run`` installs it and sets
``FLAGSTONE_REQUIRE_CHROMIUM=1``, under which its absence fails instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")
import numpy as np
from matplotlib.image import imread

from flagstone.analysis import report

from .test_report import make_analysis

CHROMIUM = shutil.which("chromium")
WIDTH, HEIGHT = 1200, 4600


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        message = "headless Chromium (Debian's chromium package) is not installed"
        if os.environ.get("FLAGSTONE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message + " (FLAGSTONE_REQUIRE_CHROMIUM=1 requires it)")
        pytest.skip(message)
    return CHROMIUM


def screenshot(chromium: str, page: str, directory: Path, name: str) -> Any:
    """The page as Chromium draws it in a WIDTH x HEIGHT window: an RGB array in [0, 1]."""
    source = directory / f"{name}.html"
    source.write_text(page, encoding="utf-8")
    image = directory / f"{name}.png"
    profile = directory / f"profile-{name}"
    profile.mkdir()
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={image}",
            f"--window-size={WIDTH},{HEIGHT}",
            source.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert image.is_file(), result.stderr[-2000:]
    pixels = imread(str(image))[:, :, :3]
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    return pixels


_SVG = re.compile(r"<svg [^>]*>.*?</svg>", re.S)
_SIZE = re.compile(r'width="([\d.]+)pt" height="([\d.]+)pt"')


def box_colour(index: int) -> str:
    """The fill of the box that stands in for plot ``index`` (colours the report never
    uses)."""
    return f"#ff{index * 40:02x}00" if index % 2 else f"#00{index * 40:02x}ff"


def without_plots(page: str) -> str:
    """``page`` with each plot replaced by a box of the same aspect ratio, filled with
    :func:`box_colour` so the screenshot shows where each plot is."""
    count = iter(range(100))

    def box(match: re.Match[str]) -> str:
        size = _SIZE.search(match.group(0))
        assert size is not None
        fill = box_colour(next(count))
        return (
            f'<div class=plot style="aspect-ratio: {size.group(1)} / {size.group(2)}; '
            f'background: {fill}"></div>'
        )

    return _SVG.sub(box, page)


def colour(hex_colour: str) -> Any:
    return np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])


def test_the_screenshot_shows_every_plot(chromium: str, tmp_path: Path) -> None:
    analysis = make_analysis(
        sequential=True, per_day={"control": 500, "treatment": 520, "big-button": 500}
    )
    page = report.to_html(analysis)
    plots = len(_SVG.findall(page))
    assert plots == 2 * len(analysis.input.metrics) + 1

    shown = screenshot(chromium, page, tmp_path, "report")
    blank = screenshot(chromium, without_plots(page), tmp_path, "blank")

    # the whole page fits the window: its last rows are the body's background
    background = colour("#f6f8fa")
    assert np.abs(shown[-40:] - background).max() < 0.02

    # where each plot is: its box in the blank rendering
    boxes = []
    for index in range(plots):
        where = np.abs(blank - colour(box_colour(index))).max(axis=2) < 0.02
        rows, columns = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
        assert rows.size and columns.size, f"plot {index} has no box"
        boxes.append((rows[0], rows[-1] + 1, columns[0], columns[-1] + 1))
        assert where.sum() == (rows[-1] + 1 - rows[0]) * (columns[-1] + 1 - columns[0])
    inside = np.zeros(shown.shape[:2], dtype=bool)
    for top, bottom, left, right in boxes:
        inside[top:bottom, left:right] = True
        assert bottom - top > 120 and right - left > 600  # plot-sized
        region = shown[top:bottom, left:right]
        # the plot is drawn there: no trace of the box, and ink on the white
        assert (
            np.abs(region - colour(box_colour(boxes.index((top, bottom, left, right)))))
            .max(axis=2)
            .min()
            > 0.02
        )
        ink = (np.abs(region - 1.0).max(axis=2) > 0.1).mean()
        assert ink > 0.02, (top, bottom, ink)
    # and nothing else on the page changed: the plots did not move or break the layout
    outside = np.abs(shown - blank).max(axis=2)[~inside]
    assert outside.max() < 0.02

    # each forest plot's intervals in the colour of their comparison's status
    forest = [boxes[0], boxes[2]]  # forest, sequential path, forest, path, assignment
    metrics = [m.id for m in analysis.input.metrics]
    for (top, bottom, left, right), metric in zip(forest, metrics, strict=True):
        region = shown[top:bottom, left:right]
        for comparison in analysis.outcome.comparisons:
            if comparison.metric != metric:
                continue
            _, status_colour = report._status(comparison.status)
            close = np.abs(region - colour(status_colour)).max(axis=2) < 0.04
            assert close.sum() > 200, (metric, comparison.compared, status_colour)
