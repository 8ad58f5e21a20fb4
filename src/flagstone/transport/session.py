"""What every HTTP request of flagstone goes through, whatever the transport underneath.

The URL source and ``HttpSink`` send through a ``Session``; the transport only moves bytes.
So these rules hold for a custom transport as much as for the default one:

* the URL is ``http://`` or ``https://`` with a host (``check_url``, at construction);
* ``User-Agent: flagstone/<version>``; the caller's headers (``headers=``) override
  flagstone's own except those that describe the body sent;
* connect and read timeouts, and a total deadline per request, checked before each hop and
  once the answer is in (the default transport also interrupts a request at its deadline);
* redirects (301, 302, 303, 307, 308) followed at most ``MAX_REDIRECTS`` times, where asked:
  a redirect to another origin (scheme, host, port) carries none of the caller's headers
  from there on (``Authorization``, API keys, ``Proxy-Authorization``…), and a redirect from
  ``https`` to ``http`` is refused;
* a request body gzipped on request, a ``gzip`` answer inflated with a bound, any other
  ``Content-Encoding`` refused, and the body bounded as sent and as inflated;
* whatever the transport raises becomes a ``TransportError``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .._version import __version__
from ..errors import TransportError
from ..semantics.inflate import InflateError, gunzip_bounded
from .base import Request, Response, Transport
from .stdlib import HttpTransport

__all__ = ["MAX_REDIRECTS", "USER_AGENT", "Result", "Session", "check_url", "gunzip"]

USER_AGENT = f"flagstone/{__version__}"
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def check_url(url: str, what: str = "the URL") -> str:
    """``url`` if it is ``http://`` or ``https://`` with a host; else ``ValueError``."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, not {url!r}")
    parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    return url


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


@dataclass(frozen=True)
class Result:
    """The final answer of a request, after redirects."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Names lower-cased."""
    body: bytes
    """For a 2xx answer with the content encoding undone; as sent otherwise."""
    url: str
    """Where the answer came from."""
    sent_caller_headers: bool
    """The caller's headers went with the last hop (no other origin on the way): a further
    request to ``url`` may carry them too."""


class Session:
    """Requests over ``transport`` with one caller's headers, timeouts and deadline.

    ``transport``
        any ``Transport``; ``None`` makes a default ``HttpTransport`` that the session owns
        (and closes in ``close``). A transport given here is the caller's to close.
    ``headers``
        the caller's headers, sent with every request to the URL's origin.
    ``timeout``
        seconds, or ``(connect, read)``.
    ``deadline``
        seconds for a whole request (every hop of its redirects included), or ``None``.
    """

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        deadline: float | None = 30.0,
    ) -> None:
        if deadline is not None and not deadline > 0:
            raise ValueError(f"the deadline must be a positive number of seconds, not {deadline}")
        if transport is None:
            transport = HttpTransport()
            self.owns_transport = True
        else:
            self.owns_transport = False
        self.transport: Transport = transport
        self.headers = dict(headers or {})
        self.connect_timeout, self.read_timeout = (
            timeout if isinstance(timeout, tuple) else (timeout, timeout)
        )
        self.deadline = deadline

    def deadline_from_now(self) -> float | None:
        """The ``time.monotonic()`` deadline of a request that starts now."""
        return None if self.deadline is None else time.monotonic() + self.deadline

    def request(
        self,
        method: str,
        url: str,
        *,
        max_response_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        gzip_body: bool = False,
        caller_headers: bool = True,
        follow_redirects: bool = True,
        deadline: float | None = None,
    ) -> Result:
        """Send a request and return its final answer (any status); raises
        ``TransportError``.

        ``headers`` are flagstone's own (kept across redirects); ``caller_headers=False``
        leaves out the session's ``headers``. ``gzip_body`` sends ``body`` gzipped.
        ``deadline`` (``time.monotonic()``; default: the session's deadline from now) may be
        shared by several requests.
        """
        if deadline is None:
            deadline = self.deadline_from_now()
        own = dict(headers or {})
        if gzip_body and body:
            body = gzip.compress(body, compresslevel=5)
            own["Content-Encoding"] = "gzip"
        location = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(
                Request(
                    method,
                    location,
                    self._headers(own, caller_headers),
                    body,
                    self.connect_timeout,
                    self.read_timeout,
                    deadline,
                    max_response_bytes,
                ),
                deadline,
            )
            target = response.headers.get("location")
            if not (follow_redirects and response.status in _REDIRECTS and target):
                return Result(
                    response.status,
                    response.reason,
                    response.headers,
                    _decoded(response, method, location, max_response_bytes),
                    location,
                    caller_headers,
                )
            target = urljoin(location, target.strip())
            try:
                check_url(target, "a redirect")
            except ValueError as error:
                raise TransportError(f"{method} {location}: {error}") from None
            here, there = _origin(location), _origin(target)
            if here[0] == "https" and there[0] == "http":
                raise TransportError(
                    f"{method} {location}: refusing the redirect from https to http ({target})"
                )
            if there != here:
                caller_headers = False  # nothing of the caller's goes to another origin
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                own = {k: v for k, v in own.items() if k.lower() not in _BODY_HEADERS}
            location = target
        raise TransportError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")

    def close(self) -> None:
        """Close the transport if the session made it."""
        if self.owns_transport:
            self.transport.close()

    def _headers(self, own: Mapping[str, str], caller_headers: bool) -> dict[str, str]:
        merged: dict[str, tuple[str, str]] = {"user-agent": ("User-Agent", USER_AGENT)}
        for name, value in own.items():
            merged[name.lower()] = (name, value)
        if caller_headers:
            for name, value in self.headers.items():
                if name.lower() not in _BODY_HEADERS:
                    merged[name.lower()] = (name, value)
        return dict(merged.values())

    def _send(self, request: Request, deadline: float | None) -> Response:
        if deadline is not None and time.monotonic() >= deadline:
            raise TransportError(self._past_deadline(request))
        try:
            response = self.transport.handle_request(request)
        except TransportError as error:
            if deadline is not None and time.monotonic() >= deadline:
                raise TransportError(self._past_deadline(request)) from error
            raise
        except Exception as error:
            if deadline is not None and time.monotonic() >= deadline:
                raise TransportError(self._past_deadline(request)) from error
            raise TransportError(f"{request.method} {request.url} failed: {error!r}") from error
        if deadline is not None and time.monotonic() > deadline:
            raise TransportError(self._past_deadline(request))
        limit = request.max_response_bytes
        if limit is not None and len(response.body) > limit:
            raise TransportError(
                f"{request.method} {request.url}: the body is more than the {limit} bytes allowed"
            )
        return response

    def _past_deadline(self, request: Request) -> str:
        return (
            f"{request.method} {request.url} did not complete within its deadline "
            f"of {self.deadline:g} s"
        )


def _decoded(response: Response, method: str, url: str, limit: int) -> bytes:
    if not 200 <= response.status < 300 or not response.body:
        return response.body
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return response.body
    if encoding in ("gzip", "x-gzip"):
        try:
            return gunzip(response.body, limit)
        except ValueError as error:
            raise TransportError(f"{method} {url}: {error}") from None
    raise TransportError(f"{method} {url}: unsupported Content-Encoding {encoding!r}")


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data``; ``ValueError`` if it is corrupt, truncated or
    inflates to more than ``limit`` bytes (without ever holding more than that)."""
    try:
        return gunzip_bounded(data, limit)
    except InflateError as error:
        if error.kind == "too_large":
            raise ValueError(f"the body inflates to more than the {limit} bytes allowed") from None
        if error.kind == "truncated":
            raise ValueError("the gzip body is truncated") from None
        raise ValueError(f"the gzip body is corrupt: {error}") from None
