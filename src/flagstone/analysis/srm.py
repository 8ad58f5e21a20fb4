"""Sample-ratio mismatch: do the observed group sizes fit the planned allocation?

This module owns the SRM check, Pearson's chi-square goodness-of-fit test of the units
counted per group against the allocation weights of the experiment. A mismatch (a p-value
below a strict ``alpha``, 0.001 by default) means the assignment or the logging is broken
and the comparison between the groups should not be trusted.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

__all__ = ["SrmResult", "sample_ratio_mismatch"]


@dataclass(frozen=True)
class SrmResult:
    """The chi-square test of observed counts against the expected allocation.

    ``expected_counts`` are the counts the weights predict for the observed total;
    ``mismatch`` is ``p_value < alpha``.
    """

    statistic: float
    p_value: float
    degrees_of_freedom: int
    expected_counts: tuple[float, ...]
    mismatch: bool


def _count(value: int) -> int:
    """An observed count as an ``int`` (numpy integers included), refusing bools,
    floats and negatives."""
    if isinstance(value, bool):
        raise ValueError(f"observed counts must be integers >= 0, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"observed counts must be integers >= 0, got {value!r}") from None
    if count < 0:
        raise ValueError(f"observed counts must be integers >= 0, got {value!r}")
    return count


def sample_ratio_mismatch(
    observed: Sequence[int],
    expected_weights: Sequence[float],
    *,
    alpha: float = 0.001,
) -> SrmResult:
    """Pearson's chi-square test of ``observed`` unit counts against ``expected_weights``.

    The weights (>= 0, not all 0) are normalised to sum to 1, so both ``[50, 50]`` and
    ``[0.5, 0.5]`` describe an even split. The statistic is ``Σ (o - e)² / e`` over the
    groups with a positive weight, with one degree of freedom fewer than those groups.

    Defined results for degenerate input:

    - no units at all (total 0): nothing to test — statistic 0, p-value 1.0, no mismatch;
    - units in a group whose weight is 0: impossible under the plan — statistic ``inf``,
      p-value 0.0, mismatch (a weight-0 group without units is left out of the test);
    - a single group with a positive weight (0 degrees of freedom): p-value 1.0 unless
      units landed elsewhere.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if len(observed) != len(expected_weights):
        raise ValueError(
            f"observed has {len(observed)} groups but expected_weights has {len(expected_weights)}"
        )
    if len(observed) < 2:
        raise ValueError("a sample-ratio check needs at least two groups")
    counts = [_count(value) for value in observed]
    for weight in expected_weights:
        if not (math.isfinite(weight) and weight >= 0.0):
            raise ValueError(f"expected weights must be finite and >= 0, got {weight!r}")
    weight_total = math.fsum(expected_weights)
    if weight_total <= 0.0:
        raise ValueError("expected weights must not all be 0")

    total = sum(counts)
    expected = tuple(total * (weight / weight_total) for weight in expected_weights)
    tested = sum(1 for weight in expected_weights if weight > 0.0)
    dof = tested - 1
    if total == 0:
        return SrmResult(0.0, 1.0, dof, expected, False)
    if any(o > 0 and e == 0.0 for o, e in zip(counts, expected, strict=True)):
        return SrmResult(math.inf, 0.0, dof, expected, True)

    statistic = math.fsum(
        (o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0.0
    )
    p_value = 1.0 if dof == 0 else float(stats.chi2.sf(statistic, dof))
    return SrmResult(statistic, p_value, dof, expected, p_value < alpha)
