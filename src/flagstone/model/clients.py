"""Clients and their credentials: who may resolve which flags, in which environments."""

from __future__ import annotations

from pydantic import Field

from .base import CONFIG, ResourceMetadata, dataclass

__all__ = ["Account", "ClientCredential", "ClientEntry", "ClientInfo", "ClientSecret"]


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class Account:
    """``accounts/<id>``: the id salts the account-wide bucket space (``MegaSalt-<id>``)."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class ClientInfo(ResourceMetadata):
    """``clients/<id>``; flags list the clients that may resolve them."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class ClientSecret:
    secret: str


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class ClientCredential(ResourceMetadata):
    """A secret of a client and the environments it resolves in; rules restricted to
    ``environments`` apply only to credentials that share one of them."""

    name: str
    client_secret: ClientSecret
    environments: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=CONFIG)
class ClientEntry:
    """One entry of the snapshot's ``clients`` map (keyed by the secret)."""

    client: ClientInfo
    client_credential: ClientCredential
