"""Clients and their credentials: who may resolve which flags, in which environments."""

from __future__ import annotations

from pydantic import Field

from .base import Model, ResourceMetadata

__all__ = ["Account", "ClientCredential", "ClientEntry", "ClientInfo", "ClientSecret"]


class Account(Model):
    """``accounts/<id>``: the id salts the account-wide bucket space (``MegaSalt-<id>``)."""

    name: str


class ClientInfo(ResourceMetadata):
    """``clients/<id>``; flags list the clients that may resolve them."""

    name: str


class ClientSecret(Model):
    secret: str


class ClientCredential(ResourceMetadata):
    """A secret of a client and the environments it resolves in; rules restricted to
    ``environments`` apply only to credentials that share one of them."""

    name: str
    client_secret: ClientSecret
    environments: list[str] = Field(default_factory=list)


class ClientEntry(Model):
    """One entry of the snapshot's ``clients`` map (keyed by the secret)."""

    client: ClientInfo
    client_credential: ClientCredential
