"""One of several concurrent editors of a snapshot file: add COUNT treatment overrides.

Usage: abtest_add_overrides.py FILE NAME PREFIX COUNT

Prints ``ready``, waits for a line on stdin (so that the test can start every editor at
once), then runs ``abtest override FILE NAME <PREFIX>-<i> <variant>`` for i in 0 … COUNT-1
through ``flagstone.cli.abtest.main`` (alternating the variants control and
new-checkout; the commands' JSON output is discarded) and prints one JSON line:
``{"failed": [[i, exit status], …]}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from flagstone.cli.abtest import main as abtest

VARIANTS = ("control", "new-checkout")


def main() -> None:
    file, name, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    print("ready", flush=True)
    sys.stdin.readline()
    failed = []
    for index in range(count):
        unit = f"{prefix}-{index}"
        with contextlib.redirect_stdout(io.StringIO()):
            code = abtest(["override", file, name, unit, VARIANTS[index % 2]])
        if code != 0:
            failed.append([index, code])
    print(json.dumps({"failed": failed}), flush=True)


if __name__ == "__main__":
    main()
