"""Evaluate in a forked child of a process whose client has no sinks.

Usage: fork_without_sinks.py

The child evaluates "checkout" for a unit and exits 0 if it got the snapshot's variant and
value, 1 otherwise. Reports the child's exit status and the parent's own evaluation.
"""

from __future__ import annotations

import os
import sys

from scriptlib import context, make_client, report, wait_for_exit


def main() -> None:
    client = make_client()
    in_parent = client.evaluate("checkout", context("user-1"))
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            details = client.evaluate("checkout", context("user-2"))
            if details.variant == "new-checkout" and details.value == {"layout": "grid"}:
                status = 0
            else:
                sys.stderr.write(f"the child got {details!r}\n")
        finally:
            os._exit(status)
    child = wait_for_exit(pid, 60)
    report(parent_variant=in_parent.variant, child_status=child)


if __name__ == "__main__":
    main()
