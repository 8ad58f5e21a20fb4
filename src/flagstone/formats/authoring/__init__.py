"""The authoring format: flags a person writes by hand (``"format": "flagstone/flags@1"``).

A document declares the format with its top-level ``format`` key; every reader of snapshots
(``Client.from_file``/``from_url``/``from_dict``, ``python -m flagstone validate``, …)
accepts it through :func:`flagstone.formats.parse_snapshot`, which compiles it into the native
model, so it resolves exactly as the native snapshot it stands for::

    {"format": "flagstone/flags@1",
     "flags": {"dark-mode": {"variants": {"on": true, "off": false}, "default": "off",
                             "rules": [{"when": {"country": ["SE", "NO"]},
                                        "serve": {"on": 50, "off": 50}}]}}}

* :mod:`.models` — the types (and the JSON Schema, :func:`json_schema`);
* :mod:`.compile` — authoring → native (:func:`compile_document`), where the mapping is
  described;
* :mod:`.native_back` — native → authoring where the native document can say it
  (:func:`from_native`);
* :mod:`.edits` — the changes ``python -m flagstone flag`` makes.
"""

from __future__ import annotations

from typing import Any

from .compile import DEFAULT_BUCKETS, Compiled, compile_document
from .models import DOCUMENT, FORMAT
from .parse import parse

__all__ = ["DEFAULT_BUCKETS", "FORMAT", "Compiled", "compile_document", "json_schema", "parse"]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an authoring document."""
    return DOCUMENT.json_schema(by_alias=True)
