"""The statistics behind an A/B-test decision, from sufficient statistics.

Everything public is importable from here (``from flagstone.analysis import compare,
GroupStats``); the submodules are the implementation. ``inputs`` (the JSON input,
validated: :func:`parse_input`) → ``engine`` (:func:`analyze`) → ``results``
(:class:`AnalysisOutcome`) → ``outputs`` (Confidence's AnalysisResult, Alexa's metric
snapshot, the Experiments API's computed results, a terminal table); ``command`` is
``python -m flagstone analyze-stats``. The statistics live in small modules the engine
composes: ``groups`` (sufficient statistics), ``comparison`` (z, pooled z and Welch tests,
absolute and relative intervals, non-inferiority), ``power`` (in the metric's units and in
standard deviations), ``srm``, ``corrections`` (Bonferroni, Holm), ``cuped``, ``sequential``
(Lan-DeMets alpha spending), ``spotify`` (spotify-confidence's powered effect) and
``normal``. ``pipeline`` turns exposure logs and metric events into the input
(:func:`aggregate`, :func:`aggregation_sql`); it needs duckdb and sqlglot, also in the
``analysis`` extra, imported when an aggregation runs. ``experiment`` runs both halves
(:func:`analyze_experiment` → :class:`ExperimentAnalysis`) and ``report`` draws the result
as one self-contained HTML page (:func:`to_html`; matplotlib, the ``report`` extra).

It needs the ``analysis`` extra, ``pip install "flagstone[analysis]"`` (scipy, for the t
and chi-square distributions, root finding and the sequential boundaries). Without it the
names that need scipy raise :class:`ModuleNotFoundError` saying so when imported from here;
the rest (group statistics, power, corrections, CUPED, the input, result and output
models) work with the standard library alone.
"""

import typing

from flagstone.analysis.corrections import (
    Correction,
    bonferroni,
    bonferroni_adjusted_p,
    bonferroni_alpha,
    holm,
)
from flagstone.analysis.cuped import CovariateSums, CupedResult, cuped
from flagstone.analysis.experiment import ExperimentAnalysis, analyze_experiment
from flagstone.analysis.groups import GroupStats
from flagstone.analysis.inputs import (
    AnalysisInput,
    GroupInput,
    Horizon,
    InterimInput,
    MetricInput,
    parse_input,
)
from flagstone.analysis.outputs import (
    to_analysis_result,
    to_computed_results,
    to_metric_snapshot,
    to_table,
)
from flagstone.analysis.pipeline import (
    Aggregated,
    DbApiEngine,
    DuckDBEngine,
    Malformed,
    MalformedRecord,
    TableSource,
    aggregate,
    aggregation_sql,
)
from flagstone.analysis.power import (
    SampleSize,
    achieved_power,
    cohens_h,
    noncentrality,
    powered_effect,
    required_sample_size,
    standardized_effect,
    standardized_power,
    standardized_powered_effect,
    standardized_sample_size,
)
from flagstone.analysis.report import to_html
from flagstone.analysis.results import (
    AnalysisOutcome,
    Annotation,
    Estimate,
    IntervalResult,
    MetricComparison,
    Recommendation,
    SrmCheck,
)

__all__ = [
    "Aggregated",
    "AnalysisInput",
    "AnalysisOutcome",
    "Annotation",
    "Comparison",
    "Correction",
    "CovariateSums",
    "CupedResult",
    "DbApiEngine",
    "DuckDBEngine",
    "Estimate",
    "ExperimentAnalysis",
    "GroupInput",
    "GroupStats",
    "Horizon",
    "InterimInput",
    "IntervalResult",
    "Malformed",
    "MalformedRecord",
    "MetricComparison",
    "MetricInput",
    "NonInferiority",
    "Recommendation",
    "SampleSize",
    "SequentialBounds",
    "SequentialTest",
    "SrmCheck",
    "SrmResult",
    "TableSource",
    "achieved_power",
    "aggregate",
    "aggregation_sql",
    "analyze",
    "analyze_experiment",
    "bonferroni",
    "bonferroni_adjusted_p",
    "bonferroni_alpha",
    "cohens_h",
    "compare",
    "cuped",
    "holm",
    "information_fractions",
    "non_inferiority",
    "noncentrality",
    "parse_input",
    "powered_effect",
    "required_sample_size",
    "sample_ratio_mismatch",
    "sequential_bounds",
    "sequential_test",
    "spending",
    "spotify_powered_effect",
    "standardized_effect",
    "standardized_power",
    "standardized_powered_effect",
    "standardized_sample_size",
    "to_analysis_result",
    "to_computed_results",
    "to_html",
    "to_metric_snapshot",
    "to_table",
]

# The names whose modules import scipy (or numpy, which comes with it).
_NEED_SCIPY = frozenset(
    {
        "Comparison",
        "NonInferiority",
        "SequentialBounds",
        "SequentialTest",
        "SrmResult",
        "TableSource",
        "analyze",
        "compare",
        "information_fractions",
        "non_inferiority",
        "sample_ratio_mismatch",
        "sequential_bounds",
        "sequential_test",
        "spending",
        "spotify_powered_effect",
    }
)

try:
    from flagstone.analysis.comparison import (
        Comparison,
        NonInferiority,
        compare,
        non_inferiority,
    )
    from flagstone.analysis.engine import analyze
    from flagstone.analysis.sequential import (
        SequentialBounds,
        SequentialTest,
        information_fractions,
        sequential_bounds,
        sequential_test,
        spending,
    )
    from flagstone.analysis.spotify import spotify_powered_effect
    from flagstone.analysis.srm import SrmResult, sample_ratio_mismatch
except ModuleNotFoundError as _error:
    _missing = (_error.name or "").partition(".")[0]
    if _missing not in ("scipy", "numpy"):
        raise
    del _error

    if not typing.TYPE_CHECKING:

        def __getattr__(name: str) -> object:
            """The install hint for a name that needs scipy; AttributeError otherwise."""
            if name in _NEED_SCIPY:
                raise ModuleNotFoundError(
                    f"flagstone.analysis.{name} needs the analysis extra, which is not "
                    f'installed ({_missing} is missing): pip install "flagstone[analysis]"',
                    name=_missing,
                )
            raise AttributeError(f"module 'flagstone.analysis' has no attribute {name!r}")
