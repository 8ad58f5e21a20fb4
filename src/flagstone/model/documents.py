"""A JSON document as the readers take it: its text (``str`` or ``bytes``) or the object it
decodes to, with a ``ConfigError`` at ``$`` for anything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic_core

from ..errors import ConfigError, Problem

__all__ = ["decoded_json"]


def decoded_json(document: Any, *, what: str, source: str | None = None) -> Any:
    """``document`` decoded: a mapping as it is, text decoded as JSON. Otherwise, or for text
    that is not JSON, a ``ConfigError`` naming ``what`` the document should be (``"a metrics
    file"``) and its ``source``."""
    if isinstance(document, Mapping):
        return document
    if isinstance(document, str | bytes | bytearray):
        try:
            return pydantic_core.from_json(document)
        except ValueError as error:
            raise ConfigError([Problem("$", f"not valid JSON: {error}")], source=source) from None
    message = f"{what} is a JSON object (or its text), not {type(document).__name__}"
    raise ConfigError([Problem("$", message)], source=source)
