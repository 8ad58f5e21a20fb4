"""``HttpSink``: POST batches of exposure records, as JSON, to a collector URL."""

from __future__ import annotations

import gzip
import http.client
import logging
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import SinkError
from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS
from .records import RecordBatch

__all__ = ["HttpSink"]

logger = logging.getLogger("flagstone.sinks")

# What a kept-alive connection the server has since closed looks like.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpSink(RecordSink):
    """Posts each batch to ``url`` as ``{"batch_id": …, "exposures": [record, …]}``.

    Meant to be wrapped in a ``BatchingSink``, which retries, spools and keeps the request
    thread out of it (on its own, ``emit`` posts one exposure per request, synchronously).

    ``headers``
        extra headers, e.g. ``{"Authorization": "Bearer …"}``.
    ``timeout``
        seconds, or ``(connect, read)`` (default ``(3.0, 10.0)``).
    ``gzip``
        compress bodies of at least ``gzip_min_bytes`` (``Content-Encoding: gzip``).

    A 2xx answer is success; anything else, a timeout or a connection error raises
    ``SinkError`` (so the batch is retried). ``batch_id`` (also sent as ``Idempotency-Key``)
    is a hash of the records: a batch sent twice (a lost answer, a replay) carries the same
    id. The connection is kept alive between batches and reopened after an error or a fork;
    a kept-alive connection the server closed while idle is reopened at once.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        gzip: bool = True,
        gzip_min_bytes: int = 1024,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"HttpSink needs an http:// or https:// URL, not {url!r}")
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = dict(headers or {})
        if isinstance(timeout, tuple):
            self._connect_timeout, self._read_timeout = timeout
        else:
            self._connect_timeout = self._read_timeout = timeout
        self._gzip = gzip
        self._gzip_min_bytes = gzip_min_bytes
        self._connection: http.client.HTTPConnection | None = None

    def _write(self, batch: RecordBatch) -> None:
        if not batch:
            return
        batch_id = batch.batch_id()
        body = (
            b'{"batch_id":"' + batch_id.encode("ascii") + b'","exposures":' + batch.json_array()
        ) + b"}"
        from .._version import __version__

        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"flagstone/{__version__}",
            "Idempotency-Key": batch_id,
            **self._headers,
        }
        if self._gzip and len(body) >= self._gzip_min_bytes:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        try:
            try:
                reused = self._connection is not None
                response = self._post(body, headers)
            except _STALE as error:
                if not reused:
                    raise
                # The server closed the kept-alive connection while it was idle; it never
                # saw this request. Once more on a new connection.
                self._disconnect()
                logger.debug("reconnecting to %s after %r", self.url, error)
                response = self._post(body, headers)
        except (OSError, http.client.HTTPException) as error:
            self._disconnect()
            raise SinkError(f"POST {self.url} failed: {error!r}") from error
        if response.will_close:
            self._disconnect()
        if not 200 <= response.status < 300:
            raise SinkError(f"POST {self.url} answered {response.status} {response.reason}")

    def _post(self, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        connection = self._connect()
        connection.request("POST", self._path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self._connect_timeout)
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(self._read_timeout)
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connection = connection
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _close(self) -> None:
        self._disconnect()

    def _reset_after_fork(self) -> None:
        # Closing the child's copy of the socket leaves the parent's connection open.
        self._disconnect()
