"""A/B-test instances in the shape of the Confidence A/B-test API.

An instance names the variants of one flag as treatments with weights in basis points, the
targeting key selector, and a segment (targeting and allocation). The plan compiles each
instance into a segment and a rule placed before the flag's own rules; see DESIGN.md,
"Decided here, beyond the suite".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, TypeAdapter

from .base import CONFIG, ResourceMetadata, dataclass
from .metrics import AbTestMetrics
from .segments import Allocation
from .targeting import Targeting

__all__ = [
    "ABTEST_INSTANCE",
    "INSTANCE_PREFIX",
    "AbTestInstance",
    "AbTestOrigin",
    "AbTestSegment",
    "AbTestSpec",
    "AbTestState",
    "FlagsSettings",
    "Intake",
    "Treatment",
    "Weight",
    "default_segment_name",
    "treatment_flag",
]

INSTANCE_PREFIX = "workflows/abtest/instances/"
"""What an A/B-test instance's name starts with; the rest is its id."""


def default_segment_name(instance_id: str) -> str:
    """The segment an instance without a ``segment.name`` buckets in: ``segments/abtest-<id>``."""
    return f"segments/abtest-{instance_id}"


def treatment_flag(variant: str) -> str | None:
    """The flag a treatment's variant belongs to: ``flags/checkout`` for
    ``flags/checkout/variants/control``; ``None`` for a name of another form."""
    parts = variant.split("/")
    if len(parts) != 4 or parts[0] != "flags" or parts[2] != "variants" or not all(parts):
        return None
    return f"flags/{parts[1]}"


AbTestState = Literal["draft", "live", "ended", "archived"]
Intake = Literal["open", "paused"]


def _basis_points(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("a weight is a whole number of basis points")
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise ValueError(f"weight {raw!r} is not a whole number of basis points")


Weight = Annotated[int, BeforeValidator(_basis_points)]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Treatment:
    """``{"variant": "flags/checkout/variants/control", "weight": "5000"}``; weights are basis
    points (of 10 000), written as numbers or strings."""

    variant: str
    weight: Weight = Field(ge=0, le=10_000)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestSpec:
    treatments: list[Treatment] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class FlagsSettings:
    """``flags.targetingKeySelector``: where the unit is in the context."""

    targeting_key_selector: str = "targeting_key"


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestSegment:
    """The population of the test. ``name`` (``segments/<id>``) fixes the bucketing salt;
    without it the salt is ``abtest-<instance id>``."""

    name: str | None = None
    targeting: Targeting | None = None
    allocation: Allocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestOrigin:
    """Where a test written in another shape came from, so a writer can give it back as it
    was: the shape (``"experiments-api"`` or ``"alexa"``), the state name that shape used
    (``"stopped"``, ``"ENABLING"``), and the fields of that shape with no native meaning."""

    format: Literal["experiments-api", "alexa"]
    state: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class AbTestInstance(ResourceMetadata):
    """``workflows/abtest/instances/<id>`` with treatments, segment, schedule and overrides."""

    name: str
    state: AbTestState = "draft"
    flags: FlagsSettings = Field(default_factory=FlagsSettings)
    abtest: AbTestSpec = Field(default_factory=AbTestSpec)
    segment: AbTestSegment | None = None
    treatment_overrides: dict[str, str] = Field(default_factory=dict)
    """Unit → variant (full or short name), honoured in draft and live."""
    start_time: str | None = None
    end_time: str | None = None
    launch_time: str | None = None
    metrics: AbTestMetrics | None = None
    """The metrics the test is judged on, its look bucket and exposure filters (the
    Confidence A/B-test API's)."""
    stats: dict[str, Any] | None = None
    pending_transition: Any = None
    preview: bool = True
    """Whether treatment overrides are served while the test is a draft (Alexa's ENABLED);
    ``false`` is Alexa's CREATED: nobody sees a treatment yet."""
    materialization: str | None = None
    """``materializations/<id>``: with a store, the live test records each unit's variant
    there and serves it from there (sticky), which is what paused intake needs."""
    intake: Intake = "open"
    """``paused`` (only while live, only with a ``materialization``): units recorded in the
    materialization keep their variant, no new unit enters (the Experiments API's
    ``stopped``)."""
    origin: AbTestOrigin | None = None

    @property
    def instance_id(self) -> str:
        """The last part of the name (``dwimxjvyjsfno42agkl8``)."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def flag(self) -> str | None:
        """The flag the test's treatments name (``flags/checkout``), read from its first
        treatment; ``None`` without treatments or for a variant not named
        ``flags/<flag>/variants/<variant>``. Validation makes every treatment name this flag."""
        treatments = self.abtest.treatments
        return treatment_flag(treatments[0].variant) if treatments else None


ABTEST_INSTANCE: TypeAdapter[AbTestInstance] = TypeAdapter(AbTestInstance)
"""Validates one A/B-test instance (the JSON of one item of a snapshot's ``abtests``)."""
