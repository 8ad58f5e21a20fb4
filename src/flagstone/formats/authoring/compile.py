"""Compile an authoring document into the native snapshot document it stands for.

The mapping, for a flag ``f``:

* the flag ``flags/f``: ``state`` ``ARCHIVED`` when ``"enabled": false`` (the kill switch),
  its ``variants`` in order, ``clients`` as ``clients/<id>``, ``description``;
* rule ``i`` → a native rule ``flags/f/rules/<name>`` (``<name>`` is the rule's ``name``, else
  its index ``i``) on the segment ``segments/<salt>``, whose targeting is the rule's ``when``.
  The salt (the segment's id, which salts the variant bucket ``f"{salt}|{unit}"``) is the
  rule's ``salt``, else the flag's name ``f`` for the flag's one unnamed split rule, else
  ``f.<name>``. A rule whose ``when`` is exactly ``{"segment": s}`` and whose salt is ``s``
  uses the named segment ``s`` itself. Rules sharing a salt must share their condition (they
  then share one segment);
* ``serve: "v"`` → one assignment over one bucket; ``serve: {"a": 10, "b": 30}`` →
  ``buckets`` buckets (10 000 unless given) laid out in the order written (``a`` gets
  [0, 1000), ``b`` [1000, 4000)), the rest a fall-through to the next rule; assignment ids
  are the variant names (``""`` for the fall-through). Growing a share therefore keeps every
  unit that had it, for the first and the last variant of a split;
* the targeting key selector is the rule's ``unit``, else the flag's, else blank
  (``targeting_key``, and a rule serving one variant then needs no unit at all);
* ``default: "v"`` → a last rule ``flags/f/rules/default`` on ``segments/f.default`` (no
  targeting) serving ``v`` to everyone, unit or not.

Named ``segments`` become ``segments/<name>`` (``rollout`` p → ``allocation.proportion``
p / 100); ``account`` becomes ``{"name": "accounts/<account>"}``; ``version``, ``issuedAt``,
``clients``, ``abtests`` and ``metrics`` are passed as they are (they are the native shapes).

Every problem is collected with its path in the authoring document; what only the native
validation finds (a cycle of segment references, an A/B test's own problems) is translated
back by :meth:`Compiled.translate` to the nearest authoring path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from ...errors import Problem
from ...model.abtests import INSTANCE_PREFIX, treatment_flag
from ...model.paths import join_path, key_path
from .conditions import TargetingCompiler
from .models import (
    FLAG,
    FORMAT,
    NAME_PATTERNS,
    SEGMENT,
    AuthoringDocument,
    AuthoringFlag,
    AuthoringRule,
    AuthoringSegment,
    Condition,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_RULE",
    "Compiled",
    "compile_document",
    "default_salt",
    "problems_of",
    "rule_name",
    "valid_name",
]

DEFAULT_BUCKETS: Final = 10_000
"""Buckets of a split rule without ``buckets``: shares are multiples of 0.01 %."""
DEFAULT_RULE: Final = "default"
"""The name of the rule a flag's ``default`` compiles into."""
_ROLLOUT_STEPS: Final = 10_000
"""A segment's ``rollout`` is a multiple of 1 / 10 000 % (one allocation bucket in 10^6)."""

Native = dict[str, Any]

TOP_LEVEL: Final = frozenset(
    field.alias or name for name, field in AuthoringDocument.model_fields.items()
)
"""The keys an authoring document may have."""

_TEXT: TypeAdapter[str] = TypeAdapter(str)
_NAME_WORDS = {
    "flag": "a flag's name has no '/', '.' or white space",
    "segment": "a segment's name has no '/', '.' or white space",
    "variant": "a variant's name has no '/' or white space",
    "rule": "a rule's name has no '/' or white space",
    "salt": "a salt has no '/' or white space",
}


def rule_name(rule: AuthoringRule, index: int) -> str:
    """A rule's name: its ``name``, else its index in the flag's rules."""
    return rule.name if rule.name is not None else str(index)


def default_salt(flag: str, rule: AuthoringRule, index: int) -> str:
    """The salt rule ``index`` of flag ``flag`` buckets with when it gives none: the flag's
    name for an unnamed split rule (a flag has at most one), else ``<flag>.<rule name>``."""
    if isinstance(rule.serve, dict) and rule.name is None:
        return flag
    return f"{flag}.{rule_name(rule, index)}"


@dataclass(frozen=True)
class Compiled:
    """The native document an authoring document compiles into, the problems found on the
    way (authoring paths), and the native names of the flags and segments left out because
    of them (so the native validation does not report references to them again)."""

    native: Native
    problems: tuple[Problem, ...]
    broken: frozenset[str]
    paths: tuple[tuple[str, str, bool], ...]

    def translate(self, problems: Sequence[Problem]) -> list[Problem]:
        """Native problems with the path of what they concern in the authoring document
        (the longest native prefix that maps; parts passed as they are keep their path)."""
        return [Problem(self.authoring_path(problem.path), problem.message) for problem in problems]

    def authoring_path(self, native_path: str) -> str:
        """Where in the authoring document the native path ``native_path`` comes from."""
        for prefix, path, keep_rest in self.paths:
            if native_path == prefix or (
                native_path.startswith(prefix) and native_path[len(prefix)] in ".["
            ):
                return path + native_path[len(prefix) :] if keep_rest else path
        return "$"


def problems_of(error: ValidationError, prefix: str) -> list[Problem]:
    """pydantic's errors for an authoring model, as problems at their paths (the union tags,
    written ``<like-this>``, left out)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if not _is_tag(part)]
        kind = item["type"]
        message: str = item["msg"]
        if loc and loc[-1] == "[key]":
            loc.pop()
            message = _name_message(message)
        elif kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "missing":
            message = "required field is missing"
        elif kind in ("model_type", "model_attributes_type", "dataclass_type", "dict_type"):
            message = "expected an object"
        elif kind == "string_type" and item["loc"] and item["loc"][-1] == "<variant>":
            message = "expected a variant's name, or {variant: percent, ...}"
        elif kind == "literal_error" and loc == ["format"]:
            message = f"expected {FORMAT!r}"
        elif kind == "string_pattern_mismatch":
            message = _name_message(message)
        else:
            message = message.removeprefix("Value error, ")
            message = message[:1].lower() + message[1:]
        problems.append(Problem(join_path(prefix, loc), message))
    return problems


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and part.startswith("<") and part.endswith(">")


def _name_message(message: str) -> str:
    for kind, pattern in NAME_PATTERNS.items():
        if pattern in message:
            return _NAME_WORDS[kind]
    return message[:1].lower() + message[1:]


def compile_document(document: Mapping[str, Any]) -> Compiled:
    """Compile an authoring document (decoded JSON) into its native document; never raises:
    what is wrong is in :attr:`Compiled.problems`."""
    return _Compiler(document).run()


class _Compiler:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.problems: list[Problem] = []
        self.broken: set[str] = set()
        self.paths: list[tuple[str, str, bool]] = [
            ("$.abtests", "$.abtests", True),
            ("$.clients", "$.clients", True),
            ("$.metrics", "$.metrics", True),
            ("$.version", "$.version", False),
            ("$.issuedAt", "$.issuedAt", True),
            ("$.account", "$.account", False),
        ]
        self.segments: dict[str, tuple[Native, str]] = {}
        self.when_paths: dict[str, str] = {}
        """A rule's own segment → the path of the ``when`` its targeting comes from."""
        raw_segments = document.get("segments")
        self.segment_names: set[str] = (
            set(raw_segments) if isinstance(raw_segments, Mapping) else set()
        )
        self.targets = TargetingCompiler(self.problem, self.segment_names.__contains__)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> Compiled:
        document = self.document
        native: Native = {}
        if document.get("format") != FORMAT:
            self.problem("$.format", f"expected {FORMAT!r}")
        for key in document:
            if key not in TOP_LEVEL:
                self.problem(key_path("$", str(key)), "unknown field")
        for key in ("description", "$schema"):
            if key in document:
                self._validated(_TEXT, document[key], key_path("$", key))
        if "version" in document:
            version = document["version"]
            if isinstance(version, str | int) and not isinstance(version, bool):
                native["version"] = version
            else:
                self.problem("$.version", "expected a string or a whole number")
        account = document.get("account")
        if account is not None:
            if not isinstance(account, str) or not account or "/" in account:
                self.problem("$.account", "expected the account's id, e.g. acme-shop")
            else:
                native["account"] = {"name": f"accounts/{account}"}
        for key in ("issuedAt", "clients"):  # the native shapes, as they are
            if key in document:
                native[key] = document[key]
        segments = self._entities("segments", SEGMENT, "segment")
        flags = self._entities("flags", FLAG, "flag")
        for name, segment in segments.items():
            self._named_segment(name, segment)
        compiled_flags: Native = {}
        for name, flag in flags.items():
            compiled = self._flag(name, flag)
            if compiled is not None:
                compiled_flags[f"flags/{name}"] = compiled
        native["segments"] = {name: segment for name, (segment, _) in self.segments.items()}
        native["flags"] = compiled_flags
        for key in ("abtests", "metrics"):
            if key in document:
                native[key] = document[key]
        return Compiled(native, tuple(self.problems), frozenset(self.broken), self._sorted_paths())

    def _sorted_paths(self) -> tuple[tuple[str, str, bool], ...]:
        return tuple(sorted(self.paths, key=lambda entry: -len(entry[0])))

    def _validated(self, adapter: TypeAdapter[Any], value: Any, path: str) -> Any:
        try:
            return adapter.validate_python(value, strict=True)
        except ValidationError as error:
            self.problems.extend(problems_of(error, path))
            return None

    def _entities(self, key: str, adapter: TypeAdapter[Any], kind: str) -> dict[str, Any]:
        """The entities of ``flags`` or ``segments`` that validate, by name."""
        raw = self.document.get(key, {})
        if not isinstance(raw, Mapping):
            self.problem(f"$.{key}", "expected an object keyed by name")
            return {}
        parsed: dict[str, Any] = {}
        prefix = "flags" if kind == "flag" else "segments"
        for name, item in raw.items():
            path = key_path(f"$.{key}", name)
            named_well = valid_name(kind, name)
            if not named_well:
                self.problem(path, _NAME_WORDS[kind])
            entity = self._validated(adapter, item, path)
            if entity is None or not named_well:
                self.broken.add(f"{prefix}/{name}")
            else:
                parsed[name] = entity
        return parsed

    # -- segments ---------------------------------------------------------------------------

    def _named_segment(self, name: str, segment: AuthoringSegment) -> None:
        path = key_path("$.segments", name)
        before = len(self.problems)
        full = f"segments/{name}"
        native: Native = {"name": full}
        if segment.description is not None:
            native["description"] = segment.description
        targeting = self.targets.targeting(segment.when, f"{path}.when")
        if targeting is not None:
            native["targeting"] = targeting
        if segment.rollout is not None:
            steps = segment.rollout * _ROLLOUT_STEPS
            if not math.isclose(steps, round(steps), abs_tol=1e-6):
                self.problem(f"{path}.rollout", "a rollout is a multiple of 0.0001 %")
            native["allocation"] = {"proportion": round(steps) / (100 * _ROLLOUT_STEPS)}
        native_path = key_path("$.segments", full)
        self.paths.append((native_path, path, False))
        self.paths.append((f"{native_path}.targeting", f"{path}.when", False))
        self.paths.append((f"{native_path}.allocation", f"{path}.rollout", False))
        if len(self.problems) > before:
            self.broken.add(full)
        else:
            self.segments[full] = (native, path)

    # -- flags ------------------------------------------------------------------------------

    def _flag(self, name: str, flag: AuthoringFlag) -> Native | None:
        path = key_path("$.flags", name)
        full = f"flags/{name}"
        native_path = key_path("$.flags", full)
        before = len(self.problems)
        own_segments: dict[str, tuple[Native, str]] = {}
        rules: list[Native] = []
        names: dict[str, int] = {}
        unnamed_split: int | None = None
        for index, rule in enumerate(flag.rules):
            rule_path = f"{path}.rules[{index}]"
            this_name = rule_name(rule, index)
            if this_name in names or (flag.default is not None and this_name == DEFAULT_RULE):
                where = (
                    "the flag's default" if this_name not in names else f"rules[{names[this_name]}]"
                )
                self.problem(
                    f"{rule_path}.name" if rule.name is not None else rule_path,
                    f"the rule name {this_name!r} is also {where}'s; rule names are unique",
                )
            names.setdefault(this_name, index)
            salt = rule.salt or default_salt(name, rule, index)
            if rule.salt is None and isinstance(rule.serve, dict) and rule.name is None:
                if unnamed_split is not None:
                    self.problem(
                        rule_path,
                        f"rules[{unnamed_split}] is the flag's unnamed split rule, salted by "
                        "the flag's name; name this one (its name salts its buckets)",
                    )
                    salt = f"{name}.{this_name}"
                unnamed_split = index
            segment = self._rule_segment(rule, salt, rule_path, own_segments)
            native_rule = self._rule(flag, full, rule, this_name, segment, rule_path)
            self.paths.append((f"{native_path}.rules[{index}]", rule_path, False))
            rules.append(native_rule)
        if flag.default is not None:
            default_path = f"{path}.default"
            self._variant_of(flag, full, flag.default, default_path)
            segment = f"segments/{name}.{DEFAULT_RULE}"
            self._own_segment(segment, {"name": segment}, default_path, own_segments)
            rules.append(
                {
                    "name": f"{full}/rules/{DEFAULT_RULE}",
                    "segment": segment,
                    "targetingKeySelector": "",
                    "assignmentSpec": _single(flag.default),
                }
            )
            self.paths.append((f"{native_path}.rules[{len(flag.rules)}]", default_path, False))
        if flag.abtest is not None:
            self._abtest_reference(full, flag.abtest, f"{path}.abtest")
        for segment_name, (own, where) in own_segments.items():
            existing = self.segments.get(segment_name)
            if existing is not None and existing[0] != own:
                self.problem(
                    where,
                    f"its segment {segment_name!r} is also {existing[1]}'s, with another "
                    "condition: give one of them another salt",
                )
        self.paths.append((native_path, path, False))
        self.paths.append((f"{native_path}.state", f"{path}.enabled", False))
        self.paths.append((f"{native_path}.clients", f"{path}.clients", True))
        for index, variant in enumerate(flag.variants):
            self.paths.append(
                (f"{native_path}.variants[{index}]", key_path(f"{path}.variants", variant), False)
            )
        if len(self.problems) > before:
            self.broken.add(full)
            return None
        for segment_name, (own, where) in own_segments.items():
            self.segments.setdefault(segment_name, (own, where))
            native_path = key_path("$.segments", segment_name)
            self.paths.append((native_path, where, False))
            when = self.when_paths.get(segment_name)
            if when is not None:
                self.paths.append((f"{native_path}.targeting", when, False))
        native: Native = {"name": full}
        if flag.description is not None:
            native["description"] = flag.description
        if not flag.enabled:
            native["state"] = "ARCHIVED"
        if flag.clients:
            native["clients"] = [
                client if client.startswith("clients/") else f"clients/{client}"
                for client in flag.clients
            ]
        native["variants"] = [{"name": key, "value": value} for key, value in flag.variants.items()]
        native["rules"] = rules
        return native

    def _rule_segment(
        self,
        rule: AuthoringRule,
        salt: str,
        path: str,
        own: dict[str, tuple[Native, str]],
    ) -> str:
        """The native segment a rule goes through, registered in ``own`` when it is the
        rule's own."""
        when = rule.when
        if when is not None and _only_segment(when) and when.segment == salt:
            if salt not in self.segment_names:
                self.problem(
                    f"{path}.when.segment", f"no segment {salt!r} in this document's segments"
                )
            return f"segments/{salt}"
        segment = f"segments/{salt}"
        native: Native = {"name": segment}
        targeting = self.targets.targeting(when, f"{path}.when")
        if targeting is not None:
            native["targeting"] = targeting
        self._own_segment(segment, native, f"{path}.salt" if rule.salt else path, own)
        self.when_paths.setdefault(segment, f"{path}.when")
        return segment

    def _own_segment(
        self, name: str, segment: Native, path: str, own: dict[str, tuple[Native, str]]
    ) -> None:
        existing = own.get(name)
        if existing is None:
            own[name] = (segment, path)
        elif existing[0] != segment:
            self.problem(
                path,
                f"its segment {name!r} is also {existing[1]}'s, with another condition: "
                "rules that share a salt share their condition",
            )

    def _rule(
        self,
        flag: AuthoringFlag,
        full: str,
        rule: AuthoringRule,
        name: str,
        segment: str,
        path: str,
    ) -> Native:
        native: Native = {"name": f"{full}/rules/{name}", "segment": segment}
        if rule.description is not None:
            native["description"] = rule.description
        if not rule.enabled:
            native["enabled"] = False
        native["targetingKeySelector"] = rule.unit or flag.unit or ""
        if rule.environments:
            native["environments"] = list(rule.environments)
        serve = rule.serve
        if isinstance(serve, str):
            self._variant_of(flag, full, serve, f"{path}.serve")
            if rule.buckets is not None:
                self.problem(f"{path}.buckets", "a rule that serves one variant has no buckets")
            native["assignmentSpec"] = _single(serve)
        else:
            native["assignmentSpec"] = self._split(flag, full, serve, rule.buckets, path)
        return native

    def _split(
        self,
        flag: AuthoringFlag,
        full: str,
        serve: Mapping[str, float],
        buckets: int | None,
        path: str,
    ) -> Native:
        count = buckets or DEFAULT_BUCKETS
        serve_path = f"{path}.serve"
        total = math.fsum(serve.values())
        if total > 100 + 1e-9:
            self.problem(serve_path, f"the percentages total {total:g}; at most 100")
        assignments: list[Native] = []
        lower = 0
        for variant, percent in serve.items():
            where = key_path(serve_path, variant)
            self._variant_of(flag, full, variant, where)
            width = percent * count / 100
            if not math.isclose(width, round(width), abs_tol=1e-6):
                self.problem(
                    where,
                    f"{percent:g} % is not a whole number of the rule's {count} buckets "
                    f"({100 / count:g} % each)",
                )
            if round(width):
                upper = lower + round(width)
                assignments.append(
                    {
                        "assignmentId": variant,
                        "variant": {"variant": variant},
                        "bucketRanges": [{"lower": lower, "upper": upper}],
                    }
                )
                lower = upper
        if lower < count:
            assignments.append(
                {
                    "assignmentId": "",
                    "fallthrough": {},
                    "bucketRanges": [{"lower": lower, "upper": count}],
                }
            )
        return {"bucketCount": count, "assignments": assignments}

    def _variant_of(self, flag: AuthoringFlag, full: str, variant: str, path: str) -> None:
        if variant not in flag.variants:
            known = ", ".join(flag.variants) or "none"
            self.problem(path, f"unknown variant {variant!r} of {full} (its variants: {known})")

    def _abtest_reference(self, full: str, reference: str, path: str) -> None:
        wanted = reference if reference.startswith(INSTANCE_PREFIX) else INSTANCE_PREFIX + reference
        abtests = self.document.get("abtests")
        for test in abtests if isinstance(abtests, list) else ():
            if not isinstance(test, Mapping) or test.get("name") != wanted:
                continue
            treatments = (test.get("abtest") or {}).get("treatments") or []
            named = {
                treatment_flag(t["variant"])
                for t in treatments
                if isinstance(t, Mapping) and isinstance(t.get("variant"), str)
            }
            if named and named != {full}:
                others = ", ".join(sorted(str(n) for n in named))
                self.problem(path, f"A/B test {reference!r} assigns {others}, not {full}")
            return
        self.problem(path, f"no A/B test {reference!r} in this document's abtests")


def _single(variant: str) -> Native:
    return {
        "bucketCount": 1,
        "assignments": [
            {
                "assignmentId": variant,
                "variant": {"variant": variant},
                "bucketRanges": [{"lower": 0, "upper": 1}],
            }
        ],
    }


def _only_segment(condition: Condition) -> bool:
    return condition.model_fields_set == {"segment"} and not condition.__pydantic_extra__


def valid_name(kind: str, name: Any) -> bool:
    """Whether ``name`` is a valid name of a ``kind`` (``"flag"``, ``"segment"``, …)."""
    return isinstance(name, str) and re.fullmatch(NAME_PATTERNS[kind], name) is not None
