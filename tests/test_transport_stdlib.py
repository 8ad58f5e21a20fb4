"""``HttpTransport`` (the stdlib default) against real servers on 127.0.0.1.

Small threaded servers started by the tests play the origins (plain or TLS with a throwaway
CA made by the ``openssl`` binary at the start of the session), a forward proxy (absolute-form
requests for ``http://`` and ``CONNECT`` tunnels for ``https://``), a server that trickles its
answer a byte at a time, and one that closes kept-alive connections without saying so. They
record what reached them (the client's port tells connections apart), so the tests assert
where each request went and what it carried: keep-alive reuse and the silent reopen of a
stale connection, the total deadline (the body or even the headers trickled), TLS with a
private CA and with a client certificate, ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` and
proxy credentials, the redirect rules end to end, and the size bound.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

import flagstone
from flagstone.errors import FetchError, TransportError
from flagstone.sources import UrlSource
from flagstone.transport import HttpTransport, Request

WAIT = 30.0
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD")


_MADE: list[HttpTransport] = []


def new_transport(**options: Any) -> HttpTransport:
    """An ``HttpTransport`` that is closed, with the connections it keeps alive, after the
    test (``_close_transports``)."""
    transport = HttpTransport(**options)
    _MADE.append(transport)
    return transport


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no proxy variable set (either spelling)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def get(transport: HttpTransport, url: str, **options: Any) -> Any:
    request = Request(
        options.pop("method", "GET"),
        url,
        options.pop("headers", {}),
        connect_timeout=options.pop("connect_timeout", 5.0),
        read_timeout=options.pop("read_timeout", 5.0),
        **options,
    )
    return transport.handle_request(request)


# -- a throwaway PKI -----------------------------------------------------------------------


def _openssl(*arguments: str, cwd: Path) -> None:
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made
    with the ``openssl`` binary (EC P-256 keys, valid two days)."""
    directory = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=flagstone test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    for name, usage, alt in (
        ("server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "clientAuth", "subjectAltName=DNS:client.test"),
        ("other", "serverAuth", "subjectAltName=DNS:elsewhere.test"),
    ):
        (directory / f"{name}.ext").write_text(
            f"{alt}\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
        )
        _openssl(
            "req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}.test",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=directory,
        )  # fmt: skip
    return SimpleNamespace(
        ca=str(directory / "ca.pem"),
        server=(str(directory / "server.pem"), str(directory / "server.key")),
        client=(str(directory / "client.pem"), str(directory / "client.key")),
        other=(str(directory / "other.pem"), str(directory / "other.key")),
    )


def trusting(pki: SimpleNamespace, *, client_certificate: bool = False) -> ssl.SSLContext:
    """A client context that trusts the test CA (and presents the client certificate)."""
    context = ssl.create_default_context(cafile=pki.ca)
    if client_certificate:
        context.load_cert_chain(*pki.client)
    return context


def serving(
    pki: SimpleNamespace, *, require_client: bool = False, certificate: str = "server"
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*getattr(pki, certificate))
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=pki.ca)
    return context


# -- an origin server --------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    port: int
    peer: str | None = None  # the client certificate's common name, over mutual TLS


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Origin:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records requests and answers with
    ``respond(seen)``. ``trickle``: send the answer (``trickle_headers``: headers too) a byte
    every ``trickle`` seconds; ``close_after``: close each connection after answering without
    a ``Connection: close`` (a kept-alive connection gone stale)."""

    respond: Callable[[Seen], Answer] = lambda seen: (200, {}, b'{"ok": true}')
    tls: ssl.SSLContext | None = None
    trickle: float | None = None
    trickle_headers: bool = False
    close_after: bool = False
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                peer = None
                if isinstance(self.connection, ssl.SSLSocket):
                    certificate = self.connection.getpeercert()
                    if certificate:
                        peer = dict(item[0] for item in certificate["subject"])["commonName"]
                seen = Seen(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    self.client_address[1],
                    peer,
                )
                with origin.lock:
                    origin.seen.append(seen)
                status, headers, body = origin.respond(seen)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                data = head.encode() + b"\r\n"
                if origin.trickle is None:
                    self.wfile.write(data + body)
                else:
                    if not origin.trickle_headers:
                        self.wfile.write(data)
                        data = b""
                    for byte in data + body:
                        if origin.stop.wait(origin.trickle):
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                self.wfile.flush()
                if origin.close_after:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a trickle: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/flags.json", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def ports(self) -> list[int]:
        with self.lock:
            return [seen.port for seen in self.seen]

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(WAIT)


@pytest.fixture
def origins() -> Iterator[Callable[..., Origin]]:
    made: list[Origin] = []

    def make(**options: Any) -> Origin:
        origin = Origin(**options)
        made.append(origin)
        return origin

    yield make
    for origin in made:
        origin.close()


# -- a forward proxy -----------------------------------------------------------------------


@dataclass
class Proxy:
    """A forward proxy on 127.0.0.1: absolute-form requests are forwarded, ``CONNECT`` opens
    a byte tunnel (unless ``refuse`` gives the status to answer instead). Records
    ``(method, target, Proxy-Authorization)`` of each request it got."""

    refuse: int | None = None
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                proxy.seen.append(
                    (self.command, self.path, self.headers.get("Proxy-Authorization"))
                )

            def do_CONNECT(self) -> None:
                self._record()
                if proxy.refuse is not None:
                    self.send_response(proxy.refuse)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, port = self.path.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=WAIT)
                self.send_response(200, "Connection established")
                self.end_headers()
                sockets = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(sockets, [], [], WAIT)
                        if not readable:
                            break
                        for ready in readable:
                            data = ready.recv(65536)
                            if not data:
                                return
                            other = upstream if ready is self.connection else self.connection
                            other.sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def do_GET(self) -> None:
                self._record()
                target = urlsplit(self.path)
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if not name.lower().startswith("proxy-")
                }
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=WAIT)
                upstream.request("GET", target.path or "/", headers=headers)
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(WAIT)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    made = Proxy()
    yield made
    made.close()


# -- keep-alive -------------------------------------------------------------------------------


def test_requests_reuse_one_kept_alive_connection(origins) -> None:
    origin = origins()
    transport = new_transport()

    statuses = [get(transport, origin.url()).status for _ in range(4)]

    assert statuses == [200] * 4
    assert len(set(origin.ports())) == 1
    transport.close()


def test_without_keep_alive_each_request_has_its_own_connection(origins) -> None:
    origin = origins()
    transport = new_transport(keep_alive=False)

    for _ in range(3):
        get(transport, origin.url())

    assert len(set(origin.ports())) == 3


def test_a_connection_the_server_closed_while_idle_is_reopened_at_once(origins) -> None:
    origin = origins(close_after=True)  # and says nothing: the client believes it kept alive
    transport = new_transport()

    statuses = [get(transport, origin.url()).status for _ in range(3)]

    assert statuses == [200] * 3
    assert len(origin.seen) == 3  # each request reached the server once
    assert len(set(origin.ports())) == 3


def test_close_drops_the_kept_connections(origins) -> None:
    origin = origins()
    transport = new_transport()
    get(transport, origin.url())

    transport.close()
    get(transport, origin.url())

    assert len(set(origin.ports())) == 2


# -- the deadline -----------------------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers-and-body"])
def test_a_trickling_server_is_cut_off_at_the_deadline(origins, headers_too) -> None:
    origin = origins(
        respond=lambda seen: (200, {}, b"x" * 1000), trickle=0.01, trickle_headers=headers_too
    )  # each byte well within the read timeout; all of it would take 10 s and more
    transport = new_transport()
    started = time.monotonic()

    with pytest.raises(TransportError, match="deadline"):
        get(transport, origin.url(), read_timeout=2.0, deadline=started + 0.3)

    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 5.0, elapsed


def test_after_a_deadline_the_next_request_starts_on_a_new_connection(origins) -> None:
    origin = origins(respond=lambda seen: (200, {}, b"x" * 200))
    transport = new_transport()
    get(transport, origin.url())  # a kept-alive connection to begin with
    origin.trickle = 0.01

    with pytest.raises(TransportError, match="deadline"):
        get(transport, origin.url(), deadline=time.monotonic() + 0.2)
    origin.trickle = None
    answer = get(transport, origin.url(), deadline=time.monotonic() + 5)

    assert answer.status == 200 and answer.body == b"x" * 200
    first, second, third = origin.ports()
    assert first == second != third


def test_a_request_that_starts_past_its_deadline_never_connects(origins) -> None:
    origin = origins()

    with pytest.raises(TransportError, match="deadline"):
        get(new_transport(), origin.url(), deadline=time.monotonic() - 1)
    assert origin.seen == []


def test_a_url_source_past_its_deadline_fails_the_poll(origins) -> None:
    origin = origins(respond=lambda seen: (200, {}, b"{}" * 200), trickle=0.01)
    source = UrlSource(origin.url(), deadline=0.3, timeout=(2.0, 2.0))

    with pytest.raises(FetchError, match=r"deadline of 0\.3 s"):
        source.poll(None, need_signature=False)
    source.close()


# -- TLS ---------------------------------------------------------------------------------------


def test_https_with_a_private_ca_given_as_an_ssl_context(origins, pki) -> None:
    origin = origins(tls=serving(pki))

    answer = get(new_transport(ssl_context=trusting(pki)), origin.url())

    assert answer.status == 200 and origin.seen[0].path == "/flags.json"


def test_https_to_a_server_the_default_context_does_not_trust_fails(origins, pki) -> None:
    origin = origins(tls=serving(pki))

    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        get(new_transport(), origin.url())


def test_the_certificate_must_name_the_host(origins, pki) -> None:
    origin = origins(tls=serving(pki, certificate="other"))  # for elsewhere.test only

    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        get(new_transport(ssl_context=trusting(pki)), origin.url())


def test_mutual_tls_presents_the_client_certificate(origins, pki) -> None:
    origin = origins(tls=serving(pki, require_client=True))

    answer = get(new_transport(ssl_context=trusting(pki, client_certificate=True)), origin.url())

    assert answer.status == 200
    assert origin.seen[0].peer == "client.test"


def test_mutual_tls_without_a_client_certificate_fails(origins, pki) -> None:
    origin = origins(tls=serving(pki, require_client=True))

    with pytest.raises(TransportError):
        get(new_transport(ssl_context=trusting(pki)), origin.url())
    assert origin.seen == []


# -- proxies -----------------------------------------------------------------------------------


def test_http_proxy_carries_http_urls_with_its_credentials_for_itself_alone(
    origins, proxy, monkeypatch
) -> None:
    origin = origins()
    monkeypatch.setenv("HTTP_PROXY", proxy.url("alice:s%3Acret@"))

    answer = get(new_transport(), origin.url("/flags.json"))

    assert answer.status == 200
    ((method, target, authorization),) = proxy.seen
    assert (method, target) == ("GET", origin.url("/flags.json"))
    assert authorization == "Basic " + base64.b64encode(b"alice:s:cret").decode()
    assert "proxy-authorization" not in origin.seen[0].headers


def test_https_proxy_tunnels_with_connect_and_tls_goes_end_to_end(
    origins, proxy, pki, monkeypatch
) -> None:
    origin = origins(tls=serving(pki))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url("bob:pw@"))

    answer = get(new_transport(ssl_context=trusting(pki)), origin.url("/secret/path.json"))

    assert answer.status == 200
    ((method, target, authorization),) = proxy.seen
    assert (method, target) == ("CONNECT", f"127.0.0.1:{origin.port}")  # never the path
    assert authorization == "Basic " + base64.b64encode(b"bob:pw").decode()
    assert origin.seen[0].path == "/secret/path.json"


def test_https_proxy_is_not_used_for_http_urls(origins, proxy, monkeypatch) -> None:
    origin = origins()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())

    get(new_transport(), origin.url())

    assert proxy.seen == [] and len(origin.seen) == 1


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_no_proxy_sends_matching_hosts_direct(origins, proxy, monkeypatch, no_proxy) -> None:
    origin = origins()
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", no_proxy)

    get(new_transport(), origin.url())

    assert proxy.seen == [] and len(origin.seen) == 1


def test_lower_case_variables_are_read_too(origins, proxy, monkeypatch) -> None:
    origin = origins()
    monkeypatch.setenv("http_proxy", proxy.url())

    get(new_transport(), origin.url())

    assert len(proxy.seen) == 1


def test_trust_env_false_ignores_the_proxy_variables(origins, proxy, monkeypatch) -> None:
    origin = origins()
    monkeypatch.setenv("HTTP_PROXY", proxy.url())

    get(new_transport(trust_env=False), origin.url())

    assert proxy.seen == [] and len(origin.seen) == 1


def test_an_explicit_proxy_is_used_without_any_variable(origins, proxy) -> None:
    origin = origins()

    get(new_transport(proxy=proxy.url()), origin.url())

    assert [method for method, _, _ in proxy.seen] == ["GET"]


def test_a_proxy_that_refuses_the_tunnel_is_a_transport_error(origins, pki, monkeypatch) -> None:
    origin = origins(tls=serving(pki))
    refusing = Proxy(refuse=407)
    try:
        monkeypatch.setenv("HTTPS_PROXY", refusing.url())
        with pytest.raises(TransportError, match=r"refused a tunnel .*: 407"):
            get(new_transport(ssl_context=trusting(pki)), origin.url())
    finally:
        refusing.close()
    assert origin.seen == []


@pytest.mark.parametrize("proxy_url", ["https://proxy.test:3128", "socks5://proxy.test:1080"])
def test_only_http_proxies_are_accepted(proxy_url) -> None:
    with pytest.raises(TransportError, match="http://"):
        HttpTransport(proxy=proxy_url)


def test_a_client_from_url_goes_through_the_proxy_of_its_transport(origins, proxy) -> None:
    document = b'{"version": "v1", "flags": {}, "segments": {}}'
    origin = origins(respond=lambda seen: (200, {"ETag": '"1"'}, document))
    transport = new_transport(proxy=proxy.url())
    client = flagstone.Client.from_url(origin.url(), transport=transport, refresh_interval=60)
    try:
        assert client.wait_until_ready(WAIT) and client.snapshot_version == "v1"
    finally:
        client.close()
        transport.close()
    assert proxy.seen and proxy.seen[0][1] == origin.url()


# -- redirects end to end -------------------------------------------------------------------------


def test_a_redirect_to_another_origin_reaches_it_without_the_callers_headers(origins) -> None:
    document = b'{"version": "v1", "flags": {}, "segments": {}}'
    target = origins(respond=lambda seen: (200, {}, document))
    first = origins(respond=lambda seen: (302, {"Location": target.url()}, b""))
    source = UrlSource(first.url(), headers={"Authorization": "Bearer s3cret", "X-Api-Key": "k"})

    polled = source.poll(None, need_signature=False)
    source.close()

    assert polled is not None and polled.body == document
    assert first.seen[0].headers["authorization"] == "Bearer s3cret"
    moved = target.seen[0].headers
    assert "authorization" not in moved and "x-api-key" not in moved
    assert moved["user-agent"] == f"flagstone/{flagstone.__version__}"


def test_an_https_url_redirected_to_http_is_refused_before_any_request(origins, pki) -> None:
    plain = origins()
    secure = origins(tls=serving(pki), respond=lambda seen: (301, {"Location": plain.url()}, b""))
    source = UrlSource(
        secure.url(),
        headers={"Authorization": "Bearer s3cret"},
        transport=new_transport(ssl_context=trusting(pki)),
    )

    with pytest.raises(FetchError, match="from https to http"):
        source.poll(None, need_signature=False)
    assert len(secure.seen) == 1 and plain.seen == []


# -- size ----------------------------------------------------------------------------------------


def test_an_announced_body_over_the_bound_is_refused_unread(origins) -> None:
    origin = origins(respond=lambda seen: (200, {}, b"x" * 10_000))

    with pytest.raises(TransportError, match="10000 bytes, more than the 100 allowed"):
        get(new_transport(), origin.url(), max_response_bytes=100)


def test_a_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        with pytest.raises(TransportError, match="ConnectionRefusedError"):
            get(new_transport(), f"http://127.0.0.1:{port}/")
