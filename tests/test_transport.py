"""The rules every HTTP request of flagstone follows, whatever the transport, checked in
memory; and a transport of one's own carrying a real client's snapshots and exposures.

Requests go through ``flagstone.transport.session.Session`` over a ``MockTransport`` whose
handler plays the servers: the test sees every ``Request`` the transport was given, so what
was sent where is asserted exactly — the User-Agent, the caller's headers and flagstone's,
redirects (at most five; none of the caller's headers to another origin, even once back on
the first; never from https to http), gzip both ways with a bound, the size bound, the
deadline, and the translation of whatever a transport raises. The last part plugs a small
hand-written transport (not ``MockTransport``) into ``Client.from_url`` and ``HttpSink``.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import flagstone
import flagstone.transport
from flagstone.errors import FetchError, SinkError, TransportError
from flagstone.sinks import BatchingSink, HttpSink, RecordBatch, RetryPolicy
from flagstone.sources import UrlSource
from flagstone.transport import HttpTransport, MockTransport, Request, Response, Transport
from flagstone.transport.session import MAX_REDIRECTS, Session, check_url
from tests.live_scripts.livelib import CONTEXT, PATIENCE, answers, document, expected_answers

USER_AGENT = f"flagstone/{flagstone.__version__}"
LIMIT = 1 << 20


class Recorder:
    """A ``MockTransport`` handler: answers by URL from ``routes`` (a ``Response`` or a
    function of the request), 404 otherwise, and keeps every request."""

    def __init__(self, routes: dict[str, Response | Callable[[Request], Response]]) -> None:
        self.routes = routes
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        route = self.routes.get(request.url)
        if route is None:
            return Response(404)
        return route(request) if callable(route) else route

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def headers(self, index: int) -> dict[str, str]:
        return {name.lower(): value for name, value in self.requests[index].headers.items()}


def session(recorder: Recorder, **options: Any) -> Session:
    return Session(MockTransport(recorder), **options)


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, {"Location": location})


OK = Response(200, {"Content-Type": "application/json"}, b"{}")


# -- the public names ---------------------------------------------------------------------


def test_flagstone_transport_exports_exactly_these_names() -> None:
    assert flagstone.transport.__all__ == [
        "HttpTransport",
        "MockTransport",
        "Request",
        "Response",
        "Transport",
        "TransportError",
    ]


def test_transport_error_is_a_flagstone_error() -> None:
    assert issubclass(TransportError, flagstone.FlagstoneError)
    assert flagstone.transport.TransportError is flagstone.errors.TransportError


@pytest.mark.parametrize("name", flagstone.transport.__all__)
def test_each_transport_name_is_documented(name: str) -> None:
    doc = vars(getattr(flagstone.transport, name)).get("__doc__")
    assert isinstance(doc, str) and doc.strip()


def test_both_shipped_transports_satisfy_the_protocol() -> None:
    transports: list[Transport] = [HttpTransport(), MockTransport(Recorder({}))]
    for transport in transports:
        assert callable(transport.handle_request) and callable(transport.close)
        transport.close()


def test_response_header_names_are_lower_cased() -> None:
    assert Response(200, {"ETag": '"x"', "X-Flagstone-Signature": "s"}).headers == {
        "etag": '"x"',
        "x-flagstone-signature": "s",
    }


# -- what is sent -------------------------------------------------------------------------


def test_every_request_names_flagstone_and_its_version() -> None:
    recorder = Recorder({"http://a.test/": OK})

    session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT)

    assert recorder.headers(0)["user-agent"] == USER_AGENT


def test_the_callers_headers_override_flagstones_whatever_their_case() -> None:
    recorder = Recorder({"http://a.test/": OK})

    session(recorder, headers={"user-agent": "mine/1", "ACCEPT": "text/plain"}).request(
        "GET", "http://a.test/", headers={"Accept": "application/json"}, max_response_bytes=LIMIT
    )

    sent = recorder.requests[0].headers
    assert sorted(name.lower() for name in sent) == ["accept", "user-agent"]  # once each
    assert recorder.headers(0) == {"user-agent": "mine/1", "accept": "text/plain"}


def test_the_caller_cannot_change_the_headers_that_describe_the_body() -> None:
    recorder = Recorder({"http://a.test/": OK})
    caller = {"Content-Encoding": "br", "Content-Length": "1", "Transfer-Encoding": "chunked"}

    session(recorder, headers=caller).request(
        "POST", "http://a.test/", body=b"x" * 100, gzip_body=True, max_response_bytes=LIMIT
    )

    sent = recorder.headers(0)
    assert sent["content-encoding"] == "gzip"
    assert "content-length" not in sent and "transfer-encoding" not in sent
    assert gzip.decompress(recorder.requests[0].body) == b"x" * 100


def test_timeouts_deadline_and_bound_reach_the_transport() -> None:
    recorder = Recorder({"http://a.test/": OK})
    started = time.monotonic()

    session(recorder, timeout=(1.5, 7.0), deadline=20.0).request(
        "GET", "http://a.test/", max_response_bytes=1234
    )

    request = recorder.requests[0]
    assert (request.connect_timeout, request.read_timeout) == (1.5, 7.0)
    assert request.max_response_bytes == 1234
    assert request.deadline is not None and started + 20.0 <= request.deadline
    assert request.deadline <= time.monotonic() + 20.0


def test_one_timeout_is_both_the_connect_and_the_read_timeout() -> None:
    recorder = Recorder({"http://a.test/": OK})

    session(recorder, timeout=4.0).request("GET", "http://a.test/", max_response_bytes=LIMIT)

    assert (recorder.requests[0].connect_timeout, recorder.requests[0].read_timeout) == (4, 4)


# -- redirects ------------------------------------------------------------------------------


CALLER = {"Authorization": "Bearer s3cret", "X-Api-Key": "k", "Proxy-Authorization": "Basic p"}
OURS = {"Accept-Encoding": "gzip", "If-None-Match": '"v1"'}


def follow_to(*routes: tuple[str, Response], caller: dict[str, str] = CALLER) -> Recorder:
    recorder = Recorder(dict(routes))
    session(recorder, headers=caller).request(
        "GET", routes[0][0], headers=OURS, max_response_bytes=LIMIT
    )
    return recorder


@pytest.mark.parametrize(
    "target",
    [
        "http://b.test/flags.json",  # another host
        "http://a.test:8080/flags.json",  # another port
        "https://a.test/flags.json",  # another scheme (an upgrade)
    ],
    ids=["host", "port", "scheme"],
)
def test_a_redirect_to_another_origin_carries_none_of_the_callers_headers(target) -> None:
    recorder = follow_to(("http://a.test/flags.json", redirect(target)), (target, OK))

    assert recorder.urls() == ["http://a.test/flags.json", target]
    first, second = recorder.headers(0), recorder.headers(1)
    assert {name.lower() for name in CALLER} <= set(first)
    assert not {name.lower() for name in CALLER} & set(second)
    assert second["accept-encoding"] == "gzip" and second["if-none-match"] == '"v1"'
    assert second["user-agent"] == USER_AGENT


@pytest.mark.parametrize(
    "location", ["/moved.json", "http://A.TEST/moved.json", "http://a.test:80/moved.json"]
)
def test_a_redirect_within_the_origin_keeps_the_callers_headers(location) -> None:
    recorder = Recorder(
        {
            "http://a.test/flags.json": redirect(location),
            location if location.startswith("http") else "http://a.test/moved.json": OK,
        }
    )
    session(recorder, headers=CALLER).request(
        "GET", "http://a.test/flags.json", max_response_bytes=LIMIT
    )

    assert len(recorder.requests) == 2
    assert recorder.headers(1)["authorization"] == "Bearer s3cret"


def test_once_off_the_origin_the_callers_headers_stay_off_even_back_on_it() -> None:
    recorder = follow_to(
        ("http://a.test/flags.json", redirect("http://b.test/hop")),
        ("http://b.test/hop", redirect("http://a.test/final")),
        ("http://a.test/final", OK),
    )

    assert len(recorder.requests) == 3
    assert "authorization" not in recorder.headers(2)


def test_a_redirect_from_https_to_http_is_refused_and_never_followed() -> None:
    recorder = Recorder({"https://a.test/flags.json": redirect("http://a.test/flags.json")})

    with pytest.raises(TransportError, match="from https to http"):
        session(recorder, headers=CALLER).request(
            "GET", "https://a.test/flags.json", max_response_bytes=LIMIT
        )

    assert recorder.urls() == ["https://a.test/flags.json"]


@pytest.mark.parametrize("location", ["ftp://a.test/flags.json", "file:///etc/passwd"])
def test_a_redirect_to_something_other_than_http_is_refused(location) -> None:
    recorder = Recorder({"http://a.test/": redirect(location)})

    with pytest.raises(TransportError, match="http"):
        session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT)
    assert len(recorder.requests) == 1


def chain(hops: int) -> Recorder:
    """``http://a.test/0`` redirects to ``/1``, … ``/hops``, which answers 200."""
    routes: dict[str, Response | Callable[[Request], Response]] = {
        f"http://a.test/{index}": redirect(f"/{index + 1}") for index in range(hops)
    }
    routes[f"http://a.test/{hops}"] = OK
    return Recorder(routes)


def test_five_redirects_are_followed() -> None:
    recorder = chain(MAX_REDIRECTS)

    result = session(recorder).request("GET", "http://a.test/0", max_response_bytes=LIMIT)

    assert (result.status, result.url) == (200, f"http://a.test/{MAX_REDIRECTS}")
    assert len(recorder.requests) == MAX_REDIRECTS + 1


def test_a_sixth_redirect_is_a_failure() -> None:
    recorder = chain(MAX_REDIRECTS + 1)

    with pytest.raises(TransportError, match=f"more than {MAX_REDIRECTS} redirects"):
        session(recorder).request("GET", "http://a.test/0", max_response_bytes=LIMIT)
    assert len(recorder.requests) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (303, "GET", b""),
        (302, "GET", b""),
        (301, "GET", b""),
        (307, "POST", b"x"),
        (308, "POST", b"x"),
    ],
)
def test_a_redirected_post_is_resent_or_turned_into_a_get(status, method, body) -> None:
    recorder = Recorder({"http://a.test/in": redirect("/out", status), "http://a.test/out": OK})

    session(recorder).request(
        "POST",
        "http://a.test/in",
        body=b"x",
        headers={"Content-Encoding": "identity"},
        max_response_bytes=LIMIT,
    )

    second = recorder.requests[1]
    assert (second.method, second.body) == (method, body)
    assert ("content-encoding" in recorder.headers(1)) == (method == "POST")


def test_without_follow_redirects_the_redirect_is_the_answer() -> None:
    recorder = Recorder({"http://a.test/": redirect("/elsewhere")})

    result = session(recorder).request(
        "GET", "http://a.test/", follow_redirects=False, max_response_bytes=LIMIT
    )

    assert (result.status, len(recorder.requests)) == (302, 1)


def test_a_redirect_without_a_location_is_the_answer() -> None:
    recorder = Recorder({"http://a.test/": Response(302)})

    assert (
        session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT).status == 302
    )


# -- bodies -----------------------------------------------------------------------------------


def test_a_gzip_answer_is_inflated() -> None:
    recorder = Recorder(
        {"http://a.test/": Response(200, {"Content-Encoding": "gzip"}, gzip.compress(b"{}" * 50))}
    )

    result = session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT)

    assert result.body == b"{}" * 50


def test_every_member_of_a_multi_member_gzip_answer_is_inflated() -> None:
    data = gzip.compress(b"[1,") + gzip.compress(b"2]")
    recorder = Recorder({"http://a.test/": Response(200, {"Content-Encoding": "x-gzip"}, data)})

    assert (
        session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT).body
        == b"[1,2]"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (gzip.compress(b" " * 10_000), "inflates to more than the 1000 bytes"),
        (gzip.compress(b"{}")[:-6], "truncated"),
        (b"not gzip at all", "corrupt"),
    ],
    ids=["bomb", "truncated", "corrupt"],
)
def test_a_gzip_answer_that_is_too_large_truncated_or_corrupt_is_refused(body, message) -> None:
    recorder = Recorder({"http://a.test/": Response(200, {"Content-Encoding": "gzip"}, body)})

    with pytest.raises(TransportError, match=message):
        session(recorder).request("GET", "http://a.test/", max_response_bytes=1000)


def test_an_encoding_flagstone_did_not_ask_for_is_refused() -> None:
    recorder = Recorder({"http://a.test/": Response(200, {"Content-Encoding": "br"}, b"\x0b")})

    with pytest.raises(TransportError, match="unsupported Content-Encoding 'br'"):
        session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT)


def test_an_error_answer_is_returned_as_sent() -> None:
    recorder = Recorder({"http://a.test/": Response(500, {"Content-Encoding": "br"}, b"oops")})

    result = session(recorder).request("GET", "http://a.test/", max_response_bytes=LIMIT)

    assert (result.status, result.body) == (500, b"oops")


def test_a_body_over_the_bound_is_refused_even_if_the_transport_read_it() -> None:
    recorder = Recorder({"http://a.test/": Response(200, {}, b"x" * 101)})

    with pytest.raises(TransportError, match="more than the 100 bytes allowed"):
        session(recorder).request("GET", "http://a.test/", max_response_bytes=100)


# -- the deadline ---------------------------------------------------------------------------


def test_an_answer_after_the_deadline_is_a_failure() -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.1)
        return OK

    recorder = Recorder({"http://a.test/": slow})

    with pytest.raises(TransportError, match=r"deadline of 0\.05 s"):
        session(recorder, deadline=0.05).request("GET", "http://a.test/", max_response_bytes=LIMIT)


def test_no_hop_is_sent_past_the_deadline() -> None:
    def slow_redirect(request: Request) -> Response:
        time.sleep(0.06)
        return redirect("/next")

    recorder = Recorder({"http://a.test/": slow_redirect, "http://a.test/next": OK})
    one = session(recorder, deadline=10.0)

    with pytest.raises(TransportError, match="deadline"):
        one.request(
            "GET", "http://a.test/", max_response_bytes=LIMIT, deadline=time.monotonic() + 0.05
        )
    assert recorder.urls() == ["http://a.test/"]


def test_without_a_deadline_nothing_is_bounded_but_the_timeouts() -> None:
    recorder = Recorder({"http://a.test/": OK})

    session(recorder, deadline=None).request("GET", "http://a.test/", max_response_bytes=LIMIT)

    assert recorder.requests[0].deadline is None


@pytest.mark.parametrize("deadline", [0, -1.0])
def test_a_deadline_that_is_not_positive_is_refused(deadline) -> None:
    with pytest.raises(ValueError, match="deadline"):
        Session(MockTransport(Recorder({})), deadline=deadline)


# -- what a transport raises --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raised",
    [ConnectionRefusedError(111, "refused"), TimeoutError("timed out"), RuntimeError("bug")],
)
def test_anything_a_transport_raises_becomes_a_transport_error(raised) -> None:
    def broken(request: Request) -> Response:
        raise raised

    with pytest.raises(TransportError, match=r"GET http://a\.test/ failed") as caught:
        session(Recorder({"http://a.test/": broken})).request(
            "GET", "http://a.test/", max_response_bytes=LIMIT
        )
    assert caught.value.__cause__ is raised


def test_a_transport_error_passes_through_unchanged() -> None:
    error = TransportError("the proxy said no")

    def broken(request: Request) -> Response:
        raise error

    with pytest.raises(TransportError) as caught:
        session(Recorder({"http://a.test/": broken})).request(
            "GET", "http://a.test/", max_response_bytes=LIMIT
        )
    assert caught.value is error


# -- URLs and ownership ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://a.test/",
        "file:///etc/x",
        "a.test/x",
        "/x",
        "http://",
        "https:///x",
        "http://a.test:99999/",
    ],
)
def test_check_url_refuses_what_is_not_http_with_a_host(url) -> None:
    with pytest.raises(ValueError):
        check_url(url)


def test_a_session_closes_the_transport_it_made_but_not_one_it_was_given() -> None:
    closed: list[str] = []

    class Closing(MockTransport):
        def close(self) -> None:
            closed.append("given")

    Session(Closing(Recorder({}))).close()
    made = Session()
    assert made.owns_transport and isinstance(made.transport, HttpTransport)
    made.close()

    assert closed == []


# -- a transport of one's own, through a real client and sink ----------------------------------


class InMemoryCdn:
    """A hand-written transport (the Protocol, nothing borrowed): serves snapshot documents
    with ETags and collects exposure batches, as one CDN-and-collector would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.documents: dict[str, bytes] = {}
        self.batches: list[dict[str, Any]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.closed = False

    def handle_request(self, request: Request) -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self.lock:
            self.seen.append((request.method, request.url, headers))
            if request.method == "POST":
                body = request.body
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                self.batches.append(json.loads(body))
                return Response(202)
            found = self.documents.get(request.url)
        if found is None:
            return Response(404)
        etag = f'"{len(found)}-{hash(found) & 0xFFFF}"'
        if headers.get("if-none-match") == etag:
            return Response(304, {"ETag": etag})
        return Response(200, {"ETag": etag, "Content-Encoding": "gzip"}, gzip.compress(found))

    def close(self) -> None:
        self.closed = True


def test_a_custom_transport_carries_a_clients_snapshots_and_exposures() -> None:
    cdn = InMemoryCdn()
    url = "https://cdn.test/flags/prod.json"
    cdn.documents[url] = document("A")
    sink = BatchingSink(
        HttpSink("https://collector.test/exposures", transport=cdn, headers={"X-Api-Key": "k"}),
        retry=RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.01),
    )
    client = flagstone.Client.from_url(
        url, transport=cdn, refresh_interval=0.02, sinks=[sink], headers={"X-Api-Key": "k"}
    )
    try:
        assert client.wait_until_ready(PATIENCE)
        assert answers(client.evaluate_all(CONTEXT)) == expected_answers("A")
        cdn.documents[url] = document("B")
        deadline = time.monotonic() + PATIENCE
        while client.snapshot_version != "B" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert answers(client.evaluate_all(CONTEXT)) == expected_answers("B")
        assert client.flush(PATIENCE) is True
    finally:
        client.close()

    delivered = sorted(
        (record["flag"], record["variant"], record["snapshot_version"])
        for batch in cdn.batches
        for record in batch["exposures"]
    )
    assert delivered == sorted(
        (flag, variant, version)
        for snapshot in ("A", "B")
        for flag, (variant, version) in expected_answers(snapshot).items()
    )
    gets = [headers for method, _, headers in cdn.seen if method == "GET"]
    assert any("if-none-match" in headers for headers in gets)  # conditional polls
    assert all(headers["x-api-key"] == "k" for _, _, headers in cdn.seen)
    assert all(headers["user-agent"] == USER_AGENT for _, _, headers in cdn.seen)
    assert cdn.closed is False  # a transport you pass is yours to close


def test_a_custom_transports_failures_show_in_status() -> None:
    class Down:
        def handle_request(self, request: Request) -> Response:
            raise ConnectionResetError(104, "reset by peer")

        def close(self) -> None:
            pass

    client = flagstone.Client.from_url(
        "https://cdn.test/flags.json", transport=Down(), refresh_interval=0.02
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while client.status().failures < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        status = client.status()
        assert status.failures >= 2 and not status.ready
        assert status.last_error is not None
        assert status.last_error.startswith("FetchError: GET https://cdn.test/flags.json failed")
        assert "reset by peer" in status.last_error
    finally:
        client.close()


def test_an_http_sink_over_a_transport_that_fails_raises_sink_error() -> None:
    sink = HttpSink("https://collector.test/x", transport=MockTransport(Recorder({})))

    with pytest.raises(SinkError, match="404"):
        sink.write_batch(RecordBatch([{"flag": "flags/a", "resolve_id": "r"}]))


def test_an_http_sink_follows_no_redirect() -> None:
    recorder = Recorder({"https://collector.test/x": redirect("https://collector.test/y", 307)})
    sink = HttpSink("https://collector.test/x", transport=MockTransport(recorder))

    with pytest.raises(SinkError, match="307"):
        sink.write_batch(RecordBatch([{"flag": "flags/a", "resolve_id": "r"}]))
    assert recorder.urls() == ["https://collector.test/x"]


def test_a_from_url_source_error_is_a_fetch_error() -> None:
    source = UrlSource("https://cdn.test/x", transport=MockTransport(Recorder({})))
    with pytest.raises(FetchError, match="answered 404"):
        source.poll(None, need_signature=False)
