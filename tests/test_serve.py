"""``python -m flagstone serve FILE``: the development snapshot server.

Each server here is the real command in a subprocess (``--port 0``), found through the URL
it prints on its first line. It serves the file at every path with an ``ETag`` (the
document's sha256) and ``Last-Modified``, answers conditional requests with ``304``, gzips
for clients that accept it, signs with ``--signing-key-file``, reloads the file when it
changes and keeps serving the last good version when the new one is not a snapshot. Last,
a ``Client.from_url`` follows a served file end to end.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import pytest

import flagstone
from flagstone.sources import sign
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

KEY = b"serve-test-key"
SIGNATURE_HEADER = "x-flagstone-signature"


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Served:
    """A running ``serve`` subprocess."""

    process: subprocess.Popen[str]
    path: Path
    first_line: str
    stderr: IO[bytes]  # a temporary file
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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(PATIENCE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(PATIENCE)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


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
    return [sys.executable, "-m", "flagstone", "serve", str(path), "--port", "0", *options]


def start_serve(path: Path, *options: str) -> Served:
    """Start ``serve`` for ``path`` and wait for the line that says where it listens."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Served.stop
    process = subprocess.Popen(
        serve_command(path, *options), stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    lines: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(PATIENCE)
    if not lines or not lines[0]:
        process.kill()
        process.wait(PATIENCE)
        stderr.seek(0)
        pytest.fail(f"serve printed no URL (exit {process.returncode})\nstderr:\n{stderr.read()!r}")
    return Served(process, path, lines[0].rstrip("\n"), stderr)


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
        served.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Iterator[Served]:
    """One unsigned server of an unchanging snapshot A, for the tests that only read."""
    path = tmp_path_factory.mktemp("plain") / "flags.json"
    path.write_bytes(document("A"))
    served = start_serve(path)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Iterator[Served]:
    """One server of an unchanging snapshot A, signed with ``KEY``."""
    directory = tmp_path_factory.mktemp("signed")
    (directory / "key").write_bytes(KEY + b"\n")  # surrounding whitespace is no part of it
    path = directory / "flags.json"
    path.write_bytes(document("A"))
    served = start_serve(path, "--signing-key-file", str(directory / "key"))
    yield served
    served.stop()


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def run_serve(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``serve`` expecting it to give up at once."""
    return subprocess.run(
        serve_command(path, *options), capture_output=True, text=True, timeout=PATIENCE
    )


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


def test_signature_header_signs_the_served_document(signed):
    response = signed.request()

    assert response.headers[SIGNATURE_HEADER] == sign(signed.path.read_bytes(), KEY)


def test_gzipped_answer_carries_the_signature_of_the_document(signed):
    response = signed.request(headers={"Accept-Encoding": "gzip"})

    assert response.headers[SIGNATURE_HEADER] == sign(gzip.decompress(response.body), KEY)


@pytest.mark.parametrize("path", ["/.sig", "/flags.json.sig", "/anything.sig"])
def test_sig_path_serves_the_signature_text(signed, path):
    response = signed.request(path)

    assert response.status == 200
    assert response.body.decode().strip() == sign(signed.path.read_bytes(), KEY)


# -- the file changes ---------------------------------------------------------------------


def test_changed_file_is_served_with_a_new_etag(serve):
    served = serve()
    old_etag = served.request().headers["etag"]

    write_atomically(served.path, document("B"))
    response = served.request(headers={"If-None-Match": old_etag})

    assert response.status == 200
    assert response.body == document("B")
    assert response.headers["etag"] == etag_of(document("B")) != old_etag


def test_changed_file_is_signed_anew(serve, tmp_path):
    (tmp_path / "key").write_bytes(KEY)
    served = serve("--signing-key-file", str(tmp_path / "key"))

    write_atomically(served.path, document("B"))

    assert served.request().headers[SIGNATURE_HEADER] == sign(document("B"), KEY)
    assert served.request("/flags.json.sig").body.decode().strip() == sign(document("B"), KEY)


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
def test_file_that_is_not_a_snapshot_exits_1(tmp_path, content):
    path = tmp_path / "flags.json"
    path.write_bytes(content)

    result = run_serve(path)

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert str(path) in result.stderr


def test_missing_file_exits_1(tmp_path):
    result = run_serve(tmp_path / "missing.json")

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("key", [None, b" \n"], ids=["missing", "empty"])
def test_unusable_signing_key_file_exits_2(tmp_path, key):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    key_file = tmp_path / "key"
    if key is not None:
        key_file.write_bytes(key)

    result = run_serve(path, "--signing-key-file", str(key_file))

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "signing key" in result.stderr


def test_port_in_use_exits_2(tmp_path):
    path = tmp_path / "flags.json"
    path.write_bytes(document("A"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "flagstone", "serve", str(path), "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=PATIENCE)

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
