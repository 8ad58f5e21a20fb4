"""``UrlSource``: a snapshot URL, polled with conditional GETs over a ``Transport``.

Each poll is a GET with ``If-None-Match`` / ``If-Modified-Since`` from the document being
served (a refused document's ETag is never sent, so the next poll fetches in full) and
``Accept-Encoding: gzip``; ``304`` is "unchanged". Without an ``X-Flagstone-Signature``
header, a client that needs a signature fetches the sidecar ``<final URL>.sig`` (where the
redirects led), with your headers only if the redirects stayed on the URL's origin. The
document and its sidecar share one deadline. Redirects, size bounds, gzip and the deadline
are the transport session's (:mod:`flagstone.transport.session`); any failure raises
``FetchError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import FetchError, TransportError
from ..transport.base import Transport
from ..transport.session import Session, check_url
from .base import SourceDocument
from .integrity import SIGNATURE_HEADER

__all__ = ["UrlSource"]

_SIDECAR_LIMIT = 4096


class UrlSource:
    """The snapshot at ``url`` (``http://`` or ``https://``).

    ``headers``
        sent with every request to the URL's origin (``Authorization``, an API key); never
        to another origin a redirect leads to.
    ``timeout``
        seconds, or ``(connect, read)``: the wait for a connection and for each piece of
        the answer.
    ``deadline``
        seconds for a whole poll (document, redirects and sidecar): a server that trickles
        bytes fails the poll when it passes, and the next poll starts afresh.
    ``max_bytes``
        the largest document accepted, as sent and as inflated.
    ``transport``
        a ``flagstone.transport.Transport`` (default: an ``HttpTransport`` of its own,
        closed with the source; one you pass is yours to close).
    """

    kind = "url"

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        deadline: float | None = 30.0,
        max_bytes: int = 50 << 20,
        transport: Transport | None = None,
    ) -> None:
        self.url = check_url(url, "a snapshot URL")
        self.name = url
        self.max_bytes = max_bytes
        self._session = Session(transport, headers=headers, timeout=timeout, deadline=deadline)

    def poll(
        self, current: SourceDocument | None, *, need_signature: bool
    ) -> SourceDocument | None:
        """The document, or ``None`` when the server answers ``304 Not Modified``."""
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip"}
        if current is not None and current.etag:
            headers["If-None-Match"] = current.etag
        if current is not None and current.last_modified:
            headers["If-Modified-Since"] = current.last_modified
        deadline = self._session.deadline_from_now()
        try:
            answer = self._session.request(
                "GET",
                self.url,
                headers=headers,
                max_response_bytes=self.max_bytes,
                deadline=deadline,
            )
        except TransportError as error:
            raise FetchError(str(error)) from error
        if answer.status == 304:
            return None
        if answer.status != 200:
            raise FetchError(f"GET {self.url} answered {answer.status}")
        signature = answer.headers.get(SIGNATURE_HEADER.lower())
        if signature is None and need_signature:
            signature = self._sidecar(answer.url, answer.sent_caller_headers, deadline)
        return SourceDocument(
            answer.body, signature, answer.headers.get("etag"), answer.headers.get("last-modified")
        )

    def close(self) -> None:
        """Close the transport if the source made it."""
        self._session.close()

    def _sidecar(self, url: str, caller_headers: bool, deadline: float | None) -> str | None:
        """The signature at ``<url>.sig``, or ``None`` if there is none (404)."""
        parts = urlsplit(url)
        sidecar = parts._replace(path=parts.path + ".sig").geturl()
        try:
            answer = self._session.request(
                "GET",
                sidecar,
                max_response_bytes=_SIDECAR_LIMIT,
                caller_headers=caller_headers,
                deadline=deadline,
            )
        except TransportError as error:
            raise FetchError(str(error)) from error
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise FetchError(f"GET {sidecar} answered {answer.status}")
        return answer.body.decode("ascii", "replace").strip()

    def __repr__(self) -> str:
        return f"UrlSource({self.url!r})"
