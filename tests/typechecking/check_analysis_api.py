"""Uses ``flagstone.analysis``'s public front the way an analyst would, for mypy (strict).

Never run; ``mypy`` checks it (``tests/test_typechecking.py``). ``assert_type`` pins the
public types of the front, so that a name resolved through the front's fallback for a missing
scipy (a module ``__getattr__``) or a signature loosening to ``Any`` fails the check.
"""

from __future__ import annotations

from typing_extensions import assert_type

from flagstone.analysis import (
    AnalysisOutcome,
    Comparison,
    Correction,
    CupedResult,
    GroupStats,
    SampleSize,
    analyze,
    cohens_h,
    compare,
    cuped,
    holm,
    parse_input,
    spotify_powered_effect,
    standardized_power,
    standardized_powered_effect,
    standardized_sample_size,
    to_table,
)
from flagstone.analysis import CovariateSums as Sums

control = GroupStats(n=10_000, sum=1_210)
treatment = GroupStats(n=10_050, sum=1_333)
result = compare(control, treatment, pooled=True)
assert_type(result, Comparison)
assert_type(result.critical_value, float)
assert_type(result.relative_standard_error, float | None)
compare(control, treatment, pooled="yes")  # type: ignore[arg-type]

size = standardized_sample_size(cohens_h(0.11, 0.10), power=0.9)
assert_type(size, SampleSize)
assert_type(size.unrounded_treatment, float)
assert_type(standardized_powered_effect(5_000, alternative="smaller"), float)
assert_type(standardized_power(0.05, 5_000, ratio=2.0), float)
standardized_power(0.05, 5_000, alternative="greater")  # type: ignore[arg-type]

correction = holm([0.01, 0.04, 0.03])
assert_type(correction, Correction)
assert_type(correction.order, list[int])
assert_type(correction.thresholds, list[float])

sums = Sums(n=100, y_sum=50.0, y_sum_sq=40.0, x_sum=48.0, x_sum_sq=30.0, xy_sum=35.0)
adjusted = cuped(sums, sums, variance="spotify")
assert_type(adjusted, CupedResult)
assert_type(adjusted.correlation, float)
cuped(sums, sums, variance="ddof0")  # type: ignore[arg-type]

assert_type(spotify_powered_effect(0.121, 0.106, 10_000, 10_050, binary=True), float)

outcome = analyze(parse_input({"metrics": []}))
assert_type(outcome, AnalysisOutcome)
assert_type(outcome.comparisons[0].latest.statistic, float)
assert_type(to_table(outcome), str)
