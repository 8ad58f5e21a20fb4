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
from ..model import AbTestInstance, Flag, Rule, Snapshot, abtest_segment_name, short_variant_name
from ..model.clients import ClientEntry
from ..model.validation import variant_named
from ..process.gc import paused_gc
from ..reasons import Reason
from ..resolution import Outcome
from ..semantics.scalars import parse_timestamp_ns
from ..stores.materializations import MaterializationStore
from ..values import freeze
from .flag import ACTIVE, FlagPlan, Plan
from .resolver import resolver_for
from .rules import (
    CLIENT_DEFAULT,
    FALLTHROUGH,
    VARIANT,
    CompiledAssignment,
    CompiledRule,
)
from .segments import SegmentCompiler, SegmentSource

__all__ = ["compile_plan"]

_log = logging.getLogger("flagstone.plan")


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
        if instance.flag is not None:  # always, in a validated snapshot
            instances_by_flag.setdefault(instance.flag, []).append(instance)
    segments = SegmentCompiler(
        sources,
        account_id=snapshot.account_id,
        bitsets=snapshot.bitsets,
        bloom_filters=snapshot.bloom_filters,
        store=store,
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
                _flag_rules(
                    flag, variants, segments, store, version, environments, after=bool(rules)
                )
            )
        instances = instances_by_flag.get(flag.name, ())
        selectors = [i.flags.targeting_key_selector for i in instances]
        selectors += [rule.targeting_key_selector for rule in flag.rules]
        selector = next((selector for selector in selectors if selector), "targeting_key")
        plan = FlagPlan(flag, tuple(rules), variants, store, version, selector)
        plan.resolve = resolver_for(plan)
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
    environments: frozenset[str],
    *,
    after: bool,
) -> Iterable[CompiledRule]:
    """The flag's own rules this client applies; ``after``: rules (A/B tests) come first."""
    for rule in flag.rules:
        if not rule.enabled:
            continue
        if rule.environments and not environments.intersection(rule.environments):
            continue
        if rule.segment not in segments or rule.assignment_spec is None:
            continue  # lenient mode only: strict validation rejects both
        yield _compile_rule(flag, rule, variants, segments, store, version, after=after)
        after = True


def _compile_rule(
    flag: Flag,
    rule: Rule,
    variants: dict[str, Any],
    segments: SegmentCompiler,
    store: MaterializationStore | None,
    version: str,
    *,
    after: bool = False,
) -> CompiledRule:
    spec = rule.assignment_spec
    assert spec is not None
    materialization = rule.materialization_spec
    read = materialization.read_materialization if materialization else ""
    write = materialization.write_materialization if materialization else ""
    gate = segments.gate(rule.segment)
    everyone = gate is None and not read and not write
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
            covers = [(r.lower, r.upper) for r in assignment.bucket_ranges] == [
                (0, spec.bucket_count)
            ]
            catch_all = ("fallback" if after else "only") if everyone and covers else None
            outcome = matched(variant=name, value=value, catch_all=catch_all)
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
    mode = materialization.mode if materialization else None
    return CompiledRule(
        name=rule.name,
        selector=rule.targeting_key_selector,
        segment_id=rule.segment.split("/", 1)[-1],
        bucket_count=spec.bucket_count,
        assignments=assignments,
        gate=gate,
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
