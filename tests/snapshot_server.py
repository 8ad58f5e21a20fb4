"""A scripted, fault-injecting snapshot server for the ``Client.from_url`` tests, in memory
or on a socket.

Each path has an ``Answer`` (status, body, ETag, Last-Modified, extra headers, gzip,
redirect) and optionally a queue of one-off answers used first, in order. The server records
every request (host, path and headers, names lower-cased) with the status it got, answers
``304`` when ``If-None-Match`` names the answer's ETag, and can misbehave on purpose: hold a
request until a gate opens and then answer, and — on a socket only — hang until released and
close without a word, announce a ``Content-Length`` larger than what it sends, or trickle the
body a byte at a time. Paths without an answer get ``404``; the host is not looked at, so a
redirect to another origin reaches the same script. ``close()`` opens every gate and releases
hung requests.

``MockSnapshotServer`` answers through a ``flagstone.transport.MockTransport`` (its
``transport``; no socket, no thread: the fast default for these tests).
``SnapshotTestServer`` is a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port), served from a
thread: for what only a socket shows (timeouts, truncation, trickling, the default transport).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

from flagstone.sources import SIGNATURE_HEADER, sign
from flagstone.transport import MockTransport, Request, Response

__all__ = [
    "WAIT",
    "Answer",
    "MockSnapshotServer",
    "ScriptedServer",
    "Seen",
    "SnapshotTestServer",
    "eventually",
]

WAIT = 30.0
"""Generous bound for anything a test waits for (never reached when things work)."""

SNAPSHOT_PATH = "/flags.json"


def eventually(predicate: Callable[[], object], timeout: float = WAIT) -> bool:
    """Whether ``predicate()`` becomes true within ``timeout`` seconds (checked every 10 ms):
    for waiting on background threads, never for measuring them."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@dataclass(frozen=True)
class Answer:
    """How the server answers a GET of one path."""

    status: int = 200
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    gzip: bool = False
    """Send ``body`` gzip-compressed, with ``Content-Encoding: gzip``."""
    conditional: bool = True
    """Answer ``304`` when the request's ``If-None-Match`` names ``etag``."""
    send_length: bool = True
    """Send ``Content-Length`` (without it the body ends when the connection closes)."""
    truncate_at: int | None = None
    """Announce the whole body but send only its first ``truncate_at`` bytes, then close."""
    hang: bool = False
    """Hold the request until the server is released, then close without answering."""
    hold: threading.Event | None = None
    """Hold the request until this event is set (see ``SnapshotTestServer.gate``), then
    answer normally."""
    location: str | None = None
    """A ``Location`` header (for redirects)."""
    trickle: float | None = None
    """Send the body one byte every ``trickle`` seconds (socket only)."""

    @property
    def needs_socket(self) -> bool:
        return (
            self.hang
            or self.truncate_at is not None
            or not self.send_length
            or self.trickle is not None
        )


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    host: str = ""
    """The ``Host`` it was sent to (``host[:port]``)."""
    status: int | None = None
    """What it is answered (set before the answer is sent; ``None`` while held, or if it
    never is)."""

    @property
    def if_none_match(self) -> str | None:
        return self.headers.get("if-none-match")

    @property
    def if_modified_since(self) -> str | None:
        return self.headers.get("if-modified-since")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: SnapshotTestServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # e.g. a broken pipe when a hung request is let go after the client gave up
        self.owner.errors.append(sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        owner = self.server.owner
        seen = Seen(
            self.path.split("?", 1)[0],
            {name.lower(): value for name, value in self.headers.items()},
            self.headers.get("Host", ""),
        )
        answer = owner._arrived(seen)
        if answer is not None and answer.hold is not None:
            answer.hold.wait(WAIT)
        if answer is not None and answer.hang:
            owner.released.wait(WAIT)
            self.close_connection = True
            return
        status, headers, body = owner._respond(seen, answer)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if answer is None or answer.send_length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if answer is not None and answer.truncate_at is not None:
            body = body[: answer.truncate_at]
        if answer is not None and answer.trickle is not None:
            for index in range(len(body)):
                if owner.released.wait(answer.trickle):
                    break
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
        else:
            self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedServer:
    """The script and the record of requests; see the module docstring. Subclasses deliver
    the answers (``MockSnapshotServer``, ``SnapshotTestServer``)."""

    base_url = ""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._answers: dict[str, Answer] = {}
        self._queued: dict[str, deque[Answer]] = {}
        self._seen: list[Seen] = []
        self._gates: list[threading.Event] = []
        self._published = 0
        self.released = threading.Event()

    def url(self, path: str = SNAPSHOT_PATH) -> str:
        return f"{self.base_url}{path}"

    # -- scripting ------------------------------------------------------------------------

    def answer(self, answer: Answer, path: str = SNAPSHOT_PATH) -> Answer:
        """Answer every request of ``path`` this way from now on (after any queued ones)."""
        with self._condition:
            self._answers[path] = answer
        return answer

    def queue(self, *answers: Answer, path: str = SNAPSHOT_PATH) -> None:
        """Answer the next requests of ``path`` with ``answers``, one each, in order."""
        with self._condition:
            self._queued.setdefault(path, deque()).extend(answers)

    def forget(self, path: str) -> None:
        """Answer ``path`` with 404 from now on."""
        with self._condition:
            self._answers.pop(path, None)
            self._queued.pop(path, None)

    def publish(
        self,
        document: bytes | Mapping[str, Any],
        *,
        path: str = SNAPSHOT_PATH,
        key: bytes | None = None,
        sidecar: bool = False,
        etag: str | None = None,
        **options: Any,
    ) -> Answer:
        """Serve ``document`` at ``path`` as a good snapshot server would: ``200`` with an
        ETag (derived from the bytes unless given), a Last-Modified that is new for every
        publication, and, with ``key``, the signature in the header (or, with
        ``sidecar=True``, only at ``<path>.sig``). ``options`` are further ``Answer`` fields."""
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        with self._condition:
            self._published += 1
            published = self._published
        headers = dict(options.pop("headers", {}))
        if key is not None:
            signature = sign(body, key)
            if sidecar:
                self.answer(Answer(body=signature.encode() + b"\n"), path=path + ".sig")
            else:
                headers[SIGNATURE_HEADER] = signature
        answer = Answer(
            body=body,
            etag=etag if etag is not None else f'"{hashlib.sha256(body).hexdigest()[:20]}"',
            last_modified=formatdate(1_700_000_000 + published * 60, usegmt=True),
            headers=headers,
            **options,
        )
        return self.answer(answer, path=path)

    def gate(self) -> threading.Event:
        """An event for ``Answer(hold=...)``; ``close()`` sets it if the test did not."""
        gate = threading.Event()
        with self._condition:
            self._gates.append(gate)
        return gate

    # -- what was asked -------------------------------------------------------------------

    def requests(self, path: str | None = SNAPSHOT_PATH) -> list[Seen]:
        """The requests of ``path`` (of every path for ``None``), in arrival order."""
        with self._condition:
            return [seen for seen in self._seen if path is None or seen.path == path]

    def answered(self, status: int, path: str | None = SNAPSHOT_PATH) -> list[Seen]:
        """The requests of ``path`` that were answered with ``status``."""
        with self._condition:
            return [
                seen
                for seen in self._seen
                if (path is None or seen.path == path) and seen.status == status
            ]

    def wait_for_requests(
        self, count: int, path: str | None = SNAPSHOT_PATH, timeout: float = WAIT
    ) -> bool:
        """Whether ``count`` requests of ``path`` have arrived within ``timeout`` seconds."""
        with self._condition:
            return self._condition.wait_for(
                lambda: len([s for s in self._seen if path is None or s.path == path]) >= count,
                timeout,
            )

    def _arrived(self, seen: Seen) -> Answer | None:
        with self._condition:
            self._seen.append(seen)
            self._condition.notify_all()
            queued = self._queued.get(seen.path)
            if queued:
                return queued.popleft()
            return self._answers.get(seen.path)

    def _respond(self, seen: Seen, answer: Answer | None) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body (gzipped if asked) that ``answer`` gives ``seen``;
        records the status before anything is sent (the client cannot be quicker)."""
        headers: dict[str, str] = {}
        if answer is None:
            status, body = 404, b"not found\n"
        elif (
            answer.conditional
            and answer.etag is not None
            and answer.etag in [tag.strip() for tag in (seen.if_none_match or "").split(",")]
        ):
            status, body = 304, b""
            headers["ETag"] = answer.etag
        else:
            status, body = answer.status, answer.body
            if answer.etag is not None:
                headers["ETag"] = answer.etag
            if answer.last_modified is not None:
                headers["Last-Modified"] = answer.last_modified
            if answer.location is not None:
                headers["Location"] = answer.location
            if answer.gzip:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            headers.update(answer.headers)
        with self._condition:
            seen.status = status
        return status, headers, body

    # -- lifecycle --------------------------------------------------------------------------

    def release(self) -> None:
        """Let every held and hung request go."""
        self.released.set()
        with self._condition:
            gates = list(self._gates)
        for gate in gates:
            gate.set()

    def close(self) -> None:
        self.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MockSnapshotServer(ScriptedServer):
    """The script answered in memory, through ``transport`` (a ``MockTransport``)."""

    base_url = "http://snapshots.test"

    def __init__(self) -> None:
        super().__init__()
        self.transport = MockTransport(self._handle)

    def _handle(self, request: Request) -> Response:
        assert request.method == "GET", request
        parts = urlsplit(request.url)
        seen = Seen(
            parts.path,
            {name.lower(): value for name, value in request.headers.items()},
            parts.netloc,
        )
        answer = self._arrived(seen)
        if answer is not None and answer.needs_socket:
            raise AssertionError(f"{answer} needs a SnapshotTestServer (a real socket)")
        if answer is not None and answer.hold is not None:
            answer.hold.wait(WAIT)
        status, headers, body = self._respond(seen, answer)
        return Response(status, {"Content-Type": "application/json", **headers}, body)


class SnapshotTestServer(ScriptedServer):
    """The script answered by a ``ThreadingHTTPServer`` on 127.0.0.1, from a thread."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[BaseException | None] = []
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        super().close()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(WAIT)
