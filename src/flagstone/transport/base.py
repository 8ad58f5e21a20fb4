"""What a transport exchanges: one ``Request`` in, one ``Response`` out.

A transport moves bytes and nothing else: it opens (or reuses) a connection, sends the
request as given and returns the answer as sent, body still content-encoded. Redirects,
headers of its own, gzip and the checks on what comes back are the session's
(:mod:`flagstone.transport.session`), so they hold whatever the transport.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Request", "Response", "Transport"]


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready to send."""

    method: str
    url: str
    """An absolute ``http://`` or ``https://`` URL."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Every header to send (``Host`` and ``Content-Length`` are the transport's)."""
    body: bytes = b""
    connect_timeout: float = 3.0
    """Seconds to wait for a connection."""
    read_timeout: float = 10.0
    """Seconds to wait for each piece of the answer."""
    deadline: float | None = None
    """The ``time.monotonic()`` by which the whole exchange (connecting, sending, reading
    every byte of the answer) must be over, or ``None`` for no bound. A transport that cannot
    interrupt itself should at least not start past it; the session refuses an answer that
    arrives later anyway."""
    max_response_bytes: int | None = None
    """Refuse an answer whose body, as sent, is larger than this many bytes (and stop
    reading it)."""

    def remaining(self) -> float | None:
        """Seconds left before ``deadline`` (negative once past it), ``None`` without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass(frozen=True)
class Response:
    """One HTTP answer, as sent: ``headers`` names are lower-cased, ``body`` is still
    content-encoded (the session inflates gzip)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "headers", {name.lower(): value for name, value in self.headers.items()}
        )


class Transport(Protocol):
    """Sends one request and returns its answer (like httpx's ``BaseTransport``).

    ``handle_request`` raises for anything that is not an answer (a refused connection, a
    timeout, a broken TLS handshake…); preferably ``flagstone.errors.TransportError``, but
    any exception is translated into one where it enters flagstone. An answer with any
    status, 4xx and 5xx included, is returned. ``close`` releases kept-alive connections;
    it may be called more than once. Transports are used from one thread at a time per
    caller, but one transport may be shared by several callers (a source and a sink), so it
    must be safe to use from several threads.
    """

    def handle_request(self, request: Request) -> Response: ...

    def close(self) -> None: ...
