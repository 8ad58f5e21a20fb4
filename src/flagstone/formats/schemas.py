"""JSON Schemas (draft 2020-12) of the documents flagstone reads, so that editors validate a
file as it is typed (``python -m flagstone schema``).

Where a format has pydantic models the schema is generated from them
(``TypeAdapter(...).json_schema(by_alias=True)``), with the input forms the models' before-
validators accept spelled out (a weight written ``"5000"``, a proportion ``{"value": "0.5"}``,
a count as a decimal string, a duration ``"7d"``, …) and the alias a criterion's
``attributeName`` also has (``attribute``). The Experiments-API and Alexa shapes have no
models (their readers check them by hand): their schemas are written here, from those
readers. A schema says what a document looks like; the reader still checks what a schema
cannot (names that must match, weights that must sum to 10 000, …).

``snapshot`` is a file either reader of snapshots takes: the authoring format when the
document has a ``format`` key, the native one otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ..model import abtests as _abtests
from ..model import base as _base
from ..model import bitsets as _bitsets
from ..model import metrics as _metrics
from ..model import segments as _segments
from ..model import snapshot as _snapshot
from ..model.metrics import METRICS_FILE
from ..model.snapshot import SNAPSHOT
from ..model.states import ALEXA_STATES, EXPERIMENTS_API_STATUSES
from ..model.targeting import Targeting
from . import alexa
from .authoring.models import DOCUMENT

__all__ = ["DIALECT", "FORMATS", "json_schema", "model_schema"]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]

_DIGITS: Final[Schema] = {"type": "string", "pattern": r"^\s*[0-9]+\s*$"}
_DECIMAL: Final[Schema] = {"type": "string", "pattern": r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$"}

_INPUTS: Final[dict[Callable[..., Any], Callable[[Schema], Schema]]] = {
    _base._not_a_boolean: lambda inner: {"anyOf": [inner, _DIGITS]},
    _abtests._basis_points: lambda inner: {"anyOf": [inner, _DIGITS]},
    _segments.parse_proportion: lambda inner: {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 1},
            _DECIMAL,
            {
                "type": "object",
                "properties": {"value": {"anyOf": [{"type": "number"}, _DECIMAL]}},
                "required": ["value"],
                "additionalProperties": False,
            },
        ]
    },
    _snapshot._version_text: lambda inner: {"anyOf": [inner, {"type": "integer"}]},
    _metrics.parse_duration: lambda inner: {
        "type": "string",
        "pattern": r"^\s*-?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?\s*$",
    },
    _metrics._fraction: lambda inner: {"anyOf": [inner, _DECIMAL]},
    _bitsets._bitset_shape: lambda inner: {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]
    },
}
"""Before-validators whose input is not their output's type → the schema of the input."""


class _Inputs(GenerateJsonSchema):
    """Schemas of what the models accept (their before-validators' input), not of what they
    hold."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        function = schema["function"]["function"]
        spell = _INPUTS.get(function)
        inner = self.generate_inner(schema["schema"])
        return spell(inner) if spell is not None else inner


def model_schema(adapter: TypeAdapter[Any], title: str) -> Schema:
    """The JSON Schema of what ``adapter`` validates (by alias, input forms included)."""
    schema = adapter.json_schema(by_alias=True, schema_generator=_Inputs)
    _attribute_alias(schema)
    _only_pattern_keys(schema)
    return {"$schema": DIALECT, "title": title, **schema}


def _only_pattern_keys(node: Any) -> None:
    """A map whose keys have a pattern (``dict[Name, …]``) takes no other key: pydantic writes
    ``patternProperties`` alone, which lets any other key through."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _only_pattern_keys(value)
    elif isinstance(node, list):
        for value in node:
            _only_pattern_keys(value)


def _attribute_alias(schema: Schema) -> None:
    """A criterion's attribute is ``attributeName`` or (as the Confidence A/B-test API
    writes it in exposure filters) ``attribute``."""
    criterion = schema.get("$defs", {}).get("AttributeCriterion")
    if criterion is None:
        return
    criterion["properties"]["attribute"] = copy.deepcopy(criterion["properties"]["attributeName"])
    criterion["required"] = [name for name in criterion["required"] if name != "attributeName"]
    if not criterion["required"]:
        del criterion["required"]
    criterion["oneOf"] = [{"required": ["attributeName"]}, {"required": ["attribute"]}]


def _native() -> Schema:
    return model_schema(SNAPSHOT, "flagstone native snapshot")


def _authoring() -> Schema:
    return model_schema(DOCUMENT, "flagstone authoring document (flagstone/flags@1)")


def _snapshot_either() -> Schema:
    """Authoring when a ``format`` key is there, native otherwise."""
    native, authoring = _native(), _authoring()
    definitions: Schema = {}
    for schema, name in ((native, "NativeSnapshot"), (authoring, "AuthoringDocument")):
        for key, value in schema.pop("$defs", {}).items():
            if key in definitions and definitions[key] != value:  # pragma: no cover
                raise AssertionError(f"two definitions named {key}")
            definitions[key] = value
        schema.pop("$schema")
        definitions[name] = schema
    return {
        "$schema": DIALECT,
        "title": "flagstone snapshot (native, or authoring with a format key)",
        "if": {"type": "object", "required": ["format"]},
        "then": {"$ref": "#/$defs/AuthoringDocument"},
        "else": {"$ref": "#/$defs/NativeSnapshot"},
        "$defs": definitions,
    }


def _metrics_file() -> Schema:
    return model_schema(METRICS_FILE, "flagstone metrics file")


# -- written by hand: the shapes without models ------------------------------------------------

_ID: Final[Schema] = {"type": "string", "pattern": r"^[^/\s]([^/]*[^/\s])?$"}
_NULLABLE_TEXT: Final[Schema] = {"type": ["string", "null"]}
_TIME: Final[Schema] = {"type": "string", "format": "date-time"}


def _targeting_definitions() -> Schema:
    schema = TypeAdapter(Targeting).json_schema(by_alias=True, schema_generator=_Inputs)
    _attribute_alias(schema)
    definitions: Schema = schema.pop("$defs", {})
    definitions["Targeting"] = schema
    return definitions


def _experiments_api() -> Schema:
    """The Experiments API's file ``{"experiments", "audiences"}`` and responses
    ``{"data", "meta"}`` (:mod:`flagstone.formats.experiments_api`)."""
    experiment = {
        "type": "object",
        "description": "An experiment; fields the API does not name are kept as they are.",
        "required": ["id", "name", "status", "variants"],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "description": _NULLABLE_TEXT,
            "status": {"enum": list(EXPERIMENTS_API_STATUSES)},
            "audienceId": _NULLABLE_TEXT,
            "startDate": {"type": ["string", "null"], "format": "date-time"},
            "endDate": {"type": ["string", "null"], "format": "date-time"},
            "createdAt": {"type": ["string", "null"], "format": "date-time"},
            "updatedAt": {"type": ["string", "null"], "format": "date-time"},
            "variants": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Variant"}},
        },
    }
    variant = {
        "type": "object",
        "description": "A variant; splitPercentage values sum to 100 over the experiment.",
        "required": ["name", "splitPercentage"],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "splitPercentage": {"type": "integer", "minimum": 0, "maximum": 100},
            "flowId": _NULLABLE_TEXT,
            "config": {"type": ["object", "null"]},
        },
    }
    audience = {
        "type": "object",
        "required": ["id", "name", "targeting"],
        "additionalProperties": False,
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "targeting": {"$ref": "#/$defs/Targeting"},
        },
    }
    audiences = {"type": "array", "items": {"$ref": "#/$defs/Audience"}}
    return {
        "$schema": DIALECT,
        "title": "Experiments-API experiments (a file or a response)",
        "oneOf": [
            {
                "type": "object",
                "required": ["experiments"],
                "additionalProperties": False,
                "properties": {
                    "experiments": {"type": "array", "items": {"$ref": "#/$defs/Experiment"}},
                    "audiences": audiences,
                },
            },
            {
                "type": "object",
                "required": ["data"],
                "additionalProperties": False,
                "properties": {
                    "data": {
                        "anyOf": [
                            {"$ref": "#/$defs/Experiment"},
                            {"type": "array", "items": {"$ref": "#/$defs/Experiment"}},
                        ]
                    },
                    "meta": {"type": "object"},
                    "audiences": audiences,
                },
            },
        ],
        "$defs": {
            "Experiment": experiment,
            "Variant": variant,
            "Audience": audience,
            **_targeting_definitions(),
        },
    }


def _alexa() -> Schema:
    """The Alexa skill A/B-testing API's file ``{"experiments": [entry, …]}`` and one
    ``{"experiment": {…}}`` payload (:mod:`flagstone.formats.alexa`)."""
    body = {
        "type": "object",
        "description": "An A/B test; fields the API does not name are kept as they are.",
        "required": [
            "name",
            "description",
            "type",
            "plannedDuration",
            "exposurePercentage",
            "metricConfigurations",
        ],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/]*$"},
            "description": {"type": "string"},
            "type": {"enum": list(alexa.ABTEST_TYPES)},
            "plannedDuration": {"type": "string", "pattern": "^P[1-4]W$"},
            "exposurePercentage": {"type": "integer", "minimum": 0, "maximum": 100},
            "metricConfigurations": {
                "type": "array",
                "items": {"$ref": "#/$defs/MetricConfiguration"},
            },
            "state": {"enum": list(ALEXA_STATES)},
            "history": {
                "type": "object",
                "properties": {
                    "creationTime": _TIME,
                    "startTime": _TIME,
                    "stoppedReason": {"type": "string"},
                },
            },
            "trigger": {"type": "object", "properties": {"scheduledEndTime": _TIME}},
            "treatmentOverrideCount": {"type": "integer", "minimum": 0},
        },
    }
    metric = {
        "type": "object",
        "required": ["name", "metricTypes", "expectedChange"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 125},
            "metricTypes": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": list(alexa.METRIC_TYPES)},
            },
            "expectedChange": {"enum": list(alexa.EXPECTED_CHANGES)},
        },
    }
    entry_properties = {
        "experimentId": {"type": "string", "pattern": "^[^/]+$"},
        "treatmentOverrides": {
            "type": "object",
            "additionalProperties": {"enum": list(alexa.TREATMENT_IDS)},
        },
        "treatmentOverrideCount": {"type": "integer", "minimum": 0},
    }
    return {
        "$schema": DIALECT,
        "title": "Alexa skill A/B tests (a file or one payload)",
        "oneOf": [
            {
                "type": "object",
                "required": ["experiments"],
                "additionalProperties": False,
                "properties": {
                    "experiments": {"type": "array", "items": {"$ref": "#/$defs/Entry"}}
                },
            },
            {
                "type": "object",
                "required": ["experiment"],
                "additionalProperties": False,
                "properties": {"experiment": {"$ref": "#/$defs/Body"}, **entry_properties},
            },
        ],
        "$defs": {
            "Entry": {
                "type": "object",
                "required": ["experimentId", "experiment"],
                "additionalProperties": False,
                "properties": {"experiment": {"$ref": "#/$defs/Experiment"}, **entry_properties},
            },
            "Body": body,
            "Experiment": {"allOf": [{"$ref": "#/$defs/Body"}, {"required": ["state"]}]},
            "MetricConfiguration": metric,
        },
    }


_SCHEMAS: Final[dict[str, Callable[[], Schema]]] = {
    "snapshot": _snapshot_either,
    "native": _native,
    "authoring": _authoring,
    "metrics": _metrics_file,
    "experiments-api": _experiments_api,
    "alexa": _alexa,
}

FORMATS: Final = tuple(_SCHEMAS)
"""The formats :func:`json_schema` knows (the analysis input's is
``flagstone.analysis.inputs``', see ``python -m flagstone schema``)."""


def json_schema(format: str) -> Schema:
    """The JSON Schema of a ``format`` of :data:`FORMATS` (``KeyError`` for another)."""
    return _SCHEMAS[format]()
