"""spotify-confidence compatibility: ``relative_interval="spotify"``, ``cuped(variance=
"spotify")`` and ``spotify_powered_effect`` reproduce spotify-confidence's numbers.

Three references, so that something is checked wherever the tests run:

* spotify-confidence itself (version 4.1.0, in the ``test`` extra: it installs with pip on
  Python 3.11), ``ZTest``/``ZTestLinreg(...).difference(..., verbose=True)`` on the same
  sums — these tests skip when it is not importable;
* numbers it produced, recorded below with the call that produced them;
* its formulas re-derived by hand from its source (``z_test_computer.variance``,
  ``z_test_linreg_computer.lin_reg_variance_delta``, ``z_test_computer.powered_effect``)
  on raw simulated units with numpy, and the rule its search follows, written here
  independently.

Relative tolerance 1e-9, p-values 1e-8.
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from flagstone.analysis import (
    CovariateSums,
    analyze,
    cuped,
    parse_input,
    powered_effect,
    spotify_powered_effect,
)

REL, P_REL = 1e-9, 1e-8
SPOTIFY_ALPHA = 1 - 0.95  # spotify-confidence's alpha for interval_size=0.95: 0.050000000000000044
HAS_SPOTIFY = importlib.util.find_spec("spotify_confidence") is not None
REQUIRED = os.environ.get("FLAGSTONE_REQUIRE_CONFORMANCE") == "1"
"""CI (``.ci/run``) installs the test extra, spotify-confidence included: there these run."""
needs_spotify = pytest.mark.skipif(
    not HAS_SPOTIFY and not REQUIRED,
    reason="spotify-confidence is not installed (it is in the test extra; it needs pandas < 3)",
)


# -- data ----------------------------------------------------------------------------------


def simulate(seed: int, n_c: int, n_t: int, *, binary: bool = False) -> dict[str, dict[str, Any]]:
    """Control and treatment sums of a metric ``y`` and a covariate ``x`` correlated with it
    (``y`` 0/1 with a rate rising with ``x`` when ``binary``)."""
    rng = np.random.default_rng(seed)
    groups = {}
    for name, n, effect in (("control", n_c, 0.0), ("treatment", n_t, 0.25)):
        x = rng.normal(10.0, 3.0, n)
        if binary:
            rate = 1.0 / (1.0 + np.exp(-(x - 12.0) / 2.0 - effect))
            y = (rng.random(n) < rate).astype(float)
        else:
            y = 0.6 * x + effect + rng.normal(0.0, 2.0, n)
        groups[name] = {"y": y, "x": x}
    return groups


def sums(y: np.ndarray, x: np.ndarray | None = None, *, binary: bool = False) -> dict[str, Any]:
    """An input group: ``{"n", "sum"}`` (0/1) or with ``"sum_sq"``, plus covariate sums."""
    group: dict[str, Any] = {"n": int(y.size), "sum": math.fsum(y)}
    if not binary:
        group["sum_sq"] = math.fsum(y * y)
    if x is not None:
        group |= {
            "x_sum": math.fsum(x),
            "x_sum_sq": math.fsum(x * x),
            "xy_sum": math.fsum(x * y),
        }
    return group


def covariate_sums(y: np.ndarray, x: np.ndarray) -> CovariateSums:
    return CovariateSums(
        n=int(y.size),
        y_sum=math.fsum(y),
        y_sum_sq=math.fsum(y * y),
        x_sum=math.fsum(x),
        x_sum_sq=math.fsum(x * x),
        xy_sum=math.fsum(x * y),
    )


# -- spotify-confidence itself ---------------------------------------------------------------


def spotify_difference(
    groups: dict[str, dict[str, Any]], *, covariates: bool, treatment: str = "treatment"
) -> Any:
    """spotify-confidence's verbose difference ``treatment`` - ``control`` (a pandas row), from
    ``multiple_difference`` against the control: Bonferroni-corrected over the treatments,
    as the engine does."""
    import pandas as pd
    import spotify_confidence

    rows = []
    for name, group in groups.items():
        total = group["sum"]
        row = {"group": name, "n": group["n"], "y": total, "y2": group.get("sum_sq", total)}
        if covariates:
            row |= {"x": group["x_sum"], "x2": group["x_sum_sq"], "xy": group["xy_sum"]}
        rows.append(row | {"metric": "m"})
    common: dict[str, Any] = {
        "data_frame": pd.DataFrame(rows),
        "numerator_column": "y",
        "numerator_sum_squares_column": "y2",
        "denominator_column": "n",
        "categorical_group_columns": "group",
        "interval_size": 0.95,
        "metric_column": "metric",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if covariates:
            test = spotify_confidence.ZTestLinreg(
                feature_column="x",
                feature_sum_squares_column="x2",
                feature_cross_sum_column="xy",
                **common,
            )
        else:
            test = spotify_confidence.ZTest(**common)
        found = test.multiple_difference(
            level="control", groupby="metric", level_as_reference=True, verbose=True
        )
    (row,) = [row for _, row in found.iterrows() if row["level_2"] == treatment]
    return row


def spotify_mode(groups: dict[str, dict[str, Any]], treatment: str = "treatment") -> Any:
    """The engine's comparison in spotify-confidence compatibility mode."""
    spec = parse_input(
        {
            "alpha": SPOTIFY_ALPHA,
            "relative_interval": "spotify",
            "metrics": [{"id": "m", "groups": groups}],
        }
    )
    (found,) = [c for c in analyze(spec).comparisons if c.compared == treatment]
    return found


CASES = {
    "continuous with CUPED": lambda: {
        name: sums(g["y"], g["x"]) for name, g in simulate(1, 2000, 2100).items()
    },
    "0/1 with CUPED": lambda: {
        name: sums(g["y"], g["x"], binary=True)
        for name, g in simulate(2, 3000, 2900, binary=True).items()
    },
    "0/1": lambda: {
        "control": {"n": 10000, "sum": 1210},
        "treatment": {"n": 10050, "sum": 1333},
    },
    "0/1, three groups": lambda: {
        "control": {"n": 10000, "sum": 1210},
        "treatment": {"n": 10050, "sum": 1333},
        "other": {"n": 9950, "sum": 1250},
    },
    "continuous": lambda: {name: sums(g["y"]) for name, g in simulate(3, 800, 1200).items()},
}


@needs_spotify
@pytest.mark.parametrize("case", CASES)
def test_spotify_mode_reproduces_spotify_confidence(case: str) -> None:
    groups = CASES[case]()
    covariates = "x_sum" in groups["control"]
    expected = spotify_difference(groups, covariates=covariates)
    got = spotify_mode(groups)
    latest = got.latest

    assert latest.baseline_mean == pytest.approx(expected["point_estimate_1"], rel=REL)
    assert latest.compared_mean == pytest.approx(expected["point_estimate_2"], rel=REL)
    assert latest.difference.value == pytest.approx(expected["difference"], rel=REL)
    assert latest.standard_error == pytest.approx(expected["std_err"], rel=REL)
    assert latest.p_value == pytest.approx(expected["p-value"], rel=P_REL)
    assert got.adjusted_alpha == pytest.approx(expected["adjusted_alpha"], rel=REL)
    assert latest.difference.lower == pytest.approx(expected["adjusted ci_lower"], rel=REL)
    assert latest.difference.upper == pytest.approx(expected["adjusted ci_upper"], rel=REL)
    assert got.powered_effect_abs == pytest.approx(expected["powered_effect"], rel=REL)
    if covariates:
        assert got.variance_reduction_rate == pytest.approx(
            expected["variance_reduction_rate"], rel=REL
        )


@needs_spotify
def test_spotify_mode_relative_interval_is_spotify_confidences_relative_difference() -> None:
    groups = CASES["0/1"]()
    import pandas as pd
    import spotify_confidence

    frame = pd.DataFrame(
        [
            {"group": g, "n": s["n"], "y": s["sum"], "y2": s["sum"], "metric": "m"}
            for g, s in groups.items()
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = spotify_confidence.ZTest(
            frame, "y", "y2", "n", categorical_group_columns="group", metric_column="metric"
        )
        expected = test.difference(
            level_1="control", level_2="treatment", groupby="metric", absolute=False, verbose=True
        ).iloc[0]
    relative = spotify_mode(groups).latest.relative_difference
    assert relative.value == pytest.approx(expected["difference"], rel=REL)
    assert relative.lower == pytest.approx(expected["ci_lower"], rel=REL)
    assert relative.upper == pytest.approx(expected["ci_upper"], rel=REL)


@needs_spotify
@pytest.mark.parametrize(
    ("control", "treatment", "total"),
    [
        ((10000, 1210), (10050, 1333), None),
        ((10000, 1210), (10050, 1333), 30000),
        ((500, 7), (520, 11), None),  # a rare event, a small sample
        ((200, 150), (210, 170), None),  # a high rate: the effect is capped at 1 - p
        ((40, 3), (35, 2), None),
        ((5, 2), (5, 3), None),  # too few units for any effect: the grid search takes over
        ((30, 27), (31, 28), None),  # the same near the top of the rate
        ((1_000_000, 50_000), (1_000_000, 50_500), None),
    ],
)
def test_binary_powered_effect_is_spotify_confidences(
    control: tuple[int, int], treatment: tuple[int, int], total: int | None
) -> None:
    groups = {
        "control": {"n": control[0], "sum": control[1]},
        "treatment": {"n": treatment[0], "sum": treatment[1]},
    }
    if total is not None:
        groups["other"] = {"n": total - control[0] - treatment[0], "sum": 0}
    expected = spotify_difference(groups, covariates=False)
    p = control[1] / control[0]
    got = spotify_powered_effect(
        p,
        control[1] / control[0] - p * p,  # spotify-confidence's Σy²/n - ȳ²
        control[0],
        treatment[0],
        binary=True,
        alpha=float(expected["adjusted_alpha_power_sample_size"]),  # Bonferroni over 2 with "other"
        total_units=total,
    )
    assert got == pytest.approx(float(expected["powered_effect"]), rel=REL)


# -- numbers spotify-confidence produced -----------------------------------------------------


@pytest.mark.parametrize(
    ("control", "treatment", "total", "expected"),
    [
        ((10000, 1210), (10050, 1333), 30000, 0.013199429798108325),
        ((5, 2), (5, 3), 10, 0.5829480592685329),  # found by the grid search
    ],
)
def test_recorded_binary_powered_effect(
    control: tuple[int, int], treatment: tuple[int, int], total: int, expected: float
) -> None:
    # spotify_confidence.ZTest(DataFrame(rows: group, n, y = y2 = conversions; a third group
    # with the rest of `total` units), "y", "y2", "n", categorical_group_columns="group",
    # interval_size=0.95, metric_column="m").difference(level_1="control",
    # level_2="treatment", groupby="m", verbose=True)["powered_effect"] (version 4.1.0)
    p = control[1] / control[0]
    got = spotify_powered_effect(
        p,
        p - p * p,
        control[0],
        treatment[0],
        binary=True,
        alpha=SPOTIFY_ALPHA,
        total_units=total,
    )
    assert got == pytest.approx(expected, rel=REL)


# -- its formulas, re-derived by hand --------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True])
def test_spotify_cuped_variance_mixes_ddof_1_and_ddof_0(binary: bool) -> None:
    # z_test_computer.variance: the metric's sample variance (ddof 1), or Σy²/n - ȳ² for a
    # 0/1 metric; lin_reg_variance_delta adds θ² var(x) - 2θ cov(x, y), both with ddof 0
    data = simulate(4, 1500, 1700, binary=binary)
    y_c, x_c = data["control"]["y"], data["control"]["x"]
    y_t, x_t = data["treatment"]["y"], data["treatment"]["x"]
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    theta = float(np.polyfit(x, y, 1)[0])  # the pooled OLS slope
    result = cuped(covariate_sums(y_c, x_c), covariate_sums(y_t, x_t), variance="spotify")

    assert result.theta == pytest.approx(theta, rel=REL)
    for got, (yg, xg) in (
        (result.variance_control, (y_c, x_c)),
        (result.variance_treatment, (y_t, x_t)),
    ):
        metric = float(np.var(yg, ddof=0 if binary else 1))
        cov = float(np.cov(xg, yg, ddof=0)[0, 1])
        expected = metric + theta**2 * float(np.var(xg, ddof=0)) - 2 * theta * cov
        assert got == pytest.approx(expected, rel=REL)
    # the means are the same in both modes
    sample = cuped(covariate_sums(y_c, x_c), covariate_sums(y_t, x_t))
    assert (result.mean_control, result.mean_treatment) == (
        sample.mean_control,
        sample.mean_treatment,
    )


def test_spotify_cuped_variance_reduction_compares_with_its_own_unadjusted_variance() -> None:
    data = simulate(5, 900, 1100, binary=True)
    parts = [(data[g]["y"], data[g]["x"]) for g in ("control", "treatment")]
    result = cuped(*(covariate_sums(y, x) for y, x in parts), variance="spotify")
    before = sum(float(np.var(y, ddof=0)) / y.size for y, _ in parts)
    after = result.variance_control / parts[0][0].size
    after += result.variance_treatment / parts[1][0].size
    assert result.variance_reduction == pytest.approx(1 - after / before, rel=REL)


def test_default_cuped_keeps_the_consistent_sample_variance() -> None:
    data = simulate(6, 1000, 1000)
    parts = [(data[g]["y"], data[g]["x"]) for g in ("control", "treatment")]
    result = cuped(*(covariate_sums(y, x) for y, x in parts))
    x_mean = np.concatenate([x for _, x in parts]).mean()
    adjusted = parts[0][0] - result.theta * (parts[0][1] - x_mean)
    assert result.variance_control == pytest.approx(float(np.var(adjusted, ddof=1)), rel=REL)
    spotify = cuped(*(covariate_sums(y, x) for y, x in parts), variance="spotify")
    assert spotify.variance_control != pytest.approx(result.variance_control, rel=1e-6)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_continuous_powered_effect_uses_the_control_variance_for_both_groups(
    alternative: str,
) -> None:
    # z_test_computer.powered_effect: (z_{1-alpha'} + z_power) sqrt(v_c (1/n_c + 1/n_t))
    tail = 0.05 / 2 if alternative == "two-sided" else 0.05
    z = scipy_stats.norm.ppf(1 - tail) + scipy_stats.norm.ppf(0.8)
    expected = z * math.sqrt(2.5 * (1 / 400 + 1 / 700))
    got = spotify_powered_effect(3.0, 2.5, 400, 700, binary=False, alternative=alternative)
    assert got == pytest.approx(expected, rel=REL)
    # the library's own powered effect with the control variance twice, one-sided at alpha'
    same = powered_effect(400, 700, 2.5, 2.5, alpha=tail, alternative="larger")
    assert got == pytest.approx(same, rel=REL)


def treatment_units(effect: float, p: float, v_c: float, kappa: float, z: float) -> int:
    """The treatment units spotify-confidence requires for ``effect`` on a rate ``p``:
    ``ceil(((z_alpha + z_power)/effect)² (v_c/κ + (p + effect)(1 - p - effect)))``."""
    rate = p + effect
    return math.ceil((z / effect) ** 2 * (v_c / kappa + rate * (1 - rate)))


@settings(derandomize=True, deadline=None, max_examples=60)
@given(
    n_c=st.integers(min_value=2_000, max_value=2_000_000),
    share=st.floats(min_value=0.3, max_value=0.7),
    p=st.floats(min_value=0.01, max_value=0.6),
)
def test_binary_powered_effect_needs_the_units_the_experiment_has(
    n_c: int, share: float, p: float
) -> None:
    # the searched effect's required sample size is within one unit of the comparison's
    n_t = max(1, round(n_c * share / (1 - share)))
    v_c = p * (1 - p)
    effect = spotify_powered_effect(p, v_c, n_c, n_t, binary=True)
    z = scipy_stats.norm.ppf(1 - 0.025) + scipy_stats.norm.ppf(0.8)
    kappa = n_c / n_t
    required = treatment_units(effect, p, v_c, kappa, z) * (1 + kappa)
    assert abs(required - (n_c + n_t)) <= 1.0
    assert 0.0 < effect <= 1.0 - p


def test_binary_powered_effect_of_a_certain_control_is_its_smallest_step() -> None:
    # p = 1: no room above the control rate; spotify-confidence returns min(1e-8, 1 - p)
    assert spotify_powered_effect(1.0, 0.0, 100, 100, binary=True) == 0.0


@pytest.mark.parametrize(
    "change",
    [
        {"alpha": 0.0},
        {"power": 1.0},
        {"n_control": 0},
        {"control_variance": -1.0},
        {"alternative": "both"},
        {"total_units": 10},
        {"control_mean": 1.5},
    ],
)
def test_spotify_powered_effect_refuses_bad_input(change: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "control_mean": 0.1,
        "control_variance": 0.09,
        "n_control": 100,
        "n_treatment": 100,
        "binary": True,
    }
    arguments |= change
    with pytest.raises(ValueError):
        spotify_powered_effect(**arguments)
