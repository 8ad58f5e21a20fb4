"""Fetching a snapshot over HTTP: conditional GETs, gzip, timeouts, a bounded body.

One short-lived connection per fetch (polls are seconds apart), ``If-None-Match`` and
``If-Modified-Since`` from the last good answer, ``Accept-Encoding: gzip``, separate connect
and read timeouts, redirects followed (five at most; credentials are not sent on to another
host), and a size bound applied to the body both as sent and as decompressed. Any failure
raises ``FetchError``. (The read timeout bounds each wait for data, not the whole fetch.)
"""

from __future__ import annotations

import http.client
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import FetchError
from .integrity import SIGNATURE_HEADER

__all__ = ["FetchError", "Fetched", "HttpFetcher"]

_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Fetched:
    """One answer: ``body`` is ``None`` for 304 Not Modified."""

    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    signature: str | None = None


class HttpFetcher:
    """GETs ``url`` (and ``url + ".sig"``) with the client's settings."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        max_bytes: int = 50 << 20,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a snapshot URL is http:// or https://, not {url!r}")
        self.url = url
        self.headers = dict(headers or {})
        self.connect_timeout, self.read_timeout = (
            timeout if isinstance(timeout, tuple) else (timeout, timeout)
        )
        self.max_bytes = max_bytes
        self.final_url = url  # where the last answer came from, after redirects

    def fetch(self, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """The snapshot, or ``Fetched(None, …)`` if unchanged since ``etag``/``last_modified``."""
        from .._version import __version__

        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": f"flagstone/{__version__}",
            **self.headers,
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        status, response_headers, body = self._get(self.url, headers)
        if status == 304:
            return Fetched(None, etag, last_modified)
        if status != 200:
            raise FetchError(f"GET {self.url} answered {status}")
        return Fetched(
            body,
            response_headers.get("etag"),
            response_headers.get("last-modified"),
            response_headers.get(SIGNATURE_HEADER.lower()),
        )

    def fetch_signature(self) -> str | None:
        """The sidecar ``<url>.sig``, or ``None`` if there is none (404)."""
        parts = urlsplit(self.final_url)
        sidecar = parts._replace(path=parts.path + ".sig").geturl()
        status, _, body = self._get(sidecar, dict(self.headers), limit=4096)
        if status == 404:
            return None
        if status != 200:
            raise FetchError(f"GET {sidecar} answered {status}")
        return body.decode("ascii", "replace").strip()

    def _get(
        self, url: str, headers: dict[str, str], limit: int | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        limit = self.max_bytes if limit is None else limit
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            kind = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = kind(parts.hostname or "", parts.port, timeout=self.connect_timeout)
            try:
                connection.connect()
                if connection.sock is not None:
                    connection.sock.settimeout(self.read_timeout)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                status = response.status
                found = {name.lower(): value for name, value in response.getheaders()}
                if status in (301, 302, 303, 307, 308) and "location" in found:
                    response.read(64 << 10)
                    target = urljoin(url, found["location"])
                    if urlsplit(target).netloc != parts.netloc:
                        # never hand credentials to another host
                        headers = {
                            name: value
                            for name, value in headers.items()
                            if name.lower() not in ("authorization", "cookie")
                        }
                    url = target
                    continue
                self.final_url = url
                body = _read_bounded(response, found, limit) if status == 200 else b""
                if status != 200:
                    response.read(64 << 10)
                return status, found, body
            except (OSError, http.client.HTTPException) as error:
                raise FetchError(f"GET {url} failed: {error!r}") from error
            finally:
                connection.close()
        raise FetchError(f"GET {self.url}: more than {_MAX_REDIRECTS} redirects")


def _read_bounded(response: http.client.HTTPResponse, headers: dict[str, str], limit: int) -> bytes:
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise FetchError(f"the snapshot is {length} bytes, more than the {limit} allowed")
    body = response.read(limit + 1)
    if len(body) > limit:
        raise FetchError(f"the snapshot is more than the {limit} bytes allowed")
    if length is not None and length.isdigit() and len(body) < int(length):
        # http.client stops at Content-Length and returns what came if the peer hung up
        raise FetchError(f"the body is truncated: {len(body)} of {length} bytes")
    if headers.get("content-encoding", "").lower() in ("gzip", "x-gzip"):
        body = _gunzip(body, limit)
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data``, refusing more than ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(data, limit + 1 - size)
        except zlib.error as error:
            raise FetchError(f"the gzip body is corrupt: {error}") from error
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise FetchError(f"the snapshot inflates to more than the {limit} bytes allowed")
        if not inflater.eof:
            raise FetchError("the gzip body is truncated")
        parts.append(part)
        data = inflater.unused_data
    return b"".join(parts)
