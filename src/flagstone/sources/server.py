"""A snapshot server for development and tests (``python -m flagstone serve FILE``).

Serves the snapshot at every path (``/``, ``/flags.json``, …) with an ``ETag`` (the
document's sha256), ``Last-Modified``, ``304 Not Modified`` for a matching
``If-None-Match``/``If-Modified-Since``, and gzip when the client accepts it. With a signing
key each version is published as :func:`~flagstone.sources.sign_snapshot` does it: its
``issuedAt`` set to now (always later than the previous version's and the file's own), then
signed; each answer carries ``X-Flagstone-Signature`` and ``<path>.sig`` serves the same
text. The file is looked at (one ``stat``) on every request and reloaded when it changed; a
version that does not parse as a snapshot is not served (the previous one stays), so an
editor's half-written save never reaches clients.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..errors import ConfigError
from ..formats.native import snapshot_version
from ..formats.reading import parse_snapshot
from ..model.issued_at import next_issued_at
from .integrity import SIGNATURE_HEADER
from .signing import sign_snapshot

__all__ = ["SnapshotServer", "make_server"]

logger = logging.getLogger("flagstone.serve")


@dataclass(frozen=True)
class Served:
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    modified_at: int
    version: str
    signature: str | None
    file_sha256: str
    """The digest of the file this was made from (with a key, ``body`` adds ``issuedAt``)."""
    issued_at: str | None


class SnapshotServer:
    """The current version of the snapshot file, reloaded when the file changes."""

    def __init__(self, path: str, *, signing_key: bytes | None = None) -> None:
        self.path = path
        self.signing_key = signing_key
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._served: Served | None = None
        self.current()

    def current(self) -> Served | None:
        """The version to serve (reloading the file first if it changed)."""
        with self._lock:
            try:
                status = os.stat(self.path)
            except OSError as error:
                logger.warning("cannot stat %s: %s", self.path, error)
                return self._served
            stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload(int(status.st_mtime))
            return self._served

    def _reload(self, modified_at: int) -> None:
        try:
            with open(self.path, "rb") as file:
                body = file.read()
            parsed = parse_snapshot(body, strict=False, source=self.path)
        except (OSError, ConfigError) as error:
            logger.warning("not serving the new %s: %s", self.path, error)
            return
        file_sha256 = hashlib.sha256(body).hexdigest()
        previous = self._served
        if previous is not None and previous.file_sha256 == file_sha256:
            return
        signature = None
        issued_at = parsed.model.issued_at
        if self.signing_key:
            before = previous.issued_at if previous is not None else None
            issued_at = next_issued_at([before, issued_at])
            body, signature = sign_snapshot(body, self.signing_key, issued_at=issued_at)
        version = snapshot_version(parsed.model, body)
        self._served = Served(
            body=body,
            gzipped=gzip.compress(body, compresslevel=6),
            etag=f'"{hashlib.sha256(body).hexdigest()}"',
            last_modified=formatdate(modified_at, usegmt=True),
            modified_at=modified_at,
            version=version,
            signature=signature,
            file_sha256=file_sha256,
            issued_at=issued_at,
        )
        logger.info("serving %s version %s", self.path, version)


def make_server(
    snapshot: SnapshotServer, host: str = "127.0.0.1", port: int = 8080
) -> ThreadingHTTPServer:
    """An HTTP server (not started) for ``snapshot``; ``port=0`` picks a free port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "flagstone-serve"

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def _answer(self, *, head: bool) -> None:
            served = snapshot.current()
            if served is None:
                self._send(503, b"no valid snapshot to serve\n", "text/plain", head=head)
                return
            if self.path.split("?", 1)[0].endswith(".sig"):
                if served.signature is None:
                    self._send(404, b"not signed\n", "text/plain", head=head)
                else:
                    self._send(200, served.signature.encode() + b"\n", "text/plain", head=head)
                return
            if self._not_modified(served):
                self.send_response(304)
                self.send_header("ETag", served.etag)
                self.send_header("Last-Modified", served.last_modified)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            accepts_gzip = _accepts_gzip(self.headers.get("Accept-Encoding", ""))
            extra = {
                "ETag": served.etag,
                "Last-Modified": served.last_modified,
                "Vary": "Accept-Encoding",
            }
            if served.signature is not None:
                extra[SIGNATURE_HEADER] = served.signature
            if accepts_gzip:
                extra["Content-Encoding"] = "gzip"
            body = served.gzipped if accepts_gzip else served.body
            self._send(200, body, "application/json", head=head, headers=extra)

        def _not_modified(self, served: Served) -> bool:
            tags = self.headers.get("If-None-Match")
            if tags is not None:
                listed = [tag.strip().removeprefix("W/") for tag in tags.split(",")]
                return served.etag in listed or "*" in listed
            since = self.headers.get("If-Modified-Since")
            if since is None:
                return False
            try:
                return served.modified_at <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str,
            *,
            head: bool,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s - %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        name, _, parameters = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = parameters.strip().removeprefix("q=").strip()
            try:
                return not parameters or float(quality) > 0
            except ValueError:
                return True
    return False
