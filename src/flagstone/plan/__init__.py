"""Compile a validated snapshot, once, into an immutable evaluation plan for one client.

The plan is what a ``Client`` holds by a single reference and swaps atomically: a dict from
flag name (short and full) to a ``FlagPlan`` whose rules are plain data and closures. All
parsing, salting, bitset decoding and value freezing happens here, none of it per call.

The client's view is fixed at compile time: with a client secret, only the flags listed for
that client are visible and rules restricted to environments apply only when the
credential has one of them; without one, every flag is visible and environment-restricted
rules are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from ..errors import UnknownClientError
from ..formats.native import ParsedSnapshot
from ..gc_pause import paused_gc
from ..materializations import MaterializationStore
from ..model import AbTestInstance, Flag, Rule, Snapshot, abtest_segment_name, short_variant_name
from ..model.clients import ClientEntry
from ..model.validation import segment_reference_cycles, variant_named
from ..reasons import ErrorCode, Reason
from ..resolution import Outcome, Resolution
from ..scalars import parse_timestamp_ns
from ..values import freeze
from .fastpath import Resolver, is_plain, single_rule_resolver
from .rules import (
    CLIENT_DEFAULT,
    FALLTHROUGH,
    VARIANT,
    CompiledAssignment,
    CompiledRule,
    UnitReader,
    unit_reader,
)
from .segments import SegmentCompiler, SegmentSource

__all__ = ["FlagPlan", "PendingPlan", "Plan", "compile_plan"]

_log = logging.getLogger("flagstone.plan")

ACTIVE = "ACTIVE"
ARCHIVED = "ARCHIVED"


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
        self.resolve: Resolver = self._resolver()
        """context (a ``dict``) → ``Resolution``: the fastest correct resolver for this flag."""

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

    def _resolver(self) -> Resolver:
        if not self.active:
            archived = Resolution(self.archived)
            return lambda context: archived
        if not self.rules:
            no_match = Resolution(self.no_match)
            return lambda context: no_match
        if len(self.rules) == 1 and is_plain(self.rules[0]):
            return single_rule_resolver(self, self.rules[0])
        from ..resolve import resolve_flag  # the resolver layer sits on top of the plan

        return partial(resolve_flag, self)

    def variant_value(self, variant: str) -> tuple[str, Any] | None:
        """``(name as defined, frozen value)`` of a variant given by full or short name."""
        name = variant_named(self.variants, variant)
        return (name, self.variants[name]) if name is not None else None


class Plan(dict[str, FlagPlan]):
    """A compiled snapshot as one client sees it: a mapping from every flag the client may
    see, by short and by full name, to its ``FlagPlan``. Never modified once built; a client
    replaces the whole plan to serve a new snapshot."""

    __slots__ = ("client", "version", "visible")

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


def compile_plan(
    parsed: ParsedSnapshot,
    *,
    client_secret: str | None = None,
    store: MaterializationStore | None = None,
) -> Plan:
    """Compile ``parsed`` for the client holding ``client_secret`` (every flag when ``None``).

    Raises ``UnknownClientError`` for a secret no credential of the snapshot carries.
    """
    with paused_gc():
        return _compile(parsed, client_secret, store)


def _compile(
    parsed: ParsedSnapshot, client_secret: str | None, store: MaterializationStore | None
) -> Plan:
    snapshot = parsed.model
    version = parsed.version
    client = _client_for(snapshot, client_secret)
    environments = frozenset(client.client_credential.environments) if client else frozenset()
    client_name = client.client.name if client else None

    sources: dict[str, SegmentSource] = {
        segment.name: (segment.targeting, segment.allocation)
        for _, _, segment in snapshot.segment_entries()
    }
    instances_by_flag: dict[str, list[AbTestInstance]] = {}
    for instance in snapshot.abtests:
        sources[abtest_segment_name(instance)] = (
            instance.segment.targeting if instance.segment else None,
            instance.segment.allocation if instance.segment else None,
        )
        flag_name = "flags/" + instance.abtest.treatments[0].variant.split("/")[1]
        instances_by_flag.setdefault(flag_name, []).append(instance)
    segments = SegmentCompiler(
        sources,
        account_id=snapshot.account_id,
        bitsets=snapshot.bitsets,
        bloom_filters=snapshot.bloom_filters,
        store=store,
        cyclic=segment_reference_cycles(snapshot),
    )

    flags: dict[str, FlagPlan] = {}
    visible: list[FlagPlan] = []
    for _, _, flag in snapshot.flag_entries():
        if client_name is not None and client_name not in flag.clients:
            continue
        variants = {variant.name: freeze(variant.value) for variant in flag.variants}
        rules: list[CompiledRule] = []
        if flag.state == ACTIVE:
            for instance in instances_by_flag.get(flag.name, ()):
                compiled = _abtest_rule(flag, instance, variants, segments, store, version)
                if compiled is not None:
                    rules.append(compiled)
            rules.extend(
                _flag_rules(flag, variants, segments, store, version, client_name, environments)
            )
        instances = instances_by_flag.get(flag.name, ())
        selectors = [i.flags.targeting_key_selector for i in instances]
        selectors += [rule.targeting_key_selector for rule in flag.rules]
        selector = next((selector for selector in selectors if selector), "targeting_key")
        plan = FlagPlan(flag, tuple(rules), variants, store, version, selector)
        flags[plan.name] = plan
        flags[plan.short_name] = plan
        if flag.state == ACTIVE:
            visible.append(plan)
    return Plan(
        flags,
        version=version,
        visible=tuple(visible),
        client=client_name,
    )


def _client_for(snapshot: Snapshot, secret: str | None) -> ClientEntry | None:
    if secret is None:
        return None
    for _, _, entry in snapshot.client_entries():
        if entry.client_credential.client_secret.secret == secret:
            return entry
    raise UnknownClientError("the client secret matches no client credential of the snapshot")


def _flag_rules(
    flag: Flag,
    variants: dict[str, Any],
    segments: SegmentCompiler,
    store: MaterializationStore | None,
    version: str,
    client_name: str | None,
    environments: frozenset[str],
) -> Iterable[CompiledRule]:
    for rule in flag.rules:
        if not rule.enabled:
            continue
        if rule.environments and not environments.intersection(rule.environments):
            continue
        if rule.segment not in segments or rule.assignment_spec is None:
            continue  # lenient mode only: strict validation rejects both
        yield _compile_rule(flag, rule, variants, segments, store, version)


def _compile_rule(
    flag: Flag,
    rule: Rule,
    variants: dict[str, Any],
    segments: SegmentCompiler,
    store: MaterializationStore | None,
    version: str,
) -> CompiledRule:
    spec = rule.assignment_spec
    assert spec is not None
    assignments = []
    for assignment in spec.assignments:
        ranges = tuple((r.lower, r.upper) for r in assignment.bucket_ranges)
        kind = assignment.kind
        if kind is None:
            continue
        matched = partial(
            Outcome,
            flag.name,
            Reason.MATCH,
            rule=rule.name,
            segment=rule.segment,
            assignment_id=assignment.assignment_id,
            targeting_key_selector=rule.targeting_key_selector,
            should_apply=True,
            snapshot_version=version,
        )
        if kind == "variant":
            assert assignment.variant is not None
            name, value = _variant(variants, assignment.variant.variant)
            outcome = matched(variant=name, value=value)
            assignments.append(
                CompiledAssignment(VARIANT, assignment.assignment_id, outcome, name, ranges)
            )
        elif kind == "client_default":
            outcome = matched()
            assignments.append(
                CompiledAssignment(CLIENT_DEFAULT, assignment.assignment_id, outcome, "", ranges)
            )
        else:
            assignments.append(
                CompiledAssignment(FALLTHROUGH, assignment.assignment_id, None, "", ranges)
            )
    materialization = rule.materialization_spec
    read = materialization.read_materialization if materialization else ""
    write = materialization.write_materialization if materialization else ""
    mode = materialization.mode if materialization else None
    return CompiledRule(
        name=rule.name,
        selector=rule.targeting_key_selector,
        segment_id=rule.segment.split("/", 1)[-1],
        bucket_count=spec.bucket_count,
        assignments=assignments,
        gate=segments.gate(rule.segment),
        targeting=segments.targeting(rule.segment),
        allocation=segments.allocation(rule.segment),
        read_materialization=read,
        write_materialization=write,
        must_match=bool(mode and mode.materialization_must_match),
        ignore_targeting=bool(mode and mode.segment_targeting_can_be_ignored),
        needs_store=bool(read or write) and store is None,
    )


def _abtest_rule(
    flag: Flag,
    instance: AbTestInstance,
    variants: dict[str, Any],
    segments: SegmentCompiler,
    store: MaterializationStore | None,
    version: str,
) -> CompiledRule | None:
    """An A/B-test instance as a rule: weights become contiguous ranges over 10 000 buckets
    in treatment order; the rule applies while the test is live (and in its schedule);
    treatment overrides apply in draft and live."""
    live = instance.state == "live"
    honours_overrides = live or (instance.state == "draft" and instance.preview)
    materialization = instance.materialization if store is not None else None
    if live and instance.intake == "paused" and materialization is None:
        _log.warning(
            "A/B test %s has paused intake but the client has no materialization store: it "
            "serves nobody, as if it had ended (give the client a store to keep serving the "
            "units assigned before the pause)",
            instance.name,
        )
        live = False
    if not live and not (honours_overrides and instance.treatment_overrides):
        return None
    segment = abtest_segment_name(instance)
    rule_name = f"{instance.name}/rule"
    selector = instance.flags.targeting_key_selector
    outcome_of = partial(
        Outcome,
        flag.name,
        rule=rule_name,
        segment=segment,
        targeting_key_selector=selector,
        should_apply=True,
        snapshot_version=version,
        abtest=instance.name,
    )
    assignments = []
    by_short_name: dict[str, tuple[str, Any]] = {}
    lower = 0
    for treatment in instance.abtest.treatments:
        name, value = _variant(variants, treatment.variant)
        short = short_variant_name(treatment.variant)
        by_short_name[short] = (name, value)
        upper = lower + treatment.weight
        if upper > lower:
            outcome = outcome_of(Reason.MATCH, variant=name, value=value, assignment_id=short)
            assignments.append(CompiledAssignment(VARIANT, short, outcome, name, ((lower, upper),)))
        lower = upper
    overrides: dict[str, Outcome] = {}
    if honours_overrides:
        for unit, variant in instance.treatment_overrides.items():
            name, value = by_short_name[short_variant_name(variant)]
            overrides[unit] = outcome_of(
                Reason.OVERRIDE,
                variant=name,
                value=value,
                assignment_id=short_variant_name(variant),
                override=True,
            )
    start = parse_timestamp_ns(instance.start_time) if instance.start_time else None
    end = parse_timestamp_ns(instance.end_time) if instance.end_time else None
    return CompiledRule(
        name=rule_name,
        selector=selector,
        segment_id=segment.split("/", 1)[-1],
        bucket_count=10_000,
        assignments=assignments,
        gate=segments.gate(segment),
        targeting=segments.targeting(segment),
        allocation=segments.allocation(segment),
        overrides=overrides,
        window=(start, end) if start is not None or end is not None else None,
        active=live,
        read_materialization=materialization or "",
        write_materialization=(materialization or "") if instance.intake == "open" else "",
        must_match=instance.intake == "paused",
        needs_store=False,
    )


def _variant(variants: dict[str, Any], reference: str) -> tuple[str, Any]:
    name = variant_named(variants, reference)
    if name is None:
        raise KeyError(reference)  # validation guarantees every reference resolves
    return name, variants[name]
