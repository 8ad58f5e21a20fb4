"""Fork while the parent's worker is in the middle of replaying its spool.

Usage: fork_during_replay.py SPOOL_DIR

The parent spools a few exposures (its destination is down), then holds the next replay
attempt inside ``write_batch`` and forks a child that does nothing but wait. The parent
lets the held replay fail, closes its sink (so it holds nothing of the spool any more) and,
while the child is still alive, checks whether anyone still locks the spooled segment: a
restarted process could not replay it otherwise. Then it lets the child exit.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from scriptlib import ParentGate, exposure, make_client, report, wait_for_exit

from flagstone.sinks import BatchingSink, RecordBatch, RetryPolicy, SinkError


class DownDestination:
    def __init__(self, gate: ParentGate) -> None:
        self.gate = gate

    def write_batch(self, batch: RecordBatch) -> None:
        self.gate.pass_through()
        raise SinkError("the destination is down")

    def close(self) -> None:
        pass


def locked_by_someone(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def main() -> None:
    spool_dir = Path(sys.argv[1])
    gate = ParentGate()
    sink = BatchingSink(
        DownDestination(gate),
        spool_dir=spool_dir,
        spool_fsync=False,
        retry=RetryPolicy(attempts=1, initial_backoff=0.001, max_backoff=0.01),
        max_latency=0.001,
        replay_interval=0.01,
    )
    client = make_client()
    for unit in range(3):
        sink.emit(exposure(client, f"p-{unit}"))
    spooled = not sink.flush(30) and sink.stats()["in_spool"] == 3
    gate.armed = True  # the next replay attempt stops inside write_batch
    held = gate.entered.wait(30)
    release_child, child_waits = os.pipe()
    child_ready, child_says = os.pipe()
    pid = os.fork()
    if pid == 0:
        # Python code runs in the child only after its fork hooks did: say so, then wait.
        os.close(child_waits)
        os.close(child_ready)
        os.write(child_says, b"r")
        os.read(release_child, 1)
        os._exit(0)
    os.close(release_child)
    os.close(child_says)
    os.read(child_ready, 1)  # the child has let go of what it inherited
    gate.armed = False
    gate.released.set()  # the held replay fails
    sink.close()
    segments = sorted(spool_dir.glob("*.jsonl"))
    locked = [locked_by_someone(segment) for segment in segments]
    os.write(child_waits, b"x")
    child = wait_for_exit(pid, 30)
    report(spooled=spooled, held=held, segments=len(segments), locked=locked, child=child)


if __name__ == "__main__":
    main()
