"""Add treatment overrides to one test, one ``abtest override`` edit at a time, until killed.

Usage: abtest_edit_loop.py FILE NAME START

Edit i (from START on) gives unit ``u-<i>`` the variant ``control``, through
``flagstone.cli.abtest.main`` (its JSON output is discarded), then prints ``i`` on a
line of its own: a printed number is an edit that is done. Meant to be killed with SIGKILL at
an arbitrary point; it stops by itself after 500 edits (status 0) and at the first edit that
fails (that edit's exit status).
"""

from __future__ import annotations

import contextlib
import io
import sys

from flagstone.cli.abtest import main as abtest


def main() -> None:
    file, name, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for index in range(start, start + 500):
        with contextlib.redirect_stdout(io.StringIO()):
            code = abtest(["override", file, name, f"u-{index}", "control"])
        if code != 0:
            sys.exit(code)
        print(index, flush=True)


if __name__ == "__main__":
    main()
