"""The pydantic configuration every snapshot model shares.

Models are immutable, refuse unknown fields (a typo in a snapshot is a ``ConfigError``, not a
silently ignored key), and read the camelCase names of Confidence's JSON (``bucketCount``)
while Python code uses snake_case (``bucket_count``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["Model", "ResourceMetadata"]


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
