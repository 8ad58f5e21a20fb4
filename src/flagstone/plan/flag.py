"""The compiled form of a snapshot: ``Plan`` (flag name → ``FlagPlan``), what a ``Client`` holds
by one reference and swaps atomically. ``flagstone.plan.compile`` builds it;
``flagstone.plan.resolver`` gives each ``FlagPlan`` its resolver.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from functools import partial
from itertools import chain
from typing import Any, cast

from ..model import Flag
from ..model.validation import variant_named
from ..reasons import ErrorCode, Reason
from ..resolution import Outcome, Resolution, resolved
from ..stores.materializations import MaterializationStore
from .rules import CompiledRule, UnitReader, unit_reader

__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "RETIRED",
    "ErrorCounts",
    "FlagPlan",
    "PendingPlan",
    "Plan",
    "PlanOutcome",
    "Resolver",
    "VersionCell",
    "plan_outcome",
]

ACTIVE = "ACTIVE"
ARCHIVED = "ARCHIVED"

Resolver = Callable[[dict[str, Any]], Resolution]
"""context (a ``dict``) → ``Resolution``: what a compiled flag resolves with."""


class ErrorCounts:
    """Resolutions answered with an error code, by code: one per client (what its
    ``stats()`` reports), given to every flag compiled for it (``FlagPlan.errors``).

    A compiled flag counts the errors it answers itself (:meth:`FlagPlan.failed`), so that
    ``Client.evaluate`` reads nothing of a resolution it only returns (testing its outcome's
    error took ~130 CPython instructions per call); the client counts the errors it makes
    (flag not found, invalid context, …). It holds no reference to the client: the plans
    that hold it are frozen out of the collector's reach (``flagstone.process.gc``), and a
    cycle through them would never be freed."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._counts = dict.fromkeys(ErrorCode, 0)
        self._lock = threading.Lock()

    def add(self, code: ErrorCode, times: int = 1) -> None:
        """Count ``times`` resolutions answered with ``code``."""
        with self._lock:
            self._counts[code] += times

    def counts(self) -> dict[ErrorCode, int]:
        """Every code (zero or not) → how many resolutions were answered with it."""
        with self._lock:
            return dict(self._counts)

    def after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()


class VersionCell:
    """The version of the snapshot a compiled flag is served from, shared by the flag's
    outcomes. An update that keeps a flag as it was keeps its compiled form and sets the
    cell to the new version (one attribute, where rebuilding the flag's outcomes and
    resolver would cost ~20 µs a flag); a flag that changed gets a new cell, so a resolution
    made from its old form keeps the old version."""

    __slots__ = ("version",)

    def __init__(self, version: str) -> None:
        self.version = version


_VERSION = Outcome.__dict__["snapshot_version"]
_TEMPLATE = Outcome.__dict__["_exposure_template"]
"""Outcome's own slots, which :class:`PlanOutcome` keeps its cell and its template in
(no slots of its own: 30 000 outcomes of a 10 000-flag snapshot, 24 bytes each)."""


class PlanOutcome(Outcome):
    """An :class:`~flagstone.resolution.Outcome` of a compiled flag: its
    ``snapshot_version`` is its flag's :class:`VersionCell`'s, and the exposure template a
    sink keeps on it (which holds the version) is built again when the version changes."""

    __slots__ = ()

    @property
    def snapshot_version(self) -> str | None:
        return _VERSION.__get__(self).version  # type: ignore[no-any-return]

    @snapshot_version.setter
    def snapshot_version(self, value: str | VersionCell | None) -> None:
        if value.__class__ is not VersionCell:
            value = VersionCell(value or "")  # type: ignore[arg-type]
        _VERSION.__set__(self, value)

    @property
    def _exposure_template(self) -> Any:
        cached = _TEMPLATE.__get__(self)  # (version, template or None) or None
        version = _VERSION.__get__(self).version
        if cached is not None and cached[0] is version and cached[1] is not None:
            return cached[1]
        # a template built after this miss holds this version or a later one: kept with
        # this one, it is built again when read under a later one (never served stale)
        _TEMPLATE.__set__(self, (version, None))
        return None

    @_exposure_template.setter
    def _exposure_template(self, template: Any) -> None:
        cached = _TEMPLATE.__get__(self) if template is not None else None
        seen = cached[0] if cached is not None else None
        _TEMPLATE.__set__(self, None if template is None else (seen, template))


def plan_outcome(cell: VersionCell, flag: str, reason: Reason, **fields: Any) -> PlanOutcome:
    """A :class:`PlanOutcome` whose version is ``cell``'s."""
    return PlanOutcome(flag, reason, snapshot_version=cast(Any, cell), **fields)


class FlagPlan:
    """One flag as this client resolves it."""

    __slots__ = (
        "__weakref__",
        "_errors",
        "_no_match",
        "_variants",
        "active",
        "cell",
        "errors",
        "home",
        "name",
        "resolve",
        "rules",
        "short_name",
        "store",
        "unit",
    )

    def __init__(
        self,
        flag: Flag,
        rules: tuple[CompiledRule, ...],
        variants: dict[str, Any],
        store: MaterializationStore | None,
        version: str | VersionCell,
        selector: str = "targeting_key",
        name: str | None = None,
        errors: ErrorCounts | None = None,
    ) -> None:
        self.name = flag.name if name is None else name
        """The flag's full name (``name``: an equal string to hold instead of the model's)."""
        self.short_name = flag.name.split("/", 1)[-1]
        self.active = flag.state == ACTIVE
        self.rules = rules
        self._variants = tuple(chain.from_iterable(variants.items()))
        """``(name, frozen value, name, value, …)``: a flat tuple holds a flag's variants in
        ~90 bytes where a ``dict`` takes ~230 (10 000 flags: 1.3 MiB); only test overrides
        look a variant up by name."""
        self.store = store
        self.cell = version if isinstance(version, VersionCell) else VersionCell(version)
        """The version of the snapshot the flag is served from (see :class:`VersionCell`)."""
        self.unit: UnitReader = unit_reader(selector)
        """Reads the unit the flag's first rule buckets on (for test overrides by unit)."""
        self._no_match: Outcome | None = None
        self._errors: dict[Reason, Outcome] | None = None
        self.errors = errors
        """Where the errors the flag answers are counted: the counts of the client it was
        compiled for (``None``: not counted; see :meth:`failed`)."""
        self.resolve: Resolver = _not_compiled
        """context (a ``dict``) → ``Resolution``: the fastest correct resolver for this flag
        (set by the compiler: ``flagstone.plan.resolver.first_call``, which builds it on the
        first call with ``flagstone.plan.resolver.resolver_for``)."""
        self.home: dict[str, Resolver] | None = None
        """The ``resolvers`` of the plan that serves the flag, where a resolver built on
        first call is put (see :class:`Plan`); ``None`` before a plan takes the flag,
        :data:`RETIRED` once retired."""

    @property
    def no_match(self) -> Outcome:
        """The outcome when no rule matched (made when first needed, as the flag's resolver
        is: 128 bytes a flag that most flags of a large snapshot never use)."""
        outcome = self._no_match
        if outcome is None:  # two threads may both make one: equal, either will do
            outcome = self._no_match = plan_outcome(self.cell, self.name, Reason.NO_SEGMENT_MATCH)
        return outcome

    @property
    def key_error(self) -> Outcome:
        """The outcome of an unusable targeting key (made when first needed)."""
        return self._error(
            Reason.TARGETING_KEY_ERROR,
            ErrorCode.TARGETING_KEY_ERROR,
            "the targeting key must be a string or a whole number of at most 100 characters",
        )

    @property
    def archived(self) -> Outcome:
        return self._error(Reason.FLAG_ARCHIVED, None, None)

    @property
    def unsupported(self) -> Outcome:
        return self._error(
            Reason.MATERIALIZATION_NOT_SUPPORTED,
            ErrorCode.GENERAL,
            "a rule of this flag needs a materialization store "
            "(Client(..., materializations=store))",
        )

    @property
    def version(self) -> str:
        """The version of the snapshot the flag is served from."""
        return self.cell.version

    def failed(self, outcome: Outcome) -> Resolution:
        """The resolution of ``outcome``, one of the flag's errors (:attr:`key_error`,
        :attr:`unsupported`), counted in :attr:`errors`: what a resolver returns for an
        error, so that no caller has to look for one."""
        resolution = resolved(outcome)
        errors = self.errors
        if errors is not None and outcome.error is not None:
            errors.add(outcome.error)
        return resolution

    def _error(self, reason: Reason, code: ErrorCode | None, message: str | None) -> Outcome:
        errors = self._errors
        if errors is None:  # made when first needed: most flags never need one
            errors = self._errors = {}
        outcome = errors.get(reason)
        if outcome is None:
            outcome = plan_outcome(self.cell, self.name, reason, error=code, error_message=message)
            errors[reason] = outcome
        return outcome

    def retire(self, rebuild: Callable[[FlagPlan], Resolver]) -> None:
        """This flag is no longer served (an update replaced it). Its resolver holds it (a
        reference cycle, which a collector told to leave the plan alone would never break,
        see ``flagstone.process.gc``): it becomes one that holds the flag weakly and
        rebuilds the resolver for each call, so the flag is freed by reference counting. An
        evaluation that took the flag before the update still resolves it, only slower.
        ``rebuild`` makes a flag's resolver (``flagstone.plan.resolver.resolver_for``).

        ``home`` is set to :data:`RETIRED` first: a resolver built on first call by a
        request thread at the same moment looks at it after putting the resolver in place,
        and retires the flag again when it finds it so (``flagstone.plan.resolver.first_call``)."""
        self.home = RETIRED
        self.resolve = partial(_resolve_retired, weakref.ref(self), rebuild)

    @property
    def variants(self) -> dict[str, Any]:
        """Variant name (as defined) → its frozen value, in the order defined."""
        flat = self._variants
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def variant_value(self, variant: str) -> tuple[str, Any] | None:
        """``(name as defined, frozen value)`` of a variant given by full or short name."""
        variants = self.variants
        name = variant_named(variants, variant)
        return (name, variants[name]) if name is not None else None


RETIRED: dict[str, Resolver] = {}
"""The ``home`` of a retired flag (:meth:`FlagPlan.retire`): no plan's resolvers; never
written to (a flag's names are never in it)."""


class Plan(dict[str, FlagPlan]):
    """A compiled snapshot as one client sees it: a mapping from every flag the client may
    see, by short and by full name, to its ``FlagPlan``. Never modified once built; a client
    replaces the whole plan to serve a new snapshot."""

    __slots__ = ("client", "resolvers", "state", "version", "visible")

    ready = True
    """A snapshot is loaded (see ``PendingPlan``)."""

    def __init__(
        self,
        flags: dict[str, FlagPlan],
        *,
        version: str,
        visible: tuple[FlagPlan, ...],
        client: str | None = None,
    ) -> None:
        super().__init__(flags)
        self.resolvers = {name: flag.resolve for name, flag in flags.items()}
        """Flag name (short and full) → its resolver: what ``Client.evaluate`` calls. An
        exact ``dict`` read straight to the function costs ~550 instructions where
        ``plan[name].resolve`` costs ~900 (a ``dict`` subclass is looked up without CPython's
        specialisation, then an attribute read). A flag's resolver is built on its first
        call, which replaces the flag's entries here (the flag's ``home``): the only change
        a plan sees once built, from one resolver to an equivalent one."""
        for flag in flags.values():
            flag.home = self.resolvers
        self.version = version
        self.state: Any = None
        """What the compiler needs to compile the next version of the snapshot from this
        one (``flagstone.plan.compile``), when it was asked to keep it."""
        self.visible = visible
        """The active flags the client may see, in document order (what ``evaluate_all``
        walks)."""
        self.client = client

    def __repr__(self) -> str:
        return f"Plan(version={self.version!r}, flags={len(self.visible)}, client={self.client!r})"


class PendingPlan(Plan):
    """What a client serves before its first snapshot arrives (``Client.from_url``): no
    flags, so every evaluation takes the not-found path, which answers ``NOT_READY``."""

    __slots__ = ("source",)

    ready = False

    def __init__(self, source: str) -> None:
        super().__init__({}, version="", visible=())
        self.source = source


def _resolve_retired(
    flag: weakref.ref[FlagPlan],
    rebuild: Callable[[FlagPlan], Resolver],
    context: dict[str, Any],
) -> Resolution:
    found = flag()
    if found is None:  # pragma: no cover - whoever calls a flag's resolver holds the flag
        raise RuntimeError("the retired flag is gone")
    return rebuild(found)(context)


def _not_compiled(context: dict[str, Any]) -> Any:
    raise RuntimeError("a FlagPlan resolves only once the compiler gave it a resolver")
