"""pydantic models of the authoring format: what a valid document's types are.

They check types and field names (unknown fields are refused, as in the native models) and
are the source of the format's JSON Schema; what the types cannot say (a ``serve`` naming a
variant the flag has, percentages that total more than 100, names, references) is checked by
:mod:`flagstone.formats.authoring.compile`.

The unions that JSON tells apart by type (a condition's attribute test: a value, a list of
values or an object of operators; a rule's ``serve``: a variant or a split) are tagged by the
JSON type, with tags written ``<like-this>``; the error translation drops them from paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    WithJsonSchema,
)

from ...model.abtests import AbTestInstance
from ...model.clients import ClientEntry
from ...model.flags import VariantValue
from ...model.metrics import MetricDefinition

__all__ = [
    "FORMAT",
    "NAME_PATTERNS",
    "AttributeTest",
    "AuthoringDocument",
    "AuthoringFlag",
    "AuthoringRule",
    "AuthoringSegment",
    "Condition",
    "Operand",
    "Operators",
    "Percent",
    "Scalar",
    "TimestampOperand",
    "VersionOperand",
]

FORMAT: Final = "flagstone/flags@1"
"""The value of an authoring document's top-level ``format`` key."""

NAME_PATTERNS: Final = {
    "flag": r"^[^/.\s]+$",
    "segment": r"^[^/.\s]+$",
    "variant": r"^[^/\s]+$",
    "rule": r"^[^/\s]+$",
    "salt": r"^[^/\s]+$",
}
"""What a name may be: no ``/`` (native names are ``flags/<id>``), no white space, and no
``.`` in a flag's name (``get_value("flag.field")`` splits there) or a segment's (a rule's
own segment is ``<flag>.<rule>``, which a named segment must not shadow)."""

_STRICT: Final = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)

FlagName = Annotated[str, Field(pattern=NAME_PATTERNS["flag"])]
SegmentName = Annotated[str, Field(pattern=NAME_PATTERNS["segment"])]
VariantName = Annotated[str, Field(pattern=NAME_PATTERNS["variant"])]


def _scalar(raw: Any) -> Any:
    if raw is None or isinstance(raw, str | bool | int | float):
        return raw
    raise ValueError("expected a string, number, boolean or null")


def _percent(raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError("expected a percentage: a number from 0 to 100")
    if not 0 <= raw <= 100:
        raise ValueError(f"{raw} is not a percentage from 0 to 100")
    return raw


Scalar = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean", "null"]}),
]
"""A string, boolean, number or ``null`` (which matches a missing attribute)."""

Percent = Annotated[
    Any,
    AfterValidator(_percent),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100}),
]
"""A percentage, 0 to 100."""


class VersionOperand(BaseModel):
    """``{"version": "2.1.0"}``: a semantic version (Confidence's reading: up to 4 numeric
    parts, a ``-suffix`` dropped)."""

    model_config = _STRICT
    version: StrictStr


class TimestampOperand(BaseModel):
    """``{"timestamp": "2026-01-01T00:00:00Z"}``: an RFC 3339 time."""

    model_config = _STRICT
    timestamp: StrictStr


def _operand_kind(raw: Any) -> str:
    if isinstance(raw, dict):
        return "<timestamp>" if "timestamp" in raw else "<version>"
    return "<scalar>"


Operand = Annotated[
    Annotated[Scalar, Tag("<scalar>")]
    | Annotated[VersionOperand, Tag("<version>")]
    | Annotated[TimestampOperand, Tag("<timestamp>")],
    Discriminator(_operand_kind),
]
"""A value a condition compares with: a scalar, a version or a timestamp."""


class Operators(BaseModel):
    """An attribute's tests by name; more than one must all hold (``gte`` and ``lt`` make one
    range). ``any``/``all`` test each element of a list attribute with one test."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=False, title="Operators"
    )
    eq: Operand = None
    in_: list[Operand] | None = Field(default=None, alias="in")
    gt: Operand = None
    gte: Operand = None
    lt: Operand = None
    lte: Operand = None
    starts_with: StrictStr | None = Field(default=None, alias="startsWith")
    ends_with: StrictStr | None = Field(default=None, alias="endsWith")
    contains: StrictStr | None = None
    any: AttributeTest | None = None
    all: AttributeTest | None = None


def _test_kind(raw: Any) -> str:
    if isinstance(raw, list):
        return "<in>"
    if isinstance(raw, dict):
        if set(raw) == {"version"}:
            return "<version>"
        if set(raw) == {"timestamp"}:
            return "<timestamp>"
        return "<operators>"
    return "<scalar>"


AttributeTest = Annotated[
    Annotated[Scalar, Tag("<scalar>")]
    | Annotated[VersionOperand, Tag("<version>")]
    | Annotated[TimestampOperand, Tag("<timestamp>")]
    | Annotated[list[Operand], Tag("<in>")]
    | Annotated[Operators, Tag("<operators>")],
    Discriminator(_test_kind),
]
"""What an attribute must be: equal to a value, one of a list, or an object of operators."""


class Condition(BaseModel):
    """Who a rule or segment applies to. Every key must hold: a context attribute (a dotted
    path such as ``user.country``) and its test, or ``and``/``or`` (a list of conditions),
    ``not`` (a condition), ``segment`` (membership of a named segment)."""

    model_config = ConfigDict(
        extra="allow", frozen=True, strict=True, populate_by_name=False, title="Condition"
    )
    __pydantic_extra__: dict[str, AttributeTest] = Field(init=False)

    and_: list[Condition] | None = Field(default=None, alias="and")
    or_: list[Condition] | None = Field(default=None, alias="or")
    not_: Condition | None = Field(default=None, alias="not")
    segment: StrictStr | None = None


def _serve_kind(raw: Any) -> str:
    return "<split>" if isinstance(raw, dict) else "<variant>"


Serve = Annotated[
    Annotated[StrictStr, Tag("<variant>")] | Annotated[dict[str, Percent], Tag("<split>")],
    Discriminator(_serve_kind),
]


class AuthoringRule(BaseModel):
    """One rule: whom (``when``) and what (``serve``: a variant, or ``{variant: percent}``,
    the rest falling through to the next rule)."""

    model_config = _STRICT
    name: Annotated[str, Field(pattern=NAME_PATTERNS["rule"])] | None = None
    description: StrictStr | None = None
    when: Condition | None = None
    serve: Serve
    unit: StrictStr | None = None
    salt: Annotated[str, Field(pattern=NAME_PATTERNS["salt"])] | None = None
    buckets: Annotated[StrictInt, Field(gt=0)] | None = None
    enabled: StrictBool = True
    environments: list[StrictStr] = Field(default_factory=list)


class AuthoringFlag(BaseModel):
    """A flag: its variants (name → value), the rules tried in order, the ``default`` variant
    served when none matches, and whether it is ``enabled`` at all (the kill switch)."""

    model_config = _STRICT
    description: StrictStr | None = None
    enabled: StrictBool = True
    clients: list[StrictStr] = Field(default_factory=list)
    unit: StrictStr | None = None
    variants: dict[VariantName, VariantValue]
    default: StrictStr | None = None
    rules: list[AuthoringRule] = Field(default_factory=list)
    abtest: StrictStr | None = None


class AuthoringSegment(BaseModel):
    """A named condition that rules and other conditions refer to; ``rollout`` admits only
    that percentage of the units the condition matches (the same units in every flag)."""

    model_config = _STRICT
    description: StrictStr | None = None
    when: Condition | None = None
    rollout: Percent | None = None


class AuthoringDocument(BaseModel):
    """A whole authoring document."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=False,
        title="flagstone authoring document (flagstone/flags@1)",
    )
    schema_: StrictStr | None = Field(default=None, alias="$schema")
    format: Literal["flagstone/flags@1"]
    version: StrictStr | StrictInt | None = None
    issued_at: StrictStr | None = Field(default=None, alias="issuedAt")
    """When the document was published, as the native format's ``issuedAt`` (anti-rollback;
    ``flagstone.sources.sign_snapshot`` and ``serve --signing-key-file`` set it)."""
    description: StrictStr | None = None
    account: StrictStr | None = None
    flags: dict[FlagName, AuthoringFlag] = Field(default_factory=dict)
    segments: dict[SegmentName, AuthoringSegment] = Field(default_factory=dict)
    clients: dict[str, ClientEntry] = Field(default_factory=dict)
    abtests: list[AbTestInstance] = Field(default_factory=list)
    metrics: list[MetricDefinition] = Field(default_factory=list)


Operators.model_rebuild()
Condition.model_rebuild()

DOCUMENT: TypeAdapter[AuthoringDocument] = TypeAdapter(AuthoringDocument)
FLAG: TypeAdapter[AuthoringFlag] = TypeAdapter(AuthoringFlag)
SEGMENT: TypeAdapter[AuthoringSegment] = TypeAdapter(AuthoringSegment)
