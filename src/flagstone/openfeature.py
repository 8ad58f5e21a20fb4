"""An OpenFeature provider: flagstone behind the OpenFeature Python SDK (the ``openfeature``
extra, ``pip install "flagstone[openfeature]"``)::

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    api.set_provider(FlagstoneProvider(flagstone.Client.from_file("flags.json")))
    api.get_client().get_string_value(
        "checkout.layout", "classic", EvaluationContext("user-1", {"country": "SE"})
    )

A flag key is ``"flag"`` (the variant's whole value: an object, or a scalar in a flag written
by hand) or ``"flag.field.subfield"``
(a field of it), as ``Client.get_value`` reads it. A resolution is ``client.evaluate(…)``
mapped field by field (the tables are in the README, "OpenFeature"), and records its exposure
as ``get_value`` does: when its value is handed out, or when it gives none (no match, a
fall-through), never for a type mismatch. The provider's status and events follow the
client's snapshot: ``on_update`` for new snapshots, ``status()`` (polled every
``status_interval`` seconds) for failing refreshes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Final, NamedTuple

try:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.event import ProviderEvent, ProviderEventDetails
    from openfeature.exception import ErrorCode as OpenFeatureErrorCode
    from openfeature.exception import ProviderNotReadyError
    from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
    from openfeature.flag_evaluation import Reason as OpenFeatureReason
    from openfeature.provider import AbstractProvider, Metadata, ProviderStatus
    from openfeature.track import TrackingEventDetails
except ModuleNotFoundError as missing:
    _package = (missing.name or "openfeature").partition(".")[0]
    raise ModuleNotFoundError(
        f"flagstone.openfeature needs the 'openfeature' extra ({_package} is not installed): "
        'pip install "flagstone[openfeature]"',
        name=_package,
    ) from None

from .client import Client
from .process.threads import start_quietly
from .reasons import ErrorCode, Reason
from .resolution import Resolution
from .sources.updater import SourceStatus

__all__ = ["ERROR_CODES", "REASONS", "FlagstoneProvider"]

REASONS: Final[Mapping[Reason, OpenFeatureReason]] = {
    Reason.MATCH: OpenFeatureReason.TARGETING_MATCH,
    Reason.NO_SEGMENT_MATCH: OpenFeatureReason.DEFAULT,
    Reason.FLAG_ARCHIVED: OpenFeatureReason.DISABLED,
    Reason.OVERRIDE: OpenFeatureReason.STATIC,
}
"""flagstone's reason → OpenFeature's, for resolutions without an error. A match is
``SPLIT`` instead when an A/B test's rule assigned the variant, and ``DEFAULT`` when the
rule assigned the client default (no variant). Every other reason is an error: ``ERROR``."""

ERROR_CODES: Final[Mapping[ErrorCode, OpenFeatureErrorCode]] = {
    ErrorCode.NOT_READY: OpenFeatureErrorCode.PROVIDER_NOT_READY,
    ErrorCode.FLAG_NOT_FOUND: OpenFeatureErrorCode.FLAG_NOT_FOUND,
    ErrorCode.TYPE_MISMATCH: OpenFeatureErrorCode.TYPE_MISMATCH,
    ErrorCode.TARGETING_KEY_ERROR: OpenFeatureErrorCode.INVALID_CONTEXT,
    ErrorCode.INVALID_CONTEXT: OpenFeatureErrorCode.INVALID_CONTEXT,
    ErrorCode.GENERAL: OpenFeatureErrorCode.GENERAL,
}
"""flagstone's error code → OpenFeature's."""

_ERROR_REASONS: Final = frozenset(
    {
        Reason.TARGETING_KEY_ERROR,
        Reason.ERROR,
        Reason.UNRECOGNIZED_TARGETING_RULE,
        Reason.MATERIALIZATION_NOT_SUPPORTED,
        Reason.TYPE_MISMATCH,
        Reason.FLAG_NOT_FOUND,
    }
)

_PREFIX = "flags/"


class _Type(NamedTuple):
    """What one typed resolution accepts and how it hands the value out."""

    name: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


_BOOLEAN: Final = _Type("boolean", lambda value: isinstance(value, bool), _same)
_STRING: Final = _Type("string", lambda value: isinstance(value, str), _same)
_INTEGER: Final = _Type(
    "integer", lambda value: isinstance(value, int) and not isinstance(value, bool), _same
)
_FLOAT: Final = _Type(
    "float",
    lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    float,
)
_OBJECT: Final = _Type("object", lambda value: isinstance(value, dict | list), _same)


class FlagstoneProvider(AbstractProvider):
    """An OpenFeature provider that resolves flags with a ``flagstone.Client``, in process.

    ``initialization_timeout``
        Seconds ``initialize`` (run by ``api.set_provider``) waits for a ``from_url`` or
        ``from_source`` client's first snapshot (``None``: until there is one); past it the
        provider is in ``ERROR`` and turns ``READY`` when the snapshot arrives.
    ``status_interval``
        Seconds between two looks at ``client.status()``, which turn the provider ``STALE``
        while refreshing the snapshot fails and ``READY`` again when it works.

    The client stays the caller's: ``shutdown`` flushes its exposure sinks and stops
    following it, but does not close it.
    """

    def __init__(
        self,
        client: Client,
        *,
        initialization_timeout: float | None = 10.0,
        status_interval: float = 1.0,
    ) -> None:
        super().__init__()
        if not status_interval > 0:
            raise ValueError("status_interval must be positive")
        self._client = client
        self._initialization_timeout = initialization_timeout
        self._status_interval = status_interval
        self._lock = threading.Lock()
        self._status = ProviderStatus.NOT_READY
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._announcing = False  # events are ours to emit (after the SDK's own, see _watch)
        self._changed = False  # a snapshot was installed since the last announcement
        self._flags: frozenset[str] = frozenset()

    @property
    def client(self) -> Client:
        """The ``flagstone.Client`` this provider resolves with."""
        return self._client

    @property
    def status(self) -> ProviderStatus:
        """The status this provider last announced (``NOT_READY`` before ``initialize``)."""
        return self._status

    def get_metadata(self) -> Metadata:
        return Metadata(name="flagstone")

    # -- lifecycle ----------------------------------------------------------------------

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Wait for the client's first snapshot (at most ``initialization_timeout``
        seconds), then follow its updates. Raises ``ProviderNotReadyError`` when there is
        none by then; the SDK then reports ``ERROR``."""
        with self._lock:
            self._stop = stop = threading.Event()
            self._announcing = False
            self._changed = False
            if self._remove_listener is None:
                self._remove_listener = self._client.on_update(self._updated)
        ready = self._wait_until_ready(stop)
        status = self._client.status()
        with self._lock:
            self._flags = _flag_keys(self._client.flags)
            self._status = ProviderStatus.READY if ready else ProviderStatus.ERROR
        if not stop.is_set():
            self._watcher = threading.Thread(
                target=self._watch, args=(stop,), name="flagstone-openfeature", daemon=True
            )
            start_quietly(self._watcher)
        if not ready:
            raise ProviderNotReadyError(_not_ready_message(status, self._initialization_timeout))

    def shutdown(self) -> None:
        """Stop following the client and flush its exposure sinks (at most 5 s)."""
        with self._lock:
            self._stop.set()
            self._announcing = False
            self._status = ProviderStatus.NOT_READY
            remove, self._remove_listener = self._remove_listener, None
            watcher, self._watcher = self._watcher, None
        if remove is not None:
            remove()
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=5.0)
        self._client.flush(timeout=5.0)

    def _wait_until_ready(self, stop: threading.Event) -> bool:
        timeout = self._initialization_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        ready = self._client.wait_until_ready(0)
        while not ready and not stop.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            # in slices, so that shutdown() ends a wait that was given no timeout
            ready = self._client.wait_until_ready(0.1 if remaining is None else min(0.1, remaining))
        return ready

    # -- events -------------------------------------------------------------------------

    def _updated(self, version: str) -> None:
        """``client.on_update``: a new snapshot is live."""
        with self._lock:
            self._changed = True
            self._announce()

    def _watch(self, stop: threading.Event) -> None:
        # The SDK announces the outcome of initialize() itself, once it has returned; the
        # first look comes a status interval later, so that ours follow the SDK's.
        while not stop.wait(self._status_interval):
            with self._lock:
                if stop.is_set():
                    return
                self._announcing = True
                self._announce()

    def _announce(self) -> None:
        """Emit what changed since the last announcement (called with the lock held)."""
        if not self._announcing:
            return
        status = self._client.status()
        was = self._status
        now = _provider_status(status)
        if now is not was and now is not ProviderStatus.NOT_READY:
            self._status = now
            self.emit(_EVENTS[now], _event_details(now, status))
        if self._changed and self._status is not ProviderStatus.ERROR:
            self._changed = False
            flags = _flag_keys(self._client.flags)
            if was in (ProviderStatus.READY, ProviderStatus.STALE):
                self.emit_provider_configuration_changed(
                    _event_details(None, status, flags_changed=sorted(self._flags | flags))
                )
            self._flags = flags

    # -- resolving ----------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, _BOOLEAN)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, _STRING)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, _INTEGER)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, _FLOAT)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context, _OBJECT)

    def _resolve(
        self,
        flag_key: str,
        default: Any,
        evaluation_context: EvaluationContext | None,
        wanted: _Type,
    ) -> FlagResolutionDetails[Any]:
        """The one resolution every typed method wraps."""
        client = self._client
        flag, _, path = flag_key.partition(".")
        context = to_context(evaluation_context)
        resolution = client.evaluate(flag, context, apply=False)
        metadata = flag_metadata(resolution)
        if resolution.error is not None or resolution.reason in _ERROR_REASONS:
            client.apply(resolution, context)  # as get_value: nothing, unless it fell through
            code = resolution.error
            return FlagResolutionDetails(
                default,
                error_code=OpenFeatureErrorCode.GENERAL
                if code is None
                else ERROR_CODES.get(code, OpenFeatureErrorCode.GENERAL),
                error_message=_error_message(flag, resolution),
                reason=OpenFeatureReason.ERROR,
                flag_metadata=metadata,
            )
        if resolution.variant is None:
            client.apply(resolution, context)  # no match or a client default: an exposure too
            return FlagResolutionDetails(
                default, reason=_reason(resolution), flag_metadata=metadata
            )
        value = resolution.value
        for part in path.split(".") if path else ():
            if not isinstance(value, dict) or part not in value:
                return FlagResolutionDetails(
                    default,
                    error_code=OpenFeatureErrorCode.FLAG_NOT_FOUND,
                    error_message=f"flag {flag} has no field {path!r} in variant "
                    f"{resolution.variant!r}",
                    reason=OpenFeatureReason.ERROR,
                    flag_metadata=metadata,
                )
            value = value[part]
        if not wanted.accepts(value):
            return FlagResolutionDetails(
                default,
                error_code=OpenFeatureErrorCode.TYPE_MISMATCH,
                error_message=f"{flag_key} is {_json_type(value)} in variant "
                f"{resolution.variant!r}, not {wanted.name}",
                reason=OpenFeatureReason.ERROR,
                flag_metadata=metadata,
            )
        client.apply(resolution, context)
        return FlagResolutionDetails(
            wanted.convert(value),
            reason=_reason(resolution),
            variant=resolution.variant,
            flag_metadata=metadata,
        )

    # -- tracking -----------------------------------------------------------------------

    def track(
        self,
        tracking_event_name: str,
        evaluation_context: EvaluationContext | None = None,
        tracking_event_details: TrackingEventDetails | None = None,
    ) -> None:
        """``client.track(event, context, value=…, properties=…)``: the details' value, and
        its attributes as the properties (recorded only where the client's
        ``event_properties`` names them). Never raises (``Client.track`` counts what it
        cannot record)."""
        details = tracking_event_details
        self._client.track(
            tracking_event_name,
            to_context(evaluation_context),
            value=None if details is None else details.value,
            properties=None
            if details is None or not details.attributes
            else _plain(details.attributes),
        )


# -- mappings -----------------------------------------------------------------------------


def to_context(evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    """A flagstone context for an OpenFeature one: its attributes, and its targeting key as
    ``targeting_key``. Datetimes become RFC 3339 strings (UTC), which flagstone's timestamp
    rules read; nested mappings and sequences become dicts and lists."""
    if evaluation_context is None:
        return {}
    context: dict[str, Any] = {
        key: _plain(value) for key, value in evaluation_context.attributes.items()
    }
    if evaluation_context.targeting_key:
        context["targeting_key"] = evaluation_context.targeting_key
    return context


def flag_metadata(resolution: Resolution) -> Mapping[str, bool | int | float | str]:
    """OpenFeature flag metadata of a resolution, read-only (specification 1.4.14.1):
    flagstone's own ``reason``, and the ``rule``, ``segment``, ``assignment_id``,
    ``abtest``, ``override`` and ``snapshot_version`` that it has."""
    metadata: dict[str, bool | int | float | str] = {"reason": resolution.reason.value}
    for key in ("rule", "segment", "assignment_id", "abtest", "snapshot_version"):
        value = getattr(resolution, key)
        if value:
            metadata[key] = value
    if resolution.override:
        metadata["override"] = True
    return MappingProxyType(metadata)


def _reason(resolution: Resolution) -> OpenFeatureReason:
    reason = resolution.reason
    if reason is Reason.MATCH:
        if resolution.variant is None:
            return OpenFeatureReason.DEFAULT  # the rule assigns the client default
        if resolution.abtest is not None:
            return OpenFeatureReason.SPLIT
        if resolution.catch_all == "only":
            return OpenFeatureReason.STATIC  # one variant for everyone, whatever the context
        if resolution.catch_all == "fallback":
            return OpenFeatureReason.DEFAULT  # the flag's default after its targeted rules
    return REASONS.get(reason, OpenFeatureReason.UNKNOWN)


def _error_message(flag: str, resolution: Resolution) -> str:
    message = resolution.error_message or resolution.reason.value
    if resolution.error is ErrorCode.FLAG_NOT_FOUND:
        return f"flag {flag} not found: {message}"
    return message


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _flag_keys(flags: list[str]) -> frozenset[str]:
    return frozenset(name.removeprefix(_PREFIX) for name in flags)


def _provider_status(status: SourceStatus) -> ProviderStatus:
    if not status.ready:
        return ProviderStatus.ERROR if status.consecutive_failures else ProviderStatus.NOT_READY
    return ProviderStatus.STALE if status.consecutive_failures else ProviderStatus.READY


_EVENTS: Final = {
    ProviderStatus.READY: ProviderEvent.PROVIDER_READY,
    ProviderStatus.STALE: ProviderEvent.PROVIDER_STALE,
    ProviderStatus.ERROR: ProviderEvent.PROVIDER_ERROR,
}


def _event_details(
    now: ProviderStatus | None, status: SourceStatus, *, flags_changed: list[str] | None = None
) -> ProviderEventDetails:
    metadata: dict[str, bool | str | int | float] = {"source": status.source}
    if status.snapshot_version:
        metadata["snapshot_version"] = status.snapshot_version
    if now is ProviderStatus.ERROR:
        return ProviderEventDetails(
            message=f"no snapshot from {status.source} yet: {status.last_error}",
            error_code=OpenFeatureErrorCode.PROVIDER_NOT_READY,
            metadata=metadata,
        )
    if now is ProviderStatus.STALE:
        return ProviderEventDetails(
            message=f"serving snapshot {status.snapshot_version}: refreshing it from "
            f"{status.source} failed {status.consecutive_failures} time(s) in a row: "
            f"{status.last_error}",
            metadata=metadata,
        )
    return ProviderEventDetails(
        flags_changed=flags_changed,
        message=f"serving snapshot {status.snapshot_version} from {status.source}",
        metadata=metadata,
    )


def _not_ready_message(status: SourceStatus, timeout: float | None) -> str:
    message = f"no snapshot from {status.source} within {timeout} s"
    return f"{message}: {status.last_error}" if status.last_error else message
