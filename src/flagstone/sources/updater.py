"""Keeping a client's snapshot fresh from a URL or a file, on a background thread.

Each check asks the source for something new (a conditional GET, a file ``stat``); a new
document is verified (signature, digest), parsed, validated and compiled, and only then
swapped into the client, which keeps serving the last good snapshot through every failure.
Failures are counted, logged at a limited rate and shown in ``status()``; the next check then
comes sooner at first and later as failures repeat (exponential backoff with jitter). After
``os.fork()`` the child gets its own thread.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..formats.native import ParsedSnapshot, parse_snapshot
from ..process.hooks import register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from .cache import DiskCache
from .fetch import HttpFetcher
from .integrity import Integrity
from .watch import FileWatcher

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["FileSource", "HttpSource", "SourceStatus", "Update", "Updater"]

logger = logging.getLogger("flagstone.sources")


@dataclass(frozen=True)
class SourceStatus:
    """Where a client's snapshot comes from and how keeping it fresh goes."""

    ready: bool
    """A snapshot is loaded (``evaluate`` answers ``NOT_READY`` until then)."""
    source: str
    """The URL or path, or ``"static"`` for a client built from a document."""
    snapshot_version: str | None
    """The version being served."""
    loaded_from: str | None = None
    """Where the snapshot being served came from: ``"url"``, ``"file"``, ``"cache"``."""
    last_success: float | None = None
    """When a check last succeeded (new snapshot or nothing new), epoch seconds."""
    last_update: float | None = None
    """When the snapshot being served was swapped in, epoch seconds."""
    last_error: str | None = None
    """What went wrong at the last failed check, kept after recovery."""
    last_error_at: float | None = None
    consecutive_failures: int = 0
    failures: int = 0
    """Failed checks in all."""
    updates: int = 0
    """Snapshots swapped in (the first load included)."""


@dataclass(frozen=True)
class Update:
    """A new document from a source, with what to remember if it is accepted."""

    body: bytes
    signature: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class Source(Protocol):
    name: str
    kind: str

    def poll(self, integrity: Integrity) -> Update | None: ...

    def accept(self, update: Update) -> None: ...


class HttpSource:
    """A snapshot URL, polled with conditional GETs."""

    kind = "url"

    def __init__(self, fetcher: HttpFetcher) -> None:
        self.fetcher = fetcher
        self.name = fetcher.url
        self.etag: str | None = None
        self.last_modified: str | None = None

    def poll(self, integrity: Integrity) -> Update | None:
        fetched = self.fetcher.fetch(self.etag, self.last_modified)
        if fetched.body is None:
            return None
        signature = fetched.signature
        if signature is None and integrity.needs_signature:
            signature = self.fetcher.fetch_signature()
        return Update(fetched.body, signature, fetched.etag, fetched.last_modified)

    def accept(self, update: Update) -> None:
        self.etag = update.etag
        self.last_modified = update.last_modified


class FileSource:
    """A snapshot file, polled with ``stat``."""

    kind = "file"

    def __init__(self, path: str) -> None:
        self.watcher = FileWatcher(path)
        self.name = path

    def poll(self, integrity: Integrity) -> Update | None:
        body = self.watcher.read_if_changed()
        if body is None:
            return None
        signature = self.watcher.read_signature() if integrity.needs_signature else None
        return Update(body, signature)

    def accept(self, update: Update) -> None:
        self.watcher.accept(update.body)


class Updater:
    """Checks ``source`` every ``interval`` seconds and swaps new snapshots into ``client``.

    Holds the client weakly: a client that is dropped without ``close()`` stops its updater.
    """

    def __init__(
        self,
        client: Client,
        source: HttpSource | FileSource,
        *,
        interval: float,
        integrity: Integrity,
        strict: bool,
        cache: DiskCache | None = None,
        max_backoff: float = 300.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("the refresh interval must be positive")
        self._client = weakref.ref(client)
        self.source = source
        self.interval = interval
        self.integrity = integrity
        self.strict = strict
        self.cache = cache
        self.max_backoff = max(max_backoff, interval)
        self._rng = rng or random.Random()
        self._clock = clock
        self._log = RateLimitedLog(logger)
        self._status = SourceStatus(ready=False, source=source.name, snapshot_version=None)
        self._status_lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_delay = 0.0
        self._stopped_in_parent = False
        self._digest: bytes | None = None  # of the document being served
        register_fork_hooks(self)

    # -- what the client asks -----------------------------------------------------------

    def status(self) -> SourceStatus:
        with self._status_lock:
            return self._status

    def wait_until_ready(self, timeout: float | None) -> bool:
        return self._ready.wait(timeout)

    def mark_loaded(self, version: str, loaded_from: str, body: bytes) -> None:
        """The client was built from ``body`` already (``from_file``): start from there."""
        if isinstance(self.source, FileSource):
            self.source.accept(Update(body))
        self._digest = hashlib.sha256(body).digest()
        self._record_update(version, loaded_from)

    # -- the thread ---------------------------------------------------------------------

    def start(self, *, first_delay: float = 0.0) -> None:
        self._first_delay = first_delay
        thread = threading.Thread(target=self._run, name="flagstone-snapshots", daemon=True)
        self._thread = thread
        thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        delay = self._first_delay
        stop = self._stop
        while not stop.wait(delay):
            client = self._client()
            if client is None:
                return  # dropped without close(): nothing left to update
            succeeded = self.check(client)
            del client
            delay = self._next_delay(succeeded)

    def _next_delay(self, succeeded: bool) -> float:
        if succeeded:
            base = self.interval
        else:
            failures = self.status().consecutive_failures
            first = min(1.0, self.interval)
            base = min(self.max_backoff, first * 2.0 ** min(failures - 1, 30))
        return base * self._rng.uniform(0.9, 1.1)

    def _after_fork_in_child(self) -> None:
        self._status_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        if self._status.ready:
            self._ready.set()

    def _resume_after_fork(self) -> None:
        # After every object's _after_fork_in_child: the locks the thread will take are new.
        if self._thread is not None and not self._stopped_in_parent:
            self.start(first_delay=0.0)

    def _before_fork(self) -> None:
        self._stopped_in_parent = self._stop.is_set()

    # -- one check --------------------------------------------------------------------------

    def check(self, client: Client) -> bool:
        """Look for a new snapshot once; ``True`` unless something failed."""
        try:
            update = self.source.poll(self.integrity)
            if self._stop.is_set():
                return True  # closed while fetching: swap nothing in
            if update is None:
                self._record_success()
                return True
            digest = hashlib.sha256(update.body).digest()
            if digest == self._digest:  # the same document again (a server without ETags)
                self.source.accept(update)
                self._record_success()
                return True
            parsed = self._verified(update.body, update.signature)
            version = client._install(parsed, notify=False)
            self.source.accept(update)
            self._digest = digest
        except Exception as error:
            self._record_failure(error)
            return False
        self._record_update(version, self.source.kind)
        client._notify(version)  # after the status, so a callback reading it sees the update
        if self.cache is not None:
            try:
                self.cache.store(
                    update.body,
                    etag=update.etag,
                    last_modified=update.last_modified,
                    signature=update.signature,
                )
            except OSError:
                self._log.warning("cache", "could not write the snapshot cache", exc_info=True)
        return True

    def load_cache(self, client: Client) -> bool:
        """Serve the cached snapshot, if there is a good one (cold start)."""
        if self.cache is None:
            return False
        try:
            cached = self.cache.load()
            if cached is None:
                return False
            parsed = self._verified(cached.body, cached.signature)
            version = client._install(parsed)
        except Exception as error:
            self._log.warning("cache", "the snapshot cache is unusable: %s", error)
            return False
        if isinstance(self.source, HttpSource):
            self.source.accept(
                Update(cached.body, cached.signature, cached.etag, cached.last_modified)
            )
        self._digest = hashlib.sha256(cached.body).digest()
        self._record_update(version, "cache")
        return True

    def _verified(self, body: bytes, signature: str | None) -> ParsedSnapshot:
        self.integrity.check(body, signature, self.source.name)
        return parse_snapshot(body, strict=self.strict, source=self.source.name)

    # -- bookkeeping ------------------------------------------------------------------------

    def _now(self) -> float:
        return (self._clock or time.time)()

    def _record_success(self) -> None:
        with self._status_lock:
            self._status = replace(self._status, last_success=self._now(), consecutive_failures=0)

    def _record_update(self, version: str, loaded_from: str) -> None:
        now = self._now()
        with self._status_lock:
            self._status = replace(
                self._status,
                ready=True,
                snapshot_version=version,
                loaded_from=loaded_from,
                last_success=now,
                last_update=now,
                consecutive_failures=0,
                updates=self._status.updates + 1,
            )
        self._ready.set()

    def _record_failure(self, error: Exception) -> None:
        text = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
        with self._status_lock:
            status = self._status
            self._status = replace(
                status,
                last_error=text,
                last_error_at=self._now(),
                consecutive_failures=status.consecutive_failures + 1,
                failures=status.failures + 1,
            )
        self._log.warning(
            "check",
            "keeping snapshot %s: checking %s failed: %s",
            self._status.snapshot_version,
            self.source.name,
            text,
        )
