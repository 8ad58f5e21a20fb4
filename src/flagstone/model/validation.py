"""Semantic validation of a parsed snapshot: everything the types alone do not catch.

``check_snapshot`` returns every problem it finds, each with its JSON path. Two kinds:

* defects in any mode: an assignment naming an unknown variant, overlapping bucket ranges,
  A/B-test weights that do not sum to 10 000, overlapping exclusive allocations, undecodable
  bitsets, a client map key that is not the credential's secret, …
* defects only in strict mode (the default): shapes Confidence's resolver tolerates at
  resolve time by skipping or not matching — a rule or criterion naming an unknown segment,
  segment references that form a cycle, an attribute criterion without a recognised rule, an
  empty range, an expression naming an unknown criterion. Lenient mode (``strict=False``)
  accepts them and resolves them as Confidence does, which is what the conformance suite needs.

``snapshot_findings`` also returns *warnings*: in strict mode, what loads and resolves as
Confidence does but is most likely a mistake — today a rule version whose text is not a
version, which Confidence (and flagstone) compare as ``(0, 0, 0, 0)``. Warnings never
refuse a snapshot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import NamedTuple, TypeVar

from pydantic.alias_generators import to_camel

from ..errors import Problem
from ..semantics.hashing import ACCOUNT_BUCKETS
from ..semantics.membership import MAX_INFLATED_BITSETS, bloom_filter_predicate, inflated_size
from ..semantics.scalars import parse_timestamp_ns, parse_version
from .abtests import AbTestInstance, default_segment_name, treatment_flag
from .bitsets import BitsetSpec
from .flags import Flag
from .limits import (
    MAX_EXPRESSION_DEPTH,
    MAX_NESTING,
    MAX_REFERENCE_DEPTH,
    nests_deeper_than,
)
from .metrics import METRIC_PREFIX, AbTestMetrics, MetricDefinition, MetricDefinitions
from .paths import join_path, key_path
from .segments import Allocation, BucketRange
from .snapshot import Positions, Snapshot
from .summaries import FlagSummary, SegmentSummary
from .targeting import (
    ATTRIBUTE_RULE_FIELDS,
    AttributeCriterion,
    Expression,
    InnerRule,
    RangeRule,
    Targeting,
    TargetingValue,
)

__all__ = [
    "Findings",
    "FlagChecks",
    "abtest_findings",
    "abtest_segment_name",
    "check_abtest_change",
    "check_snapshot",
    "metric_definition_problems",
    "segment_findings",
    "segment_reference_cycles",
    "shell_findings",
    "short_variant_name",
    "snapshot_findings",
    "summaries_may_have_problems",
    "variant_named",
]

T = TypeVar("T")

_HOLDING_STATES = ("draft", "live")
"""A/B tests in these states hold their place in the exclusive space (and their schedule
must make sense); ended and archived tests give their bucket ranges back."""

_STRICT_HINT = " (strict mode; strict=False resolves it as Confidence does)"

_CAMEL_RULES = {name: to_camel(name) for name in ATTRIBUTE_RULE_FIELDS}
"""A rule's field name as JSON writes it, read from a table (pydantic's ``to_camel`` costs
~5 µs a call, 20 000 calls for a 10 000-flag snapshot)."""


def short_variant_name(name: str) -> str:
    """``"flags/f/variants/on"`` → ``"on"``; a short name stays as it is."""
    return name.rsplit("/", 1)[-1]


def variant_named(names: Iterable[str], reference: str) -> str | None:
    """The name, among a flag's variant ``names``, that ``reference`` means: the same name,
    else the one with the same short name (``on`` and ``flags/f/variants/on`` are one variant);
    ``None`` if there is none."""
    names = list(names)
    if reference in names:
        return reference
    short = short_variant_name(reference)
    return next((name for name in names if short_variant_name(name) == short), None)


def abtest_segment_name(instance: AbTestInstance) -> str:
    """The segment an A/B-test instance compiles into: its own ``segment.name`` or
    ``segments/abtest-<instance id>``."""
    if instance.segment is not None and instance.segment.name:
        return instance.segment.name
    return default_segment_name(instance.instance_id)


class _Checker:
    def __init__(
        self,
        snapshot: Snapshot,
        strict: bool,
        known_names: Iterable[str],
        positions: Positions | None = None,
        nesting: bool = True,
        flags_elsewhere: Iterable[FlagSummary] = (),
    ) -> None:
        self.snapshot = snapshot
        self.positions = positions
        self.nesting = nesting
        self.strict = strict
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.known = set(known_names)
        self.top_segment_names = {seg.name for seg in _values(snapshot.segments)} | {
            name for name in self.known if name.startswith("segments/")
        }
        self.segment_names = self.top_segment_names | _abtest_segments(snapshot)
        self.flags: dict[str, Flag | FlagSummary] = {flag.name: flag for flag in flags_elsewhere}
        self.flags.update((flag.name, flag) for flag in _values(snapshot.flags))
        self.flag_names = set(self.flags) | {n for n in self.known if n.startswith("flags/")}
        self.client_names = {e.client.name for e in _values(snapshot.clients)} | {
            n for n in self.known if n.startswith("clients/")
        }

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def add_strict(self, path: str, message: str) -> None:
        if self.strict:
            self.add(path, message + _STRICT_HINT)

    def warn_strict(self, path: str, message: str) -> None:
        if self.strict:
            self.warnings.append(Problem(path, message))

    def check_nesting(self) -> None:
        """Free-form JSON values (variant values, schemas, an A/B test's metrics, …) must keep
        the document within :data:`MAX_NESTING` levels. (The JSON decoder holds a document
        read as text to it; a decoded document given to ``from_dict`` is held to it here,
        where a deep value would otherwise exhaust the stack later.)

        The values at one level of the document are walked together, in one walk; paths
        are made, and values walked one by one, only when that walk finds one too deep."""
        snapshot = self.snapshot
        flags = list(
            snapshot.flags.values() if isinstance(snapshot.flags, dict) else snapshot.flags
        )
        by_level: dict[int, list[object]] = {
            2: [snapshot.snapshot_schema],
            4: [flag.flag_schema for flag in flags] + [flag.usage_metadata for flag in flags],
            6: [variant.value for flag in flags for variant in flag.variants],
        }
        for path, instance in snapshot.abtest_entries():
            for _, value, level in _abtest_values(path, instance):
                by_level.setdefault(level, []).append(value)
        if not any(
            nests_deeper_than(
                [value for value in values if value is not None], MAX_NESTING - level + 2
            )
            for level, values in by_level.items()
        ):
            return
        found: list[tuple[str, object, int]] = [("$.schema", snapshot.snapshot_schema, 2)]
        for path, _, flag in snapshot.flag_entries(self.positions):
            found += _flag_values(path, flag)
        for path, instance in snapshot.abtest_entries(self.positions):
            found += _abtest_values(path, instance)
        self.check_values_nesting(found)

    def check_values_nesting(self, values: Iterable[tuple[str, object, int]]) -> None:
        """``(path, value, level of the value in the document)`` for each free-form value."""
        for path, value, level in values:
            if value is not None and nests_deeper_than(value, MAX_NESTING - level + 1):
                self.add(path, f"the document nests more than {MAX_NESTING} levels deep here")

    # -- snapshot ---------------------------------------------------------------------------

    def run(self) -> list[Problem]:
        snapshot = self.snapshot
        if snapshot.account is not None:
            _expect_name(self, "$.account.name", snapshot.account.name, "accounts")
        if self.nesting:
            self.check_nesting()
        self.check_flags()
        self.check_segments()
        self.check_bitsets()
        self.check_bloom_filters()
        self.check_clients()
        self.check_abtests()
        self.check_exclusivity()
        self.problems += metric_definition_problems(self.snapshot.metrics)
        return self.problems

    def check_flags(self) -> None:
        seen: set[str] = set()
        for path, key, flag in self.snapshot.flag_entries(self.positions):
            self.check_flag_entry(path, key, flag, seen)

    def check_flag_entry(
        self, path: str, key: str | None, flag: Flag, seen: set[str] | None = None
    ) -> None:
        """One flag at ``path`` (map key ``key``): its key, name and contents, and with
        ``seen`` (the names of the flags before it, to which it is added) whether one of
        them has its name."""
        if key is not None and key != flag.name:
            self.add(f"{path}.name", f"the map key {key!r} differs from the name {flag.name!r}")
        if seen is not None:
            if flag.name in seen:
                self.add(f"{path}.name", f"flag {flag.name!r} is defined twice")
            seen.add(flag.name)
        if not _is_name(flag.name, "flags/"):
            _expect_name(self, f"{path}.name", flag.name, "flags")
        self.check_flag(path, flag)

    def check_flag(self, path: str, flag: Flag) -> None:
        # Paths are made only for a problem: a valid 10 000-flag snapshot made 60 000 of
        # them for nothing (~10 ms); ranges that cannot overlap are not sorted (~10 ms).
        variant_names: set[str] = set()
        for index, variant in enumerate(flag.variants):
            if variant.name in variant_names:
                self.add(
                    f"{path}.variants[{index}].name", f"variant {variant.name!r} is defined twice"
                )
            variant_names.add(variant.name)
        for index, client in enumerate(flag.clients):
            if client not in self.client_names:
                self.add_strict(f"{path}.clients[{index}]", f"unknown client {client!r}")
        rule_names: set[str] = set()
        for index, rule in enumerate(flag.rules):
            if rule.name in rule_names:
                self.add(
                    f"{path}.rules[{index}].name",
                    f"rule {rule.name!r} is defined twice in this flag",
                )
            rule_names.add(rule.name)
            if rule.segment not in self.segment_names:
                self.add_strict(
                    f"{path}.rules[{index}].segment", f"unknown segment {rule.segment!r}"
                )
            elif not _name_id(rule.segment):
                self.add(
                    f"{path}.rules[{index}].segment",
                    f"{rule.segment!r} is not a segments/<id> name",
                )
            spec = rule.assignment_spec
            if spec is None:
                self.add_strict(
                    f"{path}.rules[{index}]", "the rule has no assignmentSpec, so it never matches"
                )
                continue
            count = spec.bucket_count
            ranges: list[tuple[int, int, int, int]] = []  # lower, upper, assignment, range
            assignment_ids: set[str] = set()
            for a_index, assignment in enumerate(spec.assignments):
                if assignment.assignment_id and assignment.assignment_id in assignment_ids:
                    self.add_strict(
                        f"{_assignment_path(path, index, a_index)}.assignmentId",
                        f"assignment id {assignment.assignment_id!r} is used twice in this rule",
                    )
                assignment_ids.add(assignment.assignment_id)
                given = assignment.variant
                if given is None and assignment.fallthrough is None:
                    if assignment.client_default is None:
                        self.add_strict(
                            _assignment_path(path, index, a_index),
                            "the assignment has no variant, fallthrough or clientDefault",
                        )
                elif (
                    given is not None
                    and given.variant not in variant_names
                    and not _variant_exists(flag, given.variant)
                ):
                    self.add(
                        f"{_assignment_path(path, index, a_index)}.variant.variant",
                        f"unknown variant {given.variant!r} of {flag.name!r}",
                    )
                if not assignment.bucket_ranges:
                    self.add_strict(
                        _assignment_path(path, index, a_index),
                        "the assignment has no bucketRanges, so it is never chosen",
                    )
                for r_index, bucket_range in enumerate(assignment.bucket_ranges):
                    if bucket_range.lower < bucket_range.upper <= count:
                        ranges.append((bucket_range.lower, bucket_range.upper, a_index, r_index))
                    else:
                        r_path = f"{_assignment_path(path, index, a_index)}.bucketRanges[{r_index}]"
                        _check_range(self, r_path, bucket_range, count)  # reports it
            if len(ranges) > 1 and not _apart([(lower, upper) for lower, upper, _, _ in ranges]):
                covered = [
                    (lower, upper, f"{_assignment_path(path, index, a)}.bucketRanges[{r}]")
                    for lower, upper, a, r in ranges
                ]
                _check_overlaps(self, covered, "another assignment's range of this rule")
            selector = rule.targeting_key_selector
            if "." in selector and not _selector_is_well_formed(selector):
                self.add(
                    f"{path}.rules[{index}].targetingKeySelector",
                    f"{rule.targeting_key_selector!r} is not a dotted path such as user.id",
                )
            mat = rule.materialization_spec
            if mat is not None and mat.mode is not None and not mat.read_materialization:
                self.add_strict(
                    f"{path}.rules[{index}].materializationSpec.mode",
                    "a read mode without readMaterialization has no effect",
                )

    # -- segments ---------------------------------------------------------------------------

    def check_segments(self) -> None:
        seen: set[str] = set()
        for path, key, segment in self.snapshot.segment_entries(self.positions):
            if key is not None and key != segment.name:
                self.add(
                    f"{path}.name", f"the map key {key!r} differs from the name {segment.name!r}"
                )
            if segment.name in seen:
                self.add(f"{path}.name", f"segment {segment.name!r} is defined twice")
            seen.add(segment.name)
            if not _is_name(segment.name, "segments/"):
                _expect_name(self, f"{path}.name", segment.name, "segments")
            if segment.targeting is not None:
                self.check_targeting(f"{path}.targeting", segment.targeting)
            if segment.allocation is not None:
                self.check_allocation(f"{path}.allocation", segment.allocation)
        self.check_reference_graph()

    def check_targeting(self, path: str, targeting: Targeting) -> None:
        for criterion_id, criterion in targeting.criteria.items():
            if criterion.attribute is not None and _nothing_to_check(criterion.attribute):
                continue  # the commonest criterion: no path made for it (~10 ms per 10 000)
            c_path = key_path(f"{path}.criteria", criterion_id)
            if criterion.attribute is not None:
                self.check_attribute(f"{c_path}.attribute", criterion.attribute)
            elif criterion.segment is not None:
                if criterion.segment.segment not in self.segment_names:
                    self.add_strict(
                        f"{c_path}.segment.segment",
                        f"unknown segment {criterion.segment.segment!r}",
                    )
            elif criterion.materialized_segment is None:
                self.add_strict(
                    c_path,
                    "the criterion is empty (attribute, segment or materializedSegment expected)",
                )
        if targeting.expression is None:
            if targeting.criteria:
                self.add_strict(
                    path, "criteria are given without an expression, so none of them is used"
                )
        elif targeting.expression.ref is None or targeting.expression.ref not in targeting.criteria:
            self.check_expression(f"{path}.expression", targeting.expression, targeting)
        # else a lone reference to a criterion given: nothing to report

    def check_expression(
        self, path: str, expression: Expression, targeting: Targeting, depth: int = 1
    ) -> None:
        if depth > MAX_EXPRESSION_DEPTH:
            self.add(
                path,
                f"the expression nests and/or/not more than {MAX_EXPRESSION_DEPTH} levels deep "
                "(the limit)",
            )
            return
        if expression.ref is not None:
            if expression.ref not in targeting.criteria:
                self.add_strict(f"{path}.ref", f"unknown criterion {expression.ref!r}")
        elif expression.not_ is not None:
            self.check_expression(f"{path}.not", expression.not_, targeting, depth + 1)
        elif expression.and_ is not None or expression.or_ is not None:
            operands = expression.and_ if expression.and_ is not None else expression.or_
            word = "and" if expression.and_ is not None else "or"
            assert operands is not None
            for index, operand in enumerate(operands.operands):
                self.check_expression(
                    f"{path}.{word}.operands[{index}]", operand, targeting, depth + 1
                )
        else:
            self.add_strict(path, "the expression is empty (ref, and, or or not expected)")

    def check_attribute(self, path: str, criterion: AttributeCriterion) -> None:
        kind = criterion.kind
        if kind is None:
            self.add_strict(path, f"no recognised rule for attribute {criterion.attribute_name!r}")
            return
        rule_path = f"{path}.{_CAMEL_RULES[kind]}"
        if kind in ("any_rule", "all_rule"):
            outer = criterion.any_rule if kind == "any_rule" else criterion.all_rule
            assert outer is not None
            if outer.rule is None or outer.rule.kind is None:
                self.add_strict(f"{rule_path}.rule", "no recognised inner rule")
                return
            self.check_rule(f"{rule_path}.rule", outer.rule)
        else:
            self.check_rule(path, criterion)

    def check_rule(self, path: str, holder: AttributeCriterion | InnerRule) -> None:
        kind = holder.kind
        rule_path = f"{path}.{_CAMEL_RULES.get(kind or '', '')}"
        if holder.eq_rule is not None:
            if holder.eq_rule.value is None:
                self.add_strict(rule_path, 'eqRule needs a "value" ({} tests for null)')
            else:
                self.check_value(f"{rule_path}.value", holder.eq_rule.value)
        elif holder.set_rule is not None:
            kinds = set()
            for index, value in enumerate(holder.set_rule.values):
                self.check_value(f"{rule_path}.values[{index}]", value)
                kinds.add(value.kind)
            if len(kinds) > 1:
                self.add_strict(rule_path, f"the set mixes value kinds: {', '.join(sorted(kinds))}")
        elif holder.range_rule is not None:
            self.check_range_rule(rule_path, holder.range_rule)

    def check_range_rule(self, path: str, rule: RangeRule) -> None:
        bounds = [
            (name, value)
            for name, value in (
                ("startInclusive", rule.start_inclusive),
                ("startExclusive", rule.start_exclusive),
                ("endInclusive", rule.end_inclusive),
                ("endExclusive", rule.end_exclusive),
            )
            if value is not None
        ]
        if not bounds:
            self.add_strict(path, "the range has no bound, so it never matches")
            return
        for name, value in bounds:
            self.check_value(f"{path}.{name}", value)
            if value.kind in ("null", "bool"):
                self.add(f"{path}.{name}", f"a range bound cannot be a {value.kind} value")
        kinds = {value.kind for _, value in bounds}
        if len(kinds) > 1:
            self.add(path, f"the bounds have different kinds: {', '.join(sorted(kinds))}")

    def check_value(self, path: str, value: TargetingValue) -> None:
        if value.number_value is not None and math.isnan(value.number_value):
            self.add(f"{path}.numberValue", "NaN is not a value a rule can compare with")
        version = value.version_value
        if version is not None and parse_version(version.version) is None:
            self.warn_strict(
                f"{path}.versionValue.version",
                f"{version.version!r} is not a version Confidence reads (2 to 4 "
                "dot-separated numbers of up to 10 digits, then an optional -suffix); "
                "it compares as 0.0.0.0",
            )
        if value.timestamp_value is not None and parse_timestamp_ns(value.timestamp_value) is None:
            self.add(
                f"{path}.timestampValue", f"{value.timestamp_value!r} is not an RFC 3339 timestamp"
            )

    def check_allocation(self, path: str, allocation: Allocation) -> None:
        covered: list[tuple[int, int, str]] = []
        for index, bucket_range in enumerate(allocation.bucket_ranges):
            r_path = f"{path}.bucketRanges[{index}]"
            if _check_range(self, r_path, bucket_range, ACCOUNT_BUCKETS):
                covered.append((bucket_range.lower, bucket_range.upper, r_path))
        _check_overlaps(self, covered, "another range of this allocation")
        if allocation.exclusivity_tags and not allocation.bucket_ranges:
            self.add(
                f"{path}.exclusivityTags",
                "exclusive allocation needs bucketRanges in the account space",
            )
        if allocation.bucket_ranges and allocation.proportion is not None:
            width = sum(r.upper - r.lower for r in allocation.bucket_ranges)
            if round(allocation.proportion * ACCOUNT_BUCKETS) != width:
                self.add(
                    f"{path}.proportion",
                    f"proportion {allocation.proportion} does not equal the bucket ranges' width "
                    f"{width} / {ACCOUNT_BUCKETS}",
                )

    def check_reference_graph(self) -> None:
        """Segment references: cycles (strict mode) and chains longer than the limit."""
        graph = _reference_graph(self.snapshot)
        components = _components(graph)
        for component in components:
            if len(component) == 1 and component[0] not in graph.get(component[0], ()):
                continue
            if len(component) == 1:
                message = f"segment {component[0]!r} references itself"
            else:
                names = ", ".join(repr(name) for name in component)
                message = f"segments {names} reference each other in a cycle"
            self.add_strict(_segment_path(self.snapshot, component[0]), message)
        for chain in _chains_too_long(graph, components, MAX_REFERENCE_DEPTH):
            shown = chain if len(chain) <= 6 else [*chain[:4], "…", *chain[-1:]]
            self.add(
                _segment_path(self.snapshot, chain[0]),
                f"segment references chain {len(chain)} segments deep "
                f"({' → '.join(shown)}); at most {MAX_REFERENCE_DEPTH} (the limit)",
            )

    # -- bitsets, bloom filters, clients ----------------------------------------------------

    def check_bitsets(self) -> None:
        total = 0
        for name, spec in self.snapshot.bitsets.items():
            within = total <= MAX_INFLATED_BITSETS
            total += self.check_bitset(name, spec, inflate=within)
            if within and total > MAX_INFLATED_BITSETS:
                self.add(
                    "$.bitsets",
                    f"the gzipped bitsets inflate to more than {MAX_INFLATED_BITSETS} bytes "
                    f"together (the limit), {name!r} included; the rest were not inflated",
                )

    def check_bitset(self, name: str, spec: BitsetSpec, *, inflate: bool = True) -> int:
        """Check one bitset; the bytes it inflates to (0 if it does not decode, or is not
        inflated because the snapshot's budget is spent)."""
        path = key_path("$.bitsets", name)
        if name not in self.segment_names:
            self.add_strict(path, f"a bitset for unknown segment {name!r}")
        if not inflate:
            return 0
        try:
            return inflated_size(spec)
        except ValueError as error:
            self.add(path, str(error))
            return 0

    def check_bloom_filters(self) -> None:
        for name, bloom in self.snapshot.bloom_filters.items():
            try:
                bloom_filter_predicate(bloom.data, bloom.bit_count, bloom.hash_function_count)
            except ValueError as error:
                self.add(key_path("$.bloomFilters", name), str(error))

    def check_clients(self) -> None:
        secrets: set[str] = set()
        for path, key, entry in self.snapshot.client_entries(self.positions):
            secret = entry.client_credential.client_secret.secret
            if key is not None and key != secret:
                self.add(
                    f"{path}.clientCredential.clientSecret.secret",
                    "the map key differs from the credential's secret",
                )
            if secret in secrets:
                self.add(f"{path}.clientCredential.clientSecret.secret", "a secret is used twice")
            secrets.add(secret)
            _expect_name(self, f"{path}.client.name", entry.client.name, "clients")
            if not entry.client_credential.name.startswith(entry.client.name + "/"):
                self.add_strict(
                    f"{path}.clientCredential.name",
                    f"the credential {entry.client_credential.name!r} is not one of "
                    f"{entry.client.name!r}",
                )

    # -- A/B tests --------------------------------------------------------------------------

    def check_abtests(self) -> None:
        names: set[str] = set()
        segments: dict[str, str] = {}
        for path, instance in self.snapshot.abtest_entries(self.positions):
            self.check_abtest(path, instance, names, segments)

    def check_abtest(
        self, path: str, instance: AbTestInstance, names: set[str], segments: dict[str, str]
    ) -> None:
        """One A/B test; ``names`` and ``segments`` (segment name → path) hold the tests
        checked before it, and it is added to them."""
        if not instance.name or not instance.instance_id:
            self.add(f"{path}.name", "an A/B test needs a name (workflows/abtest/instances/<id>)")
        if instance.name in names:
            self.add(f"{path}.name", f"A/B test {instance.name!r} is defined twice")
        names.add(instance.name)
        segment_name = abtest_segment_name(instance)
        if instance.segment is not None and instance.segment.name:
            _expect_name(self, f"{path}.segment.name", instance.segment.name, "segments")
        if segment_name in self.top_segment_names or segment_name in segments:
            self.add(
                f"{path}.segment.name",
                f"segment {segment_name!r} is already defined; each A/B test buckets on a "
                "segment of its own",
            )
        segments[segment_name] = path
        if instance.flags.targeting_key_selector == "":
            self.add(f"{path}.flags.targetingKeySelector", "an A/B test needs a unit to bucket")
        elif not _selector_is_well_formed(instance.flags.targeting_key_selector):
            self.add(
                f"{path}.flags.targetingKeySelector",
                f"{instance.flags.targeting_key_selector!r} is not a dotted path such as user.id",
            )
        self.check_treatments(path, instance)
        if instance.segment is not None:
            if instance.segment.targeting is not None:
                self.check_targeting(f"{path}.segment.targeting", instance.segment.targeting)
            if instance.segment.allocation is not None:
                self.check_allocation(f"{path}.segment.allocation", instance.segment.allocation)
        self.check_schedule(path, instance)
        self.check_intake(path, instance)
        if instance.metrics is not None:
            self.check_abtest_metrics(f"{path}.metrics", instance.metrics)

    def check_abtest_metrics(self, path: str, block: AbTestMetrics) -> None:
        """A test's metrics block: references to known definitions (when the snapshot has
        any), each metric once, MDEs and margins above 0 and margins on guardrails only,
        exposure filters over context attributes."""
        definitions = MetricDefinitions(metrics=list(self.snapshot.metrics))
        seen: dict[str, int] = {}
        for index, metric in enumerate(block.metrics):
            m_path = f"{path}.metrics[{index}]"
            found = definitions.get(metric.metric)
            if self.snapshot.metrics and found is None:
                self.add(f"{m_path}.metric", f"unknown metric {metric.metric!r}")
            key = found.name if found is not None else metric.metric
            if key in seen:
                self.add(
                    f"{m_path}.metric",
                    f"metric {metric.metric!r} is also {path}.metrics[{seen[key]}]",
                )
            seen.setdefault(key, index)
            role = metric.metric_role
            for name, value in (
                ("minimumDetectableEffect", role.minimum_detectable_effect),
                ("nonInferiorityMargin", role.non_inferiority_margin),
            ):
                if value is not None and not value > 0:
                    self.add(f"{m_path}.metricRole.{name}", f"must be > 0, got {value}")
            if role.non_inferiority_margin is not None and role.metric_kind != "GUARDRAIL":
                self.add(
                    f"{m_path}.metricRole.nonInferiorityMargin",
                    "only a GUARDRAIL metric takes a non-inferiority margin",
                )
        names: set[str] = set()
        for index, exposure_filter in enumerate(block.filters):
            f_path = f"{path}.filters[{index}]"
            if exposure_filter.display_name is not None:
                if exposure_filter.display_name in names:
                    self.add(
                        f"{f_path}.displayName",
                        f"filter {exposure_filter.display_name!r} is defined twice",
                    )
                names.add(exposure_filter.display_name)
            targeting = exposure_filter.filter
            if targeting is None:
                continue
            for criterion_id, criterion in targeting.criteria.items():
                if criterion.attribute is None:
                    self.add(
                        key_path(f"{f_path}.filter.criteria", criterion_id),
                        "an exposure filter tests the context attributes recorded on "
                        "exposures: attribute criteria only",
                    )
            self.check_targeting(f"{f_path}.filter", targeting)

    def check_abtest_change(self, index: int | None, released: str | None) -> list[Problem]:
        """What a change of one A/B test can break in a snapshot that was valid before it:
        the test at ``index`` itself (its names against the other tests', its flag and
        variants, targeting, allocation, schedule, intake), overlaps under its exclusivity
        tags, cycles through its segment, and, for a ``released`` segment name (the test's
        old segment, or the segment of a removed test), everything that referenced it."""
        abtests = self.snapshot.abtests
        if index is not None:
            instance = abtests[index]
            others = [(i, other) for i, other in enumerate(abtests) if i != index]
            names = {other.name for _, other in others}
            segments = {abtest_segment_name(other): f"$.abtests[{i}]" for i, other in others}
            self.check_abtest(f"$.abtests[{index}]", instance, names, segments)
            if self.nesting:
                self.check_values_nesting(_abtest_values(f"$.abtests[{index}]", instance))
            segment = instance.segment
            allocation = segment.allocation if segment is not None else None
            if allocation is not None and allocation.exclusivity_tags:
                self.check_exclusivity(set(allocation.exclusivity_tags))
            targeting = segment.targeting if segment is not None else None
            if targeting is not None and any(
                criterion.segment is not None for criterion in targeting.criteria.values()
            ):
                self.check_reference_graph()
        if released is not None and released not in self.segment_names:
            self.check_references(released)
        return self.problems

    def check_references(self, segment_name: str) -> None:
        """Check again the flags, segments, A/B tests and bitsets that name ``segment_name``."""
        for path, _, flag in self.snapshot.flag_entries():
            if any(rule.segment == segment_name for rule in flag.rules):
                self.check_flag(path, flag)
        targetings = [
            (f"{path}.targeting", segment.targeting)
            for path, _, segment in self.snapshot.segment_entries()
        ] + [
            (f"{path}.segment.targeting", instance.segment.targeting)
            for path, instance in self.snapshot.abtest_entries()
            if instance.segment is not None
        ]
        for path, targeting in targetings:
            if targeting is not None and any(
                criterion.segment is not None and criterion.segment.segment == segment_name
                for criterion in targeting.criteria.values()
            ):
                self.check_targeting(path, targeting)
        if segment_name in self.snapshot.bitsets:
            self.check_bitset(segment_name, self.snapshot.bitsets[segment_name])

    def check_intake(self, path: str, instance: AbTestInstance) -> None:
        if instance.materialization is not None:
            _expect_name(
                self, f"{path}.materialization", instance.materialization, "materializations"
            )
        if instance.intake == "paused":
            if instance.state != "live":
                self.add(
                    f"{path}.intake", f"intake can be paused only while live, not {instance.state}"
                )
            if instance.materialization is None:
                self.add(
                    f"{path}.intake",
                    "paused intake needs a materialization that recorded the units assigned "
                    "while intake was open",
                )

    def check_treatments(self, path: str, instance: AbTestInstance) -> None:
        treatments = instance.abtest.treatments
        t_path = f"{path}.abtest.treatments"
        if not treatments:
            self.add(t_path, "an A/B test needs at least one treatment")
            return
        total = sum(treatment.weight for treatment in treatments)
        if total != 10_000:
            self.add(t_path, f"the weights sum to {total}, not 10000 basis points")
        flag_names: set[str] = set()
        short_names: list[str] = []
        for index, treatment in enumerate(treatments):
            v_path = f"{t_path}[{index}].variant"
            flag_name = treatment_flag(treatment.variant)
            if flag_name is None:
                self.add(v_path, f"{treatment.variant!r} is not flags/<flag>/variants/<variant>")
                continue
            parts = treatment.variant.split("/")
            flag_names.add(flag_name)
            flag = self.flags.get(flag_name)
            if flag is None:
                if flag_name not in self.flag_names:
                    self.add(v_path, f"unknown flag {flag_name!r}")
            elif flag.state == "ARCHIVED" and instance.state == "live" and index == 0:
                self.add_strict(
                    f"{path}.state", f"the test is live but its flag {flag_name!r} is archived"
                )
            if flag is not None and not _variant_exists(flag, treatment.variant):
                self.add(v_path, f"unknown variant {parts[3]!r} of {flag_name!r}")
            if parts[3] in short_names:
                self.add(v_path, f"variant {parts[3]!r} is a treatment twice")
            short_names.append(parts[3])
        if len(flag_names) > 1:
            self.add(t_path, f"all treatments name one flag, found {', '.join(sorted(flag_names))}")
        test_flag = next(iter(flag_names)) if len(flag_names) == 1 else None
        for unit, variant in instance.treatment_overrides.items():
            named_flag = "/".join(variant.split("/")[:2]) if "/" in variant else test_flag
            if short_variant_name(variant) not in short_names or named_flag != test_flag:
                self.add(
                    key_path(f"{path}.treatmentOverrides", unit),
                    f"{variant!r} is not one of the test's treatments",
                )

    def check_schedule(self, path: str, instance: AbTestInstance) -> None:
        start = end = None
        if instance.start_time is not None:
            start = parse_timestamp_ns(instance.start_time)
            if start is None:
                self.add(
                    f"{path}.startTime", f"{instance.start_time!r} is not an RFC 3339 timestamp"
                )
        if instance.end_time is not None:
            end = parse_timestamp_ns(instance.end_time)
            if end is None:
                self.add(f"{path}.endTime", f"{instance.end_time!r} is not an RFC 3339 timestamp")
        serving = instance.state in _HOLDING_STATES
        if serving and start is not None and end is not None and end <= start:
            self.add(f"{path}.endTime", "the end time is not after the start time")

    def check_exclusivity(self, tags: Collection[str] | None = None) -> None:
        """Overlapping exclusive ranges, under every tag or only under ``tags``."""
        by_tag: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        exclusive = any(  # else no segment's path is needed (~5 ms per 10 000 segments)
            segment.allocation is not None and segment.allocation.exclusivity_tags
            for segment in _values(self.snapshot.segments)
        )
        allocations = [
            (f"{path}.allocation", segment.allocation)
            for path, _, segment in (
                self.snapshot.segment_entries(self.positions) if exclusive else ()
            )
        ] + [
            (f"{path}.segment.allocation", instance.segment.allocation)
            for path, instance in self.snapshot.abtest_entries(self.positions)
            if instance.segment is not None and instance.state in _HOLDING_STATES
        ]
        for path, allocation in allocations:
            if allocation is None:
                continue
            for tag in set(allocation.exclusivity_tags):
                if tags is not None and tag not in tags:
                    continue
                for index, bucket_range in enumerate(allocation.bucket_ranges):
                    by_tag[tag].append(
                        (bucket_range.lower, bucket_range.upper, f"{path}.bucketRanges[{index}]")
                    )
        for tag, ranges in by_tag.items():
            for first, second in _overlaps(ranges):
                if first.rsplit(".bucketRanges", 1)[0] != second.rsplit(".bucketRanges", 1)[0]:
                    self.add(
                        second,
                        f"overlaps {first} though both are exclusive under tag {tag!r}",
                    )


# -- helpers ----------------------------------------------------------------------------------


def _flag_may_nest_too_deep(flag: Flag) -> bool:
    """Whether a free-form value of ``flag`` may nest too deep (what
    :meth:`_Checker.check_nesting` asks of every flag; ``False`` is certain). A variant value
    whose own values hold no container is answered at once (~0.3 µs instead of ~3 µs)."""
    deep = [
        variant.value
        for variant in flag.variants
        if (
            any(item.__class__ is dict or item.__class__ is list for item in variant.value.values())
            if variant.value.__class__ is dict  # most values: no call for them
            else _holds_a_container(variant.value)
        )
    ]
    if deep and nests_deeper_than(deep, MAX_NESTING - 6 + 2):
        return True
    schemas = [value for value in (flag.flag_schema, flag.usage_metadata) if value]
    return bool(schemas) and nests_deeper_than(schemas, MAX_NESTING - 4 + 2)


def _holds_a_container(value: object) -> bool:
    """Whether ``value`` (a variant's value: any JSON value but null) holds a dict or list."""
    items: Iterable[object]
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return False  # a scalar
    return any(item.__class__ is dict or item.__class__ is list for item in items)


def _flag_values(path: str, flag: Flag) -> list[tuple[str, object, int]]:
    """The free-form values of a flag at ``path`` (``$.flags[...]``, level 3) with the level
    each is at."""
    found: list[tuple[str, object, int]] = [
        (f"{path}.variants[{index}].value", variant.value, 6)
        for index, variant in enumerate(flag.variants)
    ]
    found += [(f"{path}.schema", flag.flag_schema, 4)]
    found += [(f"{path}.usageMetadata", flag.usage_metadata, 4)]
    return found


def _abtest_values(path: str, instance: AbTestInstance) -> list[tuple[str, object, int]]:
    """The free-form values of an A/B test at ``path`` (``$.abtests[i]``, level 3) with the
    level each is at."""
    values: list[tuple[str, object, int]] = [
        (f"{path}.metrics", instance.metrics, 4),
        (f"{path}.stats", instance.stats, 4),
        (f"{path}.pendingTransition", instance.pending_transition, 4),
    ]
    if instance.origin is not None:
        values.append((f"{path}.origin.fields", instance.origin.fields, 5))
    return values


def _values(collection: dict[str, T] | list[T]) -> Iterable[T]:
    """The entities of a collection written as a map or as a list (no paths made)."""
    return collection.values() if isinstance(collection, dict) else collection


def _nothing_to_check(criterion: AttributeCriterion) -> bool:
    """Whether :meth:`_Checker.check_attribute` finds nothing in ``criterion`` whatever its
    path: an ``eqRule`` or ``setRule`` of strings, or a string rule (``startsWith`` …)."""
    if criterion.eq_rule is not None:
        value = criterion.eq_rule.value
        return value is not None and value.string_value is not None
    if criterion.set_rule is not None:
        return all(value.string_value is not None for value in criterion.set_rule.values)
    return (
        criterion.starts_with_rule is not None
        or criterion.ends_with_rule is not None
        or criterion.contains_rule is not None
    )


def _assignment_path(path: str, rule: int, assignment: int) -> str:
    return f"{path}.rules[{rule}].assignmentSpec.assignments[{assignment}]"


def _apart(ranges: list[tuple[int, int]]) -> bool:
    """Whether no two of ``ranges`` (lower inclusive, upper exclusive) overlap."""
    if len(ranges) < 2:
        return True
    if len(ranges) == 2:  # a 50/50 split, the commonest: two comparisons, no sort
        (lower, upper), (other_lower, other_upper) = ranges
        return upper <= other_lower or other_upper <= lower
    ranges.sort()
    return all(ranges[i][1] <= ranges[i + 1][0] for i in range(len(ranges) - 1))


def _is_name(name: str, prefix: str) -> bool:
    """``prefix<id>`` with a non-empty id and no other ``/`` (what ``_expect_name``
    checks), answered without splitting."""
    return name.startswith(prefix) and len(name) > len(prefix) and name.count("/") == 1


def _selector_is_well_formed(selector: str) -> bool:
    """An empty selector (no unit) or dot-separated non-empty keys."""
    return selector == "" or all(selector.split("."))


def _name_id(name: str) -> str:
    parts = name.split("/")
    return parts[1] if len(parts) == 2 else ""


def _expect_name(checker: _Checker, path: str, name: str, collection: str) -> None:
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != collection or not parts[1]:
        checker.add(path, f"{name!r} is not a {collection}/<id> name")


def _variant_exists(flag: Flag | FlagSummary, variant: str) -> bool:
    names = flag.variants if isinstance(flag, FlagSummary) else (v.name for v in flag.variants)
    return variant_named(names, variant) is not None


def _check_range(checker: _Checker, path: str, bucket_range: BucketRange, count: int) -> bool:
    if bucket_range.lower >= bucket_range.upper:
        checker.add(path, f"lower {bucket_range.lower} is not below upper {bucket_range.upper}")
        return False
    if bucket_range.upper > count:
        checker.add(path, f"upper {bucket_range.upper} exceeds the {count} buckets")
        return False
    return True


def _overlaps(ranges: list[tuple[int, int, str]]) -> Iterator[tuple[str, str]]:
    """``(earlier path, later path)`` for every range that starts before the furthest end
    of the ranges sorted before it."""
    furthest: tuple[int, str] | None = None
    for lower, upper, path in sorted(ranges):
        if furthest is not None and lower < furthest[0]:
            yield furthest[1], path
        if furthest is None or upper > furthest[0]:
            furthest = (upper, path)


def _check_overlaps(checker: _Checker, ranges: list[tuple[int, int, str]], what: str) -> None:
    for first, second in _overlaps(ranges):
        checker.add(second, f"overlaps {first} ({what})")


def _components(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` by Tarjan's algorithm, iteratively;
    each comes after every component it reaches (the references it makes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = graph.get(node, [])
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component[::-1])
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cyclic_components(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` that contain a cycle (several
    segments, or one that references itself)."""
    return [
        component
        for component in _components(graph)
        if len(component) > 1 or component[0] in graph.get(component[0], ())
    ]


def _chains_too_long(
    graph: dict[str, list[str]], components: list[list[str]], limit: int
) -> list[list[str]]:
    """The longest reference chain from each start (a segment no other segment references)
    whose chain is longer than ``limit`` segments, members of a cycle counting one each:
    the segments along it, in order."""
    component_of = {name: number for number, members in enumerate(components) for name in members}
    depth: list[int] = []
    deepest_next: list[int | None] = []
    referenced: set[int] = set()
    for number, members in enumerate(components):  # every reference target comes first
        best: int | None = None
        for name in members:
            for target in graph.get(name, ()):
                other = component_of[target]
                if other == number:
                    continue
                referenced.add(other)
                if best is None or depth[other] > depth[best]:
                    best = other
        depth.append(len(members) + (depth[best] if best is not None else 0))
        deepest_next.append(best)
    chains = []
    for number in range(len(components)):
        if number in referenced or depth[number] <= limit:
            continue
        chain: list[str] = []
        step: int | None = number
        while step is not None:
            chain.extend(components[step])
            step = deepest_next[step]
        chains.append(chain)
    return chains


def _reference_graph(snapshot: Snapshot) -> dict[str, list[str]]:
    """Segment → the segments its targeting references (A/B-test segments included)."""
    graph: dict[str, list[str]] = defaultdict(list)
    targetings = [(seg.name, seg.targeting) for seg in _values(snapshot.segments)]
    targetings += [
        (abtest_segment_name(instance), instance.segment.targeting)
        for instance in snapshot.abtests
        if instance.segment is not None
    ]
    for name, targeting in targetings:
        if targeting is None:
            continue
        for criterion in targeting.criteria.values():
            if criterion.segment is not None:
                graph[name].append(criterion.segment.segment)
    return graph


def metric_definition_problems(
    definitions: Iterable[MetricDefinition],
    prefix: str = "$.metrics",
    positions: Sequence[int] | None = None,
) -> list[Problem]:
    """Every problem of a list of metric definitions (a metrics file's ``metrics`` or a
    snapshot's), each with its JSON path under ``prefix``: names ``metrics/<id>`` and unique,
    an event and an aggregation or a ratio (whose parts are not averages), an attribution
    window after the exposure with its end after its start, a covariate window before it
    (and none on a ratio). ``positions`` gives each definition's index in the document when
    only some of its definitions parsed."""
    problems: list[Problem] = []

    def add(path: str, message: str) -> None:
        problems.append(Problem(path, message))

    seen: dict[str, int] = {}
    for order, definition in enumerate(definitions):
        index = positions[order] if positions is not None else order
        path = f"{prefix}[{index}]"
        name = definition.name
        if not name.startswith(METRIC_PREFIX) or not _name_id(name):
            add(f"{path}.name", f"{name!r} is not a metrics/<id> name")
        if name in seen:
            add(f"{path}.name", f"metric {name!r} is also {prefix}[{seen[name]}]")
        seen.setdefault(name, index)
        plain = definition.event is not None or definition.aggregation is not None
        if definition.ratio is not None:
            if plain:
                add(path, "a metric has an event and an aggregation, or a ratio, not both")
            for part_name in ("numerator", "denominator"):
                part = getattr(definition.ratio, part_name)
                part_path = f"{path}.ratio.{part_name}"
                if not part.event:
                    add(f"{part_path}.event", "the event name is empty")
                if part.aggregation == "AVERAGE":
                    add(
                        f"{part_path}.aggregation",
                        "a ratio's parts are summed over units: CONVERSION, COUNT or SUM",
                    )
            if definition.covariate_window is not None:
                add(f"{path}.covariateWindow", "a ratio metric takes no covariate (CUPED)")
        elif definition.event is None:
            add(path, "a metric needs an event and an aggregation, or a ratio")
        elif definition.aggregation is None:
            add(f"{path}.aggregation", "required with an event")
        elif not definition.event:
            add(f"{path}.event", "the event name is empty")
        window = definition.window
        if window.start < 0:
            add(
                f"{path}.window.start",
                "the window starts at or after the first exposure (a covariateWindow is "
                "the one before it)",
            )
        if window.end is not None and window.end <= window.start:
            add(f"{path}.window.end", "the window's end is not after its start")
        covariate = definition.covariate_window
        if covariate is not None:
            if covariate.end > 0:
                add(f"{path}.covariateWindow.end", "the covariate window ends by the exposure")
            if covariate.start >= covariate.end:
                add(
                    f"{path}.covariateWindow.start",
                    "the covariate window's start is not before its end",
                )
    return problems


def segment_reference_cycles(snapshot: Snapshot) -> set[str]:
    """The segments that lie on a cycle of segment references."""
    return {name for cycle in _cyclic_components(_reference_graph(snapshot)) for name in cycle}


def _segment_path(snapshot: Snapshot, name: str) -> str:
    for path, _, segment in snapshot.segment_entries():
        if segment.name == name:
            return f"{path}.targeting"
    for path, instance in snapshot.abtest_entries():
        if abtest_segment_name(instance) == name:
            return f"{path}.segment.targeting"
    return join_path("$.segments", [name])


def _abtest_segments(snapshot: Snapshot) -> set[str]:
    return {abtest_segment_name(instance) for instance in snapshot.abtests}


class Findings(NamedTuple):
    """What :func:`snapshot_findings` found: ``problems`` refuse the snapshot, ``warnings``
    do not."""

    problems: list[Problem]
    warnings: list[Problem]


def snapshot_findings(
    snapshot: Snapshot,
    *,
    strict: bool = True,
    known_names: Iterable[str] = (),
    positions: Positions | None = None,
    nesting: bool = True,
    flags_elsewhere: Iterable[FlagSummary] = (),
) -> Findings:
    """Every semantic problem of ``snapshot``, and the warnings (strict mode only).

    For a partly parsed document, ``known_names`` lists flags, segments and clients that
    exist in it but failed to parse (references to them are not reported again as unknown),
    and ``positions`` the original index of each item kept in list-form collections.
    ``nesting=False`` leaves out the nesting of free-form values (variant values, schemas,
    …), for a snapshot decoded from text by a decoder that already held it to
    :data:`~flagstone.model.limits.MAX_NESTING`. ``flags_elsewhere`` are the summaries of
    flags ``known_names`` names, for the A/B tests that name them (their state and
    variants).
    """
    checker = _Checker(snapshot, strict, known_names, positions, nesting, flags_elsewhere)
    return Findings(checker.run(), checker.warnings)


class FlagChecks:
    """The checks of one flag at a time, for a snapshot read flag by flag: those
    :func:`snapshot_findings` makes of each flag (its key and name, variants, clients and
    segments its rules name, assignments and ranges, selectors, the nesting of its values),
    against the segment and client names given; not whether another flag has its name
    (see :func:`summaries_may_have_problems`). Each call returns the findings of that flag.
    """

    def __init__(
        self, shell: Snapshot, *, strict: bool, segment_names: Iterable[str], nesting: bool
    ) -> None:
        self._checker = _Checker(shell, strict, segment_names, None, nesting)

    def __call__(
        self, path: str, key: str | None, flag: Flag, *, shallow: bool = False
    ) -> Findings:
        """``shallow``: the caller knows no value of ``flag`` can nest too deep (its text
        holds fewer brackets than the limit), so the nesting is not checked."""
        checker = self._checker
        checker.problems, checker.warnings = [], []
        if checker.nesting and not shallow and _flag_may_nest_too_deep(flag):
            checker.check_values_nesting(_flag_values(path, flag))
        checker.check_flag_entry(path, key, flag)
        return Findings(checker.problems, checker.warnings)


def shell_findings(snapshot: Snapshot, *, strict: bool, known_names: Iterable[str]) -> Findings:
    """The problems :func:`snapshot_findings` finds in the parts of ``snapshot`` other than
    its flags, segments and A/B tests (the account's name, the nesting of the snapshot's
    schema, bitsets, bloom filters, clients, metric definitions), the flags and segments
    ``known_names`` names taken to exist: what compiling a flag relies on."""
    checker = _Checker(snapshot, strict, known_names, None, True)
    if snapshot.account is not None:
        _expect_name(checker, "$.account.name", snapshot.account.name, "accounts")
    checker.check_values_nesting([("$.schema", snapshot.snapshot_schema, 2)])
    checker.check_bitsets()
    checker.check_bloom_filters()
    checker.check_clients()
    checker.problems += metric_definition_problems(snapshot.metrics)
    return Findings(checker.problems, checker.warnings)


def abtest_findings(
    snapshot: Snapshot,
    *,
    strict: bool,
    known_names: Iterable[str],
    flags_elsewhere: Iterable[FlagSummary],
) -> Findings:
    """The problems (and warnings) :func:`snapshot_findings` finds in the A/B tests of
    ``snapshot`` (the nesting of their values, each test, exclusive ranges), the flags and
    segments ``known_names`` names taken to exist, ``flags_elsewhere`` the summaries of the
    flags the tests name."""
    checker = _Checker(snapshot, strict, known_names, None, True, flags_elsewhere)
    for path, instance in snapshot.abtest_entries():
        checker.check_values_nesting(_abtest_values(path, instance))
    checker.check_abtests()
    checker.check_exclusivity()
    return Findings(checker.problems, checker.warnings)


def segment_findings(
    snapshot: Snapshot, *, strict: bool, known_names: Iterable[str] = ()
) -> Findings:
    """The problems :func:`snapshot_findings` finds in the segments of ``snapshot`` (their
    keys, names, targeting and allocation, reference cycles and chains among them), the
    segments ``known_names`` names taken to exist. Segments have no warnings."""
    checker = _Checker(snapshot, strict, known_names, None, False)
    checker.check_segments()
    return Findings(checker.problems, checker.warnings)


def summaries_may_have_problems(
    flags: Sequence[FlagSummary],
    segments: Sequence[SegmentSummary],
    shell: Snapshot,
    *,
    strict: bool,
) -> bool:
    """Whether the checks that span flags and segments could find a problem in a snapshot
    whose flags and segments have these summaries and whose other parts (clients, A/B
    tests, …) are ``shell``'s, every flag and segment having passed the checks of its own.

    These are the rules of :func:`snapshot_findings` that relate entities (each name defined
    once; in strict mode, references to segments and clients that exist and no reference
    cycles; reference chains within the limit; exclusive ranges apart), answered without
    paths: ``True`` sends the caller to :func:`snapshot_findings` over the whole snapshot,
    which names every problem (the rules are the same, so it finds one)."""
    flag_names: set[str] = set()
    for flag in flags:
        if flag.name in flag_names:
            return True
        flag_names.add(flag.name)
    segment_names: set[str] = set()
    for segment in segments:
        if segment.name in segment_names:
            return True
        segment_names.add(segment.name)
    known_segments = segment_names | _abtest_segments(shell)
    if strict:
        client_names = {entry.client.name for _, _, entry in shell.client_entries()}
        for flag in flags:
            for name in flag.segments:
                if name not in known_segments:
                    return True
            for name in flag.clients:
                if name not in client_names:
                    return True
        for segment in segments:
            for name in segment.references:
                if name not in known_segments:
                    return True
    graph: dict[str, list[str]] = _reference_graph(shell)
    for segment in segments:
        if segment.references:
            graph[segment.name] = list(segment.references)
    if graph:
        components = _components(graph)
        if strict and any(
            len(component) > 1 or component[0] in graph.get(component[0], ())
            for component in components
        ):
            return True
        if _chains_too_long(graph, components, MAX_REFERENCE_DEPTH):
            return True
    by_tag: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for index, segment in enumerate(segments):
        if segment.exclusive is not None:
            tags, ranges = segment.exclusive
            for tag in set(tags):
                by_tag[tag] += [(lower, upper, f"s{index}") for lower, upper in ranges]
    for index, instance in enumerate(shell.abtests):
        allocation = instance.segment.allocation if instance.segment is not None else None
        if allocation is not None and instance.state in _HOLDING_STATES:
            for tag in set(allocation.exclusivity_tags):
                by_tag[tag] += [(r.lower, r.upper, f"t{index}") for r in allocation.bucket_ranges]
    return any(first != second for ranges in by_tag.values() for first, second in _overlaps(ranges))


def check_snapshot(
    snapshot: Snapshot,
    *,
    strict: bool = True,
    known_names: Iterable[str] = (),
    positions: Positions | None = None,
) -> list[Problem]:
    """Every semantic problem of ``snapshot`` (:func:`snapshot_findings` without the
    warnings)."""
    return snapshot_findings(
        snapshot, strict=strict, known_names=known_names, positions=positions
    ).problems


def check_abtest_change(
    snapshot: Snapshot,
    index: int | None,
    *,
    strict: bool = True,
    released_segment: str | None = None,
) -> Findings:
    """The problems (and warnings) a change of one A/B test made in ``snapshot``, which was
    valid (in the same mode) before the change: the rules :func:`snapshot_findings` applies,
    limited to what involves that test.

    ``index`` is the test's position in ``snapshot.abtests`` after the change (``None`` when
    the change removed it); ``released_segment`` the segment name the change took away (the
    test's former segment, or that of the removed test), whose references are checked again.
    """
    checker = _Checker(snapshot, strict, ())
    return Findings(checker.check_abtest_change(index, released_segment), checker.warnings)
