"""Keeping a client's snapshot fresh from any ``SnapshotSource``, on a background thread.

Each check asks the source for something new (a conditional GET, a file ``stat``, your
function); a new document is verified (signature, digest), parsed and validated, and only then
handed to the client's public ``install``, which compiles it and swaps it in; the client
keeps serving the last good snapshot through every failure. The updater is its client's first
``on_update`` listener, so ``status()`` already shows a new snapshot when your callbacks run.
Failures are counted, logged at a limited rate and shown in ``status()``; the next check then
comes sooner at first and later as failures repeat (exponential backoff with jitter). With a
signing key, a document older than the newest one accepted is refused as a rollback
(:mod:`flagstone.sources.freshness`; the newest ``issuedAt`` is kept with the disk cache).
After ``os.fork()`` the child gets its own thread.
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
from typing import Protocol

from ..errors import ConfigError, FetchError, IntegrityError
from ..formats.native import ParsedSnapshot, SnapshotIndex
from ..formats.reading import read_snapshot
from ..model.issued_at import issued_at_ns
from ..plan.compile import FlagCompiler
from ..process.gc import paused_gc
from ..process.hooks import register_fork_hooks
from ..process.ratelimit import RateLimitedLog
from ..process.threads import start_quietly
from .base import SnapshotSource, SourceDocument
from .cache import CachedSnapshot, DiskCache
from .freshness import Issued, issued_of, refusal
from .integrity import Integrity

__all__ = ["SnapshotTarget", "SourceStatus", "Updater"]

logger = logging.getLogger("flagstone.sources")


@dataclass(frozen=True)
class SourceStatus:
    """Where a client's snapshot comes from and how keeping it fresh goes."""

    ready: bool
    """A snapshot is loaded (``evaluate`` answers ``NOT_READY`` until then)."""
    source: str
    """The source's ``name`` (a URL, a path…), or ``"static"`` for a client built from a
    document."""
    snapshot_version: str | None
    """The version being served."""
    loaded_from: str | None = None
    """Where the snapshot being served came from: the source's ``kind`` (``"url"``,
    ``"file"``, ``"function"``…), ``"cache"`` (the disk cache), or ``"install"`` (a
    ``client.install`` of yours)."""
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
    newest_issued_at: str | None = None
    """The ``issuedAt`` of the newest document accepted from the source or the disk cache
    (``None`` if none had one): with a signing key, an older document is refused."""
    rollbacks_refused: int = 0
    """Signed documents refused because they could be a rollback: issued before the newest
    one accepted, issued at the same time with other content, or without ``issuedAt``
    (counted at each check that refuses one; each is a failure too)."""


class SnapshotTarget(Protocol):
    """What an updater keeps fresh (``flagstone.Client`` is one): it installs snapshots with
    a public method and announces them to ``on_update`` listeners."""

    def install(self, snapshot: ParsedSnapshot) -> str: ...

    def on_update(self, callback: Callable[[str], object]) -> Callable[[], None]: ...


class Updater:
    """Checks ``source`` every ``interval`` seconds and installs new snapshots into the
    target it is bound to.

    Holds the target weakly: a client that is dropped without ``close()`` stops its updater.
    """

    def __init__(
        self,
        source: SnapshotSource,
        *,
        interval: float,
        integrity: Integrity,
        strict: bool,
        cache: DiskCache | None = None,
        max_backoff: float = 300.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        allow_rollback: bool = False,
        compiler: Callable[[], FlagCompiler] | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError("the refresh interval must be positive")
        self._target: weakref.ref[SnapshotTarget] | None = None
        self.source = source
        self.interval = interval
        self.integrity = integrity
        self.strict = strict
        self.cache = cache
        self.max_backoff = max(max_backoff, interval)
        self.allow_rollback = allow_rollback
        self._compiler = compiler
        """Makes the compiler of the target's flags, for each document read (see
        ``read_snapshot``'s ``compile``): a large document's flag models are then never all
        held at once."""
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
        self._current: SourceDocument | None = None  # the document being served
        self._index: SnapshotIndex | None = None  # what the next document is read against
        self._digest: bytes | None = None  # its sha256
        self._newest: Issued | None = None  # the newest document accepted (rollbacks)
        # (thread, kind, issuedAt) while inside install
        self._installing: tuple[int, str, str | None] | None = None
        register_fork_hooks(self)

    # -- what the client asks -----------------------------------------------------------

    def status(self) -> SourceStatus:
        with self._status_lock:
            return self._status

    def wait_until_ready(self, timeout: float | None) -> bool:
        return self._ready.wait(timeout)

    def bind(self, target: SnapshotTarget) -> None:
        """Install into ``target`` from now on (held weakly); ``status()`` follows every
        snapshot ``target`` installs, ours first."""
        self._target = weakref.ref(target)
        target.on_update(self._installed)

    # -- loading in the calling thread ---------------------------------------------------

    def load_cache(self) -> bool:
        """Install the cached snapshot, if there is a good one (a cold start)."""
        target = self._bound()
        if self.cache is None or target is None:
            return False
        try:
            cached = self.cache.load()
            if cached is None:
                return False
            self._remember_newest(cached)
            document = SourceDocument(
                cached.body, cached.signature, cached.etag, cached.last_modified
            )
            with paused_gc():
                parsed, issued = self._verified(document)
                self._install(target, parsed, "cache", issued)
                del parsed
        except Exception as error:
            self._log.warning("cache", "the snapshot cache is unusable: %s", error)
            return False
        self._served(document, issued)
        return True

    def _remember_newest(self, cached: CachedSnapshot) -> None:
        """The newest ``issuedAt`` accepted before this process started, from the cache's
        metadata (kept there even if the cached document itself is no longer usable)."""
        ns = issued_at_ns(cached.issued_at) if cached.issued_at else None
        if ns is not None and cached.sha256 is not None:
            self._newest = Issued(cached.issued_at, ns, cached.sha256)
            with self._status_lock:
                self._status = replace(self._status, newest_issued_at=cached.issued_at)

    def load_now(self) -> None:
        """Check once in the calling thread. With nothing served yet (no cache), a failure
        raises, and so does a source with nothing to give; otherwise a failure is recorded
        like any failed check."""
        target = self._bound()
        if target is None:
            raise RuntimeError("the updater is not bound to a client")
        self._check(target, first=self._current is None)

    # -- the thread ---------------------------------------------------------------------

    def start(self, *, first_delay: float = 0.0) -> None:
        self._first_delay = first_delay
        thread = threading.Thread(target=self._run, name="flagstone-snapshots", daemon=True)
        self._thread = thread
        start_quietly(thread)

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread, then close the source."""
        self.stop(timeout)
        self._close_source()

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception:
            self._log.warning("close", "closing %r failed", self.source, exc_info=True)

    def _run(self) -> None:
        delay = self._first_delay
        stop = self._stop
        while not stop.wait(delay):
            target = self._bound()
            if target is None:  # dropped without close(): nothing left to update
                self._close_source()
                return
            succeeded = self.check(target)
            del target
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

    def check(self, target: SnapshotTarget) -> bool:
        """Look for a new snapshot once; ``True`` unless something failed."""
        return self._check(target, first=False)

    def _check(self, target: SnapshotTarget, *, first: bool) -> bool:
        """One check; with ``first``, failures raise instead of being recorded."""
        try:
            document = self._poll()
            if self._stop.is_set():
                return True  # closed while polling: install nothing
            if document is None:
                if first:
                    raise FetchError(f"{self.source.name} has no snapshot to give")
                self._record_success()
                return True
            if self._same_as_served(document):
                return True
            with paused_gc():  # one pause for reading and compiling (flagstone.process.gc)
                parsed, issued = self._verified(document)
                self._install(target, parsed, self.source.kind, issued)
                del parsed
            self._served(document, issued)
        except Exception as error:
            if first:
                raise
            self._record_failure(error)
            return False
        self._store(document)
        return True

    def _install(
        self, target: SnapshotTarget, parsed: ParsedSnapshot, kind: str, issued: Issued
    ) -> None:
        newest = issued.text if issued.ns is not None else self.status().newest_issued_at
        self._installing = (threading.get_ident(), kind, newest)
        try:
            target.install(parsed)  # _installed records it before other listeners run
        finally:
            self._installing = None
        self._index = parsed.index

    def _bound(self) -> SnapshotTarget | None:
        return self._target() if self._target is not None else None

    def _poll(self) -> SourceDocument | None:
        return self.source.poll(self._current, need_signature=self.integrity.needs_signature)

    def _same_as_served(self, document: SourceDocument) -> bool:
        """The document being served again (a server without ETags, a touched file): keep
        its new validators, count a success, install nothing."""
        if self._digest is None or hashlib.sha256(document.body).digest() != self._digest:
            return False
        self._current = document
        self._record_success()
        return True

    def _verified(self, document: SourceDocument) -> tuple[ParsedSnapshot, Issued]:
        """Check, parse and (with a signing key) refuse a rollback; raises if refused."""
        self.integrity.check(document.body, document.signature, self.source.name)
        # read against the snapshot installed last: only the flags and segments whose text
        # changed are validated (flagstone.formats.reading.read_snapshot)
        parsed = read_snapshot(
            document.body,
            strict=self.strict,
            source=self.source.name,
            previous=self._index,
            compile=self._compiler() if self._compiler is not None else None,
        )
        issued = issued_of(parsed, document.body)
        if self.integrity.needs_signature and not self.allow_rollback:
            reason = refusal(issued, self._newest)
            if reason is not None:
                with self._status_lock:
                    self._status = replace(
                        self._status, rollbacks_refused=self._status.rollbacks_refused + 1
                    )
                raise IntegrityError(reason, source=self.source.name)
        return parsed, issued

    def _served(self, document: SourceDocument, issued: Issued) -> None:
        self._current = document
        self._digest = hashlib.sha256(document.body).digest()
        if issued.ns is not None:  # not older than _newest, unless rollbacks are allowed
            self._newest = issued

    def _store(self, document: SourceDocument) -> None:
        if self.cache is None:
            return
        try:
            newest = self._newest
            self.cache.store(
                document.body,
                etag=document.etag,
                last_modified=document.last_modified,
                signature=document.signature,
                issued_at=newest.text if newest is not None else None,
                sha256=newest.sha256 if newest is not None else None,
            )
        except OSError:
            self._log.warning("cache", "could not write the snapshot cache", exc_info=True)

    def _installed(self, version: str) -> None:
        """The target installed ``version`` (our ``check``, or someone else's ``install``)."""
        installing = self._installing
        if installing is not None and installing[0] == threading.get_ident():
            self._record_update(version, installing[1], installing[2])
        else:
            self._record_update(version, "install", self.status().newest_issued_at)

    # -- bookkeeping ------------------------------------------------------------------------

    def _now(self) -> float:
        return (self._clock or time.time)()

    def _record_success(self) -> None:
        with self._status_lock:
            self._status = replace(self._status, last_success=self._now(), consecutive_failures=0)

    def _record_update(self, version: str, loaded_from: str, newest: str | None) -> None:
        now = self._now()
        with self._status_lock:
            self._status = replace(
                self._status,
                newest_issued_at=newest,
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
