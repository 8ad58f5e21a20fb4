"""``flagstone.install_signal_handlers``: on SIGTERM, every live client delivers what it has
queued within the deadline, then the signal does what it did before.

The process-level tests run ``tests/scripts/sigterm_exposures.py``: a client with exposures
still queued in memory, a main thread blocked as a server's is, and a SIGTERM from the test.
They count the exposures in the file against those recorded, and check how the process
ended (killed by SIGTERM, as without the handler; or by the application's own handler,
chained). The installation rules are checked in this process, on SIGUSR1 and SIGUSR2 only.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flagstone
from flagstone.sinks.spool import Spool

SCRIPT = Path(__file__).resolve().parent / "scripts" / "sigterm_exposures.py"
COUNT = 300
WAIT = 30.0  # for what must happen; never reached when things work

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")


def terminate(tmp_path: Path, mode: str) -> tuple[int, float, Path]:
    """Run the script in ``mode``; once its exposures are queued, send SIGTERM. Its exit
    status, the seconds from the signal to its end, and its output file."""
    out = tmp_path / "exposures.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), mode, str(COUNT), str(tmp_path / "spool")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], WAIT)
        assert readable and process.stdout.readline() == "ready\n", process.stderr
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(WAIT)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    return status, took, out


def written_units(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["targeting_key"] for line in path.read_text().splitlines()]


UNITS = [f"u-{n}" for n in range(COUNT)]


def test_with_the_handler_sigterm_delivers_every_queued_exposure_and_still_ends_the_process(
    tmp_path,
) -> None:
    status, _, out = terminate(tmp_path, "handler")
    assert status == -signal.SIGTERM  # ended by the signal, as it would have been
    assert written_units(out) == UNITS


def test_without_the_handler_sigterm_loses_what_is_queued(tmp_path) -> None:
    # The limit the handler exists for (the README states it): no atexit on SIGTERM.
    status, _, out = terminate(tmp_path, "none")
    assert status == -signal.SIGTERM
    assert written_units(out) == []


def test_the_handler_chains_to_the_applications_own_handler(tmp_path) -> None:
    status, _, out = terminate(tmp_path, "previous")
    assert status == 7  # the application's handler ran, after the exposures were delivered
    assert Path(f"{out}.previous").read_text() == str(int(signal.SIGTERM))
    assert written_units(out) == UNITS


@pytest.mark.skipif(not hasattr(signal, "SIGRTMAX"), reason="the watch needs Linux")
def test_a_sigterm_delivered_to_another_thread_still_runs_the_handler(tmp_path) -> None:
    # The main thread waits on a multiprocessing lock, which only EINTR interrupts; the signal
    # lands on another thread (as it can when the kernel picks one, and as a lost wake-up
    # leaves it): without flagstone.process.signal_watch the handler never runs and the
    # process never ends.
    out = tmp_path / "exposures.jsonl"
    process = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "elsewhere", str(COUNT)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert process.returncode == -signal.SIGTERM, process.stderr
    assert written_units(out) == UNITS


def test_with_a_destination_that_hangs_the_process_ends_within_the_deadline(tmp_path) -> None:
    status, took, _ = terminate(tmp_path, "hanging")  # deadline=0.5
    assert status == -signal.SIGTERM
    assert took < 0.5 + 1.0, took  # the deadline, and time for a loaded machine to end it


def test_with_a_destination_that_hangs_the_queue_is_spooled_before_the_process_ends(
    tmp_path,
) -> None:
    status, took, _ = terminate(tmp_path, "hanging-spool")
    assert status == -signal.SIGTERM
    assert took < 0.5 + 1.0, took
    spooled: list[str] = []
    Spool(tmp_path / "spool").replay(
        lambda batch: spooled.extend(record["targeting_key"] for record in batch.records),
        1000,
        lambda own, foreign, lost: None,
    )
    assert spooled == UNITS  # every exposure, once, in order: none only in memory


# -- installing ------------------------------------------------------------------------------


@pytest.fixture
def usr_signals():
    """SIGUSR1 and SIGUSR2 as they were, restored after the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_the_handler_is_installed_and_uninstall_puts_the_previous_one_back(usr_signals) -> None:
    def previous(signum, frame) -> None:
        pass

    signal.signal(signal.SIGUSR1, previous)
    uninstall = flagstone.install_signal_handlers((signal.SIGUSR1,), deadline=1.0)
    assert signal.getsignal(signal.SIGUSR1) is not previous
    uninstall()
    assert signal.getsignal(signal.SIGUSR1) is previous


def test_an_ignored_signal_stays_ignored(usr_signals) -> None:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    flagstone.install_signal_handlers((signal.SIGUSR2,))
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN


def test_installing_twice_keeps_the_first_installation(usr_signals) -> None:
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    first = flagstone.install_signal_handlers((signal.SIGUSR1,))
    installed = signal.getsignal(signal.SIGUSR1)
    flagstone.install_signal_handlers((signal.SIGUSR1,))
    assert signal.getsignal(signal.SIGUSR1) is installed
    first()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_negative_deadline_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="deadline"):
        flagstone.install_signal_handlers(deadline=-1)
