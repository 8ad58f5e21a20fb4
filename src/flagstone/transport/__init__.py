"""HTTP for flagstone: one small ``Transport`` Protocol under the snapshot URL source and the
exposure ``HttpSink``.

A transport sends one ``Request`` and returns one ``Response`` (``handle_request``), and
``close()`` releases its connections — the shape of httpx's ``BaseTransport``:

``HttpTransport(ssl_context=None, proxy=None, trust_env=True, keep_alive=True)``
    the default, on ``http.client``: kept-alive connections, ``HTTP_PROXY`` /
    ``HTTPS_PROXY`` / ``NO_PROXY`` (a ``CONNECT`` tunnel for https), your ``ssl.SSLContext``
    (a private CA, a client certificate), and a deadline that interrupts a trickling server.
``MockTransport(handler)``
    answers from ``handler(request)``, in memory, for tests.

Anything with those two methods will do (an httpx or requests adapter, a transport that
signs requests, one that records them). Whatever the transport, flagstone applies the same
rules above it (``session``): URL checks, ``User-Agent``, redirects (at most 5; none of your
headers to another origin; never from https to http), gzip, size bounds and the deadline.

This package sits below ``flagstone.sources`` and ``flagstone.sinks`` (both use it) and
imports neither.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ..errors import TransportError
from ..process.lazy import lazy_exports as _lazy_exports
from .base import Request, Response, Transport

if _TYPE_CHECKING:
    from .mock import MockTransport
    from .stdlib import HttpTransport

__all__ = ["HttpTransport", "MockTransport", "Request", "Response", "Transport", "TransportError"]

# HttpTransport (http.client, ssl) and MockTransport are imported on first use
__getattr__, __dir__ = _lazy_exports(
    __name__,
    globals(),
    {
        "HttpTransport": ".stdlib",
        "MockTransport": ".mock",
    },
)
