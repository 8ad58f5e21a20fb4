"""Native → authoring: the authoring document a native snapshot can be written as, or the
problems (native paths) that say what the authoring format has no words for.

Resolution is kept: every unit in every context gets the same variant, value and reason from
the result as from the original (same flags, variants, rule and segment names, salts and
bucket counts). What changes is listed as *notes*: a variant's full name
(``flags/f/variants/on``) written short, as the authoring format names variants; assignment
ids (named after their variant); and what resolution never reads but the authoring format
has no words for (``displayName``, ``labels``, ``createTime``, ``creator``, …), dropped.

Refused: bitsets and bloom filters, materialized segments, exclusive allocations, sticky
assignments (``materializationSpec``), client-default assignments, bucket layouts that are not
one contiguous range per variant from bucket 0 (with at most a fall-through after them),
criteria without a rule, a flag's ``schema``, names the authoring
format does not allow (a ``.`` in a flag's name, a rule not named ``flags/<flag>/rules/<id>``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, Problem
from ...model import Flag, Segment, Snapshot
from ...model.base import ResourceMetadata
from ...model.flags import Rule
from ...model.targeting import Targeting
from ...model.validation import short_variant_name
from ..native import parse_snapshot
from .compile import DEFAULT_BUCKETS, DEFAULT_RULE, valid_name
from .conditions import CannotExpress, condition_of
from .models import FORMAT

__all__ = ["Conversion", "from_native"]

_DROPPED = ("create_time", "update_time", "creator", "updater", "owner", "display_name", "labels")
"""Fields every resource may carry that resolution never reads: dropped, with a note."""


@dataclass(frozen=True)
class Conversion:
    """An authoring ``document`` and the ``notes`` on what changed on the way (each a
    ``Problem``: a native path and what happened there)."""

    document: dict[str, Any]
    notes: tuple[Problem, ...]


def from_native(document: Mapping[str, Any], *, strict: bool = True) -> Conversion:
    """The authoring document for the native snapshot ``document`` (decoded JSON).

    Raises ``ConfigError`` when ``document`` is not a valid native snapshot (validated in
    ``strict`` mode) or holds what the authoring format cannot say (each problem at its
    native path)."""
    if "format" in document:
        raise ConfigError([Problem("$.format", "not a native snapshot: it declares a format")])
    model = parse_snapshot(document, strict=strict).model
    return _Writer(document, model).run()


class _Writer:
    def __init__(self, raw: Mapping[str, Any], model: Snapshot) -> None:
        self.raw = raw
        self.model = model
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []
        self.segments = {
            segment.name: (path, segment) for path, _, segment in model.segment_entries()
        }
        self.referenced = set(_referenced_segments(model))
        self.inlined: set[str] = set()
        self.rule_segments: dict[str, int] = {}
        for _, _, flag in model.flag_entries():
            for rule in flag.rules:
                self.rule_segments[rule.segment] = self.rule_segments.get(rule.segment, 0) + 1

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> Conversion:
        model, raw = self.model, self.raw
        result: dict[str, Any] = {"format": FORMAT}
        for key in ("version", "issuedAt"):
            if key in raw:
                result[key] = raw[key]
        if model.account is not None:
            result["account"] = model.account_id
        for key, value in (
            ("bitsets", model.bitsets),
            ("bloomFilters", model.bloom_filters),
            ("schema", model.snapshot_schema),
            ("stateFileHash", model.state_file_hash),
        ):
            if value:
                self.problem(f"$.{key}", f"the authoring format has no {key}")
        flags: dict[str, Any] = {}
        for path, _, flag in model.flag_entries():
            written = self.flag(path, flag)
            if written is not None:
                flags[flag.name.split("/", 1)[1]] = written
        segments: dict[str, Any] = {}
        for name, (path, segment) in self.segments.items():
            if self.named(name):
                written_segment = self.segment(path, segment)
                if written_segment is not None:
                    segments[name.split("/", 1)[1]] = written_segment
        if segments:
            result["segments"] = segments
        result["flags"] = flags
        clients = raw.get("clients")
        if clients:
            result["clients"] = (
                {entry["clientCredential"]["clientSecret"]["secret"]: entry for entry in clients}
                if isinstance(clients, list)
                else clients
            )
        for key in ("abtests", "metrics"):
            if raw.get(key):
                result[key] = raw[key]
        if self.problems:
            raise ConfigError(self.problems)
        return Conversion(result, tuple(self.notes))

    # -- segments ---------------------------------------------------------------------------

    def named(self, name: str) -> bool:
        """Whether a segment stays a named segment (else it is written into the rules that
        use it): referenced by a condition, allocated, described, or used by no rule."""
        _, segment = self.segments[name]
        return (
            name in self.referenced
            or segment.allocation is not None
            or segment.description is not None
            or name not in self.rule_segments
        )

    def segment(self, path: str, segment: Segment) -> dict[str, Any] | None:
        before = len(self.problems)
        segment_id = segment.name.split("/", 1)[1] if "/" in segment.name else segment.name
        if not valid_name("segment", segment_id):
            self.problem(f"{path}.name", "a segment's name in the authoring format has no '.'")
        self.metadata(path, segment)
        self.fields(path, segment)
        written: dict[str, Any] = {}
        if segment.description is not None:
            written["description"] = segment.description
        when = self.condition(f"{path}.targeting", segment.targeting)
        if when is not None:
            written["when"] = when
        allocation = segment.allocation
        if allocation is not None:
            if allocation.bucket_ranges or allocation.exclusivity_tags or allocation.exclusive_to:
                self.problem(f"{path}.allocation", "exclusive allocations have no authoring words")
            elif allocation.proportion is not None:
                written["rollout"] = _number(allocation.proportion * 100)
        return written if len(self.problems) == before else None

    def fields(self, path: str, segment: Segment) -> None:
        for field in ("state", "workflow_instance"):
            if getattr(segment, field) is not None:
                self.problem(f"{path}.{_camel(field)}", "the authoring format has no such field")

    def condition(self, path: str, targeting: Targeting | None) -> dict[str, Any] | None:
        try:
            return condition_of(targeting)
        except CannotExpress as error:
            self.problem(path, str(error))
            return None

    # -- flags ------------------------------------------------------------------------------

    def flag(self, path: str, flag: Flag) -> dict[str, Any] | None:
        before = len(self.problems)
        flag_id = flag.name.split("/", 1)[1] if "/" in flag.name else flag.name
        if not valid_name("flag", flag_id):
            self.problem(f"{path}.name", "a flag's name in the authoring format has no '.'")
        self.metadata(path, flag)
        for field, value in (("schema", flag.flag_schema), ("usageMetadata", flag.usage_metadata)):
            if value is not None:
                self.problem(f"{path}.{field}", f"the authoring format has no flag {field}")
        written: dict[str, Any] = {}
        if flag.description is not None:
            written["description"] = flag.description
        if flag.state != "ACTIVE":
            written["enabled"] = False
        if flag.clients:
            written["clients"] = [client.removeprefix("clients/") for client in flag.clients]
        variants: dict[str, Any] = {}
        for index, variant in enumerate(flag.variants):
            v_path = f"{path}.variants[{index}]"
            short = short_variant_name(variant.name)
            if short in variants:
                self.problem(f"{v_path}.name", f"a second variant named {short!r}")
            elif short != variant.name:
                self.notes.append(Problem(f"{v_path}.name", f"{variant.name!r} becomes {short!r}"))
            self.metadata(v_path, variant)
            variants[short] = variant.value
        rules = list(flag.rules)
        default = self.default_of(flag_id, rules[-1]) if rules else None
        if default is not None:
            rules.pop()
        selectors = {rule.targeting_key_selector for rule in rules}
        unit = selectors.pop() if len(selectors) == 1 else ""
        if unit:
            written["unit"] = unit
        written["variants"] = variants
        if default is not None:
            written["default"] = default
        written_rules: list[dict[str, Any]] = []
        unnamed_split = False
        for index, rule in enumerate(rules):
            rule_path = f"{path}.rules[{index}]"
            written_rule = self.rule(flag_id, rule, index, rule_path, unit, unnamed_split)
            if written_rule is not None:
                unnamed_split |= "name" not in written_rule and isinstance(
                    written_rule["serve"], dict
                )
                written_rules.append(written_rule)
        if written_rules:
            written["rules"] = written_rules
        tests = [
            instance.instance_id for instance in self.model.abtests if instance.flag == flag.name
        ]
        if len(tests) == 1:
            written["abtest"] = tests[0]
        return written if len(self.problems) == before else None

    def default_of(self, flag_id: str, rule: Rule) -> str | None:
        """The variant a last rule serves when it is what a ``default`` compiles into."""
        segment = f"segments/{flag_id}.{DEFAULT_RULE}"
        found = self.segments.get(segment)
        if (
            rule.name != f"flags/{flag_id}/rules/{DEFAULT_RULE}"
            or rule.segment != segment
            or found is None
            or found[1].targeting is not None
            or self.named(segment)
            or self.rule_segments.get(segment) != 1
            or not rule.enabled
            or rule.environments
            or rule.targeting_key_selector
            or rule.materialization_spec is not None
        ):
            return None
        return _single_variant(rule)

    def rule(
        self,
        flag_id: str,
        rule: Rule,
        index: int,
        path: str,
        unit: str,
        unnamed_split: bool,
    ) -> dict[str, Any] | None:
        before = len(self.problems)
        prefix = f"flags/{flag_id}/rules/"
        name = rule.name.removeprefix(prefix)
        if not rule.name.startswith(prefix) or not valid_name("rule", name):
            self.problem(f"{path}.name", f"the authoring format names rules {prefix}<id>")
        self.metadata(path, rule)
        if rule.materialization_spec is not None:
            self.problem(
                f"{path}.materializationSpec", "sticky assignments have no authoring words"
            )
        serve = self.serve(f"{path}.assignmentSpec", rule)
        written: dict[str, Any] = {}
        split = isinstance(serve, dict)
        if name != str(index) or (split and unnamed_split):
            written["name"] = name
        if rule.description is not None:
            written["description"] = rule.description
        found = self.segments.get(rule.segment)
        if found is None:
            self.problem(
                f"{path}.segment", f"no segment {rule.segment!r} to write its condition from"
            )
            return None
        segment_path, segment = found
        segment_id = rule.segment.split("/", 1)[1]
        if self.named(rule.segment):
            written["when"] = {"segment": segment_id}
        else:
            if rule.segment not in self.inlined:
                self.inlined.add(rule.segment)
                self.metadata(segment_path, segment)
                self.fields(segment_path, segment)
            when = self.condition(f"{segment_path}.targeting", segment.targeting)
            if when is not None:
                written["when"] = when
        written["serve"] = serve
        salt = (
            flag_id
            if split and "name" not in written
            else f"{flag_id}.{written.get('name', index)}"
        )
        if segment_id != salt:
            written["salt"] = segment_id
        if rule.targeting_key_selector != unit:
            written["unit"] = rule.targeting_key_selector
        spec = rule.assignment_spec
        if split and spec is not None and spec.bucket_count != DEFAULT_BUCKETS:
            written["buckets"] = spec.bucket_count
        if not rule.enabled:
            written["enabled"] = False
        if rule.environments:
            written["environments"] = list(rule.environments)
        return written if len(self.problems) == before else None

    def serve(self, path: str, rule: Rule) -> Any:
        """A rule's assignments as ``serve``: a variant, or ``{variant: percent}``."""
        spec = rule.assignment_spec
        if spec is None:
            self.problem(path, "a rule without an assignmentSpec has no authoring words")
            return None
        single = _single_variant(rule)
        if single is not None:
            self.note_ids(path, rule, [(0, single)])
            return short_variant_name(single)
        count = spec.bucket_count
        laid: list[tuple[int, int, int, str | None]] = []  # lower, upper, index, variant
        for index, assignment in enumerate(spec.assignments):
            a_path = f"{path}.assignments[{index}]"
            ranges = _merged(assignment.bucket_ranges)
            if assignment.kind == "client_default":
                self.problem(a_path, "a client-default assignment has no authoring words")
            elif len(ranges) != 1:
                self.problem(
                    a_path, "an assignment over several separate ranges has no authoring words"
                )
            else:
                variant = assignment.variant.variant if assignment.variant is not None else None
                laid.append((ranges[0][0], ranges[0][1], index, variant))
        laid.sort()
        split: dict[str, Any] = {}
        reach = 0
        for position, (lower, upper, index, variant) in enumerate(laid):
            a_path = f"{path}.assignments[{index}]"
            if lower != reach:
                self.problem(
                    a_path, f"buckets {reach} to {lower} are in no assignment: no authoring words"
                )
            reach = upper
            if variant is None:
                if position != len(laid) - 1 or upper != count:
                    self.problem(
                        a_path, "only a last fall-through, to the last bucket, has authoring words"
                    )
                continue
            short = short_variant_name(variant)
            if short in split:
                self.problem(a_path, f"variant {short!r} in two assignments has no authoring words")
            percent = (upper - lower) * 100 / count
            if (
                round(percent * count / 100) != upper - lower
            ):  # pragma: no cover - exact for counts < 2**50
                self.problem(a_path, "a share that is no percentage has no authoring words")
            split[short] = _number(percent)
        if reach != count and not any(variant is None for *_, variant in laid):
            self.problem(
                path, f"buckets {reach} to {count} are in no assignment: no authoring words"
            )
        self.note_ids(
            path,
            rule,
            [(index, variant) for _, _, index, variant in laid],
        )
        return split

    def note_ids(self, path: str, rule: Rule, assignments: list[tuple[int, str | None]]) -> None:
        spec = rule.assignment_spec
        assert spec is not None
        for index, variant in assignments:
            written = short_variant_name(variant) if variant is not None else ""
            actual = spec.assignments[index].assignment_id
            if actual != written:
                self.notes.append(
                    Problem(
                        f"{path}.assignments[{index}].assignmentId",
                        f"{actual!r} becomes {written!r}",
                    )
                )

    def metadata(self, path: str, entity: ResourceMetadata) -> None:
        for field in _DROPPED:
            if getattr(entity, field) is not None:
                self.notes.append(Problem(f"{path}.{_camel(field)}", "dropped: no authoring words"))


def _single_variant(rule: Rule) -> str | None:
    """The variant of a rule whose one assignment gives one variant to every bucket."""
    spec = rule.assignment_spec
    if spec is None or len(spec.assignments) != 1:
        return None
    assignment = spec.assignments[0]
    if assignment.variant is None:
        return None
    if _merged(assignment.bucket_ranges) != [(0, spec.bucket_count)]:
        return None
    return assignment.variant.variant


def _merged(ranges: Any) -> list[tuple[int, int]]:
    """Bucket ranges as sorted, merged ``(lower, upper)`` pairs."""
    merged: list[tuple[int, int]] = []
    for bucket_range in sorted((r.lower, r.upper) for r in ranges):
        if merged and bucket_range[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bucket_range[1]))
        else:
            merged.append(bucket_range)
    return merged


def _number(value: float) -> int | float:
    rounded = round(value, 10)
    return int(rounded) if math.isclose(rounded, round(rounded)) else rounded


def _camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(part.title() for part in rest)


def _referenced_segments(model: Snapshot) -> Iterator[str]:
    """Segments named by a segment criterion anywhere in the snapshot."""
    targetings: list[Targeting | None] = [
        segment.targeting for _, _, segment in model.segment_entries()
    ]
    for instance in model.abtests:
        if instance.segment is not None:
            targetings.append(instance.segment.targeting)
        if instance.metrics is not None:
            targetings.extend(f.filter for f in instance.metrics.filters)
    for targeting in targetings:
        if targeting is None:
            continue
        for criterion in targeting.criteria.values():
            if criterion.segment is not None:
                yield criterion.segment.segment
