"""The snapshot: everything a client resolves from, in the Confidence resolver-state shape
plus flagstone's ``abtests`` and ``version``.

``flags``, ``segments`` and ``clients`` are maps keyed by name (secret for clients), exactly as
Confidence writes them, or lists; ``entries`` walks either form with the JSON path of each
entity, in document order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, TypeVar, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, TypeAdapter

from .abtests import AbTestInstance
from .base import CONFIG, dataclass
from .bitsets import BitsetSpec, BloomFilter
from .clients import Account, ClientEntry
from .flags import Flag
from .metrics import MetricDefinition, MetricDefinitions
from .paths import key_path
from .segments import Segment

__all__ = ["SNAPSHOT", "MapOrList", "Positions", "Snapshot"]

Positions = dict[str, tuple[int, ...]]

T = TypeVar("T")


def _map_or_list(value: Any) -> str:
    return "list" if isinstance(value, list) else "map"


MapOrList = Annotated[
    Union[Annotated[dict[str, T], Tag("map")], Annotated[list[T], Tag("list")]],  # noqa: UP007
    Discriminator(_map_or_list),
]
"""A collection written either as ``{"name": entity}`` or as ``[entity, ...]``."""


def _version_text(raw: Any) -> Any:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return raw


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Snapshot:
    """A whole snapshot document."""

    version: Annotated[str | None, BeforeValidator(_version_text)] = None
    account: Account | None = None
    flags: MapOrList[Flag] = Field(default_factory=dict)
    segments: MapOrList[Segment] = Field(default_factory=dict)
    bitsets: dict[str, BitsetSpec] = Field(default_factory=dict)
    bloom_filters: dict[str, BloomFilter] = Field(default_factory=dict)
    clients: MapOrList[ClientEntry] = Field(default_factory=dict)
    snapshot_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    state_file_hash: str | None = None
    abtests: list[AbTestInstance] = Field(default_factory=list)
    metrics: list[MetricDefinition] = Field(default_factory=list)
    """Metric definitions, the list a metrics file holds under the same key."""

    @property
    def metric_definitions(self) -> MetricDefinitions:
        """The snapshot's ``metrics`` as a :class:`MetricDefinitions`."""
        return MetricDefinitions(metrics=list(self.metrics))

    @property
    def account_id(self) -> str:
        """The account id (``accounts/<id>`` without the prefix); ``default`` if none is given."""
        if self.account is None:
            return "default"
        return self.account.name.split("/", 1)[1] if "/" in self.account.name else self.account.name

    def flag_entries(
        self, positions: Positions | None = None
    ) -> Iterator[tuple[str, str | None, Flag]]:
        """``(json path, map key or None, flag)`` for every flag in document order.

        ``positions`` maps a list-form collection to the original index of each item kept,
        for a partly parsed document (see ``formats.native``)."""
        return _entries("flags", self.flags, (positions or {}).get("flags"))

    def segment_entries(
        self, positions: Positions | None = None
    ) -> Iterator[tuple[str, str | None, Segment]]:
        return _entries("segments", self.segments, (positions or {}).get("segments"))

    def client_entries(
        self, positions: Positions | None = None
    ) -> Iterator[tuple[str, str | None, ClientEntry]]:
        return _entries("clients", self.clients, (positions or {}).get("clients"))

    def abtest_entries(
        self, positions: Positions | None = None
    ) -> Iterator[tuple[str, AbTestInstance]]:
        kept = (positions or {}).get("abtests")
        for index, instance in enumerate(self.abtests):
            yield f"$.abtests[{kept[index] if kept else index}]", instance


def _entries(
    field: str, collection: dict[str, T] | list[T], positions: tuple[int, ...] | None
) -> Iterator[tuple[str, str | None, T]]:
    if isinstance(collection, dict):
        for key, item in collection.items():
            yield key_path(f"$.{field}", key), key, item
    else:
        for index, item in enumerate(collection):
            position = positions[index] if positions else index
            yield f"$.{field}[{position}]", None, item


SNAPSHOT: TypeAdapter[Snapshot] = TypeAdapter(Snapshot)
"""Validates a whole snapshot document: ``SNAPSHOT.validate_json(raw)``."""
