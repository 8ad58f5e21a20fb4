"""``HttpSink`` against a real HTTP collector on 127.0.0.1.

The collector is a ``ThreadingHTTPServer`` on a free port, served from a thread. It records
every POST (headers, raw body, the decoded ``{"batch_id", "exposures"}`` payload, the client's
port) and answers with a scripted status: a number of failures first, then ``200``. It can
also hang (hold requests until the test ends) or close each connection after answering.
Nothing waits on the clock: delivery is awaited with ``BatchingSink.flush(timeout)``.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import flagstone
from flagstone.sinks import BatchingSink, Exposure, HttpSink, RecordBatch, RetryPolicy, SinkError
from flagstone.sinks.records import RecordBuilder
from tests.sinkdata import SNAPSHOT

CLIENT = flagstone.Client.from_dict(SNAPSHOT)

WAIT = 30.0
"""Generous bound for anything the tests wait for (never reached when things work)."""

FAST_RETRY = RetryPolicy(attempts=20, initial_backoff=0.001, max_backoff=0.01)


def exposures(count: int, prefix: str = "user") -> list[Exposure]:
    """``count`` exposures of distinct units (so none is a repeat of another)."""
    return [
        Exposure(
            CLIENT.evaluate("checkout", {"user": {"id": f"{prefix}-{i}"}}, apply=False),
            time.time(),
        )
        for i in range(count)
    ]


def batch_of(count: int, prefix: str = "user") -> RecordBatch:
    return RecordBatch([item.to_record() for item in exposures(count, prefix)])


def identities(items: list[Exposure]) -> Counter[tuple[str, str]]:
    return Counter((item.resolve_id, "flags/checkout") for item in items)


# -- the collector ---------------------------------------------------------------------------


@dataclass
class Received:
    """One POST as the collector saw it."""

    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    payload: dict[str, Any]
    client_port: int
    status: int | None  # what it answered; None while hanging


@dataclass
class Collector:
    url: str = ""
    fail_first: int = 0
    """Answer this many requests with ``failure_status`` before answering ``ok_status``."""
    failure_status: int = 500
    ok_status: int = 200
    hang_first: int = 0
    """Hold this many requests (without answering) until the test ends."""
    close_after_answer: bool = False
    """Close the connection after each answer, without saying so (a stale keep-alive)."""
    trickle_answer: float | None = None
    """Send each answer one byte every ``trickle_answer`` seconds (until the test ends)."""
    received: list[Received] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [item for item in self.received if item.status and 200 <= item.status < 300]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def delivered_identities(self) -> Counter[tuple[str, str]]:
        return Counter(
            (record["resolve_id"], record["flag"])
            for item in self.accepted()
            for record in item.payload["exposures"]
        )


def _handler_for(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
            item = Received(
                path=self.path,
                headers=headers,
                raw=raw,
                payload=json.loads(body),
                client_port=self.client_address[1],
                status=None,
            )
            with collector.lock:
                index = len(collector.received)
                collector.received.append(item)
            if index < collector.hang_first:
                collector.release.wait(WAIT)
                return
            status = collector.failure_status if index < collector.fail_first else 200
            if status == 200:
                status = collector.ok_status
            with collector.lock:
                item.status = status
            if collector.trickle_answer is not None:
                answer = f"HTTP/1.1 {status} OK\r\nContent-Length: 0\r\n\r\n".encode()
                for byte in answer:
                    if collector.release.wait(collector.trickle_answer):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                return
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if collector.close_after_answer:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    collector: Collector

    def handle_error(self, request: Any, client_address: Any) -> None:
        # e.g. a broken pipe when a hung request is finally let go: not the test's concern
        self.collector.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    server = _Server(("127.0.0.1", 0), _handler_for(collector))
    server.collector = collector
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    collector.url = f"http://127.0.0.1:{server.server_address[1]}/collect"
    try:
        yield collector
    finally:
        collector.release.set()
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@pytest.fixture
def closing(collector) -> Iterator[list[Any]]:
    """Sinks appended here are closed before the collector stops."""
    sinks: list[Any] = []
    yield sinks
    for sink in reversed(sinks):
        sink.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL of a local port that is bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/collect"


def batching(inner: HttpSink, closing: list[Any], **options: Any) -> BatchingSink:
    sink = BatchingSink(inner, retry=options.pop("retry", FAST_RETRY), **options)
    closing.append(sink)
    return sink


# -- delivery through BatchingSink -----------------------------------------------------------


def test_failed_posts_are_retried_until_every_exposure_arrives_exactly_once(
    collector, closing
) -> None:
    collector.fail_first = 3
    sink = batching(HttpSink(collector.url), closing)
    sent = exposures(25)
    for item in sent:
        sink.emit(item)
    assert sink.flush(WAIT) is True
    assert collector.delivered_identities() == identities(sent)


def test_retries_after_failed_posts_are_counted(collector, closing) -> None:
    collector.fail_first = 3
    sink = batching(HttpSink(collector.url), closing)
    for item in exposures(25):
        sink.emit(item)
    sink.flush(WAIT)
    stats = sink.stats()
    assert stats["retried"] >= 3
    assert (stats["delivered"], stats["dropped"]) == (25, 0)


def test_a_retried_batch_carries_the_same_batch_id_and_records(collector, closing) -> None:
    collector.fail_first = 3
    sink = batching(HttpSink(collector.url), closing)
    for item in exposures(25):
        sink.emit(item)
    sink.flush(WAIT)
    received = collector.all()
    # the worker retries a failed batch before it sends anything else
    retries = [
        (received[index].payload, received[index + 1].payload)
        for index, item in enumerate(received)
        if item.status == 500
    ]
    assert len(retries) == 3
    assert all(failed == retry for failed, retry in retries)


def test_idempotency_key_is_the_batch_id(collector, closing) -> None:
    collector.fail_first = 2
    sink = batching(HttpSink(collector.url), closing)
    for item in exposures(10):
        sink.emit(item)
    sink.flush(WAIT)
    received = collector.all()
    assert received
    assert [item.headers["idempotency-key"] for item in received] == [
        item.payload["batch_id"] for item in received
    ]


def test_batch_id_is_the_content_hash_of_the_posted_records(collector, closing) -> None:
    sink = batching(HttpSink(collector.url), closing)
    for item in exposures(10):
        sink.emit(item)
    sink.flush(WAIT)
    received = collector.accepted()
    assert received
    assert [item.payload["batch_id"] for item in received] == [
        RecordBatch(item.payload["exposures"]).batch_id() for item in received
    ]


def test_client_with_a_batching_http_sink_delivers_its_exposures(collector, closing) -> None:
    sink = batching(HttpSink(collector.url), closing)
    client = flagstone.Client.from_dict(SNAPSHOT, sinks=[sink])
    for index in range(5):
        client.evaluate("checkout", {"user": {"id": f"user-{index}"}})
    assert client.flush(WAIT) is True
    keys = [
        record["targeting_key"]
        for item in collector.accepted()
        for record in item.payload["exposures"]
    ]
    assert keys == [f"user-{index}" for index in range(5)]


def test_a_hanging_collector_is_retried_after_the_read_timeout(collector, closing) -> None:
    collector.hang_first = 1
    sink = batching(HttpSink(collector.url, timeout=(WAIT, 0.3)), closing)
    sent = exposures(5)
    for item in sent:
        sink.emit(item)
    assert sink.flush(WAIT) is True
    assert sink.stats()["retried"] >= 1
    assert collector.delivered_identities() == identities(sent)


def test_a_connection_the_collector_closed_while_idle_is_reopened(collector, closing) -> None:
    collector.close_after_answer = True
    sink = batching(HttpSink(collector.url), closing)
    sent = exposures(3)
    for item in sent:
        sink.emit(item)
        assert sink.flush(WAIT) is True  # one batch each: every batch after the first finds
        # the connection closed by the collector since the last answer
    assert collector.delivered_identities() == identities(sent)


def test_a_stale_kept_alive_connection_costs_no_retry(collector, closing) -> None:
    collector.close_after_answer = True
    sink = HttpSink(collector.url)
    closing.append(sink)
    for item in exposures(3):
        sink.write_batch(RecordBuilder(None).build([item]))  # would raise on a stale connection
    assert len(collector.accepted()) == 3


def test_a_client_error_answer_is_retried_and_then_dropped(collector, closing) -> None:
    collector.fail_first = 1_000
    collector.failure_status = 400
    retry = RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.01)
    sink = batching(HttpSink(collector.url), closing, retry=retry)
    sink.emit(exposures(1)[0])
    assert sink.flush(WAIT) is False
    stats = sink.stats()
    assert (stats["retried"], stats["delivered"], stats["dropped_by_reason"]) == (
        2,
        0,
        {"delivery_failed": 1},
    )
    assert len(collector.all()) == 3


def test_an_unreachable_collector_exhausts_retries_and_drops(refused_url, closing) -> None:
    retry = RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.01)
    sink = batching(HttpSink(refused_url), closing, retry=retry)
    sink.emit(exposures(1)[0])
    assert sink.flush(WAIT) is False
    stats = sink.stats()
    assert (stats["retried"], stats["dropped_by_reason"]) == (2, {"delivery_failed": 1})


# -- the request -----------------------------------------------------------------------------


def test_posts_the_batch_id_and_the_records_as_json(collector, closing) -> None:
    sink = HttpSink(collector.url, gzip=False)
    closing.append(sink)
    batch = batch_of(3)
    sink.write_batch(batch)
    (item,) = collector.all()
    assert item.payload == {"batch_id": batch.batch_id(), "exposures": batch.records}


def test_posts_to_the_path_and_query_of_the_url(collector, closing) -> None:
    sink = HttpSink(collector.url + "?tenant=shop", gzip=False)
    closing.append(sink)
    sink.write_batch(batch_of(1))
    assert [item.path for item in collector.all()] == ["/collect?tenant=shop"]


def test_content_type_is_application_json(collector, closing) -> None:
    sink = HttpSink(collector.url)
    closing.append(sink)
    sink.write_batch(batch_of(1))
    assert [item.headers["content-type"] for item in collector.all()] == ["application/json"]


def test_user_agent_names_flagstone_and_its_version(collector, closing) -> None:
    sink = HttpSink(collector.url)
    closing.append(sink)
    sink.write_batch(batch_of(1))
    (item,) = collector.all()
    assert item.headers["user-agent"] == f"flagstone/{flagstone.__version__}"


def test_custom_headers_are_sent(collector, closing) -> None:
    sink = HttpSink(collector.url, headers={"Authorization": "Bearer s3cret", "X-Tenant": "shop"})
    closing.append(sink)
    sink.write_batch(batch_of(1))
    (item,) = collector.all()
    assert (item.headers["authorization"], item.headers["x-tenant"]) == ("Bearer s3cret", "shop")


def _body_size(collector: Collector, batch: RecordBatch) -> int:
    """Size of the uncompressed body HttpSink posts for ``batch``."""
    sink = HttpSink(collector.url, gzip=False)
    try:
        sink.write_batch(batch)
    finally:
        sink.close()
    return len(collector.all()[-1].raw)


def test_body_of_at_least_gzip_min_bytes_is_gzipped(collector, closing) -> None:
    batch = batch_of(5)
    size = _body_size(collector, batch)
    sink = HttpSink(collector.url, gzip_min_bytes=size)
    closing.append(sink)
    sink.write_batch(batch)
    item = collector.all()[-1]
    assert item.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(item.raw) == collector.all()[0].raw


def test_body_below_gzip_min_bytes_is_sent_uncompressed(collector, closing) -> None:
    batch = batch_of(5)
    size = _body_size(collector, batch)
    sink = HttpSink(collector.url, gzip_min_bytes=size + 1)
    closing.append(sink)
    sink.write_batch(batch)
    item = collector.all()[-1]
    assert "content-encoding" not in item.headers
    assert item.raw == collector.all()[0].raw


def test_gzip_false_never_compresses(collector, closing) -> None:
    sink = HttpSink(collector.url, gzip=False, gzip_min_bytes=1)
    closing.append(sink)
    sink.write_batch(batch_of(50))
    (item,) = collector.all()
    assert "content-encoding" not in item.headers


def test_an_empty_batch_is_not_posted(collector, closing) -> None:
    sink = HttpSink(collector.url)
    closing.append(sink)
    sink.write_batch(RecordBatch([]))
    assert collector.all() == []


def test_batches_reuse_one_keep_alive_connection(collector, closing) -> None:
    sink = HttpSink(collector.url)
    closing.append(sink)
    for index in range(5):
        sink.write_batch(batch_of(2, prefix=f"batch-{index}"))
    received = collector.all()
    assert len(received) == 5
    assert len({item.client_port for item in received}) == 1


# -- answers that are failures ---------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_answer_is_success(collector, closing, status) -> None:
    collector.ok_status = status
    sink = HttpSink(collector.url)
    closing.append(sink)
    sink.write_batch(batch_of(1))  # does not raise
    assert [item.status for item in collector.all()] == [status]


@pytest.mark.parametrize("status", [400, 401, 404, 413, 429, 500, 503])
def test_a_non_2xx_answer_raises_sink_error(collector, closing, status) -> None:
    collector.fail_first = 1
    collector.failure_status = status
    sink = HttpSink(collector.url)
    closing.append(sink)
    with pytest.raises(SinkError, match=str(status)):
        sink.write_batch(batch_of(1))


def test_the_connection_stays_usable_after_an_error_answer(collector, closing) -> None:
    collector.fail_first = 1
    sink = HttpSink(collector.url)
    closing.append(sink)
    batch = batch_of(1)
    with pytest.raises(SinkError):
        sink.write_batch(batch)
    sink.write_batch(batch)
    assert [item.status for item in collector.all()] == [500, 200]


def test_a_read_timeout_raises_sink_error(collector, closing) -> None:
    collector.hang_first = 1_000
    sink = HttpSink(collector.url, timeout=(WAIT, 0.2))
    closing.append(sink)
    with pytest.raises(SinkError):
        sink.write_batch(batch_of(1))


def test_a_collector_that_trickles_its_answer_fails_the_post_at_the_deadline(
    collector, closing
) -> None:
    collector.trickle_answer = 0.05  # each byte well within the read timeout; all: ~2 s
    sink = HttpSink(collector.url, timeout=(WAIT, WAIT), deadline=0.3)
    closing.append(sink)
    started = time.monotonic()

    with pytest.raises(SinkError, match=r"deadline of 0\.3 s"):
        sink.write_batch(batch_of(1))

    assert time.monotonic() - started < WAIT / 2


def test_a_refused_connection_raises_sink_error(refused_url) -> None:
    sink = HttpSink(refused_url, timeout=WAIT)
    with pytest.raises(SinkError):
        sink.write_batch(batch_of(1))
    sink.close()


def test_sink_error_is_a_flagstone_error(refused_url) -> None:
    sink = HttpSink(refused_url)
    with pytest.raises(flagstone.errors.FlagstoneError):
        sink.write_batch(batch_of(1))
    sink.close()


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://collector.example/x", "file:///tmp/exposures", "collector.example/x", "http:///x", ""],
)
def test_a_url_that_is_not_http_is_rejected(url) -> None:
    with pytest.raises(ValueError):
        HttpSink(url)


@pytest.mark.parametrize("url", ["http://collector.example/x", "https://collector.example:8443/"])
def test_http_and_https_urls_are_accepted_without_connecting(url) -> None:
    HttpSink(url).close()


# -- used directly, without BatchingSink -----------------------------------------------------


def test_direct_emit_posts_each_exposure_at_once(collector, closing) -> None:
    sink = HttpSink(collector.url)
    closing.append(sink)
    sent = exposures(3)
    for item in sent:
        sink.emit(item)
    assert [len(item.payload["exposures"]) for item in collector.all()] == [1, 1, 1]
    assert collector.delivered_identities() == identities(sent)
    assert sink.stats()["delivered"] == 3


def test_direct_emit_does_not_raise_when_the_collector_is_down(refused_url) -> None:
    sink = HttpSink(refused_url)
    for item in exposures(3):
        sink.emit(item)  # must not raise
    stats = sink.stats()
    assert (stats["emitted"], stats["delivered"], stats["dropped_by_reason"]) == (
        3,
        0,
        {"delivery_failed": 3},
    )
    sink.close()


def test_direct_emit_counts_an_error_answer_as_delivery_failed(collector, closing) -> None:
    collector.fail_first = 1
    sink = HttpSink(collector.url)
    closing.append(sink)
    first, second = exposures(2)
    sink.emit(first)
    sink.emit(second)
    stats = sink.stats()
    assert (stats["delivered"], stats["dropped_by_reason"]) == (1, {"delivery_failed": 1})


def test_write_batch_after_close_raises_sink_error(collector) -> None:
    sink = HttpSink(collector.url)
    sink.close()
    with pytest.raises(SinkError):
        sink.write_batch(batch_of(1))
    assert collector.all() == []
