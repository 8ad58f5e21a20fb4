"""``Client``: resolve flags locally from a snapshot, record exposures and metric events.

A client holds one reference to a compiled plan (swapped atomically when a new snapshot is
loaded), the process-wide test overrides, its sinks and its materialization store.
``evaluate`` never raises: a missing flag, a bad context or an internal failure comes back as
a ``Resolution`` with a reason and an error code. ``track`` never raises either: an event it
cannot record is counted (``stats()``) and logged at a limited rate.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, overload

from cachetools import LRUCache

from . import overrides as _overrides
from .errors import ConfigError, IntegrityError
from .formats.native import ParsedSnapshot
from .formats.reading import parse_snapshot, read_snapshot
from .overrides import ACTIVE as _OVERRIDES
from .overrides import OverrideHandle
from .plan import FlagPlan, PendingPlan, Plan, compile_plan
from .plan.compile import FlagCompiler
from .plan.flag import ErrorCounts
from .plan.resolver import retire_replaced
from .plan.rules import DEFAULT_SELECTOR, unit_reader
from .plan.targeting import attribute_getter
from .process.gc import paused_gc
from .process.hooks import close_at_exit, register_fork_hooks
from .process.ratelimit import RateLimitedLog
from .reasons import ErrorCode, Reason
from .resolution import Outcome, Resolution, resolved
from .sinks.base import ExposureSink
from .sinks.events import MetricEvent
from .sinks.exposure import Exposure
from .sinks.fanout import begin_close, close_all, flush_all
from .sources.base import SnapshotSource
from .sources.cache import DiskCache
from .sources.file import FileSource
from .sources.freshness import issued_of, refusal
from .sources.integrity import Integrity
from .sources.updater import SourceStatus, Updater
from .stores.materializations import MaterializationStore
from .values import FrozenDict

if TYPE_CHECKING:
    from .transport.base import Transport

__all__ = ["Client", "ValueDetails"]

logger = logging.getLogger("flagstone")

_Default = TypeVar("_Default")


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
    ``exposure_context``
        Context attributes (names or dotted paths, ``("country", "device.os")``) recorded
        with each exposure under ``"context"``, for exposure filters and breakdowns in the
        analysis. None by default: contexts may hold personal data. Only strings, numbers and
        booleans are recorded; other values and missing attributes are left out.
    ``event_properties``
        The properties of :meth:`track` that are recorded (``("currency", "plan")``). None
        by default: the others are left out of the record.
    ``event_unit_selector``
        The context path :meth:`track` reads an event's unit from (``"targeting_key"``);
        use the same one as your A/B tests' ``targetingKeySelector``.
    """

    def __init__(
        self,
        snapshot: ParsedSnapshot | None,
        *,
        client_secret: str | None = None,
        sinks: Iterable[ExposureSink] = (),
        materializations: MaterializationStore | None = None,
        exposure_context: Iterable[str] = (),
        event_properties: Iterable[str] = (),
        event_unit_selector: str = DEFAULT_SELECTOR,
    ) -> None:
        self._sinks: tuple[ExposureSink, ...] = tuple(sinks)
        self._exposure_context = ContextRecorder(exposure_context) if exposure_context else None
        self._event_properties = frozenset(_names(event_properties, "event_properties"))
        if not isinstance(event_unit_selector, str) or not event_unit_selector:
            raise ValueError("event_unit_selector must be a non-empty context path")
        self._event_unit_selector = event_unit_selector
        self._read_event_unit = unit_reader(event_unit_selector)
        self._event_names: dict[str, None] = {}  # names already checked (a few hundred at most)
        self._ignored_properties: set[str] = set()  # names already logged as not recorded
        self._event_emitters: tuple[Callable[[MetricEvent], None], ...] = tuple(
            emit
            for emit in (getattr(sink, "emit_event", None) for sink in self._sinks)
            if callable(emit)
        )
        self._client_secret = client_secret
        self._materializations = materializations
        self._errors = ErrorCounts()  # resolutions with an error, by code (see stats())
        self._plan: Plan = (
            compile_plan(
                snapshot, client_secret=client_secret, store=materializations, errors=self._errors
            )
            if snapshot is not None
            else PendingPlan("(no snapshot yet)")
        )
        if snapshot is not None:
            _overrides.check_registry(self._plan)  # OverrideError: the test's own mistake
        self._own_overrides: _overrides.Table = {}  # Client.override: full flag name → entries
        self._updater: Updater | None = None
        self._origin: tuple[str, str | None] = ("static", None)  # for status() without updater
        self._listeners: list[Callable[[str], object]] = []
        self._log = RateLimitedLog(logger)
        self._lock = threading.Lock()
        self._closed = False
        self._stats = {"sink_errors": 0, "resolve_errors": 0, "dropped_closed": 0}
        self._lost = 0  # exposures no sink took: emitted after close, or emit raised
        self._events_lost = 0  # events no sink took: tracked after close, or emit_event raised
        self._lost_reported = 0  # … (both kinds) that a flush has already answered False for
        self._rejected: dict[str, int] = {}  # events not recorded, by reason (bad input)
        self._unknown_flags: LRUCache[str, None] = LRUCache(maxsize=_UNKNOWN_FLAGS_REMEMBERED)
        register_fork_hooks(self)
        _overrides.register(self)
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
        exposure_context: Iterable[str] = (),
        event_properties: Iterable[str] = (),
        event_unit_selector: str = DEFAULT_SELECTOR,
    ) -> Client:
        """A client for a snapshot given as a decoded JSON object."""
        parsed = parse_snapshot(document, strict=strict)
        return cls(
            parsed,
            client_secret=client_secret,
            sinks=sinks,
            materializations=materializations,
            exposure_context=exposure_context,
            event_properties=event_properties,
            event_unit_selector=event_unit_selector,
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
        exposure_context: Iterable[str] = (),
        event_properties: Iterable[str] = (),
        event_unit_selector: str = DEFAULT_SELECTOR,
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
                    exposure_context=exposure_context,
                    event_properties=event_properties,
                    event_unit_selector=event_unit_selector,
                )
            integrity = Integrity(_key(signing_key), expected_sha256)
            document = source.poll(None, need_signature=integrity.needs_signature)
        except OSError as error:
            raise ConfigError(
                f"cannot read the snapshot: {error.strerror or error}", source=source.name
            ) from None
        assert document is not None  # a first read always gives one
        integrity.check(document.body, document.signature, source.name)
        with paused_gc():  # one pause for reading and compiling (flagstone.process.gc)
            # each flag compiled as it is read: the flags' models are never all held at once
            compiler = FlagCompiler(client_secret=client_secret, store=materializations)
            parsed = read_snapshot(
                document.body, strict=strict, source=source.name, compile=compiler
            )
            if integrity.needs_signature and not allow_rollback:
                reason = refusal(issued_of(parsed, document.body), None)
                if reason is not None:
                    raise IntegrityError(reason, source=source.name)
            client = cls(
                parsed,
                client_secret=client_secret,
                sinks=sinks,
                materializations=materializations,
                exposure_context=exposure_context,
                event_properties=event_properties,
                event_unit_selector=event_unit_selector,
            )
            del parsed
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
        exposure_context: Iterable[str] = (),
        event_properties: Iterable[str] = (),
        event_unit_selector: str = DEFAULT_SELECTOR,
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
        from .sources.url import UrlSource  # HTTP (http.client, ssl) only for URL clients

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
            exposure_context=exposure_context,
            event_properties=event_properties,
            event_unit_selector=event_unit_selector,
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
        exposure_context: Iterable[str] = (),
        event_properties: Iterable[str] = (),
        event_unit_selector: str = DEFAULT_SELECTOR,
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
            compiler=partial(FlagCompiler, client_secret=client_secret, store=materializations),
        )
        client = cls(
            None,
            client_secret=client_secret,
            sinks=sinks,
            materializations=materializations,
            exposure_context=exposure_context,
            event_properties=event_properties,
            event_unit_selector=event_unit_selector,
        )
        client._plan = PendingPlan(source.name)
        client._updater = updater
        updater.bind(client)
        updater.load_cache()
        if wait:
            try:
                updater.load_now()
                if client._plan.ready:
                    _overrides.check_registry(client._plan)
            except BaseException:
                updater.close()  # the source's connections; the client is never returned
                client._closed = True  # nor checked against by test overrides
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
                resolution = _resolve_unusual(
                    plan[flag], context, self._own_overrides, self._errors
                )
            else:
                # errors are counted where they are answered (FlagPlan.failed, _unresolved,
                # _resolve_unusual): the success path reads nothing of the resolution it
                # returns without an exposure (~130 instructions per call)
                resolution = resolve(context)
        except Exception:
            return self._unresolved(flag, plan)
        if apply and self._sinks:
            outcome = resolution._outcome
            if outcome.should_apply or resolution._fallthrough:
                recorder = self._exposure_context
                self._record(
                    resolution, None, None if recorder is None else _recorded(recorder, context)
                )
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
                self._errors.add(ErrorCode.INVALID_CONTEXT, len(plan.visible))
                return {flag_plan.name: _invalid_context(flag_plan) for flag_plan in plan.visible}
        own = self._own_overrides
        for flag_plan in plan.visible:  # evaluate's work per flag, inline (no method call)
            try:
                if _OVERRIDES:
                    resolution = _resolve_unusual(flag_plan, context, own, self._errors)
                else:
                    resolution = flag_plan.resolve(context)  # counts its own errors
            except Exception:
                resolution = self._failed(flag_plan.name, plan)
                if resolution._outcome.error is not None:
                    self._count_error(resolution._outcome.error)
            results[flag_plan.name] = resolution
        if apply and self._sinks:
            resolve_id = uuid.uuid4().hex
            recorder = self._exposure_context
            attributes = None if recorder is None else recorder(context)
            for resolution in results.values():
                if resolution.should_apply:
                    self._record(resolution, resolve_id, attributes)
        return results

    def apply(self, resolution: Resolution, context: Mapping[str, Any] | None = None) -> None:
        """Record the exposure of a resolution obtained with ``apply=False``, now that the
        user sees it. Does nothing for resolutions that should not be applied. ``context``
        (the one it was evaluated with) gives the attributes ``exposure_context`` records;
        without it the exposure has none."""
        if resolution.should_apply and self._sinks:
            recorder = self._exposure_context
            attributes = None
            if recorder is not None:
                known = _as_context(context) if context is not None else None
                attributes = recorder(known) if known is not None else {}
            self._record(resolution, None, attributes)

    # -- metric events ----------------------------------------------------------------------

    def track(
        self,
        event: str,
        context: Mapping[str, Any] | None = None,
        *,
        value: float | None = None,
        properties: Mapping[str, Any] | None = None,
        unit_selector: str | None = None,
    ) -> None:
        """Record the metric event ``event`` (``"purchase"``) for the unit ``context`` names,
        through the client's sinks, as exposures are recorded.

        The unit is read from the context at ``unit_selector`` (default the client's
        ``event_unit_selector``, ``"targeting_key"``) by the targeting key's rules: a string,
        or a whole number written as an integer, at most 100 characters. ``value`` is a
        finite number or ``None`` (what ``SUM`` and ``AVERAGE`` metrics add up);
        ``properties`` a mapping of which only the names in the client's
        ``event_properties`` are recorded (none by default), each a JSON value.

        Never raises: an event name that is not a non-empty string of at most 256
        characters, a context without a unit, a value that is not a finite number or
        properties that are not JSON are counted in ``stats()["events_rejected"]`` (and by
        reason) and logged at a limited rate; the event is not recorded. On the request
        thread this costs about what an exposure does: the checks, one small object and a
        queue append; the event id, time text and JSON are made on the delivery side.
        """
        try:
            if type(event) is not str or event not in self._event_names:
                checked = self._event_name(event)
                if checked is None:
                    return
                event = checked
            if type(context) is not dict:  # type(): a __class__ property could raise
                context = _as_context(context)
                if context is None:
                    self._reject("invalid_context", event, "the context is not a readable mapping")
                    return
            if unit_selector is None:
                read = self._read_event_unit
                selector = self._event_unit_selector
            else:
                # str's own methods, not the argument's (a str subclass's may raise)
                selector = str.__str__(unit_selector) if _is_str(unit_selector) else ""
                if not selector:
                    self._reject(
                        "invalid_selector", event, f"unit_selector {_shown(unit_selector)}"
                    )
                    return
                read = unit_reader(selector)
            unit = read(context)
            if unit.__class__ is not str:
                if unit is None:
                    self._reject("no_unit", event, f"the context has no {selector!r}")
                else:
                    self._reject("invalid_unit", event, f"{selector!r} is not a valid unit")
                return
            if value is not None and not (type(value) is float and _isfinite(value)):
                number = _finite_number(value)
                if number is None:
                    self._reject("invalid_value", event, f"{_shown(value)} is not a finite number")
                    return
                value = number
            kept = _NO_PROPERTIES
            if properties is not None:
                found = self._kept_properties(properties)
                if found is None:
                    self._reject("invalid_properties", event, "properties are not JSON")
                    return
                kept = found
            if self._closed:
                self._drop_event("the client is closed; event dropped")
                return
            item = MetricEvent(
                event, unit, selector, value, kept, time.time(), self._plan.version or None
            )
            emitters = self._event_emitters
            if not emitters:
                if self._sinks:
                    self._log.warning(
                        "no-event-sink",
                        "no sink of this client takes metric events (emit_event): "
                        "events are not recorded",
                    )
                return
            for emit in emitters:
                try:
                    emit(item)
                except Exception:
                    self._drop_event("sink %r raised from emit_event; event dropped", emit)
        except Exception:
            self._reject("internal_error", event, "internal error", exc_info=True)

    def _event_name(self, event: Any) -> str | None:
        """``event`` as a plain ``str`` if it is a valid event name (remembered), else
        ``None`` (rejected)."""
        name = str.__str__(event) if _is_str(event) else None  # never the argument's methods
        if name is not None and 0 < len(name) <= MAX_EVENT_NAME and _valid_text(name):
            if len(self._event_names) < 1024:
                self._event_names[name] = None
            return name
        self._reject(
            "invalid_event",
            None,
            f"the event name {_shown(event)} is not a non-empty string of at most "
            f"{MAX_EVENT_NAME} characters",
        )
        return None

    def _kept_properties(self, properties: Any) -> dict[str, Any] | None:
        """The allow-listed properties, as JSON values (copied); ``None`` if ``properties``
        is not a mapping, cannot be read, or an allow-listed one is not JSON."""
        try:
            return self._read_properties(properties)
        except Exception:  # a mapping whose look-ups or iteration raise
            return None

    def _read_properties(self, properties: Any) -> dict[str, Any] | None:
        if type(properties) is not dict and not isinstance(properties, Mapping):
            return None
        kept: dict[str, Any] = {}
        for name in self._event_properties:
            if name in properties:
                value = properties[name]
                cls = type(value)
                if (
                    (cls is str and value.isascii())
                    or cls is int
                    or cls is bool
                    or (cls is float and _isfinite(value))
                ):
                    kept[name] = value  # a JSON scalar as it is: the common case, inline
                    continue
                found = _json_value(value, 0)
                if found is _INVALID:
                    return None
                kept[name] = found
        if len(kept) < len(properties):
            self._note_ignored(properties)
        return kept if kept else _NO_PROPERTIES

    def _note_ignored(self, properties: Mapping[Any, Any]) -> None:
        """Say once per name (for the first few dozen) that a property is not recorded."""
        noted = self._ignored_properties
        try:
            for key in properties:
                if len(noted) >= 64:
                    return
                name = _shown(key)
                if key not in self._event_properties and name not in noted:
                    noted.add(name)
                    logger.info(
                        "flagstone: the event property %s is not recorded (only those named in "
                        "Client(event_properties=...) are)",
                        name,
                    )
        except Exception:  # keys whose own methods raise: nothing to say about them
            return

    def _reject(
        self, reason: str, event: str | None, detail: str, *, exc_info: bool = False
    ) -> None:
        with self._lock:
            self._rejected[reason] = self._rejected.get(reason, 0) + 1
            rejected = sum(self._rejected.values())
        what = "an event" if event is None else f"event {_shown(event)}"
        self._log.warning(
            f"track-{reason}",
            "track: %s not recorded (%s): %s (rejected so far: %d)",
            what,
            reason,
            detail,
            rejected,
            exc_info=exc_info,
        )

    def _drop_event(self, message: str, *args: object) -> None:
        with self._lock:
            self._events_lost += 1
            lost = self._events_lost
        self._log.warning("track-" + message[:20], message + " (dropped so far: %d)", *args, lost)

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
        # instructions of partition and split), and evaluate's lines inline (calling
        # it costs ~850 instructions, 12 % of an evaluation): 1.1x evaluate, not 3x.
        parsed = _PATHS.get(path) if path.__class__ is str else None
        if parsed is None:
            return self.get_value_details(path, context, default, apply=apply).value
        flag, field, deeper = parsed
        plan = self._plan
        try:  # as in evaluate (errors counted where they are answered)
            resolve = plan.resolvers[flag]
            if context.__class__ is not dict or _OVERRIDES:
                resolution = _resolve_unusual(
                    plan[flag], context, self._own_overrides, self._errors
                )
            else:
                resolution = resolve(context)
        except Exception:
            resolution = self._unresolved(flag, plan)
        outcome = resolution._outcome
        if outcome.variant is None:
            if apply and self._sinks and (outcome.should_apply or resolution._fallthrough):
                recorder = self._exposure_context  # a client default or a fallthrough
                attributes = None if recorder is None else _recorded(recorder, context)
                self._record(resolution, None, attributes)
            return default
        value = outcome.value
        if field is not None:
            # The first field without a loop (a tuple iterator costs ~150 instructions), the
            # class test before isinstance (a variant's objects are FrozenDicts: ~60 less);
            # 8 560 → 8 170 instructions per call (callgrind; bench_evaluate: 1.18x → 1.09x).
            value = (
                value.get(field)
                if value.__class__ is FrozenDict or isinstance(value, dict)
                else None
            )
            if deeper:
                for field in deeper:
                    value = value.get(field) if isinstance(value, dict) else None
        if default is not None and value.__class__ is not default.__class__:
            value = _typed(value, default)
            if value is _MISMATCH:
                self._count_error(ErrorCode.TYPE_MISMATCH)
                return default
        if apply and self._sinks and (outcome.should_apply or resolution._fallthrough):
            recorder = self._exposure_context  # as evaluate records it
            self._record(
                resolution, None, None if recorder is None else _recorded(recorder, context)
            )
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
                first, *deeper = field_path.split(".")
                _PATHS[path] = (flag, first, tuple(deeper)) if field_path else (flag, None, ())
        else:
            flag, field_path = path, ""
        resolution = self.evaluate(flag, context, apply=False)
        if resolution.variant is None:
            if apply:
                self.apply(resolution, context)  # a client default or a fallthrough too
            return ValueDetails(
                default, resolution.reason, resolution.error, resolution.error_message, resolution
            )
        value: Any = resolution.value
        for part in field_path.split(".") if field_path else ():
            value = value.get(part) if isinstance(value, dict) else None
        typed = _typed(value, default)
        if typed is _MISMATCH:
            self._count_error(ErrorCode.TYPE_MISMATCH)
            message = f"{path!r} is {type(value).__name__}, the default is {type(default).__name__}"
            return ValueDetails(
                default, Reason.TYPE_MISMATCH, ErrorCode.TYPE_MISMATCH, message, resolution
            )
        if apply:
            self.apply(resolution, context)
        return ValueDetails(typed, resolution.reason, None, None, resolution)

    # Typed getters: get_value with a default of one type, and a return type that says so.
    # Each is get_value plus one class test (a value get_value returns for such a default is
    # already of its type, or the default), so they cost what get_value costs.

    def get_bool(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: bool = False,
        *,
        apply: bool = True,
    ) -> bool:
        """The boolean at ``path`` (``"flag.field"``), or ``default`` when there is none or
        it is no ``bool`` (``TYPE_MISMATCH``, counted in :meth:`stats`). Never raises;
        records the exposure as :meth:`get_value` does."""
        value = self.get_value(path, context, default, apply=apply)
        return value if value.__class__ is bool else default

    def get_str(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: str = "",
        *,
        apply: bool = True,
    ) -> str:
        """The string at ``path``, or ``default`` when there is none or it is no string.
        Never raises; records the exposure as :meth:`get_value` does."""
        value = self.get_value(path, context, default, apply=apply)
        return value if isinstance(value, str) else default

    def get_int(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: int = 0,
        *,
        apply: bool = True,
    ) -> int:
        """The integer at ``path``, or ``default`` when there is none or it is no ``int``:
        a ``bool`` is not an integer here, and neither is a ``float`` (``2.0`` too). Never
        raises; records the exposure as :meth:`get_value` does."""
        value = self.get_value(path, context, default, apply=apply)
        return value if isinstance(value, int) and value.__class__ is not bool else default

    def get_float(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: float = 0.0,
        *,
        apply: bool = True,
    ) -> float:
        """The number at ``path`` as a ``float`` (an integer is accepted and converted, a
        ``bool`` is not), or ``default`` when there is none or it is no number. Never
        raises; records the exposure as :meth:`get_value` does."""
        value = self.get_value(path, context, float(default), apply=apply)
        return value if value.__class__ is float else default

    @overload
    def get_object(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: None = None,
        *,
        apply: bool = True,
    ) -> dict[str, Any] | None: ...

    @overload
    def get_object(
        self,
        path: str,
        context: Mapping[str, Any] | None,
        default: _Default,
        *,
        apply: bool = True,
    ) -> dict[str, Any] | _Default: ...

    @overload
    def get_object(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        *,
        default: _Default,
        apply: bool = True,
    ) -> dict[str, Any] | _Default: ...

    def get_object(
        self,
        path: str,
        context: Mapping[str, Any] | None = None,
        default: Any = None,
        *,
        apply: bool = True,
    ) -> Any:
        """The JSON object (a ``dict``) at ``path``, or ``default`` when there is none or it
        is no object (a list is not: ``get_value(path, context, [])`` reads lists). Never
        raises; records the exposure as :meth:`get_value` does."""
        value = self.get_value(path, context, _EMPTY_OBJECT, apply=apply)
        return value if value is not _EMPTY_OBJECT and isinstance(value, dict) else default

    # -- test overrides -----------------------------------------------------------------------

    def override(
        self, flag: str, variant: str, units: Iterable[str] | str | None = None
    ) -> OverrideHandle:
        """Force ``variant`` for ``flag`` in this client only (for ``units`` only, if given),
        from now until the returned handle's ``undo()`` or the end of the ``with`` block it
        opens: ``with client.override("checkout", "treatment"): ...``.

        A client's own overrides win over the process-wide ones (``flagstone.testing``),
        the latest first. Raises ``OverrideError`` if the snapshot being served has no such
        flag or variant (a client still waiting for its first snapshot checks nothing).
        Forced resolutions have reason ``RESOLVE_REASON_OVERRIDE`` and record no exposure.
        """
        _overrides.valid_names(flag, variant)
        plan = self._plan
        if plan.ready:
            _overrides.check(flag, variant, (plan,))
        if not self._own_overrides:  # a client dropped with overrides set releases them
            weakref.finalize(self, _overrides.clear, self._own_overrides)
        return OverrideHandle(self._own_overrides, flag, variant, _overrides.unit_set(units))

    def clear_overrides(self) -> None:
        """Remove every override of this client's own (the process-wide ones stay)."""
        _overrides.clear(self._own_overrides)

    def _checked_plan(self) -> Plan | None:
        """What process-wide overrides are checked against: the plan served, if any, while
        the client is open."""
        plan = self._plan
        return plan if plan.ready and not self._closed else None

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
        # compiled against the plan being served: what did not change is kept from it (see
        # flagstone.plan.compile), and this plan keeps what the next install needs
        previous = self._plan
        plan = compile_plan(
            snapshot,
            client_secret=self._client_secret,
            store=self._materializations,
            previous=previous,
            keep_state=True,
            errors=self._errors,
        )
        self._plan = plan
        retire_replaced(previous, plan)
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
        client was closed, and

        ``exposures_dropped``
            every exposure lost, for any reason — by the client (closed, or a sink's
            ``emit`` raised) or by its sinks (the exposures' ``dropped`` of each sink's
            ``stats()``: queue full, delivery failed, shutdown…);
        ``events_dropped``
            the same for metric events (:meth:`track`);
        ``events_rejected``
            events :meth:`track` refused as bad input, and ``events_rejected_<reason>``
            for each reason that occurred (``invalid_event``, ``invalid_context``,
            ``no_unit``, ``invalid_unit``, ``invalid_selector``, ``invalid_value``,
            ``invalid_properties``, ``internal_error``);
        ``errors``
            resolutions answered with an error code (``evaluate``, ``evaluate_all``, the
            ``get_*`` methods), and ``errors_<code>`` for every code, zero or not:
            ``errors_not_ready``, ``errors_flag_not_found``, ``errors_type_mismatch`` (a
            ``get_*`` whose value is not of the default's type), ``errors_targeting_key_error``,
            ``errors_invalid_context``, ``errors_general``.

        Each sink details what it delivered and dropped in its own ``stats()``."""
        with self._lock:
            counters = dict(self._stats)
            lost = self._lost
            events_lost = self._events_lost
            rejected = dict(self._rejected)
        errors = self._errors.counts()
        counters["exposures_dropped"] = lost + sum(_dropped(sink, EXPOSURE) for sink in self._sinks)
        counters["events_dropped"] = events_lost + sum(
            _dropped(sink, EVENT) for sink in self._sinks
        )
        counters["events_rejected"] = sum(rejected.values())
        for reason, count in sorted(rejected.items()):
            counters[f"events_rejected_{reason}"] = count
        counters["errors"] = sum(errors.values())
        for code, count in errors.items():
            counters[f"errors_{code.value.lower()}"] = count
        return counters

    def flush(self, timeout: float | None = None) -> bool:
        """Flush every sink within one shared ``timeout`` (seconds; ``None`` waits as long as
        it takes); ``True`` if all report everything delivered and no exposure or event was
        dropped since the previous flush (by the client or a sink)."""
        delivered = flush_all(self._sinks, timeout, self._log)
        with self._lock:
            lost = self._lost + self._events_lost
            fresh = lost != self._lost_reported
            self._lost_reported = lost
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
        self.clear_overrides()  # no longer slows the other clients' evaluations
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

    def _record(
        self, resolution: Resolution, resolve_id: str | None, context: dict[str, Any] | None
    ) -> None:
        if self._closed:
            self._drop("dropped_closed", "the client is closed; exposure dropped")
            return
        exposure = Exposure(resolution, time.time(), resolve_id, context)
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
        self._errors.after_fork()

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
        the plan does not have (or a flag argument that is no string), else ``ERROR``;
        counted in ``stats()``, and a flag name not found is logged once. Never raises,
        whatever ``flag`` is."""
        plan = self._plan if plan is None else plan
        resolution = self._unresolved_of(flag, plan)
        code = resolution._outcome.error
        if code is not None:
            self._count_error(code)
            if code is ErrorCode.FLAG_NOT_FOUND and _is_str(flag):
                self._warn_unknown(_flag_name(flag), plan)
        return resolution

    def _warn_unknown(self, name: str, plan: Plan) -> None:
        """Log ``name`` at WARNING the first time it is not found (the last
        ``_UNKNOWN_FLAGS_REMEMBERED`` names are remembered)."""
        with self._lock:
            if name in self._unknown_flags:
                return
            self._unknown_flags[name] = None
        logger.warning(
            "flag %r is not in snapshot %s%s; it resolves to the default (FLAG_NOT_FOUND; "
            "logged once per flag name)",
            name,
            plan.version,
            f" for client {plan.client!r}" if plan.client else "",
        )

    def _count_error(self, code: ErrorCode) -> None:
        self._errors.add(code)

    def _unresolved_of(self, flag: Any, plan: Plan) -> Resolution:
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

_PATHS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
"""``get_value``'s paths already split: ``"flag.a.b"`` → ``("flag", "a", ("b",))``,
``"flag"`` → ``("flag", None, ())``."""
_MAX_PATHS = 4096

_EMPTY_OBJECT: dict[str, Any] = {}
"""get_object's default for get_value: accepts dicts only; never returned to a caller."""

_UNKNOWN_FLAGS_REMEMBERED = 1024
"""How many unknown flag names a client remembers having logged (least recently used
forgotten first): the warning is once per name, in bounded memory."""


def _left(deadline: float, at_most: float | None = None) -> float:
    """Seconds until ``deadline`` (never negative), at most ``at_most``."""
    left = max(0.0, deadline - time.monotonic())
    return left if at_most is None else min(left, at_most)


def _dropped(sink: object, kind: str) -> int:
    """The ``dropped`` counter of one kind of record in a sink's ``stats()`` (summed over a
    ``FanoutSink``'s). A sink whose stats are not split ``by_kind`` counts exposures only."""
    stats = getattr(sink, "stats", None)
    if not callable(stats):
        return 0
    try:
        found = stats()
    except Exception:
        return 0
    total = 0
    for item in found if isinstance(found, list) else [found]:
        if not isinstance(item, Mapping):
            continue
        by_kind = item.get("by_kind")
        if isinstance(by_kind, Mapping):
            part = by_kind.get(kind)
            dropped = part.get("dropped", 0) if isinstance(part, Mapping) else 0
        else:
            dropped = item.get("dropped", 0) if kind == EXPOSURE else 0
        total += dropped if isinstance(dropped, int) else 0
    return total


EXPOSURE = "exposure"
EVENT = "event"

MAX_EVENT_NAME = 256
"""The longest event name ``track`` accepts, in characters."""

_NO_PROPERTIES: dict[str, Any] = {}
"""The properties of an event that records none (shared: never written to)."""

_INVALID = object()

_isfinite = math.isfinite

_MAX_DEPTH = 8
"""How deeply a property value may nest lists and objects."""


def _valid_text(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates): it can be written as JSON."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _finite_number(value: Any) -> int | float | None:
    """``value`` as a plain ``int`` or ``float`` if it is a finite real number (not a
    ``bool``), else ``None``. Never raises (a number type's own methods may)."""
    cls = type(value)
    if cls is float:
        return value if math.isfinite(value) else None
    if cls is int:
        return value if -_LARGEST <= value <= _LARGEST else None
    try:
        if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
            return None
        if isinstance(value, numbers.Integral):
            whole = int(value)
            return whole if -_LARGEST <= whole <= _LARGEST else None
        number = float(value)
    except Exception:  # not convertible, too large, or a hostile __float__/__index__
        return None
    return number if math.isfinite(number) else None


_LARGEST = int(sys.float_info.max)
"""Integers beyond this are not finite as the doubles analyses read values as."""


def _json_value(value: Any, depth: int) -> Any:
    """A JSON copy of ``value`` (strings, finite numbers, booleans, ``None``, lists and
    string-keyed objects of them, at most ``_MAX_DEPTH`` deep), or ``_INVALID``. May raise
    for a mapping or sequence whose own methods raise (the caller catches it)."""
    cls = type(value)
    if cls is str:
        return value if _valid_text(value) else _INVALID
    if value is None or cls is bool or cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else _INVALID
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        text = str.__str__(value)  # str's own methods, not the subclass's
        return text if _valid_text(text) else _INVALID
    if isinstance(value, int | float):
        number = _finite_number(value)
        return _INVALID if number is None else number
    if depth >= _MAX_DEPTH:
        return _INVALID
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                return _INVALID
            name = str.__str__(key)
            if not _valid_text(name):
                return _INVALID
            found = _json_value(item, depth + 1)
            if found is _INVALID:
                return _INVALID
            copied[name] = found
        return copied
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            found = _json_value(item, depth + 1)
            if found is _INVALID:
                return _INVALID
            items.append(found)
        return items
    return _INVALID


def _scalar(value: Any) -> Any:
    """A context value as recorded on an exposure: a string, finite number or boolean
    (plain types), else ``_INVALID``. Never raises."""
    cls = type(value)
    if cls is str:
        return value if _valid_text(value) else _INVALID
    if cls is bool or cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else _INVALID
    try:
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, str):
            text = str.__str__(value)  # str's own methods, not the subclass's
            return text if _valid_text(text) else _INVALID
        number = _finite_number(value) if isinstance(value, int | float) else None
    except Exception:  # an object whose __class__ or __bool__ raise
        return _INVALID
    return _INVALID if number is None else number


def _shown(value: Any) -> str:
    """``value`` for a log line: its ``repr``, cut at 80 characters. Never raises."""
    try:
        text = str.__str__(repr(value))
    except Exception:  # a hostile __repr__
        return f"<a {_kind(value)}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _names(names: Iterable[str], option: str) -> tuple[str, ...]:
    """Attribute or property names given for ``option``: non-empty strings, not one string."""
    if isinstance(names, str):
        raise TypeError(f"{option} takes a sequence of names, not the string {names!r}")
    found = tuple(names)
    for name in found:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{option}: {name!r} is not a non-empty name")
    return found


class ContextRecorder:
    """What ``exposure_context`` records: the allow-listed attributes a context has (dotted
    paths become nested objects), as a new dict; called on the request thread, only when
    the option is set."""

    __slots__ = ("_paths",)

    def __init__(self, paths: Iterable[str]) -> None:
        self._paths = tuple(
            (path, attribute_getter(path), tuple(path.split(".")) if "." in path else None)
            for path in dict.fromkeys(_names(paths, "exposure_context"))
        )

    def __call__(self, context: Mapping[str, Any] | None) -> dict[str, Any]:
        """The attributes to record. Never raises: an attribute that cannot be read (a
        nested mapping whose look-ups raise, any attribute of a context that is no mapping)
        is left out."""
        if type(context) is not dict:
            context = _as_context(context)
            if context is None:
                return {}
        recorded: dict[str, Any] = {}
        for path, get, parts in self._paths:
            try:
                value = get(context)
            except Exception:
                continue
            if value is None:
                continue
            value = _scalar(value)
            if value is _INVALID:
                continue
            if parts is None:
                recorded[path] = value
                continue
            node = recorded
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[parts[-1]] = value
        return recorded


def _key(signing_key: bytes | str | None) -> bytes | None:
    """The signing key as bytes, surrounding whitespace removed as ``serve
    --signing-key-file`` does (a key read from a file ends with a newline)."""
    if signing_key is None:
        return None
    key = signing_key.encode() if isinstance(signing_key, str) else bytes(signing_key)
    key = key.strip()
    if not key:
        raise ValueError("signing_key is empty")
    return key


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


def _recorded(recorder: ContextRecorder, context: Any) -> dict[str, Any]:
    """What ``exposure_context`` records of the context an exposure was resolved with: a
    context that is not a ``dict`` is read as ``_as_context`` reads it (``{}`` if it cannot
    be)."""
    if type(context) is not dict:  # type(): a __class__ property could raise
        context = _as_context(context)
        if context is None:
            return {}
    return recorder(context)


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


def _resolve_unusual(
    flag_plan: FlagPlan, context: Any, own: _overrides.Table, errors: ErrorCounts
) -> Resolution:
    """``evaluate``'s work for a context that is not a ``dict``, or while test overrides are
    set (kept apart so that the common path tests both conditions at once). The errors it
    answers itself are counted in ``errors`` (the flag counts its own)."""
    if context.__class__ is not dict:
        context = _as_context(context)
        if context is None:
            errors.add(ErrorCode.INVALID_CONTEXT)
            return _invalid_context(flag_plan)
    if _OVERRIDES:
        forced = _test_override(flag_plan, context, own)
        if forced is not None:
            if forced._outcome.error is not None:  # a variant the flag does not have
                errors.add(forced._outcome.error)
            return forced
    return flag_plan.resolve(context)


def _test_override(
    flag_plan: FlagPlan, context: dict[str, Any], own: _overrides.Table
) -> Resolution | None:
    """The resolution a test override forces: the client's own first, then the
    process-wide ones; ``None`` when none applies."""
    variant = _overrides.lookup(flag_plan.name, flag_plan.unit, context, own) if own else None
    if variant is None:
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
