"""``Client.from_url`` against a scripted snapshot server.

The server (``tests/snapshot_server.py``) serves good documents with ETags and answers 304s,
and misbehaves on demand: 500s, hung or trickling requests, truncated, oversized or inflating
bodies, invalid documents, wrong or missing signatures, redirects. By default it answers in
memory through a ``MockTransport`` (``server``: everything above the transport is the real
code: the session's redirects, headers, gzip and bounds, the URL source, the updater, the
client); what only a socket can show (a read timeout, a body cut short, a body without
``Content-Length``, a server trickling bytes past the deadline, a refused connection) runs on
a real server on 127.0.0.1 with the default transport (``socket_server``). Clients poll every
20 ms. Nothing measures time: tests wait for ``on_update`` events, ``wait_until_ready`` or
``eventually(predicate)`` and then assert what the client serves, what ``status()`` reports
and what the server received. The last part unit-tests ``flagstone.sources.integrity`` and the
URL validation of ``UrlSource`` directly.
"""

from __future__ import annotations

import copy
import gc
import gzip
import hashlib
import hmac
import json
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone import Client, ConfigError, ErrorCode, IntegrityError, Reason
from flagstone.sources import Integrity, UrlSource, sign
from flagstone.sources import updater as updater_module
from flagstone.transport.session import gunzip
from tests.sinkdata import SNAPSHOT
from tests.snapshot_server import (
    WAIT,
    Answer,
    MockSnapshotServer,
    ScriptedServer,
    SnapshotTestServer,
    eventually,
)

USER = {"user": {"id": "user-1"}}
KEY = b"test-signing-key"
OTHER_KEY = b"not-the-signing-key"
SMALL_LIMIT = 4096
"""``max_bytes`` for the size tests: the good documents fit, the padded ones do not."""

FAST: dict[str, Any] = {"refresh_interval": 0.02, "max_backoff": 0.1, "timeout": (2.0, 5.0)}
"""Client options for the tests: quick polls, quick retries, patient reads."""


# -- documents -------------------------------------------------------------------------------


def document(version: str, variant: str = "old-checkout") -> dict[str, Any]:
    """The shared ``checkout`` snapshot with two variants, giving everyone ``variant``,
    issued (``issuedAt``) the number of seconds after 2026-01-01 that ``version`` names
    (``v2`` after ``v1``: signed clients refuse older documents as rollbacks)."""
    snapshot = copy.deepcopy(SNAPSHOT)
    flag = snapshot["flags"]["flags/checkout"]
    flag["variants"] = [
        {"name": "old-checkout", "value": {"layout": "list"}},
        {"name": "new-checkout", "value": {"layout": "grid"}},
    ]
    flag["rules"][0]["assignmentSpec"]["assignments"][0]["variant"] = {"variant": variant}
    snapshot["version"] = version
    snapshot["issuedAt"] = f"2026-01-01T00:00:{int(version.lstrip('v')):02d}Z"
    return snapshot


def body(version: str, variant: str = "old-checkout", *, padding: int = 0) -> bytes:
    """``document(version, variant)`` as JSON text, followed by ``padding`` spaces (which
    keep it valid JSON)."""
    return json.dumps(document(version, variant), indent=1).encode() + b" " * padding


V1 = body("v1", "old-checkout")
V2 = body("v2", "new-checkout")
NOT_JSON = b'{"version": "v2", "flags": {'


def unknown_segment_document() -> bytes:
    """Valid JSON whose rule names a segment the snapshot does not define."""
    broken = document("v2", "new-checkout")
    broken["flags"]["flags/checkout"]["rules"][0]["segment"] = "segments/nope"
    return json.dumps(broken).encode()


def variant_of(client: Client) -> str | None:
    return client.evaluate("checkout", USER).variant


# -- fixtures --------------------------------------------------------------------------------


def client_factory(server: ScriptedServer) -> tuple[Callable[..., Client], list[Client]]:
    """``make(url=None, **options)``: a ``from_url`` client of ``server`` (its snapshot URL
    by default) with the ``FAST`` options unless given, through the server's transport (a
    ``MockSnapshotServer``'s; ``transport=None`` for the default one); and the list of the
    clients made."""
    made: list[Client] = []

    def make(url: str | None = None, **options: Any) -> Client:
        if isinstance(server, MockSnapshotServer):
            options.setdefault("transport", server.transport)
        client = Client.from_url(url or server.url(), **{**FAST, **options})
        made.append(client)
        return client

    return make, made


@pytest.fixture
def server() -> Iterator[MockSnapshotServer]:
    with MockSnapshotServer() as snapshot_server:
        yield snapshot_server


@pytest.fixture
def socket_server() -> Iterator[SnapshotTestServer]:
    with SnapshotTestServer() as snapshot_server:
        yield snapshot_server


@pytest.fixture
def make_client(server: MockSnapshotServer) -> Iterator[Callable[..., Client]]:
    """``make_client(url=None, **options)`` for ``server`` (see ``client_factory``); every
    client is closed at the end, after the server let its held requests go."""
    make, made = client_factory(server)
    yield make
    server.release()
    for client in made:
        client.close()


@pytest.fixture
def make_socket_client(socket_server: SnapshotTestServer) -> Iterator[Callable[..., Client]]:
    """``make_client`` for ``socket_server``, over the default transport."""
    make, made = client_factory(socket_server)
    yield make
    socket_server.release()
    for client in made:
        client.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL of a local port that is bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/flags.json"


def ready_client(
    server: ScriptedServer, make_client: Callable[..., Client], **options: Any
) -> Client:
    """A client that has loaded ``V1`` (signed with ``signing_key`` if given)."""
    server.publish(V1, key=options.get("signing_key"))
    client = make_client(**options)
    assert client.wait_until_ready(WAIT)
    assert client.snapshot_version == "v1"
    return client


def checked_since_the_last_update(client: Client) -> bool:
    """A check succeeded after the snapshot being served was swapped in."""
    status = client.status()
    return status.last_success != status.last_update


def new_snapshot_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread.name == "flagstone-snapshots" and thread not in before
    ]


# -- the first load ----------------------------------------------------------------------------


def test_evaluate_answers_not_ready_until_the_first_fetch_completes(server, make_client) -> None:
    gate = server.gate()
    server.publish(V1, hold=gate)
    client = make_client()
    assert server.wait_for_requests(1)  # the server holds the first request

    early = client.evaluate("checkout", USER)
    assert (early.reason, early.error, early.variant) == (Reason.ERROR, ErrorCode.NOT_READY, None)

    gate.set()
    assert client.wait_until_ready(WAIT) is True
    assert variant_of(client) == "old-checkout"


def test_before_the_first_snapshot_nothing_resolves(server, make_client) -> None:
    server.publish(V1, hold=server.gate())
    client = make_client()
    assert server.wait_for_requests(1)

    assert client.snapshot_version == ""
    assert client.evaluate_all(USER) == {}
    assert client.get_value("checkout.layout", USER, "fallback") == "fallback"
    assert client.status().ready is False


def test_the_first_load_shows_in_status(server, make_client) -> None:
    client = ready_client(server, make_client, refresh_interval=60.0)  # one fetch only

    status = client.status()
    assert (status.ready, status.source, status.snapshot_version) == (True, server.url(), "v1")
    assert (status.loaded_from, status.updates, status.consecutive_failures) == ("url", 1, 0)
    assert status.last_update is not None
    assert status.last_success == status.last_update
    assert status.last_error is None


# -- conditional requests ----------------------------------------------------------------------


def test_polls_after_the_first_load_carry_the_etag_and_last_modified(server, make_client) -> None:
    published = server.publish(V1)
    make_client()
    assert server.wait_for_requests(4)

    first, *later = server.requests()[:4]
    assert (first.if_none_match, first.if_modified_since) == (None, None)
    assert [seen.if_none_match for seen in later] == [published.etag] * 3
    assert [seen.if_modified_since for seen in later] == [published.last_modified] * 3


def test_a_304_keeps_the_snapshot_without_parsing_it_again(
    server, make_client, monkeypatch
) -> None:
    parsed: list[bytes] = []
    real_read = updater_module.read_snapshot  # how the updater parses a document

    def counting_read(document: Any, **options: Any) -> Any:
        parsed.append(document)
        return real_read(document, **options)

    monkeypatch.setattr(updater_module, "read_snapshot", counting_read)
    client = ready_client(server, make_client)
    loaded = client.status()

    assert eventually(lambda: len(server.answered(304)) >= 2)
    assert eventually(lambda: client.status().last_success > loaded.last_success)
    status = client.status()
    assert (status.snapshot_version, status.updates) == ("v1", 1)
    assert status.last_update == loaded.last_update
    assert len(parsed) == 1


def test_the_same_document_again_from_a_server_without_etags_is_not_swapped_in_again(
    server, make_client
) -> None:
    server.publish(V1, conditional=False)  # always 200 with the whole document
    client = make_client()
    announced: list[str] = []
    assert client.wait_until_ready(WAIT)
    client.on_update(announced.append)

    answered = len(server.answered(200))
    assert eventually(lambda: len(server.answered(200)) >= answered + 2)
    assert eventually(lambda: checked_since_the_last_update(client))
    assert (client.status().updates, client.status().consecutive_failures) == (1, 0)
    assert announced == []


# -- new versions ------------------------------------------------------------------------------


def test_a_new_version_is_swapped_in_and_announced(server, make_client) -> None:
    client = ready_client(server, make_client)
    announced: queue.Queue[str] = queue.Queue()
    client.on_update(announced.put)

    server.publish(V2)

    assert announced.get(timeout=WAIT) == "v2"
    assert client.snapshot_version == "v2"
    assert variant_of(client) == "new-checkout"


def test_a_new_version_counts_as_an_update(server, make_client) -> None:
    client = ready_client(server, make_client)

    server.publish(V2)

    assert eventually(lambda: client.status().updates == 2)
    assert (client.status().snapshot_version, client.status().loaded_from) == ("v2", "url")


# -- faults --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A way the source goes wrong after ``V1`` was loaded."""

    name: str
    start: Callable[[SnapshotTestServer], object]
    mentions: tuple[str, ...]
    """``last_error`` contains one of these."""
    options: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    """``expected_sha256`` pins ``V1``: the only good document is ``V1`` itself."""
    socket: bool = False
    """Only a real socket can play it (``socket_server``)."""


FAULTS = [
    Fault("http-500", lambda s: s.answer(Answer(status=500, body=b"oops")), ("500",)),
    Fault(
        "read-timeout",
        lambda s: s.answer(Answer(hang=True)),
        ("timed out",),
        {"timeout": (2.0, 0.2)},
        socket=True,
    ),
    Fault(
        "trickling-past-the-deadline",
        lambda s: s.publish(V2, trickle=0.02),
        ("deadline",),
        {"timeout": (2.0, 2.0), "deadline": 0.2},
        socket=True,
    ),
    Fault(
        "truncated-body",
        lambda s: s.publish(V2, truncate_at=len(V2) // 2),
        ("truncated", "IncompleteRead", "not valid JSON"),
        socket=True,
    ),
    Fault("invalid-json", lambda s: s.publish(NOT_JSON), ("not valid JSON",)),
    Fault("config-error", lambda s: s.publish(unknown_segment_document()), ("segments/nope",)),
    Fault(
        "bad-signature",
        lambda s: s.publish(V2, key=OTHER_KEY),
        ("signature does not match",),
        {"signing_key": KEY},
    ),
    Fault(
        "bad-sidecar-signature",
        lambda s: s.publish(V2, key=OTHER_KEY, sidecar=True),
        ("signature does not match",),
        {"signing_key": KEY},
    ),
    Fault(
        "missing-signature",
        lambda s: s.publish(V2),
        ("not signed",),
        {"signing_key": KEY},
    ),
    Fault(
        "sha256-mismatch",
        lambda s: s.publish(V2),
        ("sha256",),
        {"expected_sha256": hashlib.sha256(V1).hexdigest()},
        pinned=True,
    ),
    Fault(
        "over-max-bytes",
        lambda s: s.publish(body("v2", padding=SMALL_LIMIT)),
        ("more than the",),
        {"max_bytes": SMALL_LIMIT},
    ),
    Fault(
        "over-max-bytes-without-content-length",
        lambda s: s.publish(body("v2", padding=SMALL_LIMIT), send_length=False),
        ("more than the",),
        {"max_bytes": SMALL_LIMIT},
        socket=True,
    ),
    Fault(
        "redirect-from-https-to-http",
        lambda s: s.answer(Answer(status=302, location=s.url("/plain/flags.json"))),
        ("https to http",),
        {"url": "https://snapshots.test/flags.json"},
    ),
    Fault(
        "gzip-inflating-over-max-bytes",
        lambda s: s.publish(body("v2", padding=50 * SMALL_LIMIT), gzip=True),
        ("inflates",),
        {"max_bytes": SMALL_LIMIT},
    ),
]


def failing_client(fault: Fault, request: pytest.FixtureRequest) -> tuple[ScriptedServer, Client]:
    """The server ``fault`` needs, and a client of it that loaded ``V1`` and then failed at
    least once because of ``fault``."""
    assert len(V1) < SMALL_LIMIT and len(V2) < SMALL_LIMIT
    server = request.getfixturevalue("socket_server" if fault.socket else "server")
    make_client = request.getfixturevalue("make_socket_client" if fault.socket else "make_client")
    client = ready_client(server, make_client, **fault.options)
    fault.start(server)
    assert eventually(lambda: client.status().consecutive_failures >= 1)
    return server, client


def mentions(fault: Fault, error: str | None) -> bool:
    return error is not None and any(text in error for text in fault.mentions)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_a_failed_check_keeps_the_previous_snapshot_and_shows_in_status(fault, request) -> None:
    _, client = failing_client(fault, request)

    status = client.status()
    assert mentions(fault, status.last_error), status.last_error
    assert status.failures >= status.consecutive_failures >= 1
    assert status.last_error_at is not None
    assert (status.ready, status.snapshot_version, status.updates) == (True, "v1", 1)
    assert client.snapshot_version == "v1"
    assert variant_of(client) == "old-checkout"


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_after_a_failed_check_the_next_good_version_is_picked_up(fault, request) -> None:
    server, client = failing_client(fault, request)

    # a pinned client can only recover to the pinned document (served anew: not an update)
    good, version, updates = (V1, "v1", 1) if fault.pinned else (V2, "v2", 2)
    server.publish(good, key=fault.options.get("signing_key"), etag='"recovered"')

    assert eventually(lambda: client.status().consecutive_failures == 0)
    status = client.status()
    assert (status.snapshot_version, status.updates) == (version, updates)
    assert status.failures >= 1
    assert mentions(fault, status.last_error), status.last_error  # kept after recovery
    assert client.snapshot_version == version


def test_the_etag_of_a_refused_document_is_not_remembered(server, make_client) -> None:
    good = server.publish(V1)
    client = make_client()
    assert client.wait_until_ready(WAIT)
    server.publish(NOT_JSON, etag='"refused"')
    assert eventually(lambda: client.status().consecutive_failures >= 1)

    refused_at = len(server.requests())
    assert server.wait_for_requests(refused_at + 2)
    later = server.requests()[refused_at:]
    assert [seen.if_none_match for seen in later] == [good.etag] * len(later)


def test_after_a_refused_first_document_requests_stay_unconditional(server, make_client) -> None:
    server.publish(unknown_segment_document(), etag='"refused"')
    client = make_client()

    assert server.wait_for_requests(3)
    assert [seen.if_none_match for seen in server.requests()[:3]] == [None] * 3
    assert client.status().ready is False


def test_a_body_shorter_than_its_content_length_is_refused_even_if_it_parses(
    socket_server, make_socket_client
) -> None:
    client = ready_client(socket_server, make_socket_client)
    announced = V2 + b" " * 64  # the padding never arrives; what does is a whole document
    socket_server.publish(announced, truncate_at=len(V2))

    assert eventually(
        lambda: client.status().consecutive_failures >= 1 or client.status().updates > 1
    )
    assert client.status().updates == 1
    assert client.snapshot_version == "v1"


# -- signatures ----------------------------------------------------------------------------------


def test_a_valid_signature_header_is_accepted_without_asking_for_the_sidecar(
    server, make_client
) -> None:
    server.publish(V1, key=KEY)
    client = make_client(signing_key=KEY.decode())  # a str key is the same key

    assert client.wait_until_ready(WAIT)
    assert client.snapshot_version == "v1"
    assert server.requests("/flags.json.sig") == []


def test_without_a_signature_header_the_sidecar_is_fetched_and_accepted(
    server, make_client
) -> None:
    server.publish(V1, key=KEY, sidecar=True)
    client = make_client(signing_key=KEY)

    assert client.wait_until_ready(WAIT)
    assert client.snapshot_version == "v1"
    assert server.answered(200, "/flags.json.sig")


def test_a_gzip_body_is_verified_against_its_decoded_bytes(server, make_client) -> None:
    server.publish(V1, key=KEY, gzip=True)
    client = make_client(signing_key=KEY)

    assert client.wait_until_ready(WAIT)
    assert client.snapshot_version == "v1"
    assert "gzip" in server.requests()[0].headers["accept-encoding"]


# -- headers and redirects -------------------------------------------------------------------------


def test_custom_headers_arrive_with_every_request(server, make_client) -> None:
    server.publish(V1, key=KEY, sidecar=True)
    make_client(headers={"Authorization": "Bearer s3cret"}, signing_key=KEY)

    assert server.wait_for_requests(3)
    assert server.requests("/flags.json.sig")
    assert {seen.headers.get("authorization") for seen in server.requests(None)} == {
        "Bearer s3cret"
    }


@pytest.mark.parametrize(
    ("status", "location"),
    [(302, "/moved/flags.json"), (307, "{base}/moved/flags.json")],
    ids=["302-relative", "307-absolute"],
)
def test_redirects_are_followed(server, make_client, status, location) -> None:
    base = server.url("")
    server.answer(Answer(status=status, location=location.format(base=base)))
    server.publish(V1, path="/moved/flags.json")
    client = make_client()

    assert client.wait_until_ready(WAIT)
    assert client.snapshot_version == "v1"
    assert server.answered(200, "/moved/flags.json")


def test_a_redirect_loop_is_a_failed_check(server, make_client) -> None:
    server.answer(Answer(status=302, location="/flags.json"))
    client = make_client()

    assert eventually(lambda: client.status().consecutive_failures >= 1)
    assert "redirects" in client.status().last_error
    assert client.status().ready is False


# -- the disk cache ------------------------------------------------------------------------------


def meta_of(cache: Path) -> Path:
    return Path(f"{cache}.meta.json")


def fill_cache(
    server: ScriptedServer,
    make_client: Callable[..., Client],
    cache: Path,
    key: bytes | None = None,
) -> Answer:
    """Have a client load ``V1`` with ``cache`` and close it once the cache is written."""
    published = server.publish(V1, key=key)
    client = make_client(cache_path=cache, signing_key=key)
    assert client.wait_until_ready(WAIT)
    assert eventually(meta_of(cache).exists)
    client.close()
    return published


def test_an_accepted_document_is_cached_with_its_etag(server, make_client, tmp_path) -> None:
    cache = tmp_path / "flags.json"
    published = fill_cache(server, make_client, cache)

    assert cache.read_bytes() == V1
    meta = json.loads(meta_of(cache).read_text())
    assert (meta["etag"], meta["last_modified"]) == (published.etag, published.last_modified)


def test_a_refused_document_never_reaches_the_cache(server, make_client, tmp_path) -> None:
    cache = tmp_path / "flags.json"
    published = server.publish(V1)
    client = make_client(cache_path=cache)
    assert eventually(meta_of(cache).exists)

    server.publish(unknown_segment_document())
    assert eventually(lambda: client.status().consecutive_failures >= 2)

    assert cache.read_bytes() == V1
    assert json.loads(meta_of(cache).read_text())["etag"] == published.etag


def test_a_cold_start_with_the_server_down_serves_the_cache_at_once(
    server, make_client, tmp_path, refused_url
) -> None:
    cache = tmp_path / "flags.json"
    fill_cache(server, make_client, cache)

    client = make_client(refused_url, cache_path=cache, transport=None)

    status = client.status()
    assert (status.ready, status.loaded_from, status.snapshot_version) == (True, "cache", "v1")
    assert client.wait_until_ready(0) is True
    assert variant_of(client) == "old-checkout"


def test_a_cache_served_client_shows_the_unreachable_server_in_status(
    server, make_client, tmp_path, refused_url
) -> None:
    cache = tmp_path / "flags.json"
    fill_cache(server, make_client, cache)

    client = make_client(refused_url, cache_path=cache, transport=None)

    assert eventually(lambda: client.status().consecutive_failures >= 2)
    status = client.status()
    assert (status.loaded_from, status.snapshot_version) == ("cache", "v1")
    assert status.last_error is not None and refused_url in status.last_error


def test_a_cold_start_from_the_cache_asks_with_the_cached_etag(
    server, make_client, tmp_path
) -> None:
    cache = tmp_path / "flags.json"
    published = fill_cache(server, make_client, cache)
    before = len(server.requests())

    client = make_client(cache_path=cache)

    assert server.wait_for_requests(before + 1)
    assert server.requests()[before].if_none_match == published.etag
    assert eventually(lambda: checked_since_the_last_update(client))
    status = client.status()
    assert (status.loaded_from, status.updates, status.snapshot_version) == ("cache", 1, "v1")


def test_a_client_started_from_the_cache_updates_once_the_server_recovers(
    server, make_client, tmp_path
) -> None:
    cache = tmp_path / "flags.json"
    fill_cache(server, make_client, cache)
    server.queue(*[Answer(status=503)] * 3)
    server.publish(V2)

    client = make_client(cache_path=cache)
    assert client.status().loaded_from == "cache"

    assert eventually(lambda: client.status().loaded_from == "url")
    status = client.status()
    assert (status.snapshot_version, status.updates) == ("v2", 2)
    assert (status.failures, status.consecutive_failures) == (3, 0)
    assert variant_of(client) == "new-checkout"


def test_a_corrupt_cache_is_ignored_until_the_server_answers(
    server, make_client, tmp_path, caplog
) -> None:
    cache = tmp_path / "flags.json"
    cache.write_bytes(V1[: len(V1) // 2])
    gate = server.gate()
    server.publish(V2, hold=gate)

    client = make_client(cache_path=cache)

    assert client.status().ready is False
    assert client.evaluate("checkout", USER).error == ErrorCode.NOT_READY
    assert any("cache is unusable" in record.getMessage() for record in caplog.records)
    gate.set()
    assert client.wait_until_ready(WAIT)
    assert (client.status().loaded_from, client.snapshot_version) == ("url", "v2")


@pytest.mark.parametrize("cached_signature", ["wrong", "missing"])
def test_a_cache_without_a_valid_signature_is_refused_when_a_signing_key_is_set(
    server, make_client, tmp_path, cached_signature
) -> None:
    cache = tmp_path / "flags.json"
    fill_cache(server, make_client, cache, key=KEY)
    meta = json.loads(meta_of(cache).read_text())
    meta["signature"] = sign(V1, OTHER_KEY) if cached_signature == "wrong" else None
    meta_of(cache).write_text(json.dumps(meta))
    server.publish(V2, key=KEY, hold=server.gate())

    client = make_client(cache_path=cache, signing_key=KEY)

    assert client.status().ready is False
    assert client.snapshot_version == ""


def test_a_signed_cache_is_served_at_once_when_a_signing_key_is_set(
    server, make_client, tmp_path
) -> None:
    cache = tmp_path / "flags.json"
    fill_cache(server, make_client, cache, key=KEY)
    server.publish(V2, key=KEY, hold=server.gate())

    client = make_client(cache_path=cache, signing_key=KEY)

    status = client.status()
    assert (status.ready, status.loaded_from, status.snapshot_version) == (True, "cache", "v1")


def test_the_cache_only_ever_holds_a_whole_document(server, make_client, tmp_path) -> None:
    cache = tmp_path / "cache" / "flags.json"
    versions = [
        body(f"v{number}", variant, padding=200_000)
        for number, variant in enumerate(["old-checkout", "new-checkout"] * 2, start=1)
    ]
    stop = threading.Event()
    torn: list[int] = []
    reads = [0]

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                data = cache.read_bytes()
            except FileNotFoundError:
                continue
            reads[0] += 1
            if data not in versions:
                torn.append(len(data))

    def cached() -> bytes | None:
        try:
            return cache.read_bytes()
        except FileNotFoundError:
            return None

    def cached_etag() -> str | None:
        try:
            return json.loads(meta_of(cache).read_text())["etag"]
        except FileNotFoundError:
            return None

    reader = threading.Thread(target=read_continuously, daemon=True)
    reader.start()
    try:
        server.publish(versions[0])
        make_client(cache_path=cache)
        for version in versions:
            etag = server.publish(version).etag
            assert eventually(lambda etag=etag: cached_etag() == etag)
            assert cached() == version
    finally:
        stop.set()
        reader.join(WAIT)

    assert reads[0] > 0
    assert torn == []
    assert sorted(os.listdir(cache.parent)) == ["flags.json", "flags.json.meta.json"]


# -- never ready, backoff ----------------------------------------------------------------------


def test_wait_until_ready_gives_up_while_the_server_only_fails(server, make_client) -> None:
    server.answer(Answer(status=500))
    client = make_client()

    assert client.wait_until_ready(0.1) is False
    resolution = client.evaluate("checkout", USER)
    assert (resolution.reason, resolution.error) == (Reason.ERROR, ErrorCode.NOT_READY)


def test_consecutive_failures_keep_growing_while_the_server_fails(server, make_client) -> None:
    server.answer(Answer(status=500))
    client = make_client()

    assert eventually(lambda: client.status().consecutive_failures >= 1)
    first = client.status().consecutive_failures
    assert eventually(lambda: client.status().consecutive_failures > first + 1)
    status = client.status()
    assert status.failures == status.consecutive_failures
    assert (status.ready, status.updates) == (False, 0)


# -- on_update -------------------------------------------------------------------------------------


def test_a_removed_on_update_callback_is_not_called_again(server, make_client) -> None:
    client = ready_client(server, make_client)
    removed: list[str] = []
    kept: queue.Queue[str] = queue.Queue()
    remove = client.on_update(removed.append)
    client.on_update(kept.put)

    remove()
    remove()  # removing twice is harmless
    server.publish(V2)

    assert kept.get(timeout=WAIT) == "v2"
    assert removed == []


def test_a_raising_on_update_callback_stops_neither_the_update_nor_other_callbacks(
    server, make_client, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="flagstone")
    client = ready_client(server, make_client)

    def broken(version: str) -> None:
        raise RuntimeError("a broken callback")

    after: queue.Queue[str] = queue.Queue()
    client.on_update(broken)
    client.on_update(after.put)
    server.publish(V2)

    assert after.get(timeout=WAIT) == "v2"
    assert eventually(lambda: client.status().updates == 2)
    assert client.status().consecutive_failures == 0
    assert client.snapshot_version == "v2"
    logged = [
        record
        for record in caplog.records
        if record.name == "flagstone" and record.exc_info and record.exc_info[0] is RuntimeError
    ]
    assert logged


def test_status_seen_from_an_on_update_callback_reports_the_new_snapshot(
    server, make_client
) -> None:
    client = ready_client(server, make_client)
    seen: queue.Queue[tuple[str, str | None]] = queue.Queue()
    client.on_update(lambda version: seen.put((version, client.status().snapshot_version)))

    server.publish(V2)

    version, reported = seen.get(timeout=WAIT)
    assert reported == version


# -- lifecycle -------------------------------------------------------------------------------------


def test_a_client_dropped_without_close_stops_its_updater(server) -> None:
    server.publish(V1)
    before = set(threading.enumerate())
    client = Client.from_url(server.url(), refresh_interval=0.05, transport=server.transport)
    (thread,) = new_snapshot_threads(before)
    assert client.wait_until_ready(WAIT)

    del client
    gc.collect()

    thread.join(WAIT)
    assert not thread.is_alive()


def test_no_snapshot_is_swapped_in_after_close(server, make_client) -> None:
    gate = server.gate()
    server.publish(V1, hold=gate)
    before = set(threading.enumerate())
    client = make_client()
    (thread,) = new_snapshot_threads(before)
    assert server.wait_for_requests(1)

    # close() waits (briefly) for the held check: open the gate once it has said stop
    closing = threading.Thread(target=client.close)
    closing.start()
    assert eventually(lambda: client._updater is not None and client._updater._stop.is_set())
    gate.set()
    closing.join(WAIT)
    thread.join(WAIT)

    assert client.snapshot_version == ""
    assert client.status().updates == 0


# -- unit: integrity ---------------------------------------------------------------------------


def test_sign_matches_the_rfc_4231_hmac_sha256_vector() -> None:
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"what do ya want for nothing?", b"Jefe") == f"sha256={expected}"


def test_sign_is_the_hmac_sha256_hex_of_the_body_under_the_key() -> None:
    assert sign(V1, KEY) == "sha256=" + hmac.new(KEY, V1, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("signature", [sign(V1, KEY), sign(V1, KEY) + "\n", f"  {sign(V1, KEY)} "])
def test_a_good_signature_passes(signature) -> None:
    Integrity(signing_key=KEY).check(V1, signature, "test")


@pytest.mark.parametrize(
    "signature",
    [
        sign(V1, OTHER_KEY),
        sign(V2, KEY),
        sign(V1, KEY).removeprefix("sha256="),  # the whole "sha256=<hex>" text is compared
        "sha512=" + sign(V1, KEY).removeprefix("sha256="),
        sign(V1, KEY)[:-1],
        "",
    ],
    ids=["other-key", "other-body", "bare-hex", "other-prefix", "shortened", "empty"],
)
def test_a_wrong_signature_is_refused(signature) -> None:
    with pytest.raises(IntegrityError, match="signature does not match") as raised:
        Integrity(signing_key=KEY).check(V1, signature, "http://example/flags.json")
    assert isinstance(raised.value, ConfigError)
    assert raised.value.source == "http://example/flags.json"


def test_a_missing_signature_is_refused() -> None:
    with pytest.raises(IntegrityError, match="not signed"):
        Integrity(signing_key=KEY).check(V1, None, "test")


def test_without_a_key_or_pin_anything_passes() -> None:
    integrity = Integrity()
    assert integrity.needs_signature is False
    integrity.check(V1, None, "test")
    integrity.check(V1, "garbage", "test")


@pytest.mark.parametrize(
    "pin",
    [
        hashlib.sha256(V1).hexdigest(),
        hashlib.sha256(V1).hexdigest().upper(),
        f" {hashlib.sha256(V1).hexdigest()}\n",
    ],
    ids=["lower", "upper", "padded"],
)
def test_a_matching_sha256_pin_passes_whatever_its_case(pin) -> None:
    Integrity(sha256=pin).check(V1, None, "test")


def test_a_mismatched_sha256_pin_is_refused() -> None:
    with pytest.raises(IntegrityError, match="sha256"):
        Integrity(sha256=hashlib.sha256(V1).hexdigest()).check(V2, None, "test")


@pytest.mark.parametrize(
    ("pinned", "signature"),
    [(V2, sign(V1, KEY)), (V1, sign(V1, OTHER_KEY))],
    ids=["pin-fails", "signature-fails"],
)
def test_with_a_key_and_a_pin_both_must_pass(pinned, signature) -> None:
    integrity = Integrity(signing_key=KEY, sha256=hashlib.sha256(pinned).hexdigest())
    with pytest.raises(IntegrityError):
        integrity.check(V1, signature, "test")


# -- unit: fetcher URL validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/flags.json",
        "file:///etc/flags.json",
        "flags.json",
        "/flags.json",
        "http://",
        "https:///flags.json",
    ],
)
def test_a_snapshot_url_must_be_http_or_https_with_a_host(url) -> None:
    with pytest.raises(ValueError, match="http"):
        UrlSource(url)


@pytest.mark.parametrize("url", ["http://example.com/flags.json", "https://example.com:8443/"])
def test_http_and_https_urls_are_accepted(url) -> None:
    assert UrlSource(url).url == url


def test_from_url_refuses_a_non_http_url() -> None:
    with pytest.raises(ValueError):
        Client.from_url("ftp://example.com/flags.json")


# -- redirects, encodings and arguments at the edges ---------------------------------------------


def test_none_of_the_callers_headers_go_on_to_another_host(server, make_client) -> None:
    other_host = server.url("/moved/flags.json").replace("snapshots.test", "elsewhere.test")
    server.answer(Answer(status=302, location=other_host))
    server.publish(V1, path="/moved/flags.json")
    client = make_client(headers={"Authorization": "Bearer s3cret", "X-Team": "web"})

    assert client.wait_until_ready(WAIT)
    moved = server.requests("/moved/flags.json")
    assert moved and {seen.host for seen in moved} == {"elsewhere.test"}
    assert all("authorization" not in seen.headers for seen in moved)
    assert all("x-team" not in seen.headers for seen in moved)
    assert all(seen.headers.get("accept-encoding") == "gzip" for seen in moved)  # ours go on
    first = server.requests()[0]
    assert (first.headers["authorization"], first.headers["x-team"]) == ("Bearer s3cret", "web")


def test_a_redirect_to_another_port_is_another_origin(server, make_client) -> None:
    server.answer(Answer(status=302, location="http://snapshots.test:8080/moved/flags.json"))
    server.publish(V1, path="/moved/flags.json")
    client = make_client(headers={"X-Api-Key": "k"})

    assert client.wait_until_ready(WAIT)
    assert all("x-api-key" not in seen.headers for seen in server.requests("/moved/flags.json"))


def test_a_redirect_within_the_origin_keeps_the_callers_headers(server, make_client) -> None:
    server.answer(Answer(status=301, location="/moved/flags.json"))
    server.publish(V1, path="/moved/flags.json")
    client = make_client(headers={"X-Api-Key": "k"})

    assert client.wait_until_ready(WAIT)
    assert {seen.headers.get("x-api-key") for seen in server.requests("/moved/flags.json")} == {"k"}


def test_the_sidecar_at_another_origin_gets_none_of_the_callers_headers(
    server, make_client
) -> None:
    other = server.url("/moved/flags.json").replace("snapshots.test", "elsewhere.test")
    server.answer(Answer(status=302, location=other))
    server.publish(V1, path="/moved/flags.json", key=KEY, sidecar=True)
    client = make_client(signing_key=KEY, headers={"Authorization": "Bearer s3cret"})

    assert client.wait_until_ready(WAIT)
    (sidecar, *_) = server.answered(200, "/moved/flags.json.sig")
    assert sidecar.host == "elsewhere.test"
    assert "authorization" not in sidecar.headers


def test_an_https_snapshot_is_never_fetched_over_http_after_a_redirect(server, make_client) -> None:
    server.answer(Answer(status=301, location=server.url("/plain/flags.json")))
    server.publish(V1, path="/plain/flags.json")
    client = make_client("https://snapshots.test/flags.json", headers={"Authorization": "x"})

    assert eventually(lambda: client.status().consecutive_failures >= 2)
    assert server.requests("/plain/flags.json") == []
    assert "from https to http" in (client.status().last_error or "")
    assert client.status().ready is False


def test_the_sidecar_is_fetched_where_the_redirect_led(server, make_client) -> None:
    server.answer(Answer(status=302, location="/moved/flags.json"))
    server.publish(V1, path="/moved/flags.json", key=KEY, sidecar=True)
    client = make_client(signing_key=KEY)

    assert client.wait_until_ready(WAIT)
    assert server.answered(200, "/moved/flags.json.sig")


def test_a_signature_in_upper_case_hex_is_accepted() -> None:
    shouted = "sha256=" + sign(V1, KEY).removeprefix("sha256=").upper()
    Integrity(signing_key=KEY).check(V1, shouted, "test")  # does not raise


def test_every_member_of_a_multi_member_gzip_body_is_inflated() -> None:
    middle = len(V1) // 2
    data = gzip.compress(V1[:middle]) + gzip.compress(V1[middle:])
    assert gunzip(data, 1 << 20) == V1


@pytest.mark.parametrize(
    ("url", "options"),
    [("ftp://example.com/flags.json", {}), ("http://example.com/f.json", {"refresh_interval": 0})],
    ids=["not-http", "zero-interval"],
)
def test_bad_arguments_raise_before_anything_starts(url, options) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    with pytest.raises(ValueError):
        flagstone.Client.from_url(url, **options)
    started = [t for t in threading.enumerate() if t.ident not in before]
    assert [t.name for t in started if t.name == "flagstone-snapshots"] == []
