"""The metrics file: ``{"metrics": [definition, ...]}`` (see :mod:`flagstone.model.metrics`).

:func:`parse_metrics` validates a standalone metrics file into
:class:`~flagstone.model.metrics.MetricDefinitions`, or raises ``ConfigError`` naming every
problem with its JSON path (``$.metrics[2].window.end``), the types' and the semantic
checks' alike, as snapshots do. A snapshot's own top-level ``metrics`` list is the same
list and is checked when the snapshot is parsed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import ConfigError, Problem
from ..model.documents import decoded_json
from ..model.metrics import METRICS_FILE, MetricDefinition, MetricDefinitions
from ..model.validation import metric_definition_problems
from .native import translate_validation_error

__all__ = ["parse_metrics"]

_DEFINITION: TypeAdapter[MetricDefinition] = TypeAdapter(MetricDefinition)


def parse_metrics(
    document: bytes | str | Mapping[str, Any], *, source: str | None = None
) -> MetricDefinitions:
    """Parse and validate a metrics file: its JSON text or the decoded object.

    Raises :class:`~flagstone.errors.ConfigError` naming every problem found, with its JSON
    path; ``source`` (e.g. the file name) goes into the message.
    """
    data = decoded_json(document, what="a metrics file", source=source)
    if not isinstance(data, Mapping):
        raise ConfigError([Problem("$", 'expected an object: {"metrics": [...]}')], source=source)
    try:
        definitions = METRICS_FILE.validate_python(data)
    except ValidationError as error:
        problems = translate_validation_error(error)
        problems += _problems_of_parsable_definitions(data.get("metrics"))
        raise ConfigError(problems, source=source) from None
    problems = metric_definition_problems(definitions.metrics)
    if problems:
        raise ConfigError(problems, source=source)
    return definitions


def _problems_of_parsable_definitions(raw: Any) -> list[Problem]:
    """The semantic problems of the definitions that parse, in a file that does not."""
    if not isinstance(raw, list):
        return []
    parsed: list[MetricDefinition] = []
    positions: list[int] = []
    for index, item in enumerate(raw):
        with contextlib.suppress(ValidationError):
            parsed.append(_DEFINITION.validate_python(item))
            positions.append(index)
    return metric_definition_problems(parsed, positions=positions)
