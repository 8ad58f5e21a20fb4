"""``MockTransport``: answers from a function, in memory, for tests (no socket, no thread)."""

from __future__ import annotations

from collections.abc import Callable

from .base import Request, Response

__all__ = ["MockTransport"]


class MockTransport:
    """A transport whose answers come from ``handler(request)``.

    The handler returns a ``Response`` or raises, as a network would (raise ``OSError`` or
    ``TimeoutError`` to play a refused connection or a timeout). Everything above the
    transport still applies: redirects, headers, gzip, size and deadline checks::

        def handler(request: Request) -> Response:
            if request.headers.get("If-None-Match") == '"v1"':
                return Response(304)
            return Response(200, {"ETag": '"v1"'}, body=document)

        client = Client.from_url("https://flags.test/prod.json", transport=MockTransport(handler))
    """

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler

    def handle_request(self, request: Request) -> Response:
        """``handler(request)``."""
        return self.handler(request)

    def close(self) -> None:
        """Nothing to release."""
