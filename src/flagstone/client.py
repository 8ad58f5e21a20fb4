"""``Client``: resolve flags locally from a snapshot and record exposures.

A client holds one reference to a compiled plan (swapped atomically when a new snapshot is
loaded), the process-wide test overrides, its sinks and its materialization store.
``evaluate`` never raises: a missing flag, a bad context or an internal failure comes back as
a ``Resolution`` with a reason and an error code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import overrides as _overrides
from .errors import ConfigError, IntegrityError
from .formats.native import ParsedSnapshot, parse_snapshot
from .overrides import REGISTRY as _OVERRIDES
from .plan import FlagPlan, PendingPlan, Plan, compile_plan
from .process.hooks import close_at_exit, register_fork_hooks
from .process.ratelimit import RateLimitedLog
from .reasons import ErrorCode, Reason
from .resolution import Outcome, Resolution, resolved
from .sinks.base import ExposureSink
from .sinks.exposure import Exposure
from .sinks.fanout import begin_close, close_all, flush_all
from .sources.base import SnapshotSource
from .sources.cache import DiskCache
from .sources.file import FileSource
from .sources.freshness import issued_of, refusal
from .sources.integrity import Integrity
from .sources.updater import SourceStatus, Updater
from .sources.url import UrlSource
from .stores.materializations import MaterializationStore
from .transport.base import Transport

__all__ = ["Client", "ValueDetails"]

logger = logging.getLogger("flagstone")


@dataclass(frozen=True)
class ValueDetails:
    """What ``get_value_details`` returns: the value and how it was arrived at."""

    value: Any
    reason: Reason
    error: ErrorCode | None
    error_message: str | None
    resolution: Resolution


class Client:
    """Resolves flags from a snapshot, in process.

    Build one with :meth:`from_file`, :meth:`from_dict`, :meth:`from_url` or
    :meth:`from_source` (or from an already parsed snapshot:
    ``Client(flagstone.formats.parse_snapshot(raw))``). Options:

    ``client_secret``
        Resolve as that client: only the flags listed for it, and rules restricted to
        environments only when its credential has one of them. An unknown secret raises
        ``UnknownClientError``. Without a secret every flag resolves and
        environment-restricted rules are skipped.
    ``sinks``
        Exposure sinks (``flagstone.sinks``) that receive an exposure for every resolution
        that ``should_apply`` when it is applied.
    ``materializations``
        A ``MaterializationStore`` for sticky assignments; rules that need one resolve to
        ``RESOLVE_REASON_MATERIALIZATION_NOT_SUPPORTED`` without it.
    ``strict``
        Reject what Confidence tolerates at resolve time (unknown segments, reference cycles,
        unrecognised rules); ``strict=False`` accepts and resolves them as Confidence does.
    """

    def __init__(
        self,
        snapshot: ParsedSnapshot | None,
        *,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
    ) -> None:
        self._sinks: tuple[ExposureSink, ...] = tuple(sinks)
        self._client_secret = client_secret
        self._materializations = materializations
        self._plan: Plan = (
            compile_plan(snapshot, client_secret=client_secret, store=materializations)
            if snapshot is not None
            else PendingPlan("(no snapshot yet)")
        )
        self._updater: Updater | None = None
        self._origin: tuple[str, str | None] = ("static", None)  # for status() without updater
        self._listeners: list[Callable[[str], object]] = []
        self._log = RateLimitedLog(logger)
        self._lock = threading.Lock()
        self._closed = False
        self._stats = {"sink_errors": 0, "resolve_errors": 0, "dropped_closed": 0}
        self._lost = 0  # exposures no sink took: emitted after close, or emit raised
        self._lost_reported = 0  # … that a flush has already answered False for
        register_fork_hooks(self)
        if self._sinks:
            close_at_exit(self)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls,
        document: Mapping[str, Any],
        *,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
        strict: bool = True,
    ) -> Client:
        """A client for a snapshot given as a decoded JSON object."""
        parsed = parse_snapshot(document, strict=strict)
        return cls(
            parsed, client_secret=client_secret, sinks=sinks, materializations=materializations
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        watch: bool = False,
        poll_interval: float = 1.0,
        signing_key: bytes | str | None = None,
        expected_sha256: str | None = None,
        allow_rollback: bool = False,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
        strict: bool = True,
    ) -> Client:
        """A client for the snapshot in a JSON file (a file that cannot be read raises
        ``ConfigError`` too).

        With ``watch=True`` the file is checked every ``poll_interval`` seconds (one
        ``stat``) and a changed, complete, valid version is swapped in; a bad one is
        refused and the current snapshot kept (see :meth:`status`). ``signing_key`` /
        ``expected_sha256`` require a signature in ``<path>.sig`` / a digest, as for
        :meth:`from_url` (a signed file needs an ``issuedAt`` unless ``allow_rollback``).
        (``from_source(FileSource(path), wait=True, …)`` with
        ``refresh_interval=poll_interval``.)
        """
        source = FileSource(path)
        if watch and poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        try:
            if watch:
                return cls.from_source(
                    source,
                    refresh_interval=poll_interval,
                    wait=True,
                    signing_key=signing_key,
                    expected_sha256=expected_sha256,
                    allow_rollback=allow_rollback,
                    client_secret=client_secret,
                    sinks=sinks,
                    materializations=materializations,
                    strict=strict,
                )
            integrity = Integrity(_key(signing_key), expected_sha256)
            document = source.poll(None, need_signature=integrity.needs_signature)
        except OSError as error:
            raise ConfigError(
                f"cannot read the snapshot: {error.strerror or error}", source=source.name
            ) from None
        assert document is not None  # a first read always gives one
        integrity.check(document.body, document.signature, source.name)
        parsed = parse_snapshot(document.body, strict=strict, source=source.name)
        if integrity.needs_signature and not allow_rollback:
            reason = refusal(issued_of(parsed, document.body), None)
            if reason is not None:
                raise IntegrityError(reason, source=source.name)
        client = cls(
            parsed, client_secret=client_secret, sinks=sinks, materializations=materializations
        )
        client._origin = (source.name, source.kind)
        return client

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        refresh_interval: float = 30.0,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = (3.0, 10.0),
        deadline: float | None = 30.0,
        max_bytes: int = 50 << 20,
        transport: Transport | None = None,
        signing_key: bytes | str | None = None,
        expected_sha256: str | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        max_backoff: float = 300.0,
        allow_rollback: bool = False,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
        strict: bool = True,
    ) -> Client:
        """A client whose snapshot comes from ``url`` and is refreshed in the background.

        Returns at once; until the first snapshot is in, ``evaluate`` answers with reason
        ``RESOLVE_REASON_ERROR`` and error ``NOT_READY`` (``wait_until_ready(timeout)``
        waits for it). Then every ``refresh_interval`` seconds (±10 % jitter) a
        conditional GET (``If-None-Match``/``If-Modified-Since``) looks for a new version;
        failures are retried with exponential backoff up to ``max_backoff`` seconds and the
        last good snapshot keeps serving. ``headers`` are sent with every request to the
        URL's origin (e.g. ``Authorization``; never to another origin a redirect leads to);
        ``timeout`` is seconds or ``(connect, read)``; ``deadline`` bounds a whole fetch
        (seconds); bodies over ``max_bytes`` (sent or inflated) are refused. ``transport``
        replaces the default ``flagstone.transport.HttpTransport`` (a proxy, an
        ``ssl.SSLContext``, a ``MockTransport`` in tests).

        ``signing_key`` requires an HMAC-SHA256 signature (header ``X-Flagstone-Signature:
        sha256=<hex>`` or sidecar ``<url>.sig``); ``expected_sha256`` pins the document's
        digest. ``cache_path`` keeps the last good snapshot on disk and starts from it,
        so a process that boots while the URL is unreachable still serves flags. With a
        ``signing_key``, a document whose ``issuedAt`` is older than the newest one accepted
        (kept in the cache across restarts), or that has none, is refused as a rollback
        unless ``allow_rollback=True``. (``from_source(UrlSource(url, …), …)``.)
        """
        if refresh_interval <= 0:
            raise ValueError("refresh_interval must be positive")
        source = UrlSource(
            url,
            headers=headers,
            timeout=timeout,
            deadline=deadline,
            max_bytes=max_bytes,
            transport=transport,
        )
        return cls.from_source(
            source,
            refresh_interval=refresh_interval,
            signing_key=signing_key,
            expected_sha256=expected_sha256,
            cache_path=cache_path,
            max_backoff=max_backoff,
            allow_rollback=allow_rollback,
            client_secret=client_secret,
            sinks=sinks,
            materializations=materializations,
            strict=strict,
        )

    @classmethod
    def from_source(
        cls,
        source: SnapshotSource,
        *,
        refresh_interval: float = 30.0,
        wait: bool = False,
        signing_key: bytes | str | None = None,
        expected_sha256: str | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        max_backoff: float = 300.0,
        allow_rollback: bool = False,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
        strict: bool = True,
    ) -> Client:
        """A client kept fresh from ``source`` (a ``flagstone.sources.SnapshotSource``:
        ``FileSource``, ``UrlSource``, ``FunctionSource`` or your own), on a background
        thread that polls it every ``refresh_interval`` seconds (±10 % jitter).

        A new document is verified (``signing_key``, ``expected_sha256``), parsed,
        validated and compiled before it replaces the snapshot being served; a failure keeps
        the last good snapshot, shows in :meth:`status` and is retried with exponential
        backoff up to ``max_backoff`` seconds. ``cache_path`` keeps the last good document
        on disk and starts from it. With a ``signing_key``, a signed document must carry an
        ``issuedAt`` later than that of the newest one accepted (or be that very document):
        an older one is refused as a rollback and counted in ``status().rollbacks_refused``,
        across restarts too when there is a ``cache_path``; ``allow_rollback=True`` accepts
        it (and documents without ``issuedAt``).

        With ``wait=False`` (the default) this returns at once and the first poll runs in
        the background (``evaluate`` answers ``NOT_READY`` until a snapshot is in). With
        ``wait=True`` the first poll runs before this returns and, unless the cache gave a
        snapshot, its failure is raised (``ConfigError``/``IntegrityError`` for a bad
        document, ``FetchError`` for a URL or a source with nothing to give, or what the
        source raised); polling then goes on ``refresh_interval`` seconds later.
        """
        if not refresh_interval > 0:
            raise ValueError("refresh_interval must be positive")
        updater = Updater(
            source,
            interval=refresh_interval,
            integrity=Integrity(_key(signing_key), expected_sha256),
            strict=strict,
            cache=DiskCache(cache_path) if cache_path is not None else None,
            max_backoff=max_backoff,
            allow_rollback=allow_rollback,
        )
        client = cls(
            None, client_secret=client_secret, sinks=sinks, materializations=materializations
        )
        client._plan = PendingPlan(source.name)
        client._updater = updater
        updater.bind(client)
        updater.load_cache()
        if wait:
            try:
                updater.load_now()
            except BaseException:
                updater.close()  # the source's connections; the client is never returned
                raise
        updater.start(first_delay=refresh_interval if wait else 0.0)
        return client

    # -- resolving --------------------------------------------------------------------------

    def evaluate(
        self, flag: str, context: Mapping[str, Any] | None = None, *, apply: bool = True
    ) -> Resolution:
        """Resolve ``flag`` (``"checkout"`` or ``"flags/checkout"``) for ``context``.

        With ``apply=True`` an exposure is recorded when the resolution ``should_apply``;
        with ``apply=False`` call :meth:`apply` when the user really sees the result.
        Never raises.
        """
        plan = self._plan  # one read: the whole call sees one snapshot
        try:
            resolve = plan.resolvers[flag]  # not found, unhashable…: see _unresolved
            if context.__class__ is not dict or _OVERRIDES:
                resolution = _resolve_unusual(plan[flag], context)
            else:
                resolution = resolve(context)
        except Exception:
            return self._unresolved(flag, plan)
        if apply and self._sinks and (resolution._outcome.should_apply or resolution._fallthrough):
            self._record(resolution, None)
        return resolution

    def evaluate_all(
        self, context: Mapping[str, Any] | None = None, *, apply: bool = True
    ) -> dict[str, Resolution]:
        """Every active flag this client may see, resolved for ``context``:
        ``{full flag name: Resolution}`` in snapshot order, all from one snapshot even while
        a new one is being swapped in. Never raises."""
        plan = self._plan
        results: dict[str, Resolution] = {}
        if type(context) is not dict:  # type(): a __class__ property could raise
            context = _as_context(context)
            if context is None:
                return {flag_plan.name: _invalid_context(flag_plan) for flag_plan in plan.visible}
        for flag_plan in plan.visible:
            results[flag_plan.name] = self._resolve(plan, flag_plan, context)
        if apply and self._sinks:
            resolve_id = uuid.uuid4().hex
            for resolution in results.values():
                if resolution.should_apply:
                    self._record(resolution, resolve_id)
        return results

    def _resolve(self, plan: Plan, flag_plan: FlagPlan, context: dict[str, Any]) -> Resolution:
        """``evaluate``'s work for one flag of a plan already chosen (no exposure)."""
        try:
            if _OVERRIDES:
                forced = _test_override(flag_plan, context)
                if forced is not None:
                    return forced
            return flag_plan.resolve(context)
        except Exception:
            return self._failed(flag_plan.name, plan)

    def apply(self, resolution: Resolution) -> None:
        """Record the exposure of a resolution obtained with ``apply=False``, now that the
        user sees it. Does nothing for resolutions that should not be applied."""
        if resolution.should_apply and self._sinks:
            self._record(resolution, None)

    def get_value(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: Any = None,
        *,
        apply: bool = True,
    ) -> Any:
        """The value at ``"flag.field.subfield"`` of the variant ``flag`` resolves to, or
        ``default`` when there is none or it is not of ``default``'s type (``bool``, ``int``,
        ``float`` (ints accepted), ``str``, ``dict``, ``list``; ``None`` accepts any type)."""
        # get_value_details' work without building its ValueDetails (a frozen dataclass,
        # ~2 µs), the path split once per distinct path (a dict read instead of ~600
        # instructions of partition and split), and evaluate's four lines inline (calling
        # it costs ~850 instructions, 12 % of an evaluation): 1.1x evaluate, not 3x.
        parsed = _PATHS.get(path) if path.__class__ is str else None
        if parsed is None:
            return self.get_value_details(path, context, default, apply=apply).value
        flag, fields = parsed
        plan = self._plan
        try:  # as in evaluate
            resolve = plan.resolvers[flag]
            if context.__class__ is not dict or _OVERRIDES:
                resolution = _resolve_unusual(plan[flag], context)
            else:
                resolution = resolve(context)
        except Exception:
            resolution = self._unresolved(flag, plan)
        outcome = resolution._outcome
        if outcome.variant is None:
            if apply and self._sinks and (outcome.should_apply or resolution._fallthrough):
                self._record(resolution, None)  # a client default or a fallthrough
            return default
        value = outcome.value
        for field in fields:
            value = value.get(field) if isinstance(value, dict) else None
        if default is not None and value.__class__ is not default.__class__:
            value = _typed(value, default)
            if value is _MISMATCH:
                return default
        if apply and self._sinks and (outcome.should_apply or resolution._fallthrough):
            self._record(resolution, None)
        return value

    def get_value_details(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: Any = None,
        *,
        apply: bool = True,
    ) -> ValueDetails:
        """Like :meth:`get_value`, with the reason, error code and resolution."""
        # str's own methods, not the argument's: a str subclass's methods may raise
        if isinstance(path, str):
            path = str.__str__(path)
            flag, _, field_path = path.partition(".")
            if len(_PATHS) < _MAX_PATHS:  # get_value's shortcut; paths are few in a program
                _PATHS[path] = (flag, tuple(field_path.split(".")) if field_path else ())
        else:
            flag, field_path = path, ""
        resolution = self.evaluate(flag, context, apply=False)
        if resolution.variant is None:
            if apply:
                self.apply(resolution)  # a client default or a fallthrough is an exposure too
            return ValueDetails(
                default, resolution.reason, resolution.error, resolution.error_message, resolution
            )
        value: Any = resolution.value
        for part in field_path.split(".") if field_path else ():
            value = value.get(part) if isinstance(value, dict) else None
        typed = _typed(value, default)
        if typed is _MISMATCH:
            message = f"{path!r} is {type(value).__name__}, the default is {type(default).__name__}"
            return ValueDetails(
                default, Reason.TYPE_MISMATCH, ErrorCode.TYPE_MISMATCH, message, resolution
            )
        if apply:
            self.apply(resolution)
        return ValueDetails(typed, resolution.reason, None, None, resolution)

    # -- state and lifecycle ----------------------------------------------------------------

    @property
    def snapshot_version(self) -> str:
        """The version of the snapshot being served (``""`` before a ``from_url`` or
        ``from_source`` client has its first one)."""
        return self._plan.version

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Wait until a snapshot is loaded (at most ``timeout`` seconds); whether it is.
        Only clients of a source (``from_url``, ``from_source``) are ever not ready."""
        if self._plan.ready:
            return True
        updater = self._updater
        return updater is not None and updater.wait_until_ready(timeout)

    def status(self) -> SourceStatus:
        """Where the snapshot comes from and how keeping it fresh goes: ready, version, last
        success, last error, consecutive failures (see ``flagstone.sources.SourceStatus``)."""
        if self._updater is not None:
            return self._updater.status()
        source, loaded_from = self._origin
        return SourceStatus(
            ready=self._plan.ready,
            source=source,
            snapshot_version=self._plan.version or None,
            loaded_from=loaded_from,
            updates=1 if self._plan.ready else 0,
        )

    def on_update(self, callback: Callable[[str], object]) -> Callable[[], None]:
        """Call ``callback(version)`` (on the updating thread) each time a new snapshot is
        live; returns a function that removes the callback. A callback that raises is
        logged, never propagated."""
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def install(self, snapshot: ParsedSnapshot) -> str:
        """Serve ``snapshot`` from the next evaluation on and return its version.

        The snapshot is compiled for this client first (``ConfigError`` if it cannot be,
        e.g. it no longer knows this client's secret; the current snapshot then stays), then
        swapped in by replacing one reference — an evaluation sees the old snapshot or the
        new one, never a mix — and the :meth:`on_update` callbacks are called with its
        version. Every source delivers through here; call it yourself to serve a snapshot
        obtained another way (``flagstone.formats.parse_snapshot(raw)``).
        """
        plan = compile_plan(
            snapshot, client_secret=self._client_secret, store=self._materializations
        )
        self._plan = plan
        self._notify(plan.version)
        return plan.version

    def _notify(self, version: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(version)
            except Exception:
                self._log.warning("listener", "an on_update callback raised", exc_info=True)

    @property
    def flags(self) -> list[str]:
        """Full names of the active flags this client may see, in snapshot order."""
        return [flag_plan.name for flag_plan in self._plan.visible]

    def stats(self) -> dict[str, int]:
        """Counters: sink errors, internal resolve errors, exposures dropped because the
        client was closed, and ``exposures_dropped``: every exposure lost, for any reason —
        by the client (closed, or a sink's ``emit`` raised) or by its sinks (the ``dropped``
        of each sink's ``stats()``: queue full, delivery failed, shutdown…). Each sink
        details what it delivered and dropped in its own ``stats()``."""
        with self._lock:
            counters = dict(self._stats)
            lost = self._lost
        counters["exposures_dropped"] = lost + sum(_dropped(sink) for sink in self._sinks)
        return counters

    def flush(self, timeout: float | None = None) -> bool:
        """Flush every sink within one shared ``timeout`` (seconds; ``None`` waits as long as
        it takes); ``True`` if all report everything delivered and no exposure was dropped
        since the previous flush (by the client or a sink)."""
        delivered = flush_all(self._sinks, timeout, self._log)
        with self._lock:
            fresh = self._lost != self._lost_reported
            self._lost_reported = self._lost
        return delivered and not fresh

    def close(self, timeout: float | None = 5.0) -> None:
        """Deliver what the sinks hold and close them, within ``timeout`` seconds in all
        (``None``: each sink's own ``close_timeout``): the sinks drain at the same time, and
        what a failing or stuck destination still holds at the end is spooled or dropped
        and counted. Evaluation still works afterwards; exposures are then counted as
        dropped. Idempotent. A client that is never closed is closed when the process exits
        (at interpreter exit, and at the end of a ``multiprocessing`` child)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        for sink in self._sinks:
            begin_close(sink)
        if self._updater is not None:
            self._updater.close(1.0 if deadline is None else _left(deadline, 1.0))
        remaining = None if deadline is None else _left(deadline)
        if not close_all(self._sinks, remaining, self._log):
            self._count("sink_errors")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Client(version={self._plan.version!r}, flags={len(self._plan.visible)}, "
            f"client={self._plan.client!r})"
        )

    # -- internals --------------------------------------------------------------------------

    def _record(self, resolution: Resolution, resolve_id: str | None) -> None:
        if self._closed:
            self._drop("dropped_closed", "the client is closed; exposure dropped")
            return
        exposure = Exposure(resolution, time.time(), resolve_id)
        for sink in self._sinks:
            try:
                sink.emit(exposure)
            except Exception:
                self._drop("sink_errors", "sink %r raised from emit; exposure dropped", sink)

    def _drop(self, key: str, message: str, *args: object) -> None:
        with self._lock:
            self._stats[key] += 1
            self._lost += 1
            lost = self._lost
        self._log.warning(key, message + " (dropped so far: %d)", *args, lost)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held at the fork

    def _close_at_exit(self, timeout: float | None = None) -> None:
        self.close(5.0 if timeout is None else timeout)

    def _begin_close(self) -> None:
        for sink in self._sinks:
            begin_close(sink)

    def _count(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def _unresolved(self, flag: Any, plan: Plan | None = None) -> Resolution:
        """``evaluate``'s answer when resolving ``flag`` raised: ``FLAG_NOT_FOUND`` for a flag
        the plan does not have (or a flag argument that is no string), else ``ERROR``.
        Never raises, whatever ``flag`` is."""
        plan = self._plan if plan is None else plan
        try:
            known = flag in plan
        except Exception as error:  # unhashable, or a str subclass whose __hash__/__eq__ raise
            if not _is_str(flag):
                return _not_found(plan, flag)
            return _error(
                plan,
                flag,
                f"the flag argument, a {_kind(flag)}, cannot be looked up: "
                f"{_kind(error)} from its own methods",
            )
        return self._failed(flag, plan) if known else _not_found(plan, flag)

    def _failed(self, flag: Any, plan: Plan | None = None) -> Resolution:
        plan = self._plan if plan is None else plan
        if not _is_str(flag):
            return _not_found(plan, flag)  # e.g. an unhashable flag argument
        self._count("resolve_errors")
        self._log.warning("resolve", "resolving %r failed", _plain(flag), exc_info=True)
        return _error(plan, flag, "internal error while resolving; see the flagstone log")


_MISMATCH = object()

_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {}
"""``get_value``'s paths already split: ``"flag.a.b"`` → ``("flag", ("a", "b"))``."""
_MAX_PATHS = 4096


def _left(deadline: float, at_most: float | None = None) -> float:
    """Seconds until ``deadline`` (never negative), at most ``at_most``."""
    left = max(0.0, deadline - time.monotonic())
    return left if at_most is None else min(left, at_most)


def _dropped(sink: object) -> int:
    """The ``dropped`` counter of a sink's ``stats()`` (summed over a ``FanoutSink``'s)."""
    stats = getattr(sink, "stats", None)
    if not callable(stats):
        return 0
    try:
        found = stats()
    except Exception:
        return 0
    total = 0
    for item in found if isinstance(found, list) else [found]:
        dropped = item.get("dropped", 0) if isinstance(item, Mapping) else 0
        total += dropped if isinstance(dropped, int) else 0
    return total


def _key(signing_key: bytes | str | None) -> bytes | None:
    return signing_key.encode() if isinstance(signing_key, str) else signing_key


def _typed(value: Any, default: Any) -> Any:
    if default is None:
        return value
    if isinstance(default, bool):
        return value if isinstance(value, bool) else _MISMATCH
    if isinstance(default, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISMATCH
    if isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return _MISMATCH
    if isinstance(default, str):
        return value if isinstance(value, str) else _MISMATCH
    if isinstance(default, Mapping):
        return value if isinstance(value, dict) else _MISMATCH
    if isinstance(default, list | tuple):
        return value if isinstance(value, list) else _MISMATCH
    return value if isinstance(value, type(default)) else _MISMATCH


def _as_context(context: Any) -> dict[str, Any] | None:
    """``context`` as a ``dict``; ``None`` when it is not a mapping, or is one that cannot be
    read (its iteration or look-ups raise)."""
    if context is None:
        return {}
    try:
        if isinstance(context, dict):
            return context
        if isinstance(context, Mapping):
            return dict(context)
    except Exception:
        return None
    return None


def _is_str(flag: Any) -> bool:
    """Whether the ``flag`` argument is a ``str`` (a subclass too). Never raises."""
    try:
        return isinstance(flag, str)
    except Exception:  # an object whose __class__ raises
        return False


def _plain(flag: Any) -> str:
    """The ``flag`` argument as text: an exact ``str`` copy of a ``str`` subclass (whose own
    methods are never called: they may raise), the ``repr`` of anything else. Never raises."""
    try:
        return str.__str__(flag if _is_str(flag) else repr(flag))
    except Exception:
        return "<unprintable flag argument>"


def _kind(value: Any) -> str:
    """The name of ``value``'s type. Never raises."""
    try:
        return str.__str__(type(value).__name__)
    except Exception:  # a metaclass that hides the name
        return "object of an unnamed type"


def _flag_name(flag: Any) -> str:
    """The name a resolution reports for the ``flag`` argument: the full flag name for a
    string, the ``repr`` of anything else. Never raises."""
    if flag.__class__ is not str:
        if not _is_str(flag):
            return _plain(flag)
        flag = _plain(flag)
    return flag if flag.startswith("flags/") else f"flags/{flag}"


def _error(plan: Plan, flag: Any, message: str) -> Resolution:
    """An ``ERROR`` resolution (code ``GENERAL``) of ``flag`` saying ``message``."""
    return resolved(
        Outcome(
            _flag_name(flag),
            Reason.ERROR,
            error=ErrorCode.GENERAL,
            error_message=message,
            snapshot_version=plan.version,
        )
    )


def _not_found(plan: Plan, flag: Any) -> Resolution:
    name = _flag_name(flag)
    if not plan.ready:
        return resolved(
            Outcome(
                name,
                Reason.ERROR,
                error=ErrorCode.NOT_READY,
                error_message="no snapshot loaded yet; see client.status()",
            )
        )
    if not _is_str(flag):
        message = f"a flag name is a string, not {_kind(flag)}"
    else:
        message = f"no flag {_plain(flag)!r} in snapshot {plan.version}" + (
            f" for client {plan.client!r}" if plan.client else ""
        )
    return resolved(
        Outcome(
            name,
            Reason.FLAG_NOT_FOUND,
            error=ErrorCode.FLAG_NOT_FOUND,
            error_message=message,
            snapshot_version=plan.version,
        )
    )


def _invalid_context(flag_plan: FlagPlan) -> Resolution:
    return resolved(
        Outcome(
            flag_plan.name,
            Reason.ERROR,
            error=ErrorCode.INVALID_CONTEXT,
            error_message="the evaluation context must be a mapping whose items can be read",
            snapshot_version=flag_plan.no_match.snapshot_version,
        )
    )


def _resolve_unusual(flag_plan: FlagPlan, context: Any) -> Resolution:
    """``evaluate``'s work for a context that is not a ``dict``, or while test overrides are
    set (kept apart so that the common path tests both conditions at once)."""
    if context.__class__ is not dict:
        context = _as_context(context)
        if context is None:
            return _invalid_context(flag_plan)
    if _OVERRIDES:
        forced = _test_override(flag_plan, context)
        if forced is not None:
            return forced
    return flag_plan.resolve(context)


def _test_override(flag_plan: FlagPlan, context: dict[str, Any]) -> Resolution | None:
    variant = _overrides.lookup(flag_plan.name, flag_plan.unit, context)
    if variant is None:
        return None
    version = flag_plan.no_match.snapshot_version
    found = flag_plan.variant_value(variant)
    if found is None:
        return resolved(
            Outcome(
                flag_plan.name,
                Reason.ERROR,
                error=ErrorCode.GENERAL,
                error_message=f"a test override names {variant!r}, which is not a variant of "
                f"{flag_plan.name!r}",
                override=True,
                snapshot_version=version,
            )
        )
    name, value = found
    unit = flag_plan.unit(context)
    return resolved(
        Outcome(
            flag_plan.name,
            Reason.OVERRIDE,
            variant=name,
            value=value,
            override=True,
            should_apply=False,
            snapshot_version=version,
        ),
        unit if isinstance(unit, str) else None,
    )
