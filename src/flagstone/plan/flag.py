"""The compiled form of a snapshot: ``Plan`` (flag name → ``FlagPlan``), what a ``Client`` holds
by one reference and swaps atomically. ``flagstone.plan.compile`` builds it;
``flagstone.plan.resolver`` gives each ``FlagPlan`` its resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model import Flag
from ..model.validation import variant_named
from ..reasons import ErrorCode, Reason
from ..resolution import Outcome, Resolution
from ..stores.materializations import MaterializationStore
from .rules import CompiledRule, UnitReader, unit_reader

__all__ = ["ACTIVE", "ARCHIVED", "FlagPlan", "PendingPlan", "Plan", "Resolver"]

ACTIVE = "ACTIVE"
ARCHIVED = "ARCHIVED"

Resolver = Callable[[dict[str, Any]], Resolution]
"""context (a ``dict``) → ``Resolution``: what a compiled flag resolves with."""


class FlagPlan:
    """One flag as this client resolves it."""

    __slots__ = (
        "_errors",
        "active",
        "name",
        "no_match",
        "resolve",
        "rules",
        "short_name",
        "store",
        "unit",
        "variants",
        "version",
    )

    def __init__(
        self,
        flag: Flag,
        rules: tuple[CompiledRule, ...],
        variants: dict[str, Any],
        store: MaterializationStore | None,
        version: str,
        selector: str = "targeting_key",
    ) -> None:
        self.name = flag.name
        self.short_name = flag.name.split("/", 1)[-1]
        self.active = flag.state == ACTIVE
        self.rules = rules
        self.variants = variants
        self.store = store
        self.version = version
        self.unit: UnitReader = unit_reader(selector)
        """Reads the unit the flag's first rule buckets on (for test overrides by unit)."""
        self.no_match = Outcome(self.name, Reason.NO_SEGMENT_MATCH, snapshot_version=version)
        self._errors: dict[Reason, Outcome] = {}
        self.resolve: Resolver = _not_compiled
        """context (a ``dict``) → ``Resolution``: the fastest correct resolver for this flag
        (set by the compiler: ``flagstone.plan.resolver.resolver_for``)."""

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

    def _error(self, reason: Reason, code: ErrorCode | None, message: str | None) -> Outcome:
        outcome = self._errors.get(reason)
        if outcome is None:
            outcome = Outcome(
                self.name, reason, error=code, error_message=message, snapshot_version=self.version
            )
            self._errors[reason] = outcome
        return outcome

    def variant_value(self, variant: str) -> tuple[str, Any] | None:
        """``(name as defined, frozen value)`` of a variant given by full or short name."""
        name = variant_named(self.variants, variant)
        return (name, self.variants[name]) if name is not None else None


class Plan(dict[str, FlagPlan]):
    """A compiled snapshot as one client sees it: a mapping from every flag the client may
    see, by short and by full name, to its ``FlagPlan``. Never modified once built; a client
    replaces the whole plan to serve a new snapshot."""

    __slots__ = ("client", "resolvers", "version", "visible")

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
        specialisation, then an attribute read)."""
        self.version = version
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


def _not_compiled(context: dict[str, Any]) -> Any:
    raise RuntimeError("a FlagPlan resolves only once the compiler gave it a resolver")
