"""``FunctionSource`` in detail, ``Client.install``, ``from_source``'s arguments, and the
layering of ``flagstone.sources`` and ``flagstone.transport``.

The contract every source shares is in ``test_sources_contract.py``; here are what is
particular to a function (what it may return, when it is called with the current document,
how its failures read), the public install method the updater delivers through (and that an
application may call), and an AST check that ``sources/`` never imports the client and
``transport/`` neither sources, sinks nor the client.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flagstone
from flagstone.formats.native import parse_snapshot
from flagstone.sources import FunctionSource, SourceDocument, sign_snapshot
from tests.live_scripts.livelib import (
    CONTEXT,
    PATIENCE,
    VersionEvents,
    answers,
    document,
    eventually,
    expected_answers,
    snapshot,
)

POLL = 0.02
KEY = b"function-source-key"
A_SIGNED, A_SIGNATURE = sign_snapshot(document("A"), KEY, issued_at="2026-01-01T00:00:01Z")
B_SIGNED, B_SIGNATURE = sign_snapshot(document("B"), KEY, issued_at="2026-01-01T00:00:02Z")
SRC = Path(flagstone.__file__).resolve().parent


def serves(client: flagstone.Client, version: str) -> bool:
    return answers(client.evaluate_all(CONTEXT)) == expected_answers(version)


@pytest.fixture
def follow(clients: list[Any]) -> Callable[..., flagstone.Client]:
    def make(source: Any, **options: Any) -> flagstone.Client:
        client = flagstone.Client.from_source(
            source, **{"refresh_interval": POLL, "max_backoff": 0.1, **options}
        )
        clients.append(client)
        return client

    return make


class Calls:
    """A source function that returns ``value`` (settable) and counts its calls."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.count = 0
        self.arguments: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def __call__(self, *arguments: Any) -> Any:
        with self._lock:
            self.count += 1
            self.arguments.append(arguments)
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


# -- what a function may return ------------------------------------------------------------


def test_a_function_returning_the_same_bytes_every_time_is_one_update(follow) -> None:
    fn = Calls(document("A"))
    client = follow(FunctionSource(fn))
    assert client.wait_until_ready(PATIENCE)
    events = VersionEvents(client)

    calls = fn.count
    assert eventually(lambda: fn.count >= calls + 3)

    assert client.status().updates == 1 and events.versions == []
    assert client.status().consecutive_failures == 0
    assert serves(client, "A")


@pytest.mark.parametrize(
    "returned",
    [
        document("A"),
        bytearray(document("A")),
        memoryview(document("A")),
        document("A").decode(),
        (document("A"), None),
        SourceDocument(document("A")),
    ],
    ids=["bytes", "bytearray", "memoryview", "str", "tuple-without-signature", "document"],
)
def test_every_documented_return_shape_is_served(follow, returned) -> None:
    client = follow(FunctionSource(lambda: returned), wait=True)

    assert serves(client, "A")


@pytest.mark.parametrize("signature", [A_SIGNATURE, A_SIGNATURE.encode()], ids=["str", "bytes"])
def test_bytes_with_a_signature_satisfy_a_signing_key(follow, signature) -> None:
    client = follow(FunctionSource(lambda: (A_SIGNED, signature)), signing_key=KEY, wait=True)

    assert serves(client, "A")


def test_bytes_without_a_signature_are_refused_by_a_signing_client(follow) -> None:
    with pytest.raises(flagstone.IntegrityError, match="not signed"):
        follow(FunctionSource(lambda: document("A")), signing_key=KEY, wait=True)


@pytest.mark.parametrize(
    "returned", [{"flags": {}}, 42, (document("A"),), (document("A"), 7)], ids=repr
)
def test_anything_else_is_a_failure_that_names_what_came_back(follow, returned) -> None:
    fn = Calls(returned)
    client = follow(FunctionSource(fn, name="odd"))

    assert eventually(lambda: client.status().failures >= 1)
    error = client.status().last_error or ""
    assert error.startswith("TypeError: the source function odd returned")
    assert type(returned).__name__ in error


def test_none_means_nothing_yet_which_is_not_a_failure(follow) -> None:
    fn = Calls(None)
    client = follow(FunctionSource(fn))

    assert eventually(lambda: fn.count >= 3)
    status = client.status()
    assert (status.ready, status.failures, status.updates) == (False, 0, 0)
    assert status.last_success is not None

    fn.value = document("A")
    assert client.wait_until_ready(PATIENCE) and serves(client, "A")


def test_a_function_that_raises_shows_its_error_in_status(follow) -> None:
    fn = Calls(document("A"))
    client = follow(FunctionSource(fn))
    assert client.wait_until_ready(PATIENCE)

    fn.value = ConnectionError("redis: connection refused")

    assert eventually(lambda: client.status().consecutive_failures >= 1)
    assert client.status().last_error == "ConnectionError: redis: connection refused"
    assert serves(client, "A")


def test_with_nothing_to_give_wait_true_raises_a_fetch_error(follow) -> None:
    with pytest.raises(flagstone.errors.FetchError, match="no snapshot to give"):
        follow(FunctionSource(lambda: None, name="empty://"), wait=True)


# -- how the function is called ------------------------------------------------------------


def test_a_plain_function_is_called_without_arguments(follow) -> None:
    fn = Calls(document("A"))
    client = follow(FunctionSource(fn))
    assert client.wait_until_ready(PATIENCE)

    assert set(fn.arguments) == {()}


def test_a_conditional_function_gets_the_document_being_served(follow) -> None:
    given: list[SourceDocument | None] = []

    def fetch(current: SourceDocument | None) -> SourceDocument | None:
        given.append(current)
        if current is not None and current.etag == "rev-1":
            return None
        return SourceDocument(document("A"), etag="rev-1")

    client = follow(FunctionSource(fetch, conditional=True))
    assert client.wait_until_ready(PATIENCE)
    assert eventually(lambda: len(given) >= 3)

    assert given[0] is None
    assert all(current is not None and current.etag == "rev-1" for current in given[1:])
    assert client.status().updates == 1


def test_name_and_kind_show_in_status(follow) -> None:
    client = follow(
        FunctionSource(lambda: document("A"), name="s3://flags/prod.json", kind="s3"), wait=True
    )

    status = client.status()
    assert (status.source, status.loaded_from) == ("s3://flags/prod.json", "s3")


def test_the_default_name_is_the_functions_qualified_name() -> None:
    def flags_from_redis() -> bytes:
        return b""

    source = FunctionSource(flags_from_redis)

    assert source.name == f"{__name__}.{flags_from_redis.__qualname__}"
    assert source.kind == "function"


def test_a_function_source_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        FunctionSource(document("A"))  # type: ignore[arg-type]


def test_a_redis_shaped_store_read_with_mget(follow) -> None:
    class FakeRedis:
        """The two calls a snapshot reader makes of redis-py's client."""

        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}

        def set(self, key: str, value: bytes) -> None:
            self.data[key] = value

        def mget(self, *keys: str) -> list[bytes | None]:
            return [self.data.get(key) for key in keys]

    redis = FakeRedis()
    redis.set("flags:prod", A_SIGNED)
    redis.set("flags:prod:sig", A_SIGNATURE.encode())

    def flags_from_redis() -> tuple[bytes, bytes | None] | None:
        body, signature = redis.mget("flags:prod", "flags:prod:sig")
        return None if body is None else (body, signature)

    client = follow(FunctionSource(flags_from_redis, name="redis://flags:prod"), signing_key=KEY)
    assert client.wait_until_ready(PATIENCE) and serves(client, "A")
    events = VersionEvents(client)

    redis.set("flags:prod", B_SIGNED)
    redis.set("flags:prod:sig", B_SIGNATURE.encode())

    assert events.wait_for("B") and serves(client, "B")


# -- Client.install --------------------------------------------------------------------------


def test_install_serves_the_snapshot_announces_it_and_returns_its_version() -> None:
    client = flagstone.Client.from_dict(snapshot("A"))
    events = VersionEvents(client)

    version = client.install(parse_snapshot(document("B")))

    assert version == "B" and events.versions == ["B"]
    assert serves(client, "B") and client.snapshot_version == "B"
    assert client.status().snapshot_version == "B"


def test_install_of_a_snapshot_that_does_not_compile_keeps_the_current_one() -> None:
    credential = {
        "client": {"name": "clients/web"},
        "clientCredential": {
            "name": "clients/web/credentials/one",
            "clientSecret": {"secret": "s"},
        },
    }
    client = flagstone.Client.from_dict(
        {**snapshot("A"), "clients": {"s": credential}}, client_secret="s"
    )
    events = VersionEvents(client)

    with pytest.raises(flagstone.UnknownClientError):
        client.install(parse_snapshot(document("B")))  # knows no client "s"

    assert client.snapshot_version == "A" and events.versions == []


def test_an_install_of_yours_shows_in_the_status_of_a_source_client(follow) -> None:
    client = follow(FunctionSource(lambda: document("A")), wait=True)
    seen: list[tuple[str, str | None, str | None]] = []
    client.on_update(
        lambda version: seen.append(
            (version, client.status().snapshot_version, client.status().loaded_from)
        )
    )

    client.install(parse_snapshot(document("B")))

    assert seen == [("B", "B", "install")]
    assert client.status().updates == 2


def test_a_source_update_is_in_status_before_any_callback_runs(follow) -> None:
    fn = Calls(document("A"))
    client = follow(FunctionSource(fn), wait=True)
    seen: list[tuple[str, str | None, str | None]] = []
    done = threading.Event()

    def callback(version: str) -> None:
        status = client.status()
        seen.append((version, status.snapshot_version, status.loaded_from))
        done.set()

    client.on_update(callback)
    fn.value = document("B")

    assert done.wait(PATIENCE)
    assert seen[0] == ("B", "B", "function")


# -- from_source's arguments -----------------------------------------------------------------


@pytest.mark.parametrize("interval", [0, -1.0])
def test_a_refresh_interval_that_is_not_positive_is_refused(interval) -> None:
    with pytest.raises(ValueError, match="refresh_interval"):
        flagstone.Client.from_source(FunctionSource(lambda: None), refresh_interval=interval)


# -- layering --------------------------------------------------------------------------------


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` (a module of ``package``) imports, even under
    ``TYPE_CHECKING``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def package_imports(directory: str) -> dict[str, set[str]]:
    root = SRC / directory
    result = {}
    for path in root.rglob("*.py"):
        package = ".".join(path.relative_to(SRC.parent).parts[:-1])
        result[str(path.relative_to(SRC))] = imported_modules(path, package)
    return result


def test_the_sources_package_never_imports_the_client() -> None:
    found = {
        module: sorted(name for name in names if name.startswith("flagstone.client"))
        for module, names in package_imports("sources").items()
    }
    assert {module: names for module, names in found.items() if names} == {}
    assert "sources/updater.py" in found  # the walk saw the package


def test_the_transport_package_sits_below_sources_sinks_and_the_client() -> None:
    above = ("flagstone.sources", "flagstone.sinks", "flagstone.client", "flagstone.live")
    found = {
        module: sorted(name for name in names if name.startswith(above))
        for module, names in package_imports("transport").items()
    }
    assert {module: names for module, names in found.items() if names} == {}
    assert "transport/stdlib.py" in found
