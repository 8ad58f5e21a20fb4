"""One contract, every source: ``FileSource``, ``UrlSource`` (over a ``MockTransport``) and
``FunctionSource`` (an in-memory store with versions, like Redis or S3) pass the same tests.

Each source reads from a ``Store`` the test writes to: ``publish(body, signature)`` puts a new
version there, ``fail()`` makes reading it fail (the file deleted, the server answering 503,
the store's client raising). The first part calls ``poll`` directly (the Protocol:
first poll, unchanged, a change, a failure, the signature); the second builds a real
``Client.from_source`` (polling every 20 ms) and checks what the updater promises for every
source alike: the first load and ``status()``, a change swapped in and announced, a failure
shown while the last good snapshot keeps serving, a refused document polled again and never
served, signatures and pinned digests, the disk cache at a cold start, ``wait=True``, and
``close()`` closing the source. Snapshots "A", "B", … differ in every flag (``livelib``).
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

import flagstone
from flagstone.sources import (
    SIGNATURE_HEADER,
    FileSource,
    FunctionSource,
    SnapshotSource,
    SourceDocument,
    UrlSource,
    sign,
    sign_snapshot,
)
from tests.live_scripts.livelib import (
    CONTEXT,
    PATIENCE,
    THREAD_NAME,
    VersionEvents,
    answers,
    document,
    eventually,
    expected_answers,
    write_atomically,
)
from tests.snapshot_server import Answer, MockSnapshotServer

KEY = b"contract-signing-key"
OTHER_KEY = b"not-the-signing-key"
NOT_JSON = b'{"version": "B", "flags": {'
POLL = 0.02


class Store(Protocol):
    """Where a source reads from, written by the test."""

    def source(self) -> SnapshotSource: ...

    def publish(self, body: bytes, signature: str | None = None) -> None: ...

    def fail(self) -> None: ...

    def close(self) -> None: ...


class FileStore:
    """A snapshot file (and its ``.sig`` sidecar), replaced atomically."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "flags.json"

    def source(self) -> SnapshotSource:
        return FileSource(self.path)

    def publish(self, body: bytes, signature: str | None = None) -> None:
        sidecar = Path(f"{self.path}.sig")
        if signature is None:
            sidecar.unlink(missing_ok=True)
        else:
            write_atomically(sidecar, signature.encode())
        write_atomically(self.path, body)

    def fail(self) -> None:
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        pass


class UrlStore:
    """A snapshot URL, served in memory with ETags and 304s; the signature in the header."""

    def __init__(self) -> None:
        self.server = MockSnapshotServer()

    def source(self) -> SnapshotSource:
        return UrlSource(self.server.url(), transport=self.server.transport)

    def publish(self, body: bytes, signature: str | None = None) -> None:
        headers = {SIGNATURE_HEADER: signature} if signature is not None else {}
        self.server.publish(body, headers=headers)

    def fail(self) -> None:
        self.server.answer(Answer(status=503, body=b"down"))

    def close(self) -> None:
        self.server.close()


class FunctionStore:
    """A key-value store with a version counter (Redis- or S3-shaped), read by a function
    that asks "changed since the version I gave you?"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value: tuple[int, bytes, str | None] | None = None  # version, body, signature
        self.down = False

    def source(self) -> SnapshotSource:
        return FunctionSource(self.fetch, name="memory://flags", conditional=True)

    def fetch(self, current: SourceDocument | None) -> SourceDocument | None:
        with self._lock:
            if self.down:
                raise ConnectionError("the store is down")
            if self.value is None:
                return None
            version, body, signature = self.value
        if current is not None and current.etag == str(version):
            return None
        return SourceDocument(body, signature, etag=str(version))

    def publish(self, body: bytes, signature: str | None = None) -> None:
        with self._lock:
            version = self.value[0] + 1 if self.value is not None else 1
            self.value = (version, body, signature)
            self.down = False

    def fail(self) -> None:
        with self._lock:
            self.down = True

    def close(self) -> None:
        pass


KINDS = ["file", "url", "function"]


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "file":
        made = FileStore(tmp_path)
    elif request.param == "url":
        made = UrlStore()
    else:
        made = FunctionStore()
    yield made
    made.close()


class Tracking:
    """A source that passes every call on to ``inner`` and remembers the ``current``
    document each poll was given, and whether it was closed."""

    def __init__(self, inner: SnapshotSource) -> None:
        self.inner = inner
        self.name = inner.name
        self.kind = inner.kind
        self.currents: list[SourceDocument | None] = []
        self.closed = 0

    def poll(
        self, current: SourceDocument | None, *, need_signature: bool
    ) -> SourceDocument | None:
        self.currents.append(current)
        return self.inner.poll(current, need_signature=need_signature)

    def close(self) -> None:
        self.closed += 1
        self.inner.close()


@pytest.fixture
def follow(clients: list[Any]) -> Callable[..., flagstone.Client]:
    """``follow(source, **options)``: a ``Client.from_source`` polling every ``POLL`` s."""

    def make(source: SnapshotSource, **options: Any) -> flagstone.Client:
        options = {"refresh_interval": POLL, "max_backoff": 0.1, **options}
        client = flagstone.Client.from_source(source, **options)
        clients.append(client)
        return client

    return make


def serves(client: flagstone.Client, version: str) -> bool:
    return answers(client.evaluate_all(CONTEXT)) == expected_answers(version)


def signed(version: str, key: bytes = KEY) -> tuple[bytes, str]:
    """Snapshot ``version`` as its publisher signs it: issued (``issuedAt``) A first, then
    B, …, one second apart, and signed with ``key``."""
    issued_at = f"2026-01-01T00:00:{ord(version) - ord('A') + 1:02d}Z"
    return sign_snapshot(document(version), key, issued_at=issued_at)


def ready_on_a(store: Store, follow: Callable[..., flagstone.Client], **options: Any) -> Any:
    """A client of ``store`` that serves snapshot A (signed when ``signing_key`` is given)."""
    key = options.get("signing_key")
    if key:
        store.publish(*signed("A", key))
    else:
        store.publish(document("A"))
    client = follow(store.source(), **options)
    assert client.wait_until_ready(PATIENCE), client.status()
    assert serves(client, "A")
    return client


# -- the Protocol, polled directly ---------------------------------------------------------


def test_the_first_poll_gives_the_document(store) -> None:
    store.publish(document("A"))

    polled = store.source().poll(None, need_signature=False)

    assert polled is not None and polled.body == document("A")


def test_polling_with_the_document_being_served_says_unchanged(store) -> None:
    store.publish(document("A"))
    source = store.source()
    first = source.poll(None, need_signature=False)

    assert source.poll(first, need_signature=False) is None
    assert source.poll(first, need_signature=False) is None


def test_a_new_document_is_given_once_published(store) -> None:
    store.publish(document("A"))
    source = store.source()
    first = source.poll(None, need_signature=False)

    store.publish(document("B"))
    second = source.poll(first, need_signature=False)

    assert second is not None and second.body == document("B")
    assert source.poll(second, need_signature=False) is None


def test_a_store_that_cannot_be_read_raises(store) -> None:
    store.publish(document("A"))
    source = store.source()
    first = source.poll(None, need_signature=False)

    store.fail()

    with pytest.raises(Exception):  # noqa: B017 - each store fails its own way
        source.poll(first, need_signature=False)


def test_the_signature_comes_with_the_document_when_one_is_needed(store) -> None:
    signature = sign(document("A"), KEY)
    store.publish(document("A"), signature)

    polled = store.source().poll(None, need_signature=True)

    assert polled is not None and polled.signature == signature


# -- through a client ------------------------------------------------------------------------


def test_a_client_serves_the_first_document_and_reports_its_source(store, follow) -> None:
    client = ready_on_a(store, follow)

    status = client.status()
    assert (status.ready, status.snapshot_version, status.updates) == (True, "A", 1)
    source = store.source()
    assert (status.source, status.loaded_from) == (source.name, source.kind)
    assert status.last_update is not None and status.last_error is None


def test_before_the_first_document_the_client_is_not_ready(store, follow) -> None:
    store.fail()
    client = follow(store.source())

    assert client.wait_until_ready(0.1) is False
    assert client.evaluate("alpha", CONTEXT).error == flagstone.ErrorCode.NOT_READY


def test_a_change_is_swapped_in_and_announced(store, follow) -> None:
    client = ready_on_a(store, follow)
    events = VersionEvents(client)

    store.publish(document("B"))

    assert events.wait_for("B"), client.status()
    assert serves(client, "B")
    status = client.status()
    assert (status.snapshot_version, status.updates, status.consecutive_failures) == ("B", 2, 0)


def test_while_nothing_changes_nothing_is_swapped_in(store, follow) -> None:
    client = ready_on_a(store, follow)
    loaded = client.status()

    assert eventually(lambda: (client.status().last_success or 0) > (loaded.last_success or 0))
    assert eventually(lambda: client.status().last_success != client.status().last_update)
    assert (client.status().updates, client.status().last_update) == (1, loaded.last_update)


def test_a_failure_shows_in_status_and_the_last_snapshot_keeps_serving(store, follow) -> None:
    client = ready_on_a(store, follow)

    store.fail()

    assert eventually(lambda: client.status().consecutive_failures >= 2), client.status()
    status = client.status()
    assert status.last_error and status.last_error_at is not None
    assert (status.ready, status.snapshot_version) == (True, "A")
    assert serves(client, "A")


def test_after_a_failure_the_next_good_document_is_picked_up(store, follow) -> None:
    client = ready_on_a(store, follow)
    store.fail()
    assert eventually(lambda: client.status().consecutive_failures >= 1)

    store.publish(document("B"))

    assert eventually(lambda: client.status().snapshot_version == "B"), client.status()
    status = client.status()
    assert (status.consecutive_failures, status.updates) == (0, 2)
    assert status.failures >= 1 and status.last_error is not None
    assert serves(client, "B")


def test_a_refused_document_is_polled_again_and_never_served(store, follow) -> None:
    tracking = Tracking(store.source())
    store.publish(document("A"))
    client = follow(tracking)
    assert client.wait_until_ready(PATIENCE)

    store.publish(NOT_JSON)

    assert eventually(lambda: client.status().consecutive_failures >= 3), client.status()
    assert "not valid JSON" in (client.status().last_error or "")
    assert serves(client, "A")
    # every poll since was asked "newer than A?": the refused document never became current
    assert all(
        current is not None and current.body == document("A") for current in tracking.currents[1:]
    )


def test_a_signing_key_requires_a_valid_signature(store, follow) -> None:
    client = ready_on_a(store, follow, signing_key=KEY)

    body, _ = signed("B")
    store.publish(body, sign(body, OTHER_KEY))
    assert eventually(lambda: "does not match" in (client.status().last_error or ""))
    store.publish(body)
    assert eventually(lambda: "not signed" in (client.status().last_error or ""))
    assert serves(client, "A")

    store.publish(*signed("B"))
    assert eventually(lambda: client.status().snapshot_version == "B"), client.status()
    assert serves(client, "B")


def test_an_older_signed_document_is_refused_as_a_rollback(store, follow) -> None:
    store.publish(*signed("B"))
    client = follow(store.source(), signing_key=KEY)
    assert client.wait_until_ready(PATIENCE), client.status()

    store.publish(*signed("A"))  # validly signed, issued before B
    assert eventually(lambda: client.status().rollbacks_refused >= 2), client.status()
    assert "rollback" in (client.status().last_error or "")
    assert serves(client, "B")

    store.publish(*signed("C"))
    assert eventually(lambda: serves(client, "C")), client.status()


def test_an_unsigned_first_document_is_never_served_to_a_signing_client(store, follow) -> None:
    store.publish(document("A"))
    client = follow(store.source(), signing_key=KEY)

    assert eventually(lambda: client.status().failures >= 2)
    assert client.status().ready is False
    assert client.snapshot_version == ""


def test_a_pinned_digest_refuses_any_other_document(store, follow) -> None:
    pin = hashlib.sha256(document("A")).hexdigest()
    client = ready_on_a(store, follow, expected_sha256=pin)

    store.publish(document("B"))

    assert eventually(lambda: "sha256" in (client.status().last_error or ""))
    assert serves(client, "A")


def test_the_cache_serves_a_cold_start_while_the_store_is_down(
    store, follow, tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "flags.json"
    first = ready_on_a(store, follow, cache_path=cache)
    assert eventually(Path(f"{cache}.meta.json").exists)
    first.close()
    store.fail()

    client = follow(store.source(), cache_path=cache)

    status = client.status()
    assert (status.ready, status.loaded_from, status.snapshot_version) == (True, "cache", "A")
    assert serves(client, "A")
    assert eventually(lambda: client.status().consecutive_failures >= 1)
    assert client.status().loaded_from == "cache"


def test_a_client_started_from_the_cache_moves_on_to_the_stores_new_document(
    store, follow, tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "flags.json"
    first = ready_on_a(store, follow, cache_path=cache)
    assert eventually(Path(f"{cache}.meta.json").exists)
    first.close()
    store.publish(document("B"))

    client = follow(store.source(), cache_path=cache)

    assert eventually(lambda: client.status().snapshot_version == "B"), client.status()
    assert client.status().loaded_from == store.source().kind
    assert serves(client, "B")


def test_wait_true_serves_before_returning(store, follow) -> None:
    store.publish(document("A"))

    client = follow(store.source(), wait=True)

    assert client.status().ready and serves(client, "A")
    assert client.status().loaded_from == store.source().kind


def test_wait_true_raises_when_there_is_nothing_to_serve_and_starts_no_thread(
    store, follow
) -> None:
    store.publish(document("A"))
    store.fail()
    tracking = Tracking(store.source())
    before = [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]

    with pytest.raises(Exception):  # noqa: B017 - each store fails its own way
        follow(tracking, wait=True)

    after = [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]
    assert after == before
    assert tracking.closed == 1


def test_wait_true_raises_a_config_error_for_an_invalid_first_document(store, follow) -> None:
    store.publish(NOT_JSON)

    with pytest.raises(flagstone.ConfigError, match="not valid JSON"):
        follow(store.source(), wait=True)


def test_closing_the_client_closes_its_source(store, follow) -> None:
    store.publish(document("A"))
    tracking = Tracking(store.source())
    client = follow(tracking)
    assert client.wait_until_ready(PATIENCE)

    client.close()

    assert tracking.closed == 1
    polls = len(tracking.currents)
    assert not eventually(lambda: len(tracking.currents) > polls, timeout=5 * POLL)


def test_a_client_dropped_without_close_stops_polling_and_closes_its_source(store) -> None:
    store.publish(document("A"))
    tracking = Tracking(store.source())
    before = set(threading.enumerate())
    client = flagstone.Client.from_source(tracking, refresh_interval=POLL)
    (thread,) = [t for t in threading.enumerate() if t.name == THREAD_NAME and t not in before]
    assert client.wait_until_ready(PATIENCE)

    del client
    gc.collect()

    thread.join(PATIENCE)
    assert not thread.is_alive() and tracking.closed == 1
