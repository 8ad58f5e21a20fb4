"""``HttpSink``: POST batches of exposure and metric-event records, as JSON, to a collector
URL."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import SinkError, TransportError
from ..transport.base import Transport
from ..transport.session import Session, check_url
from .base import RecordSink
from .exposure import DEDUP_TTL_SECONDS
from .records import EVENT, EXPOSURE, RecordBatch

__all__ = ["HttpSink"]

_ANSWER_LIMIT = 1 << 20
"""The largest answer body read from a collector (its content is not used)."""


class HttpSink(RecordSink):
    """Posts each batch to ``url`` as ``{"batch_id": …, "exposures": [record, …]}``, or,
    for metric events (``Client.track``), ``{"batch_id": …, "events": [record, …]}``.
    A ``BatchingSink`` never mixes the two in a batch (each kind has its own queue); a batch
    of both that you write yourself sends both keys. A collector that knows only
    ``"exposures"`` keeps working and ignores events.

    Meant to be wrapped in a ``BatchingSink``, which retries, spools and keeps the request
    thread out of it (on its own, ``emit`` posts one exposure per request, synchronously).

    ``headers``
        extra headers, e.g. ``{"Authorization": "Bearer …"}``.
    ``timeout``
        seconds, or ``(connect, read)`` (default ``(3.0, 10.0)``).
    ``deadline``
        seconds for a whole POST (default 30): a collector that trickles its answer fails
        the batch when it passes (``None``: no bound beyond the timeouts).
    ``gzip``
        compress bodies of at least ``gzip_min_bytes`` (``Content-Encoding: gzip``).
    ``transport``
        a ``flagstone.transport.Transport`` (default: an ``HttpTransport`` of its own, closed
        with the sink; one you pass — with a proxy, an ``ssl.SSLContext``, or a
        ``MockTransport`` in tests — is yours to close).

    A 2xx answer is success; anything else (a redirect included: give the collector's final
    URL), a timeout or a connection error raises ``SinkError`` (so the batch is retried).
    ``batch_id`` (also sent as ``Idempotency-Key``) is a hash of the records: a batch sent
    twice (a lost answer, a replay) carries the same id. The default transport keeps the
    connection alive between batches and reopens it after an error or a fork; a kept-alive
    connection the server closed while idle is reopened at once.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        deadline: float | None = 30.0,
        gzip: bool = True,
        gzip_min_bytes: int = 1024,
        transport: Transport | None = None,
        dedup: bool = True,
        dedup_ttl: float = DEDUP_TTL_SECONDS,
        dedup_maxsize: int = 100_000,
    ) -> None:
        self.url = check_url(url, "HttpSink's URL")
        super().__init__(dedup=dedup, dedup_ttl=dedup_ttl, dedup_maxsize=dedup_maxsize)
        self._session = Session(transport, headers=headers, timeout=timeout, deadline=deadline)
        self._gzip = gzip
        self._gzip_min_bytes = gzip_min_bytes

    def _write(self, batch: RecordBatch) -> None:
        if not batch:
            return
        batch_id = batch.batch_id()
        body = b'{"batch_id":"' + batch_id.encode("ascii") + b'",' + _records_json(batch) + b"}"
        try:
            answer = self._session.request(
                "POST",
                self.url,
                headers={"Content-Type": "application/json", "Idempotency-Key": batch_id},
                body=body,
                gzip_body=self._gzip and len(body) >= self._gzip_min_bytes,
                follow_redirects=False,
                max_response_bytes=_ANSWER_LIMIT,
            )
        except TransportError as error:
            raise SinkError(str(error)) from error
        if not 200 <= answer.status < 300:
            raise SinkError(f"POST {self.url} answered {answer.status} {answer.reason}")

    def _close(self) -> None:
        self._session.close()


def _records_json(batch: RecordBatch) -> bytes:
    """``"exposures":[…]`` and/or ``"events":[…]``: the batch's records under their kind."""
    if batch.kind == EXPOSURE:
        return b'"exposures":' + batch.json_array()
    if batch.kind == EVENT:
        return b'"events":' + batch.json_array()
    exposures: list[str] = []
    events: list[str] = []
    for line, kind in zip(batch.lines, batch.kinds(), strict=True):
        (events if kind == EVENT else exposures).append(line)
    parts = []
    if exposures or not events:
        parts.append(b'"exposures":[' + ",".join(exposures).encode("ascii") + b"]")
    if events:
        parts.append(b'"events":[' + ",".join(events).encode("ascii") + b"]")
    return b",".join(parts)
