"""``HttpTransport``: the default transport, on the standard library's ``http.client``.

* **Keep-alive.** A connection whose answer was read to the end and that the server did not
  close is kept (a few per origin) and reused; one the server closed while it was idle fails
  at once on reuse (``RemoteDisconnected``, a reset, a broken pipe: the server never saw the
  request) and the request is sent once more on a new connection. Any other failure closes
  the connection. After ``os.fork()`` the child starts with no connection (closing its copies
  leaves the parent's open).
* **Proxies.** With ``trust_env`` (the default) ``HTTP_PROXY`` / ``HTTPS_PROXY`` /
  ``NO_PROXY`` (and their lower-case spellings) are read at each request by the rules of
  ``urllib.request.getproxies`` and ``proxy_bypass``; ``proxy=`` names one proxy for every
  request instead. An ``http://`` URL goes to the proxy in absolute form, an ``https://`` one
  through a ``CONNECT`` tunnel (TLS end to end with the origin). Credentials in the proxy URL
  become ``Proxy-Authorization: Basic`` for the proxy alone.
* **TLS** with ``ssl_context`` (a custom CA, a client certificate for mTLS) or the system's
  default context.
* **Time.** ``connect_timeout`` bounds the TCP connect, ``read_timeout`` each wait for data,
  and the request's ``deadline`` the whole exchange: a timer shuts the socket down when the
  deadline passes, so a server that trickles a byte now and then cannot hold a request longer
  (a proxy tunnel and the TLS handshake included).
* **Size.** A body announced or sent larger than ``max_response_bytes`` is refused without
  reading further; a body shorter than its ``Content-Length`` is refused as truncated.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..errors import TransportError
from ..process.hooks import register_fork_hooks
from ..process.threads import QuietTimer
from .base import Request, Response

__all__ = ["HttpTransport"]

logger = logging.getLogger("flagstone.transport")

# What a kept-alive connection the server has since closed looks like on reuse.
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)
_MAX_IDLE_PER_ORIGIN = 4
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    authority: str  # host[:port] as it goes into Host and CONNECT, without credentials
    path: str  # path and query

    @classmethod
    def of(cls, url: str) -> _Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise TransportError(f"not an http:// or https:// URL: {url!r}")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as error:
            raise TransportError(f"bad port in {url!r}: {error}") from None
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        authority = shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(scheme, host, port, authority, path)

    @property
    def absolute(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, from credentials in the URL
    url: str  # without credentials, for messages and as part of the pool key

    @classmethod
    def parse(cls, url: str) -> _Proxy:
        if "://" not in url:
            url = "http://" + url  # "proxy:3128", as urllib reads it
        parts = urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise TransportError(
                f"a proxy is an http:// URL (a CONNECT tunnel carries https), not {url!r}"
            )
        try:
            port = parts.port or 80
        except ValueError as error:
            raise TransportError(f"bad port in the proxy URL: {error}") from None
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        return cls(parts.hostname, port, authorization, f"http://{parts.hostname}:{port}")


_PoolKey = tuple[str, str, int, str | None]


class HttpTransport:
    """The default transport (``http.client``): keep-alive, proxies, TLS, a deadline.

    ``ssl_context``
        for ``https://``: a context with your CA (``ssl.create_default_context(cafile=…)``)
        and, for mutual TLS, your certificate (``context.load_cert_chain(…)``). Default: the
        system's trust store, hostnames checked.
    ``proxy``
        an ``http://[user:password@]host:port`` proxy for every request (``NO_PROXY`` does not
        apply to it). Default: from the environment, unless ``trust_env=False``.
    ``trust_env``
        read ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY`` at each request (urllib's rules).
    ``keep_alive``
        keep connections open between requests (``False``: one connection per request).
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        keep_alive: bool = True,
    ) -> None:
        self._fixed_proxy = _Proxy.parse(proxy) if proxy is not None else None
        self._ssl_context = ssl_context
        self._trust_env = trust_env
        self._keep_alive = keep_alive
        self._lock = threading.Lock()
        self._idle: dict[_PoolKey, list[http.client.HTTPConnection]] = {}
        register_fork_hooks(self)

    # -- Transport --------------------------------------------------------------------------

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` and read its answer; raises ``TransportError``."""
        target = _Target.of(request.url)
        proxy = self._proxy_for(target)
        key: _PoolKey = (target.scheme, target.host, target.port, proxy.url if proxy else None)
        watchdog = _Watchdog(request.deadline)
        try:
            connection = self._checkout(key)
            if connection is not None:
                try:
                    return self._exchange(connection, key, target, proxy, request, watchdog)
                except _STALE as error:
                    if watchdog.fired:
                        raise
                    # The server closed the kept-alive connection while it was idle; it
                    # never saw this request. Once more, on a new connection.
                    logger.debug("reconnecting to %s after %r", target.authority, error)
            connection = self._open(target, proxy, request, watchdog)
            return self._exchange(connection, key, target, proxy, request, watchdog)
        except (TransportError, OSError, http.client.HTTPException, ValueError) as error:
            if watchdog.fired:  # whatever the shut-down socket made the read say
                raise TransportError(_past_deadline(request)) from error
            if isinstance(error, TransportError):
                raise
            raise TransportError(f"{request.method} {request.url} failed: {error!r}") from error
        finally:
            watchdog.cancel()

    def close(self) -> None:
        """Close the kept-alive connections (the transport stays usable)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- one exchange -----------------------------------------------------------------------

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        key: _PoolKey,
        target: _Target,
        proxy: _Proxy | None,
        request: Request,
        watchdog: _Watchdog,
    ) -> Response:
        try:
            sock = connection.sock
            if sock is None:  # pragma: no cover - pooled connections are open
                raise http.client.NotConnected()
            watchdog.watch(sock)
            sock.settimeout(request.read_timeout)
            headers = dict(request.headers)
            if proxy is not None and target.scheme == "http":
                path = target.absolute  # a plain-HTTP proxy takes the absolute form
                if proxy.authorization is not None:
                    headers["Proxy-Authorization"] = proxy.authorization
            else:
                path = target.path
            connection.request(request.method, path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            body = _read_body(response, request)
        except BaseException:
            connection.close()
            raise
        if watchdog.cancel():
            # The socket was shut down under the read: what came may be cut anywhere, even
            # in the headers, and still look whole to http.client.
            connection.close()
            raise TransportError(_past_deadline(request))
        if (
            self._keep_alive
            and not response.will_close
            and response.isclosed()
            and connection.sock is not None
        ):
            self._checkin(key, connection)
        else:
            connection.close()
        return Response(response.status, dict(response.getheaders()), body, response.reason)

    def _open(
        self, target: _Target, proxy: _Proxy | None, request: Request, watchdog: _Watchdog
    ) -> http.client.HTTPConnection:
        remaining = watchdog.remaining()
        if remaining <= 0:
            raise TransportError(_past_deadline(request))
        address = (proxy.host, proxy.port) if proxy is not None else (target.host, target.port)
        sock: socket.socket = socket.create_connection(
            address, timeout=min(request.connect_timeout, remaining)
        )
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            watchdog.watch(sock)
            sock.settimeout(request.read_timeout)
            connection: http.client.HTTPConnection
            if target.scheme == "https":
                if proxy is not None:
                    _tunnel(sock, target, proxy)
                context = self._context()
                sock = context.wrap_socket(sock, server_hostname=target.host)
                watchdog.watch(sock)
                connection = http.client.HTTPSConnection(target.host, target.port, context=context)
            else:
                connection = http.client.HTTPConnection(target.host, target.port)
        except BaseException:
            sock.close()
            raise
        connection.sock = sock
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _proxy_for(self, target: _Target) -> _Proxy | None:
        if self._fixed_proxy is not None:
            return self._fixed_proxy
        if not self._trust_env:
            return None
        url = urllib.request.getproxies().get(target.scheme)
        if not url:
            return None
        if urllib.request.proxy_bypass(f"{target.host}:{target.port}"):
            return None
        return _Proxy.parse(url)

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(self, key: _PoolKey) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _checkin(self, key: _PoolKey, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def _after_fork_in_child(self) -> None:
        # Closing the child's copies of the sockets leaves the parent's connections open.
        self._lock = threading.Lock()
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


def _tunnel(sock: socket.socket, target: _Target, proxy: _Proxy) -> None:
    """Ask ``proxy`` (connected on ``sock``) for a tunnel to ``target``."""
    authority = f"{target.host}:{target.port}" if ":" not in target.host else target.authority
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    answer = http.client.HTTPResponse(sock, method="CONNECT")
    try:
        answer.begin()
    finally:
        answer.close()
    if answer.status != 200:
        raise TransportError(
            f"the proxy {proxy.url} refused a tunnel to {authority}: "
            f"{answer.status} {answer.reason}"
        )


def _read_body(response: http.client.HTTPResponse, request: Request) -> bytes:
    limit = request.max_response_bytes
    length_text = response.getheader("content-length")
    length = int(length_text) if length_text is not None and length_text.isdigit() else None
    if limit is not None and length is not None and length > limit:
        raise TransportError(
            f"{request.method} {request.url}: the body is {length} bytes, "
            f"more than the {limit} allowed"
        )
    body = response.read() if limit is None else response.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise TransportError(
            f"{request.method} {request.url}: the body is more than the {limit} bytes allowed"
        )
    if length is not None and len(body) < length:
        # http.client stops at what came if the peer hung up before Content-Length
        raise TransportError(
            f"{request.method} {request.url}: the body is truncated: {len(body)} of {length} bytes"
        )
    return body


def _past_deadline(request: Request) -> str:
    return f"{request.method} {request.url} did not complete before its deadline"


class _Watchdog:
    """Shuts the watched socket down when the deadline passes, waking any blocked read."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = False
        self._timer: threading.Timer | None = None
        if deadline is not None:
            delay = deadline - time.monotonic()
            if delay <= 0:
                self.fired = True
            else:
                self._timer = QuietTimer(delay, self._fire)
                self._timer.name = "flagstone-deadline"
                self._timer.daemon = True
                self._timer.start()

    def remaining(self) -> float:
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            fired = self.fired
        if fired:
            _shutdown(sock)

    def cancel(self) -> bool:
        """Stop watching; whether the deadline had passed (the socket is then unusable)."""
        with self._lock:
            self._done = True
            fired = self.fired
        if self._timer is not None:
            self._timer.cancel()
        return fired

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    # On the descriptor itself (an SSLSocket's own shutdown would drop its TLS state under a
    # reader in another thread).
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
