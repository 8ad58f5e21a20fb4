"""The pydantic configuration every snapshot model shares.

Models are immutable, refuse unknown fields (a typo in a snapshot is a ``ConfigError``, not a
silently ignored key), and read the camelCase names of Confidence's JSON (``bucketCount``)
while Python code uses snake_case (``bucket_count``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["Count", "Model", "PositiveCount", "ResourceMetadata"]


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not a boolean")
    return value


Count = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=0)]
"""A whole number >= 0: a JSON number or a decimal string (protobuf writes int64 as strings),
never a boolean."""
PositiveCount = Annotated[int, BeforeValidator(_not_a_boolean), Field(gt=0)]


class Model(BaseModel):
    """Base of every snapshot model: frozen, ``extra="forbid"``, camelCase aliases."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        str_strict=True,
        ser_json_inf_nan="constants",
    )


class ResourceMetadata(Model):
    """Bookkeeping fields Confidence puts on its resources. Accepted so that real exports
    load, and otherwise ignored by resolution."""

    create_time: str | None = None
    update_time: str | None = None
    creator: str | None = None
    updater: str | None = None
    owner: str | None = None
    description: str | None = None
    display_name: str | None = None
    labels: dict[str, str] | None = None
