"""``import flagstone`` loads almost nothing; each part is imported when first used (issue 15,
goal 3).

Each check runs in a fresh interpreter (``sys.modules`` of this one already holds
everything) and reads which modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT

HEAVY = [
    "pydantic",
    "http.client",
    "ssl",
    "sqlite3",
    "flagstone.abtests",
    "flagstone.analysis",
    "flagstone.cli",
    "flagstone.formats.alexa",
    "flagstone.formats.experiments_api",
    "flagstone.openfeature",
    "flagstone.sinks.batching",
    "flagstone.sinks.httpsink",
    "flagstone.sources.url",
    "flagstone.stores.sqlite",
    "flagstone.transport.stdlib",
]
"""Modules a process that only resolves flags from a file never needs."""


def imported_after(code: str) -> list[str]:
    """The modules of ``HEAVY`` that ``code`` imported, in a fresh interpreter."""
    script = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    return list(json.loads(output.splitlines()[-1]))


def test_import_flagstone_loads_none_of_them() -> None:
    assert imported_after("import flagstone") == []


def test_loading_a_snapshot_from_a_file_and_resolving_loads_only_pydantic() -> None:
    code = (
        "import flagstone\n"
        "client = flagstone.Client.from_file('examples/flags.json')\n"
        "client.evaluate('checkout-flag', {'targeting_key': 'u1', 'country': 'SE'})"
    )
    assert imported_after(code) == ["pydantic"]


def test_each_part_is_imported_when_first_read() -> None:
    code = (
        "import flagstone\n"
        "flagstone.sources.UrlSource, flagstone.SqliteMaterializationStore\n"
        "flagstone.sinks.BatchingSink, flagstone.AbTests\n"
        "import flagstone.formats\n"
        "flagstone.formats.alexa"
    )
    imported = imported_after(code)
    for name in (
        "flagstone.sources.url",
        "flagstone.transport.stdlib",
        "flagstone.stores.sqlite",
        "flagstone.sinks.batching",
        "flagstone.abtests",
        "flagstone.formats.alexa",
    ):
        assert name in imported


def test_a_name_read_through_a_front_is_the_defining_modules_own() -> None:
    from flagstone.sinks import JsonlSink
    from flagstone.sinks.jsonl import JsonlSink as defined
    from flagstone.sources import FileSource
    from flagstone.sources.file import FileSource as file_source

    assert JsonlSink is defined
    assert FileSource is file_source
