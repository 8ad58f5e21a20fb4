"""Hold a spool segment open (and so locked) until stdin closes.

Usage: hold_spool_segment.py SPOOL_DIR RECORDS

Appends RECORDS records ``{"n": 0}``, ``{"n": 1}``, … to a new segment of the spool in
SPOOL_DIR through ``Spool.append``, reports the segment's name, then waits for stdin to
close before exiting.
"""

from __future__ import annotations

import os
import sys

from scriptlib import report

from flagstone.sinks import RecordBatch
from flagstone.sinks.spool import Spool


def main() -> None:
    spool_dir, records = sys.argv[1], int(sys.argv[2])
    spool = Spool(spool_dir, fsync=False)
    spool.append(RecordBatch([{"n": n} for n in range(records)]))
    report(segments=sorted(os.listdir(spool_dir)))
    sys.stdin.read()
    spool.close()


if __name__ == "__main__":
    main()
