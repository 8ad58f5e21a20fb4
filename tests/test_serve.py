"""``python -m flagstone serve FILE``: the development snapshot server.

Each server here is the real command (``flagstone.cli.main``, ``--port 0``) in a thread of
this process, found through the URL it prints on its first line, and stopped the way
Ctrl-C stops it (its exit code is 0). It serves the file at every path with an ``ETag``
(the document's sha256) and ``Last-Modified``, answers conditional requests with ``304``,
gzips for clients that accept it, signs with ``--signing-key-file``, reloads the file when
it changes and keeps serving the last good version when the new one is not a snapshot.
A ``Client.from_url`` follows a served file end to end. Last, ``python -m flagstone serve``
runs as a process, serves, and exits 0 on SIGINT.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import json
import os
import queue
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import unittest.mock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import flagstone
import flagstone.sources.server as server_module
from flagstone.cli import main
from flagstone.sources import sign
from tests.commandline import CliRunner, Ran
from tests.live_scripts.livelib import (
    CONTEXT,
    PATIENCE,
    VersionEvents,
    answers,
    document,
    eventually,
    expected_answers,
    write_atomically,
)

real_make_server = server_module.make_server

KEY = b"serve-test-key"
SIGNATURE_HEADER = "x-flagstone-signature"


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class _StdoutLines(io.TextIOBase):
    """A stand-in ``sys.stdout`` that keeps every complete line written to it."""

    def __init__(self) -> None:
        self.text = ""
        self.line = threading.Event()

    def write(self, text: str) -> int:
        self.text += text
        if "\n" in self.text:
            self.line.set()
        return len(text)


@dataclass
class Served:
    """A running ``serve`` command (``flagstone.cli.main`` in a thread of this process)."""

    thread: threading.Thread
    server: socketserver.BaseServer  # the command's HTTP server, to shut it down
    path: Path
    first_line: str
    exit_codes: list[int]
    url: str = field(init=False)

    def __post_init__(self) -> None:
        found = re.search(r" at (http://\S+)$", self.first_line)
        assert found, f"no URL in {self.first_line!r}"
        self.url = found.group(1)

    def request(
        self, path: str = "/", *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Response:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PATIENCE)
        try:
            return exchange(connection, method, path, headers)
        finally:
            connection.close()

    def stop(self) -> int:
        """Stop serving (what Ctrl-C does to the command); the command's exit code."""
        if self.thread.is_alive():
            # shutdown() waits for the serve loop to look at its flag, which it does every
            # half second or after a request: poke it with connections until it has stopped
            stopper = threading.Thread(target=self.server.shutdown, daemon=True)
            stopper.start()
            address = urlsplit(self.url)
            while stopper.is_alive():
                with contextlib.suppress(OSError):
                    socket.create_connection((address.hostname, address.port), 1).close()
                stopper.join(0.01)
            self.thread.join(PATIENCE)
        assert not self.thread.is_alive(), "serve did not stop"
        assert len(self.exit_codes) == 1, self.exit_codes
        return self.exit_codes[0]


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
) -> Response:
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def serve_command(path: Path, *options: str) -> list[str]:
    return ["serve", str(path), "--port", "0", *options]


def start_serve(path: Path, *options: str) -> Served:
    """Start ``serve`` for ``path`` in a thread and wait for the line that says where it
    listens. The HTTP server the command makes is recorded on its way (the real
    ``make_server``, wrapped), so that :meth:`Served.stop` can shut it down; what the command
    prints while it starts goes to a stand-in stdout, the test waiting meanwhile."""
    made: queue.Queue[socketserver.BaseServer] = queue.Queue()

    def recording_make_server(*args: Any, **kwargs: Any) -> Any:
        server = real_make_server(*args, **kwargs)
        made.put(server)
        return server

    exit_codes: list[int] = []
    stdout = _StdoutLines()

    def command() -> None:
        try:
            exit_codes.append(main(serve_command(path, *options)))
        finally:
            stdout.line.set()  # a command that gave up prints no line

    thread = threading.Thread(target=command, name="serve", daemon=True)
    with (
        unittest.mock.patch.object(server_module, "make_server", recording_make_server),
        contextlib.redirect_stdout(stdout),
    ):
        thread.start()
        stdout.line.wait(PATIENCE)
    if made.empty() or "\n" not in stdout.text:
        thread.join(PATIENCE)
        pytest.fail(f"serve printed no URL (exit codes {exit_codes}): {stdout.text!r}")
    server = made.get_nowait()
    return Served(thread, server, path, stdout.text.splitlines()[0], exit_codes)


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Served]]:
    """``serve(*options)``: a server of a new file ``flags.json`` holding snapshot A."""
    started: list[Served] = []

    def make(*options: str) -> Served:
        path = tmp_path / "flags.json"
        path.write_bytes(document("A"))
        served = start_serve(path, *options)
        started.append(served)
        return served

    yield make
    for served in started:
        assert served.stop() == 0


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Iterator[Served]:
    """One unsigned server of an unchanging snapshot A, for the tests that only read."""
    path = tmp_path_factory.mktemp("plain") / "flags.json"
    path.write_bytes(document("A"))
    served = start_serve(path)
    yield served
    assert served.stop() == 0


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Iterator[Served]:
    """One server of an unchanging snapshot A, signed with ``KEY``."""
    directory = tmp_path_factory.mktemp("signed")
    (directory / "key").write_bytes(KEY + b"\n")  # surrounding whitespace is no part of it
    path = directory / "flags.json"
    path.write_bytes(document("A"))
    served = start_serve(path, "--signing-key-file", str(directory / "key"))
    yield served
    assert served.stop() == 0


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def run_serve(cli: CliRunner, path: Path, *options: str) -> Ran:
    """Run ``serve`` expecting it to give up at once."""
    return cli(*serve_command(path, *options))


# -- what is served -----------------------------------------------------------------------


def test_serve_announces_the_file_its_version_and_url(plain):
    assert plain.first_line.startswith(f"serving {plain.path} (version A) at http://127.0.0.1:")
    assert urlsplit(plain.url).port not in (None, 0)


def test_get_returns_the_file_with_its_etag_and_modification_time(plain):
    response = plain.request()

    assert response.status == 200
    assert response.body == plain.path.read_bytes()
    assert response.headers["etag"] == etag_of(response.body)
    assert response.headers["last-modified"] == formatdate(
        int(os.stat(plain.path).st_mtime), usegmt=True
    )
    assert response.headers["content-type"] == "application/json"
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("path", ["/flags.json", "/a/b/c", "/?client=web"])
def test_every_path_serves_the_snapshot(plain, path):
    response = plain.request(path)

    assert response.status == 200
    assert response.body == plain.path.read_bytes()


def test_matching_if_none_match_is_not_modified_without_a_body(plain):
    etag = plain.request().headers["etag"]

    response = plain.request(headers={"If-None-Match": etag})

    assert response.status == 304
    assert response.body == b""
    assert response.headers["etag"] == etag


def test_if_none_match_listing_the_etag_among_others_is_not_modified(plain):
    etag = plain.request().headers["etag"]

    response = plain.request(headers={"If-None-Match": f'"something-else", {etag}'})

    assert response.status == 304


def test_if_none_match_star_is_not_modified(plain):
    response = plain.request(headers={"If-None-Match": "*"})

    assert response.status == 304
    assert response.body == b""


def test_if_none_match_with_the_weak_form_of_the_etag_is_not_modified(plain):
    etag = plain.request().headers["etag"]
    response = plain.request(headers={"If-None-Match": "W/" + etag})

    assert response.status == 304


def test_gzip_refused_with_q_zero_is_not_sent(plain):
    response = plain.request(headers={"Accept-Encoding": "gzip;q=0, identity"})

    assert "content-encoding" not in response.headers
    assert response.body == plain.path.read_bytes()


def test_answers_vary_by_accept_encoding(plain):
    assert plain.request().headers["vary"] == "Accept-Encoding"


def test_if_none_match_with_another_etag_gets_the_snapshot(plain):
    response = plain.request(headers={"If-None-Match": '"an-old-version"'})

    assert response.status == 200
    assert response.body == plain.path.read_bytes()


def test_if_modified_since_the_last_modification_is_not_modified(plain):
    last_modified = plain.request().headers["last-modified"]

    response = plain.request(headers={"If-Modified-Since": last_modified})

    assert response.status == 304
    assert response.body == b""


def test_if_modified_since_an_earlier_time_gets_the_snapshot(plain):
    earlier = formatdate(os.stat(plain.path).st_mtime - 3600, usegmt=True)

    response = plain.request(headers={"If-Modified-Since": earlier})

    assert response.status == 200
    assert response.body == plain.path.read_bytes()


def test_gzip_is_sent_to_clients_that_accept_it(plain):
    response = plain.request(headers={"Accept-Encoding": "deflate, gzip"})

    assert response.status == 200
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(response.body)
    assert gzip.decompress(response.body) == plain.path.read_bytes()
    assert response.headers["etag"] == etag_of(plain.path.read_bytes())


def test_head_answers_the_headers_of_a_get_without_the_body(plain):
    parts = urlsplit(plain.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PATIENCE)
    try:
        head = exchange(connection, "HEAD", "/")
        # the same connection: a body sent after the HEAD would garble this answer
        get = exchange(connection, "GET", "/")
    finally:
        connection.close()

    assert head.status == 200
    assert head.body == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.body))
    assert get.body == plain.path.read_bytes()


def test_unsigned_server_sends_no_signature(plain):
    assert SIGNATURE_HEADER not in plain.request().headers
    assert plain.request("/x.sig").status == 404


# -- signatures ---------------------------------------------------------------------------


def issued_at(body: bytes) -> datetime:
    """The ``issuedAt`` of a served document, read with the standard library."""
    return datetime.fromisoformat(json.loads(body)["issuedAt"].replace("Z", "+00:00"))


def without_issued_at(body: bytes) -> dict[str, Any]:
    document = json.loads(body)
    del document["issuedAt"]
    return document  # type: ignore[no-any-return]


def test_signature_header_signs_the_served_document(signed):
    response = signed.request()

    assert response.headers[SIGNATURE_HEADER] == sign(response.body, KEY)


def test_a_signing_server_serves_the_file_with_issued_at_added(signed):
    response = signed.request()

    assert without_issued_at(response.body) == json.loads(signed.path.read_bytes())
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=10) < issued_at(response.body) <= now
    assert signed.request().body == response.body  # issued once per version, not per request


def test_gzipped_answer_carries_the_signature_of_the_document(signed):
    response = signed.request(headers={"Accept-Encoding": "gzip"})

    assert response.headers[SIGNATURE_HEADER] == sign(gzip.decompress(response.body), KEY)


@pytest.mark.parametrize("path", ["/.sig", "/flags.json.sig", "/anything.sig"])
def test_sig_path_serves_the_signature_text(signed, path):
    response = signed.request(path)

    assert response.status == 200
    assert response.body.decode().strip() == sign(signed.request().body, KEY)


# -- the file changes ---------------------------------------------------------------------


def test_changed_file_is_served_with_a_new_etag(serve):
    served = serve()
    old_etag = served.request().headers["etag"]

    write_atomically(served.path, document("B"))
    response = served.request(headers={"If-None-Match": old_etag})

    assert response.status == 200
    assert response.body == document("B")
    assert response.headers["etag"] == etag_of(document("B")) != old_etag


def test_changed_file_is_signed_anew_with_a_later_issued_at(serve, tmp_path):
    (tmp_path / "key").write_bytes(KEY)
    served = serve("--signing-key-file", str(tmp_path / "key"))
    before = served.request().body

    write_atomically(served.path, document("B"))
    response = served.request()

    assert without_issued_at(response.body) == json.loads(document("B"))
    assert issued_at(response.body) > issued_at(before)
    assert response.headers[SIGNATURE_HEADER] == sign(response.body, KEY)
    assert served.request("/flags.json.sig").body.decode().strip() == sign(response.body, KEY)


def test_a_file_with_a_later_issued_at_of_its_own_is_served_later_still(serve, tmp_path):
    (tmp_path / "key").write_bytes(KEY)
    served = serve("--signing-key-file", str(tmp_path / "key"))
    ahead = json.loads(document("B"))
    ahead["issuedAt"] = "2999-01-01T00:00:00Z"  # a publisher whose clock runs ahead

    write_atomically(served.path, json.dumps(ahead).encode())
    first = served.request().body
    write_atomically(served.path, document("C"))  # and then one without
    second = served.request().body

    assert datetime(2999, 1, 1, tzinfo=timezone.utc) < issued_at(first) < issued_at(second)


def test_a_rewritten_file_with_the_same_bytes_keeps_its_issued_at(serve, tmp_path):
    (tmp_path / "key").write_bytes(KEY)
    served = serve("--signing-key-file", str(tmp_path / "key"))
    before = served.request()

    write_atomically(served.path, document("A"))  # a new inode, the same content

    after = served.request()
    assert (after.body, after.headers["etag"]) == (before.body, before.headers["etag"])


def test_file_that_is_not_a_snapshot_is_not_served(serve):
    served = serve()
    before = served.request()

    for bad in (b'{"version": "B", "flags": ', b"", b'{"version": "B", "flags": 5}'):
        write_atomically(served.path, bad)
        response = served.request()

        assert response.status == 200
        assert response.body == document("A"), bad
        assert response.headers["etag"] == before.headers["etag"]


def test_good_version_after_a_bad_one_is_served(serve):
    served = serve()
    write_atomically(served.path, b"{ not json")
    assert served.request().body == document("A")

    write_atomically(served.path, document("C"))

    assert served.request().body == document("C")


# -- refusing to start --------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"not json", b'{"flags": 5}'], ids=["text", "bad-flags"])
def test_file_that_is_not_a_snapshot_exits_1(cli, tmp_path, content):
    path = tmp_path / "flags.json"
    path.write_bytes(content)

    result = run_serve(cli, path)

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # said once


def test_missing_file_is_an_input_error_said_once(cli, tmp_path):
    # as for every command: a file that cannot be read is exit 2 (README, "Command line")
    missing = tmp_path / "missing.json"
    result = run_serve(cli, missing)

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"flagstone: {missing}: cannot read: No such file or directory"
    ]


@pytest.mark.parametrize("key", [None, b" \n"], ids=["missing", "empty"])
def test_unusable_signing_key_file_exits_2(cli, tmp_path, key):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    key_file = tmp_path / "key"
    if key is not None:
        key_file.write_bytes(key)

    result = run_serve(cli, path, "--signing-key-file", str(key_file))

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "signing key" in result.stderr


def test_port_in_use_exits_2(cli, tmp_path):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", path, "--port", str(port))

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""


# -- a client following a served file -----------------------------------------------------


def test_client_follows_a_signed_served_file_end_to_end(serve, tmp_path, clients):
    (tmp_path / "key").write_bytes(KEY)
    served = serve("--signing-key-file", str(tmp_path / "key"))
    client = flagstone.Client.from_url(served.url, refresh_interval=0.05, signing_key=KEY)
    clients.append(client)
    assert client.wait_until_ready(PATIENCE), client.status()
    assert answers(client.evaluate_all(CONTEXT)) == expected_answers("A")
    updates = VersionEvents(client)

    write_atomically(served.path, document("B"))

    assert updates.wait_for("B"), client.status()
    assert answers(client.evaluate_all(CONTEXT)) == expected_answers("B")
    assert eventually(lambda: client.status().snapshot_version == "B"), client.status()
    status = client.status()
    assert status.loaded_from == "url"
    assert status.source == served.url
    assert status.failures == 0


def test_client_with_the_wrong_key_refuses_the_served_file(signed, clients):
    client = flagstone.Client.from_url(signed.url, refresh_interval=0.05, signing_key=b"wrong")
    clients.append(client)

    assert eventually(lambda: client.status().failures >= 1), client.status()
    status = client.status()
    assert not status.ready
    assert status.last_error is not None and "signature" in status.last_error
    assert client.evaluate("alpha", CONTEXT).error == flagstone.ErrorCode.NOT_READY


# -- the real process ---------------------------------------------------------------------


def signal_state(pid: int) -> str:
    """Each thread's name and signal masks (pending, blocked, ignored, caught), from /proc."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        status = (task / "status").read_text().splitlines()
        masks = [line for line in status if line.startswith(("SigPnd", "SigBlk", "SigIgn"))]
        lines.append(f"{(task / 'comm').read_text().strip()}: {' '.join(masks)}")
    return "\n".join(lines)


def test_serve_as_a_process_serves_until_interrupted_and_exits_0(tmp_path):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    process = subprocess.Popen(
        [sys.executable, "-m", "flagstone", *serve_command(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()  # the command flushes it before serving
        found = re.search(r" at (http://\S+)$", first_line.rstrip("\n"))
        assert found, first_line
        parts = urlsplit(found.group(1))
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PATIENCE)
        try:
            response = exchange(connection, "GET", "/")
        finally:
            connection.close()
        assert (response.status, response.body) == (200, document("A"))

        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            # once seen in a full CI run, never reproduced since: keep what it looked like
            # (every thread's signal masks, then every thread's stack from faulthandler)
            state = signal_state(process.pid) if Path("/proc").is_dir() else ""
            process.send_signal(signal.SIGABRT)
            _, stacks = process.communicate(timeout=PATIENCE)
            raise AssertionError(f"serve did not end on SIGINT\n{state}\n{stacks}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stdout == ""
