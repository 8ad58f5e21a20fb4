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

from ..errors import TransportError
from .base import Request, Response, Transport
from .mock import MockTransport
from .stdlib import HttpTransport

__all__ = ["HttpTransport", "MockTransport", "Request", "Response", "Transport", "TransportError"]
