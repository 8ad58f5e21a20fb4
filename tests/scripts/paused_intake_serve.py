"""A fresh process serving an Experiments-API document with a sticky SQLite store.

Usage: ``python tests/scripts/paused_intake_serve.py DOCUMENT STORE UNITS`` where DOCUMENT is
an Experiments-API JSON file, STORE the SQLite file of a ``SqliteMaterializationStore`` and
UNITS a JSON file ``{"flag": ..., "units": [...], "context": {...}}``. Prints one JSON line:
``{"units": {unit: {"variant": ..., "reason": ...}}}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import flagstone
from flagstone.formats import experiments_api


def main(document_path: str, store_path: str, units_path: str) -> None:
    document = json.loads(Path(document_path).read_text())
    request = json.loads(Path(units_path).read_text())
    store = flagstone.SqliteMaterializationStore(store_path)
    client = flagstone.Client.from_dict(experiments_api.read(document), materializations=store)
    served = {}
    for unit in request["units"]:
        context = {**request["context"], "targeting_key": unit}
        resolution = client.evaluate(request["flag"], context)
        served[unit] = {"variant": resolution.variant, "reason": str(resolution.reason)}
    client.close()
    store.close()
    print(json.dumps({"units": served}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
