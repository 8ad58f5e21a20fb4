"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary
directory, on a free port of 127.0.0.1, stopped and removed at the end.

PostgreSQL's binaries refuse to run as root; as root they run as the ``postgres`` user
(``runuser -u postgres --``) in a directory handed to it. Where the binaries are missing the
tests that need the server skip, unless ``FLAGSTONE_REQUIRE_POSTGRES=1`` (set by
``.ci/run``), under which that is a failure. Import the ``postgres`` fixture into a test
module (``from tests.pg import postgres``): one server per test session, a new database
per module that asks.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresServer", "postgres", "postgres_server"]

REQUIRE = os.environ.get("FLAGSTONE_REQUIRE_POSTGRES") == "1"
USER = "flagstone"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: connect with :meth:`connect` (pg8000, DB-API 2.0)."""

    port: int
    directory: Path
    run_as: list[str]
    bindir: Path

    def connect(self, database: str = "postgres") -> Any:
        import pg8000.dbapi

        connection = pg8000.dbapi.connect(
            user=USER, host="127.0.0.1", port=self.port, database=database
        )
        connection.autocommit = True
        return connection

    def stop(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def _skip_or_fail(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (FLAGSTONE_REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


def start_server() -> PostgresServer:
    """Start a server, or skip (fail under FLAGSTONE_REQUIRE_POSTGRES=1) when it cannot."""
    bindir = _bindir()
    if bindir is None or not (bindir / "initdb").exists():
        _skip_or_fail("PostgreSQL's initdb is not installed")
    assert bindir is not None
    try:
        import pg8000  # noqa: F401
    except ModuleNotFoundError:
        _skip_or_fail("pg8000 is not installed (the test extra has it)")
    run_as: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="flagstone-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            _skip_or_fail("running as root and there is no postgres user to run PostgreSQL as")
        runuser = shutil.which("runuser") or "/sbin/runuser"
        run_as = [runuser, "-u", "postgres", "--"]
        os.chown(directory, account.pw_uid, account.pw_gid)
    data = directory / "data"
    port = _free_port()
    commands = [
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(directory / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off",
            "start",
        ],
    ]
    for command in commands:
        done = subprocess.run(
            [*run_as, *command], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            log = (directory / "log").read_text() if (directory / "log").exists() else ""
            shutil.rmtree(directory, ignore_errors=True)
            pytest.fail(f"{' '.join(command[:1])} failed ({done.returncode}): {done.stderr}{log}")
    return PostgresServer(port=port, directory=directory, run_as=run_as, bindir=bindir)


_SERVER: list[PostgresServer] = []


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> PostgresServer:
    """One PostgreSQL server for the whole session (shared by every module that imports the
    fixture: the server is kept here, not per fixture definition), stopped at its end."""
    if not _SERVER:
        _SERVER.append(start_server())
        request.session.addfinalizer(_stop)
    return _SERVER[0]


def _stop() -> None:
    while _SERVER:
        _SERVER.pop().stop()


@pytest.fixture(scope="module")
def postgres(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A DB-API connection to a fresh database of the session's server."""
    name = "db_" + "".join(c if c.isalnum() else "_" for c in request.module.__name__)[-50:]
    admin = postgres_server.connect()
    cursor = admin.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    connection = postgres_server.connect(name)
    try:
        yield connection
    finally:
        connection.close()
