"""What ``Client.evaluate`` returns.

A ``Resolution`` is a small object: the unit it was resolved for, any fallthrough rules it
passed, and a reference to an ``Outcome`` that was compiled once with the snapshot (flag,
variant, value, reason, rule, segment, assignment id, …). Sharing outcomes is what keeps an
evaluation down to a few hundred nanoseconds: only the per-unit part is new on each call.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .reasons import ErrorCode, Reason

__all__ = ["FallthroughAssignment", "Outcome", "Resolution", "resolved"]


class FallthroughAssignment(NamedTuple):
    """A rule whose assignment said "fall through": the unit was in it, yet resolution went
    on to the next rule. Confidence records these so analysis can count the unit as exposed
    to that rule."""

    rule: str
    assignment_id: str
    targeting_key: str | None
    targeting_key_selector: str


class Outcome:
    """The unit-independent part of a resolution, compiled once per snapshot."""

    __slots__ = (
        "_exposure_template",
        "_rare",
        "assignment_id",
        "flag",
        "reason",
        "rule",
        "segment",
        "should_apply",
        "snapshot_version",
        "targeting_key_selector",
        "value",
        "variant",
    )

    _exposure_template: Any
    """What a sink built to record this outcome's exposures (see ``flagstone.sinks``)."""

    def __init__(
        self,
        flag: str,
        reason: Reason,
        *,
        variant: str | None = None,
        value: Any = None,
        rule: str | None = None,
        segment: str | None = None,
        assignment_id: str | None = None,
        targeting_key_selector: str | None = None,
        should_apply: bool = False,
        error: ErrorCode | None = None,
        error_message: str | None = None,
        abtest: str | None = None,
        override: bool = False,
        snapshot_version: str | None = None,
        catch_all: str | None = None,
    ) -> None:
        self.flag = flag
        self.reason = reason
        self.variant = variant
        self.value = value
        self.rule = rule
        self.segment = segment
        self.assignment_id = assignment_id
        self.targeting_key_selector = targeting_key_selector
        self.should_apply = should_apply
        self.snapshot_version = snapshot_version
        rare = (error, error_message, abtest, override, catch_all)
        self._rare: tuple[Any, ...] = _USUAL if rare == _USUAL else rare
        """What few outcomes have (error, message, A/B test, override, catch-all), read
        through properties: one slot where five took 40 bytes an outcome, 160 → 128 bytes
        (a 10 000-flag snapshot holds 20 000 outcomes, 30 000 once every flag answered
        "no match": 0.6 to 0.9 MiB). They are read on error paths and by exposure records
        (once an outcome); ``evaluate`` and ``get_value`` read none of them."""
        # built by flagstone.sinks when first recorded; set through the slot itself, past a
        # subclass's property (the compiled plan's outcomes: ~0.25 µs each, 30 000 of them
        # for a 10 000-flag snapshot)
        _NO_TEMPLATE(self, None)

    @property
    def error(self) -> ErrorCode | None:
        """The error code of an outcome that is an error, else ``None``."""
        return self._rare[0]  # type: ignore[no-any-return]

    @property
    def error_message(self) -> str | None:
        """What went wrong, for an outcome that is an error."""
        return self._rare[1]  # type: ignore[no-any-return]

    @property
    def abtest(self) -> str | None:
        """The A/B test whose rule gave this outcome."""
        return self._rare[2]  # type: ignore[no-any-return]

    @property
    def override(self) -> bool:
        """Whether a treatment override gave this outcome."""
        return self._rare[3]  # type: ignore[no-any-return]

    @property
    def catch_all(self) -> str | None:
        """``"only"`` or ``"fallback"`` for a rule every unit matches (see ``Resolution``)."""
        return self._rare[4]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Outcome({self.flag!r}, {self.reason.name}, variant={self.variant!r})"


_USUAL: tuple[Any, ...] = (None, None, None, False, None)
"""The rare fields of an outcome that has none of them (see ``Outcome._rare``)."""


_NO_TEMPLATE = Outcome.__dict__["_exposure_template"].__set__


class Resolution:
    """The result of resolving one flag for one evaluation context.

    Attributes read through to the compiled outcome:

    ``flag``
        The flag's full name, ``"flags/<id>"``.
    ``variant``
        The variant's name as the snapshot defines it, or ``None`` when no variant was
        assigned (no match, an error, or a rule that assigns the client default).
    ``value``
        The variant's value (a read-only ``dict``), or ``None``.
    ``reason``
        A :class:`~flagstone.Reason`.
    ``error``
        An :class:`~flagstone.ErrorCode` when the resolution failed, else ``None``.
    ``should_apply``
        Whether showing this result to the user is an exposure worth recording.
    ``rule``, ``segment``, ``assignment_id``
        Where the assignment came from (``None`` without a match).
    ``abtest``
        The A/B-test instance whose rule matched, if any.
    ``override``
        ``True`` when a treatment override decided the variant.
    ``snapshot_version``
        The version of the snapshot that produced this result.

    and per call:

    ``targeting_key``
        The unit the matching rule hashed (``None`` without a match).
    ``fallthrough``
        The fallthrough assignments passed on the way, as ``FallthroughAssignment`` tuples.

    Resolutions are immutable; one without a unit (no match, an archived flag, …) may be
    shared between calls.
    """

    __slots__ = ("_outcome", "_unit")

    _outcome: Outcome
    _unit: str | None
    _fallthrough: tuple[FallthroughAssignment, ...] = ()

    # No __new__ and no __init__: a resolver makes one by calling the class without
    # arguments and storing the two slots, the cheapest object CPython creates (~870
    # instructions; through a Python-level __new__, or object.__new__(cls), ~300 more).
    # Anywhere else, build one with ``resolved()``.

    @property
    def targeting_key(self) -> str | None:
        return self._unit

    @property
    def fallthrough(self) -> tuple[FallthroughAssignment, ...]:
        return self._fallthrough

    @property
    def flag(self) -> str:
        return self._outcome.flag

    @property
    def variant(self) -> str | None:
        return self._outcome.variant

    @property
    def value(self) -> Any:
        return self._outcome.value

    @property
    def reason(self) -> Reason:
        return self._outcome.reason

    @property
    def error(self) -> ErrorCode | None:
        return self._outcome.error

    @property
    def error_message(self) -> str | None:
        """A human-readable explanation when ``error`` is set."""
        return self._outcome.error_message

    @property
    def should_apply(self) -> bool:
        return self._outcome.should_apply or bool(self._fallthrough)

    @property
    def rule(self) -> str | None:
        return self._outcome.rule

    @property
    def segment(self) -> str | None:
        return self._outcome.segment

    @property
    def assignment_id(self) -> str | None:
        return self._outcome.assignment_id

    @property
    def targeting_key_selector(self) -> str | None:
        return self._outcome.targeting_key_selector

    @property
    def abtest(self) -> str | None:
        return self._outcome.abtest

    @property
    def catch_all(self) -> str | None:
        """Whether the matching rule serves this variant to every unit, whatever the context
        (no targeting, no allocation limit, one variant over every bucket): ``"only"`` when
        it is the flag's first rule, ``"fallback"`` when it follows other rules (the flag's
        default for units they did not take), else ``None``."""
        return self._outcome.catch_all

    @property
    def override(self) -> bool:
        return self._outcome.override

    @property
    def snapshot_version(self) -> str | None:
        return self._outcome.snapshot_version

    @property
    def outcome(self) -> Outcome:
        """The shared, unit-independent part of this resolution."""
        return self._outcome

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (what ``python -m flagstone evaluate`` prints)."""
        return {
            "flag": self.flag,
            "variant": self.variant,
            "value": self.value,
            "reason": self.reason.value,
            "error": self.error.value if self.error is not None else None,
            "error_message": self.error_message,
            "should_apply": self.should_apply,
            "rule": self.rule,
            "segment": self.segment,
            "assignment_id": self.assignment_id,
            "targeting_key": self.targeting_key,
            "targeting_key_selector": self.targeting_key_selector,
            "fallthrough": [item._asdict() for item in self.fallthrough],
            "abtest": self.abtest,
            "override": self.override,
            "snapshot_version": self.snapshot_version,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resolution):
            return NotImplemented
        return (
            self._outcome is other._outcome
            and self._unit == other._unit
            and self._fallthrough == other._fallthrough
        )

    def __hash__(self) -> int:
        return hash((id(self._outcome), self._unit, self._fallthrough))

    def __reduce__(self) -> tuple[Any, ...]:
        return (resolved, (self._outcome, self._unit, self._fallthrough))

    def __repr__(self) -> str:
        parts = [f"flag={self.flag!r}", f"variant={self.variant!r}", f"reason={self.reason.name}"]
        if self.error is not None:
            parts.append(f"error={self.error.name}")
        if self.targeting_key is not None:
            parts.append(f"targeting_key={self.targeting_key!r}")
        return f"Resolution({', '.join(parts)})"


class _ResolutionWithFallthrough(Resolution):
    """A resolution that passed fallthrough assignments (kept apart so that the common case
    carries no third field)."""

    __slots__ = ("_fallthrough",)


def resolved(
    outcome: Outcome,
    targeting_key: str | None = None,
    fallthrough: tuple[FallthroughAssignment, ...] = (),
) -> Resolution:
    """A ``Resolution`` of ``outcome`` for the unit ``targeting_key``, having passed
    ``fallthrough``."""
    if fallthrough:
        passed = _ResolutionWithFallthrough()
        passed._fallthrough = fallthrough
        resolution: Resolution = passed
    else:
        resolution = Resolution()
    resolution._outcome = outcome
    resolution._unit = targeting_key
    return resolution
