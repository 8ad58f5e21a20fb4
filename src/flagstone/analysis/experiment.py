"""An experiment analysed end to end: exposures and events in, decisions out.

:func:`analyze_experiment` is the Python face of ``python -m flagstone analyze``: it
aggregates a test's exposure and event logs into per-variant sufficient statistics
(:func:`flagstone.analysis.pipeline.aggregate`), reads them as the analysis input
(:func:`flagstone.analysis.inputs.parse_input`, the JSON ``analyze-stats`` reads) and
analyses them (:func:`flagstone.analysis.engine.analyze`). The result,
:class:`ExperimentAnalysis`, keeps all three, so a caller prints the same table, writes the
same documents and draws the same report (:func:`flagstone.analysis.report.to_html`) as the
command does.

The aggregation, the engine and their libraries (duckdb, scipy) are imported when the
function runs, so this module imports with the standard library alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flagstone.analysis.inputs import AnalysisInput
    from flagstone.analysis.pipeline import Aggregated
    from flagstone.analysis.results import AnalysisOutcome

__all__ = ["ExperimentAnalysis"]


@dataclass(frozen=True)
class ExperimentAnalysis:
    """One A/B test analysed from its logs.

    ``test`` is the test's full name (``workflows/abtest/instances/<id>``), ``display_name``
    its ``displayName`` when it has one, ``at`` the analysis time (aware, UTC: events after
    it were not counted). ``aggregated`` is what the aggregation found (the statistics, the
    units per variant and over time, what it dropped and why), ``input`` its statistics as
    the engine read them, ``outcome`` the comparisons, checks and recommendations.
    """

    test: str
    display_name: str | None
    at: datetime
    aggregated: Aggregated
    input: AnalysisInput
    outcome: AnalysisOutcome

    @property
    def stats(self) -> dict[str, Any]:
        """The analysis input as JSON: exactly what ``analyze-stats`` reads
        (``--format stats``)."""
        return self.aggregated.stats
