"""Compile a validated snapshot, once, into an immutable evaluation plan for one client.

The plan is what a ``Client`` holds by a single reference and swaps atomically: a dict from
flag name (short and full) to a ``FlagPlan`` whose rules are plain data and closures. All
parsing, salting, bitset decoding and value freezing happens here, none of it per call.

The client's view is fixed at compile time: with a client secret, only the flags listed for
that client are visible and rules restricted to environments apply only when the
credential has one of them; without one, every flag is visible and environment-restricted
rules are skipped.

Updates. Given the plan it replaces (``previous``, compiled with ``keep_state=True``) and a
snapshot read against that plan's snapshot (``flagstone.formats.read_snapshot``), only what
changed is compiled: a flag whose text is the same and whose rules' segments (and the
segments those reference, their bitsets and bloom filters) are the same keeps its compiled
``FlagPlan``, whose version cell is set to the new version (see ``flag.VersionCell``). Any
change to the account, the clients or the A/B tests compiles everything. Either way the
result resolves exactly as a plan compiled from scratch (``tests/test_incremental_plan.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UnknownClientError
from ..model import AbTestInstance, Flag, Rule, Snapshot, abtest_segment_name, short_variant_name
from ..model.clients import ClientEntry
from ..model.validation import variant_named
from ..process.gc import paused_gc
from ..reasons import Reason
from ..resolution import Outcome
from ..semantics.scalars import parse_timestamp_ns
from ..stores.materializations import MaterializationStore
from ..values import freeze
from .flag import ACTIVE, ErrorCounts, FlagPlan, Plan, PlanOutcome, VersionCell, plan_outcome
from .resolver import first_call
from .rules import (
    CLIENT_DEFAULT,
    FALLTHROUGH,
    VARIANT,
    CompiledAssignment,
    CompiledRule,
)
from .segments import SegmentCompiler, SegmentSource

if TYPE_CHECKING:
    from ..formats.native import ParsedSnapshot
    from ..formats.streamed import SnapshotIndex, SnapshotParts

__all__ = ["FlagCompiler", "compile_plan"]

_log = logging.getLogger("flagstone.plan")


class _State(NamedTuple):
    """What a plan keeps to compile the next version of its snapshot from it: the index its
    snapshot was read into (the next one is read against it), that snapshot's parts other
    than flags and segments, and the client's view."""

    read: SnapshotIndex
    shell: Snapshot
    client_secret: str | None
    store: MaterializationStore | None
    errors: ErrorCounts | None


def compile_plan(
    parsed: ParsedSnapshot,
    *,
    client_secret: str | None = None,
    store: MaterializationStore | None = None,
    previous: Plan | None = None,
    keep_state: bool = False,
    errors: ErrorCounts | None = None,
) -> Plan:
    """Compile ``parsed`` for the client holding ``client_secret`` (every flag when ``None``).

    With ``previous`` (a plan of the same client compiled with ``keep_state=True``), flags
    nothing changed for are taken from it (see the module docstring); their version is then
    the new snapshot's in ``previous`` too, which the new plan supersedes. ``keep_state``
    keeps what the next compile needs on the new plan (``Plan.state``; the snapshot's text
    index, shared with the reader's). ``errors``: where the flags count the errors they
    answer (the client's, see ``FlagPlan.failed``); a flag is never shared by two of them.

    Raises ``UnknownClientError`` for a secret no credential of the snapshot carries.
    """
    with paused_gc():
        parts = parsed.parts
        if parts is None:
            snapshot = parsed.model
            client = _client_for(snapshot, client_secret)
            sources: dict[str, SegmentSource] = {
                segment.name: (segment.targeting, segment.allocation)
                for _, _, segment in snapshot.segment_entries()
            }
            build = _Build(snapshot, sources, parsed.version, client, store, errors=errors)
            flags = (flag for _, _, flag in snapshot.flag_entries())
            return build.plan(build.compile(flag) for flag in flags if build.sees(flag.clients))
        compiler = parts.compiler
        compiled: list[Any] = []
        if isinstance(compiler, FlagCompiler) and compiler.serves(client_secret, store, errors):
            build = compiler.build(parts)
            compiled = parts.compiled  # the flags compiled while they were read
            compiler.count_into(errors, compiled)
        else:
            client = _client_for(parts.shell, client_secret)
            build = _Build(
                parts.shell, _Sources(parts), parsed.version, client, store, parts.names, errors
            )
        reused = _reusable(parts, previous, client_secret, store, errors, build.instances_by_flag)
        plan = build.plan(_flag_plans(parts, build, reused, compiled))
        if isinstance(compiler, FlagCompiler):
            compiler.release()  # it held the parts, which hold it: no cycle left behind
        for flag_plan in reused.values():
            flag_plan.cell.version = parsed.version  # they are the new snapshot's now
        if keep_state:
            plan.state = _State(parts.index, parts.shell, client_secret, store, errors)
        return plan


class FlagCompiler:
    """Compiles each flag for one client while ``read_snapshot`` reads it (its ``compile``
    argument), so that a large snapshot never holds every flag's model at once (peak memory
    ~10 MiB lower for 10 000 flags); ``compile_plan`` then takes the flags it made."""

    def __init__(
        self, *, client_secret: str | None = None, store: MaterializationStore | None = None
    ) -> None:
        self.client_secret = client_secret
        self.store = store
        self._build: _Build | None = None
        self._unknown = False
        self._errors: ErrorCounts | None = None
        self._claimed = False
        """Whether a plan took the flags compiled (they then count into ``_errors``, and
        no plan counting elsewhere may take them)."""

    def serves(
        self,
        client_secret: str | None,
        store: MaterializationStore | None,
        errors: ErrorCounts | None = None,
    ) -> bool:
        return (
            (client_secret, store) == (self.client_secret, self.store)
            and not self._unknown
            and (not self._claimed or errors is self._errors)
        )

    def count_into(self, errors: ErrorCounts | None, compiled: Iterable[FlagPlan | None]) -> None:
        """The flags compiled, and those still to compile, count their errors into
        ``errors`` (the plan taking them is the first, see :meth:`serves`)."""
        self._claimed = True
        self._errors = errors
        if self._build is not None:
            self._build.errors = errors
        for flag_plan in compiled:
            if flag_plan is not None:
                flag_plan.errors = errors

    def build(self, parts: SnapshotParts) -> _Build:
        if self._build is None:
            client = _client_for(parts.shell, self.client_secret)
            self._build = _Build(
                parts.shell, _Sources(parts), parts.version, client, self.store, parts.names
            )
        return self._build

    def release(self) -> None:
        """Forget the snapshot compiled (``compile_plan`` calls this once it took the flags)."""
        self._build = None

    def __call__(self, parts: SnapshotParts, position: int, flag: Flag) -> FlagPlan | None:
        if self._unknown:
            return None
        try:
            build = self.build(parts)
        except UnknownClientError:  # raised by compile_plan once the snapshot is known valid
            self._unknown = True
            return None
        return build.compile(flag) if build.sees(flag.clients) else None


def _flag_plans(
    parts: SnapshotParts,
    build: _Build,
    reused: dict[str, FlagPlan],
    compiled: list[Any],
) -> Iterator[FlagPlan]:
    for position, summary in enumerate(parts.flags):
        if not build.sees(summary.clients):
            continue
        flag_plan = reused.get(summary.name) or (
            compiled[position] if position < len(compiled) else None
        )
        if flag_plan is None:
            flag_plan = build.compile(parts.model("flags", position, keep=False))
        yield flag_plan


def _reusable(
    parts: SnapshotParts,
    previous: Plan | None,
    client_secret: str | None,
    store: MaterializationStore | None,
    errors: ErrorCounts | None,
    instances_by_flag: Mapping[str, list[AbTestInstance]],
) -> dict[str, FlagPlan]:
    """The flags of ``previous`` that compile exactly as they did: same text, same segments
    behind their rules (transitively, with their bitsets and bloom filters), no A/B test,
    and the same account, clients, A/B tests and client view (and error counts)."""
    state: _State | None = previous.state if previous is not None else None
    if (
        previous is None
        or state is None
        or parts.against is None
        or state.read is not parts.against  # read against another snapshot than this one
        or state.client_secret != client_secret
        or state.store is not store
        or state.errors is not errors
    ):
        return {}
    old, new = state.shell, parts.shell
    if (
        old.account_id != new.account_id
        or old.clients != new.clients
        or old.abtests != new.abtests
        or old.bloom_filters.keys() != new.bloom_filters.keys()
    ):
        return {}
    changed = {
        summary.name
        for summary, at in zip(parts.segments, parts.reused["segments"], strict=True)
        if at is None
    }
    changed.update(
        {summary.name for summary in parts.against.segments}
        ^ {summary.name for summary in parts.segments}
    )  # added or removed
    changed.update(
        name
        for name in old.bitsets.keys() | new.bitsets.keys()
        if old.bitsets.get(name) != new.bitsets.get(name)
    )
    blooms = {name for name, spec in new.bloom_filters.items() if old.bloom_filters[name] != spec}
    referrers: dict[str, list[str]] = {}
    for summary in parts.segments:
        if blooms.intersection(summary.materialized):
            changed.add(summary.name)
        for target in summary.references:
            referrers.setdefault(target, []).append(summary.name)
    pending = list(changed)
    while pending:  # a segment that references a changed one changed too
        for referrer in referrers.get(pending.pop(), ()):
            if referrer not in changed:
                changed.add(referrer)
                pending.append(referrer)
    reused = {}
    for flag, at in zip(parts.flags, parts.reused["flags"], strict=True):
        if at is None or flag.name in instances_by_flag or changed.intersection(flag.segments):
            continue
        flag_plan = previous.get(flag.name)
        if flag_plan is not None:
            reused[flag.name] = flag_plan
    return reused


class _Sources(Mapping[str, SegmentSource]):
    """The segments of a snapshot read entity by entity, each validated when the compiler
    first asks for it (and handed over: the compiler reads each once)."""

    def __init__(self, parts: SnapshotParts) -> None:
        self._parts = parts
        self._positions = {summary.name: index for index, summary in enumerate(parts.segments)}
        self.has = self._positions.__contains__
        """Whether a segment of that name exists, without a Python call (what
        ``SegmentCompiler.defines`` uses)."""

    def __getitem__(self, name: str) -> SegmentSource:
        segment = self._parts.model("segments", self._positions[name], keep=False)
        return segment.targeting, segment.allocation

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


class _Sourced(Mapping[str, SegmentSource]):
    """Segment sources: the A/B tests' (``extra``) over the snapshot's."""

    def __init__(self, base: Mapping[str, SegmentSource], extra: dict[str, SegmentSource]):
        self._base = base
        self._extra = extra

    def __getitem__(self, name: str) -> SegmentSource:
        found = self._extra.get(name)
        return found if found is not None else self._base[name]

    def __contains__(self, name: object) -> bool:
        return name in self._extra or name in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._extra
        yield from (name for name in self._base if name not in self._extra)

    def __len__(self) -> int:
        return len(set(self._extra) | set(self._base))


class _Build:
    """Compiles the flags of one snapshot for one client."""

    def __init__(
        self,
        shell: Snapshot,
        sources: Mapping[str, SegmentSource],
        version: str,
        client: ClientEntry | None,
        store: MaterializationStore | None,
        names: dict[str, str] | None = None,
        errors: ErrorCounts | None = None,
    ) -> None:
        self.version = version
        self.errors = errors
        """Where the flags compiled count their errors (``FlagPlan.errors``)."""
        self.names = names or {}
        """Flag and segment names → the equal string the plan holds (see
        ``SnapshotParts.names``)."""
        self.store = store
        self.environments = (
            frozenset(client.client_credential.environments) if client else frozenset()
        )
        self.client_name = client.client.name if client else None
        abtest_sources: dict[str, SegmentSource] = {}
        self.instances_by_flag: dict[str, list[AbTestInstance]] = {}
        for instance in shell.abtests:
            abtest_sources[abtest_segment_name(instance)] = (
                instance.segment.targeting if instance.segment else None,
                instance.segment.allocation if instance.segment else None,
            )
            if instance.flag is not None:  # always, in a validated snapshot
                self.instances_by_flag.setdefault(instance.flag, []).append(instance)
        self.segments = SegmentCompiler(
            _Sourced(sources, abtest_sources) if abtest_sources else sources,
            account_id=shell.account_id,
            bitsets=shell.bitsets,
            bloom_filters=shell.bloom_filters,
            store=store,
        )
        self.shared: dict[Any, Any] = {}
        """One instance of equal bucket-range tuples (and the like) across flags."""

    def sees(self, clients: Iterable[str]) -> bool:
        """Whether this client sees a flag listing ``clients``."""
        return self.client_name is None or self.client_name in clients

    def plan(self, flag_plans: Iterable[FlagPlan]) -> Plan:
        flags: dict[str, FlagPlan] = {}
        visible: list[FlagPlan] = []
        for flag_plan in flag_plans:
            flags[flag_plan.name] = flag_plan
            flags[flag_plan.short_name] = flag_plan
            if flag_plan.active:
                visible.append(flag_plan)
        return Plan(flags, version=self.version, visible=tuple(visible), client=self.client_name)

    def compile(self, flag: Flag) -> FlagPlan:
        name = self.names.get(flag.name, flag.name)  # the string the plan holds
        cell = VersionCell(self.version)
        variants = {variant.name: freeze(variant.value) for variant in flag.variants}
        rules: list[CompiledRule] = []
        instances = self.instances_by_flag.get(flag.name, ())
        if flag.state == ACTIVE:
            for instance in instances:
                compiled = self._abtest_rule(flag, instance, variants, cell)
                if compiled is not None:
                    rules.append(compiled)
            rules.extend(self._flag_rules(flag, name, variants, cell, after=bool(rules)))
        selector = "targeting_key"  # the first selector given, A/B tests' before rules'
        for given in [i.flags.targeting_key_selector for i in instances] + [
            rule.targeting_key_selector for rule in flag.rules
        ]:
            if given:
                selector = given
                break
        flag_plan = FlagPlan(
            flag, tuple(rules), variants, self.store, cell, selector, name, self.errors
        )
        flag_plan.resolve = first_call(flag_plan)  # its resolver is built when first called
        return flag_plan

    def _flag_rules(
        self, flag: Flag, name: str, variants: dict[str, Any], cell: VersionCell, *, after: bool
    ) -> Iterable[CompiledRule]:
        """The flag's own rules this client applies; ``after``: rules (A/B tests) come
        first."""
        for rule in flag.rules:
            if not rule.enabled:
                continue
            if rule.environments and not self.environments.intersection(rule.environments):
                continue
            if not self.segments.defines(rule.segment) or rule.assignment_spec is None:
                continue  # lenient mode only: strict validation rejects both
            yield self._compile_rule(flag, name, rule, variants, cell, after=after)
            after = True

    def _compile_rule(
        self,
        flag: Flag,
        flag_name: str,
        rule: Rule,
        variants: dict[str, Any],
        cell: VersionCell,
        *,
        after: bool = False,
    ) -> CompiledRule:
        spec = rule.assignment_spec
        assert spec is not None
        shared = self.shared
        segment_name = self.names.get(rule.segment, rule.segment)  # the string the plan holds
        version: Any = cell  # a PlanOutcome's version is its flag's cell
        materialization = rule.materialization_spec
        read = materialization.read_materialization if materialization else ""
        write = materialization.write_materialization if materialization else ""
        gate, targeting, allocation = self.segments.rule_parts(rule.segment)
        everyone = gate is None and not read and not write
        whole = ((0, spec.bucket_count),)
        assignments = []
        for assignment in spec.assignments:
            kind = assignment.kind
            if kind is None:
                continue
            ranges = tuple([(r.lower, r.upper) for r in assignment.bucket_ranges])
            ranges = shared.setdefault(ranges, ranges)  # ((0, 5000),) once, not per rule
            if kind == "fallthrough":
                assignments.append(
                    CompiledAssignment(FALLTHROUGH, assignment.assignment_id, None, "", ranges)
                )
                continue
            name: str | None = None
            value: Any = None
            catch_all = None
            if kind == "variant":
                assert assignment.variant is not None
                name, value = _variant(variants, assignment.variant.variant)
                if everyone and ranges == whole:
                    catch_all = "fallback" if after else "only"
            outcome = PlanOutcome(
                flag_name,
                Reason.MATCH,
                variant=name,
                value=value,
                rule=rule.name,
                segment=segment_name,
                assignment_id=assignment.assignment_id,
                targeting_key_selector=rule.targeting_key_selector,
                should_apply=True,
                catch_all=catch_all,
                snapshot_version=version,
            )
            assignments.append(
                CompiledAssignment(
                    VARIANT if kind == "variant" else CLIENT_DEFAULT,
                    assignment.assignment_id,
                    outcome,
                    name or "",
                    ranges,
                )
            )
        mode = materialization.mode if materialization else None
        return CompiledRule(
            name=rule.name,
            selector=rule.targeting_key_selector,
            segment_id=rule.segment.split("/", 1)[-1],
            bucket_count=shared.setdefault(spec.bucket_count, spec.bucket_count),
            assignments=assignments,
            gate=gate,
            targeting=targeting,
            allocation=allocation,
            read_materialization=read,
            write_materialization=write,
            must_match=bool(mode and mode.materialization_must_match),
            ignore_targeting=bool(mode and mode.segment_targeting_can_be_ignored),
            needs_store=bool(read or write) and self.store is None,
        )

    def _abtest_rule(
        self,
        flag: Flag,
        instance: AbTestInstance,
        variants: dict[str, Any],
        cell: VersionCell,
    ) -> CompiledRule | None:
        """An A/B-test instance as a rule: weights become contiguous ranges over 10 000
        buckets in treatment order; the rule applies while the test is live (and in its
        schedule); treatment overrides apply in draft and live."""
        live = instance.state == "live"
        honours_overrides = live or (instance.state == "draft" and instance.preview)
        materialization = instance.materialization if self.store is not None else None
        if live and instance.intake == "paused" and materialization is None:
            _log.warning(
                "A/B test %s has paused intake but the client has no materialization store: "
                "it serves nobody, as if it had ended (give the client a store to keep "
                "serving the units assigned before the pause)",
                instance.name,
            )
            live = False
        if not live and not (honours_overrides and instance.treatment_overrides):
            return None
        segment = abtest_segment_name(instance)
        rule_name = f"{instance.name}/rule"
        selector = instance.flags.targeting_key_selector
        fields = {
            "rule": rule_name,
            "segment": segment,
            "targeting_key_selector": selector,
            "should_apply": True,
            "abtest": instance.name,
        }
        assignments = []
        by_short_name: dict[str, tuple[str, Any]] = {}
        lower = 0
        for treatment in instance.abtest.treatments:
            name, value = _variant(variants, treatment.variant)
            short = short_variant_name(treatment.variant)
            by_short_name[short] = (name, value)
            upper = lower + treatment.weight
            if upper > lower:
                outcome = plan_outcome(
                    cell,
                    flag.name,
                    Reason.MATCH,
                    variant=name,
                    value=value,
                    assignment_id=short,
                    **fields,
                )
                assignments.append(
                    CompiledAssignment(VARIANT, short, outcome, name, ((lower, upper),))
                )
            lower = upper
        overrides: dict[str, Outcome] = {}
        if honours_overrides:
            for unit, variant in instance.treatment_overrides.items():
                name, value = by_short_name[short_variant_name(variant)]
                overrides[unit] = plan_outcome(
                    cell,
                    flag.name,
                    Reason.OVERRIDE,
                    variant=name,
                    value=value,
                    assignment_id=short_variant_name(variant),
                    override=True,
                    **fields,
                )
        start = parse_timestamp_ns(instance.start_time) if instance.start_time else None
        end = parse_timestamp_ns(instance.end_time) if instance.end_time else None
        return CompiledRule(
            name=rule_name,
            selector=selector,
            segment_id=segment.split("/", 1)[-1],
            bucket_count=10_000,
            assignments=assignments,
            gate=self.segments.gate(segment),
            targeting=self.segments.targeting(segment),
            allocation=self.segments.allocation(segment),
            overrides=overrides,
            window=(start, end) if start is not None or end is not None else None,
            active=live,
            read_materialization=materialization or "",
            write_materialization=(materialization or "") if instance.intake == "open" else "",
            must_match=instance.intake == "paused",
            needs_store=False,
        )


def _client_for(snapshot: Snapshot, secret: str | None) -> ClientEntry | None:
    if secret is None:
        return None
    for _, _, entry in snapshot.client_entries():
        if entry.client_credential.client_secret.secret == secret:
            return entry
    raise UnknownClientError("the client secret matches no client credential of the snapshot")


def _variant(variants: dict[str, Any], reference: str) -> tuple[str, Any]:
    if reference in variants:  # the name as defined (the common case): one look-up
        return reference, variants[reference]
    name = variant_named(variants, reference)
    if name is None:
        raise KeyError(reference)  # validation guarantees every reference resolves
    return name, variants[name]
