"""The shape of the Experiments API: read it into a native snapshot document, write a
native document back to it.

This module owns the mapping between the two shapes; nothing here evaluates anything.

Accepted documents: the file shape flagstone documents, ``{"experiments": [experiment, ...],
"audiences": [{"id", "name", "targeting"}, ...]}``, and the API's responses, ``{"data":
[experiment, ...], "meta": {...}}`` (list) and ``{"data": experiment}`` (get), each with an
optional ``"audiences"`` list beside (``meta`` is pagination and is dropped). ``write`` always
gives the file shape.

The mapping, for an experiment ``id``:

* a flag ``flags/{id}`` (ACTIVE, no rules of its own) whose variants are named by their
  variant ids, as a native snapshot names its variants (so ``Resolution.variant`` is the
  variant id, ``v1``, whichever shape the test was written in), with the value ``{"name",
  "flowId", "config"}`` (the keys the variant has); variants without ids (the API's create
  body) are ``v1``, ``v2``, … by position;
* an A/B-test instance ``workflows/abtest/instances/{id}``: treatments
  ``flags/{id}/variants/{variant id}`` in variant order with
  ``splitPercentage`` times 100 basis points, ``name`` → ``displayName``, ``description``,
  ``createdAt``/``updatedAt``/``startDate``/``endDate`` → ``createTime``/``updateTime``/
  ``startTime``/``endTime``, the status through ``EXPERIMENTS_API_STATUSES`` (``stopped`` is
  live with paused intake), and always the materialization ``materializations/abtest-{id}``
  so that a stopped experiment keeps serving the units it assigned while running;
* ``audienceId`` → the instance's targeting is one criterion referencing the top-level
  segment ``segments/{audience id}``, which each audience becomes (``name`` →
  ``displayName``); no audience means everyone;
* ``origin`` keeps the status and every field with no native meaning (``type``, ``_count``,
  fields the API does not name, fields given as ``null``, and under ``"variants"`` the
  unknown fields of each variant by variant id), so ``write(read(doc)) == doc`` for any
  valid document in the file shape (up to generated variant ids).

``create_experiment`` and ``update_experiment`` apply the API's Create and PATCH bodies to a
file's experiment (the ``abtest --format experiments-api`` command's ``create`` and
``update``); ``name_clashes`` finds a repeated name.

Neither direction guesses: bad input raises ``ConfigError`` naming every problem with its JSON
path, in the Experiments-API document for ``read`` and in the native document for ``write``
(which refuses whatever the shape cannot express: own rules, allocation, treatment overrides,
weights that are not whole percentages, …; it drops only bookkeeping such as ``creator``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, Problem
from ..model.abtests import INSTANCE_PREFIX, AbTestInstance, default_segment_name
from ..model.flags import Flag
from ..model.paths import key_path
from ..model.segments import Segment
from ..model.snapshot import Snapshot
from ..model.states import EXPERIMENTS_API_STATUSES, experiments_api_status
from ..model.targeting import Targeting
from ..model.validation import short_variant_name
from ..semantics.scalars import parse_timestamp_ns
from .native import parse_snapshot

__all__ = [
    "FORMAT",
    "SET_BY_LIFECYCLE",
    "create_experiment",
    "name_clashes",
    "read",
    "update_experiment",
    "write",
]

FORMAT = "experiments-api"
"""The ``origin.format`` of A/B tests read from this shape."""

_SELECTOR = "targeting_key"
_AUDIENCE_CRITERION = "audience"

_MAPPED = (
    "id",
    "name",
    "description",
    "status",
    "audienceId",
    "startDate",
    "endDate",
    "createdAt",
    "updatedAt",
    "variants",
)
"""The experiment fields with a native meaning; ``origin.fields`` keeps every other one."""
_VARIANT_FIELDS = ("id", "name", "splitPercentage", "flowId", "config")
_VALUE_KEYS = ("name", "flowId", "config")
_AUDIENCE_FIELDS = ("id", "name", "targeting")
_DATES = (
    ("startDate", "startTime"),
    ("endDate", "endTime"),
    ("createdAt", "createTime"),
    ("updatedAt", "updateTime"),
)
_NULLABLE = ("description", "audienceId", *(source for source, _ in _DATES))
"""Optional fields that may be ``null``: a ``null`` has no native meaning, so ``origin``
keeps it."""
_STATUSES = ", ".join(EXPERIMENTS_API_STATUSES)
_FILE_KEYS = ("experiments", "audiences")
_RESPONSE_KEYS = ("data", "meta", "audiences")
_BOUNDARY = re.compile(r"[.\[]")

SET_BY_LIFECYCLE = ("id", "status", "createdAt", "updatedAt", "startDate", "endDate")
"""Experiment fields a create or update body may not set: the id (given beside the body),
the status (the lifecycle's commands) and the timestamps (the clock)."""


# -- reading ----------------------------------------------------------------------------------


def read(document: Mapping[str, Any]) -> dict[str, Any]:
    """The native snapshot document (JSON-ready) for an Experiments-API ``document``.

    Raises ``ConfigError`` naming every problem with its JSON path in ``document``
    (``$.experiments[0].variants[1].splitPercentage``).
    """
    return _Reader().run(document)


@dataclass
class _Audience:
    path: str
    segment: dict[str, Any]


@dataclass
class _Reader:
    problems: list[Problem] = field(default_factory=list)
    audiences: dict[str, _Audience] = field(default_factory=dict)
    audience_ids: dict[str, str] = field(default_factory=dict)
    """Every audience id written in the document → the path of its first audience."""
    has_audiences: bool = False
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    abtests: list[dict[str, Any]] = field(default_factory=list)
    abtest_paths: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self, document: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(document, Mapping):
            raise ConfigError(
                [Problem("$", "an Experiments-API document is a JSON object")],
            )
        experiments = self.experiments_of(document)
        if "audiences" in document:
            self.read_audiences(document["audiences"])
        seen: dict[str, str] = {}
        for path, experiment in experiments:
            self.read_experiment(path, experiment, seen)
        native: dict[str, Any] = {
            "flags": self.flags,
            "segments": {name: audience.segment for name, audience in self.audiences.items()},
            "abtests": self.abtests,
        }
        try:
            parse_snapshot(native)
        except ConfigError as error:
            self.problems.extend(self.source_problem(problem) for problem in error.problems)
        if self.problems:
            raise ConfigError(self.problems)
        return copy.deepcopy(native)  # nothing shared with the caller's document

    def experiments_of(self, document: Mapping[str, Any]) -> list[tuple[str, Any]]:
        if "experiments" in document and "data" in document:
            self.add(
                "$", 'a document holds "experiments" (a file) or "data" (a response), not both'
            )
            return []
        if "experiments" in document:
            allowed: Sequence[str] = _FILE_KEYS
        elif "data" in document:
            allowed = _RESPONSE_KEYS
        else:
            self.add("$", 'expected "experiments" (a file) or "data" (an API response)')
            return []
        for key in document:
            if key not in allowed:
                self.add(key_path("$", str(key)), f"unknown field (expected {', '.join(allowed)})")
        if "meta" in allowed and "meta" in document and not isinstance(document["meta"], Mapping):
            self.add("$.meta", "expected an object")
        if "experiments" in document:
            experiments = document["experiments"]
            if not isinstance(experiments, list):
                self.add("$.experiments", "expected a list of experiments")
                return []
            return [(f"$.experiments[{index}]", item) for index, item in enumerate(experiments)]
        data = document["data"]
        if isinstance(data, list):
            return [(f"$.data[{index}]", item) for index, item in enumerate(data)]
        if isinstance(data, Mapping):
            return [("$.data", data)]
        self.add("$.data", "expected an experiment or a list of experiments")
        return []

    # -- audiences ------------------------------------------------------------------------------

    def read_audiences(self, audiences: Any) -> None:
        self.has_audiences = True
        if not isinstance(audiences, list):
            self.add("$.audiences", "expected a list of audiences")
            return
        for index, audience in enumerate(audiences):
            self.read_audience(f"$.audiences[{index}]", audience)

    def read_audience(self, path: str, audience: Any) -> None:
        if not isinstance(audience, Mapping):
            self.add(path, "expected an audience object (id, name, targeting)")
            return
        for key in audience:
            if key not in _AUDIENCE_FIELDS:
                self.add(
                    key_path(path, str(key)), "unknown field (an audience has id, name, targeting)"
                )
        audience_id = self.identifier(f"{path}.id", audience, "audience")
        name = self.string(path, audience, "name", required=True)
        targeting = audience.get("targeting")
        if "targeting" not in audience:
            self.add(f"{path}.targeting", "required field is missing")
        elif not isinstance(targeting, Mapping):
            self.add(f"{path}.targeting", "expected a targeting object (criteria, expression)")
        if audience_id is None:
            return
        first = self.audience_ids.get(audience_id)
        if first is not None:
            self.add(f"{path}.id", f"audience id {audience_id!r} is used twice (first at {first})")
            return
        self.audience_ids[audience_id] = path
        segment: dict[str, Any] = {"name": f"segments/{audience_id}"}
        if name is not None:
            segment["displayName"] = name
        if isinstance(targeting, Mapping):
            segment["targeting"] = dict(targeting)
        self.audiences[segment["name"]] = _Audience(path, segment)

    # -- experiments ----------------------------------------------------------------------------

    def read_experiment(self, path: str, experiment: Any, seen: dict[str, str]) -> None:
        if not isinstance(experiment, Mapping):
            self.add(path, "expected an experiment object")
            return
        before = len(self.problems)
        experiment_id = self.identifier(f"{path}.id", experiment, "experiment")
        if experiment_id is not None:
            if experiment_id in seen:
                self.add(
                    f"{path}.id",
                    f"experiment id {experiment_id!r} is used twice "
                    f"(first at {seen[experiment_id]})",
                )
            else:
                seen[experiment_id] = path
            clash = self.audience_ids.get(f"abtest-{experiment_id}")
            if clash is not None:
                self.add(
                    f"{clash}.id",
                    f"audience id 'abtest-{experiment_id}' is the bucketing segment of experiment "
                    f"{experiment_id!r} (segments/abtest-{experiment_id}); rename the audience",
                )
        name = self.string(path, experiment, "name", required=True)
        description = self.string(path, experiment, "description", nullable=True)
        status = experiment.get("status")
        if "status" not in experiment:
            self.add(f"{path}.status", f"required field is missing (one of {_STATUSES})")
        elif not isinstance(status, str) or status not in EXPERIMENTS_API_STATUSES:
            self.add(f"{path}.status", f"unknown status {status!r} (expected one of {_STATUSES})")
        audience_id = self.string(path, experiment, "audienceId", nullable=True)
        if audience_id is not None and audience_id not in self.audience_ids:
            where = "" if self.has_audiences else " (the document has no audiences list)"
            self.add(f"{path}.audienceId", f"unknown audience {audience_id!r}{where}")
        dates = {}
        for source, native in _DATES:
            value = self.string(path, experiment, source, nullable=True)
            if value is not None:
                if parse_timestamp_ns(value) is None:
                    self.add(f"{path}.{source}", f"{value!r} is not an RFC 3339 timestamp")
                dates[native] = value
        variants = self.read_variants(f"{path}.variants", experiment.get("variants"), experiment)
        if len(self.problems) > before or experiment_id is None or variants is None:
            return
        assert name is not None and isinstance(status, str)
        self.build(
            path, experiment, experiment_id, name, description, status, audience_id, dates, variants
        )

    def read_variants(
        self, path: str, variants: Any, experiment: Mapping[str, Any]
    ) -> list[tuple[str, int, dict[str, Any], dict[str, Any]]] | None:
        """``[(variant id, basis points, value, unknown fields)]``, or ``None`` on problems."""
        if "variants" not in experiment:
            self.add(path, "required field is missing")
            return None
        if not isinstance(variants, list):
            self.add(path, "expected a list of variants")
            return None
        if not variants:
            self.add(path, "an experiment needs at least one variant")
            return None
        before = len(self.problems)
        with_ids = [isinstance(v, Mapping) and "id" in v for v in variants]
        if any(with_ids) and not all(with_ids):
            missing = with_ids.index(False)
            self.add(
                f"{path}[{missing}].id",
                "either every variant has an id or none has (then they are v1, v2, … by position)",
            )
        result = []
        seen: dict[str, int] = {}
        total = 0
        complete = True
        for index, variant in enumerate(variants):
            v_path = f"{path}[{index}]"
            if not isinstance(variant, Mapping):
                self.add(v_path, "expected a variant object")
                complete = False
                continue
            variant_id = (
                self.identifier(f"{v_path}.id", variant, "variant")
                if "id" in variant
                else f"v{index + 1}"
            )
            if variant_id is not None:
                if variant_id in seen:
                    self.add(
                        f"{v_path}.id",
                        f"variant id {variant_id!r} is used twice "
                        f"(first at {path}[{seen[variant_id]}])",
                    )
                seen.setdefault(variant_id, index)
            value: dict[str, Any] = {}
            name = self.string(v_path, variant, "name", required=True)
            if name is not None:
                value["name"] = name
            if "flowId" in variant:
                if variant["flowId"] is not None and not isinstance(variant["flowId"], str):
                    self.add(f"{v_path}.flowId", "expected a string or null")
                value["flowId"] = variant["flowId"]
            if "config" in variant:
                if variant["config"] is not None and not isinstance(variant["config"], Mapping):
                    self.add(f"{v_path}.config", "expected an object or null")
                value["config"] = variant["config"]
            weight = self.split(f"{v_path}.splitPercentage", variant)
            total += weight or 0
            extras = {key: item for key, item in variant.items() if key not in _VARIANT_FIELDS}
            if weight is None:
                complete = False
            elif variant_id is not None:
                result.append((variant_id, weight, value, extras))
        if complete and total != 10_000:
            self.add(path, f"the splitPercentage values sum to {_percent(total)}, not 100")
        return None if len(self.problems) > before else result

    def split(self, path: str, variant: Mapping[str, Any]) -> int | None:
        """``splitPercentage`` as basis points."""
        if "splitPercentage" not in variant:
            self.add(path, "required field is missing")
            return None
        raw = variant["splitPercentage"]
        whole = (isinstance(raw, int) and not isinstance(raw, bool)) or (
            isinstance(raw, float) and raw.is_integer()
        )
        if not whole:
            self.add(path, f"{raw!r} is not a whole number of percent")
            return None
        if not 0 <= raw <= 100:
            self.add(path, f"{raw!r} is outside 0 to 100")
            return None
        return int(raw) * 100

    def build(
        self,
        path: str,
        experiment: Mapping[str, Any],
        experiment_id: str,
        name: str,
        description: str | None,
        status: str,
        audience_id: str | None,
        dates: dict[str, str],
        variants: list[tuple[str, int, dict[str, Any], dict[str, Any]]],
    ) -> None:
        flag_name = f"flags/{experiment_id}"
        self.flags[flag_name] = {
            "name": flag_name,
            "state": "ACTIVE",
            "variants": [  # named as a native snapshot names them: Resolution.variant is the id
                {"name": variant_id, "value": value} for variant_id, _, value, _ in variants
            ],
            "rules": [],
        }
        state, intake = EXPERIMENTS_API_STATUSES[status]
        instance: dict[str, Any] = {
            "name": f"{INSTANCE_PREFIX}{experiment_id}",
            "displayName": name,
        }
        if description is not None:
            instance["description"] = description
        instance["state"] = state
        instance["flags"] = {"targetingKeySelector": _SELECTOR}
        instance["abtest"] = {
            "treatments": [
                {"variant": f"{flag_name}/variants/{variant_id}", "weight": weight}
                for variant_id, weight, _, _ in variants
            ]
        }
        if audience_id is not None:
            instance["segment"] = {
                "targeting": {
                    "criteria": {
                        _AUDIENCE_CRITERION: {"segment": {"segment": f"segments/{audience_id}"}}
                    },
                    "expression": {"ref": _AUDIENCE_CRITERION},
                }
            }
        for native in ("createTime", "updateTime", "startTime", "endTime"):
            if native in dates:
                instance[native] = dates[native]
        instance["materialization"] = f"materializations/abtest-{experiment_id}"
        instance["intake"] = intake
        fields = {
            key: value
            for key, value in experiment.items()
            if key not in _MAPPED or (key in _NULLABLE and value is None)
        }
        variant_fields = {variant_id: extras for variant_id, _, _, extras in variants if extras}
        if variant_fields:
            fields["variants"] = variant_fields
        instance["origin"] = {"format": FORMAT, "state": status, "fields": fields}
        self.abtests.append(instance)
        self.abtest_paths.append(path)

    # -- field helpers --------------------------------------------------------------------------

    def identifier(self, path: str, holder: Mapping[str, Any], what: str) -> str | None:
        if "id" not in holder:
            self.add(path, "required field is missing")
            return None
        raw = holder["id"]
        if not isinstance(raw, str):
            self.add(path, f"a {what} id is a string")
            return None
        if not raw or "/" in raw or raw.strip() != raw:
            self.add(
                path, f"{raw!r} is not a usable {what} id (non-empty, no '/', no spaces around)"
            )
            return None
        return raw

    def string(
        self,
        prefix: str,
        holder: Mapping[str, Any],
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
    ) -> str | None:
        """``holder[key]`` if it is a string; problems at ``prefix.key`` otherwise."""
        path = f"{prefix}.{key}"
        if key not in holder:
            if required:
                self.add(path, "required field is missing")
            return None
        raw = holder[key]
        if raw is None and nullable:
            return None
        if not isinstance(raw, str):
            self.add(path, "expected a string" + (" or null" if nullable else ""))
            return None
        return raw

    # -- native problems in source terms --------------------------------------------------------

    def source_problem(self, problem: Problem) -> Problem:
        """A problem the native validation found, moved to where it is in the source."""
        for name, audience in self.audiences.items():
            rest = _rest(problem.path, key_path("$.segments", name))
            if rest is not None:
                if rest.startswith(".targeting"):
                    return Problem(audience.path + rest, problem.message)
                return Problem(audience.path, f"{problem.message} (native {problem.path})")
        for index, path in enumerate(self.abtest_paths):
            instance = self.abtests[index]
            for prefix in (f"$.abtests[{index}]", key_path("$.flags", _flag_of(instance))):
                rest = _rest(problem.path, prefix)
                if rest is None:
                    continue
                for source, native in _DATES:
                    if prefix.startswith("$.abtests") and rest == f".{native}":
                        return Problem(f"{path}.{source}", problem.message)
                return Problem(path, f"{problem.message} (native {problem.path})")
        return Problem("$", f"{problem.message} (native {problem.path})")


def _rest(path: str, prefix: str) -> str | None:
    """What follows ``prefix`` in ``path`` if ``path`` is in ``prefix``, else ``None``."""
    if path == prefix:
        return ""
    if path.startswith(prefix) and _BOUNDARY.match(path, len(prefix)):
        return path[len(prefix) :]
    return None


def _flag_of(instance: Mapping[str, Any]) -> str:
    return "flags/" + str(instance["name"]).rsplit("/", 1)[-1]


def _percent(basis_points: int) -> str:
    return str(basis_points // 100) if basis_points % 100 == 0 else str(basis_points / 100)


# -- the seed's create and update bodies -------------------------------------------------------


def create_experiment(
    body: Mapping[str, Any], experiment_id: str, now: str, path: str = "$"
) -> dict[str, Any]:
    """A draft experiment ``experiment_id`` from the Experiments API's Create Experiment body
    (``name``, ``description``, ``type``, ``audienceId``, ``variants``), created and updated
    ``now``; variants without ids are ``v1``, ``v2``, …. ``ConfigError`` (at ``path``, where the
    experiment is to stand) for a body that sets what the lifecycle sets."""
    _refuse_lifecycle_fields(path, body, "a create body")
    experiment: dict[str, Any] = {"id": experiment_id, **body}
    variants = body.get("variants")
    if isinstance(variants, list) and not any(
        isinstance(variant, Mapping) and "id" in variant for variant in variants
    ):
        experiment["variants"] = [
            {"id": f"v{index + 1}", **variant} if isinstance(variant, Mapping) else variant
            for index, variant in enumerate(variants)
        ]
    experiment.update(status="draft", createdAt=now, updatedAt=now)
    return experiment


def update_experiment(
    experiment: Mapping[str, Any], body: Mapping[str, Any], path: str = "$"
) -> dict[str, Any]:
    """``experiment`` after the Experiments API's PATCH ``body``: each field given replaces the
    experiment's (``variants`` whole). ``ConfigError`` (at ``path``) for fields the lifecycle
    sets."""
    _refuse_lifecycle_fields(path, body, "an update")
    return {**experiment, **body}


def name_clashes(experiments: Sequence[Mapping[str, Any]], index: int) -> list[Problem]:
    """A problem if the experiment at ``index`` of a file's ``experiments`` has the name of
    another (names are unique, as the API's names are)."""
    name = experiments[index].get("name")
    return [
        Problem(
            f"$.experiments[{index}].name",
            f"{name!r} is already the name of the experiment at $.experiments[{other}]",
        )
        for other, experiment in enumerate(experiments)
        if other != index and name is not None and experiment.get("name") == name
    ]


def _refuse_lifecycle_fields(path: str, body: Mapping[str, Any], what: str) -> None:
    problems = [
        Problem(key_path(path, field), f"set by the lifecycle, not by {what}")
        for field in SET_BY_LIFECYCLE
        if field in body
    ]
    if problems:
        raise ConfigError(problems)


# -- writing ----------------------------------------------------------------------------------


def write(native: Mapping[str, Any]) -> dict[str, Any]:
    """The Experiments-API file shape ``{"experiments": [...], "audiences": [...]}`` of a
    native snapshot document.

    The document is validated first; whatever the shape cannot express (a flag that is not
    an experiment's, a flag's own rules, allocation, treatment overrides, a weight that is not
    a whole percentage, …) raises ``ConfigError`` naming its path in ``native``.
    """
    parsed = parse_snapshot(native)
    return _Writer(native, parsed.model).run()


def _raw_items(collection: Any) -> list[Any]:
    if isinstance(collection, Mapping):
        return list(collection.values())
    if isinstance(collection, list):
        return list(collection)
    return []


@dataclass
class _Writer:
    native: Mapping[str, Any]
    model: Snapshot
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> dict[str, Any]:
        for key in ("clients", "bitsets", "bloomFilters"):
            if self.native.get(key):
                self.add(
                    key_path("$", key),
                    f"the Experiments-API shape has no {key}; remove them to write this document",
                )
        segments = list(
            zip(self.model.segment_entries(), _raw_items(self.native.get("segments")), strict=True)
        )
        flags = {
            flag.name: (path, flag, raw)
            for (path, _, flag), raw in zip(
                self.model.flag_entries(), _raw_items(self.native.get("flags")), strict=True
            )
        }
        audiences = [self.audience(path, segment, raw) for (path, _, segment), raw in segments]
        audience_ids = {segment.name.split("/", 1)[1] for (_, _, segment), _ in segments}
        used: set[str] = set()
        experiments = []
        for (path, instance), raw in zip(
            self.model.abtest_entries(), self.native.get("abtests") or [], strict=True
        ):
            experiment = self.experiment(path, instance, raw, flags, used, audience_ids, audiences)
            if experiment is not None:
                experiments.append(experiment)
        for name, (path, _, _) in flags.items():
            if name not in used:
                self.add(
                    path,
                    f"flag {name!r} is no experiment's flag; the Experiments-API shape holds only "
                    "experiments (flags/<id> of workflows/abtest/instances/<id>)",
                )
        if self.problems:
            raise ConfigError(self.problems)
        return copy.deepcopy({"experiments": experiments, "audiences": audiences})

    def audience(self, path: str, segment: Segment, raw: Mapping[str, Any]) -> dict[str, Any]:
        if segment.allocation is not None:
            self.add(f"{path}.allocation", "an audience has no allocation")
        audience_id = segment.name.split("/", 1)[1]
        targeting = raw.get("targeting")
        return {
            "id": audience_id,
            "name": segment.display_name if segment.display_name is not None else audience_id,
            "targeting": dict(targeting) if isinstance(targeting, Mapping) else {},
        }

    def experiment(
        self,
        path: str,
        instance: AbTestInstance,
        raw: Mapping[str, Any],
        flags: dict[str, tuple[str, Flag, Mapping[str, Any]]],
        used: set[str],
        audience_ids: set[str],
        audiences: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        before = len(self.problems)
        experiment_id = instance.instance_id
        if instance.name != f"{INSTANCE_PREFIX}{experiment_id}":
            self.add(f"{path}.name", f"expected {INSTANCE_PREFIX}<id>, the Experiments-API id")
        flag_name = f"flags/{experiment_id}"
        for index, treatment in enumerate(instance.abtest.treatments):
            if not treatment.variant.startswith(f"{flag_name}/variants/"):
                self.add(
                    f"{path}.abtest.treatments[{index}].variant",
                    f"the Experiments-API shape names an experiment's flag after it: expected "
                    f"a variant of {flag_name!r}",
                )
                return None
            if treatment.weight % 100:
                self.add(
                    f"{path}.abtest.treatments[{index}].weight",
                    f"{treatment.weight} basis points is not a whole splitPercentage",
                )
        used.add(flag_name)
        flag_path, flag, raw_flag = flags[flag_name]
        values = self.values(flag_path, flag, raw_flag, instance)
        if instance.flags.targeting_key_selector != _SELECTOR:
            self.add(
                f"{path}.flags.targetingKeySelector",
                f"the Experiments-API shape buckets on {_SELECTOR!r} only",
            )
        self.check_segment(path, instance, experiment_id)
        if instance.treatment_overrides:
            self.add(f"{path}.treatmentOverrides", "the Experiments-API shape has no overrides")
        materialization = f"materializations/abtest-{experiment_id}"
        if instance.materialization not in (None, materialization):
            self.add(
                f"{path}.materialization",
                f"reading back names it {materialization!r}; the units it recorded would be lost",
            )
        for key in ("metrics", "stats", "labels"):
            if raw.get(key):
                self.add(key_path(path, key), f"the Experiments-API shape has no {key}")
        origin = raw.get("origin")
        fields: Mapping[str, Any] = {}
        if isinstance(origin, Mapping) and origin.get("format") == FORMAT:
            fields = origin.get("fields") or {}
            self.check_fields(f"{path}.origin.fields", fields)
        audience_id = self.audience_id(path, instance, raw, audience_ids, audiences)
        if len(self.problems) > before:
            return None
        return self.assemble(instance, raw, fields, audience_id, values, origin is not None)

    def values(
        self, flag_path: str, flag: Flag, raw_flag: Mapping[str, Any], instance: AbTestInstance
    ) -> dict[str, Mapping[str, Any]]:
        """Each variant's value by short name; problems for what the shape cannot hold."""
        if flag.state != "ACTIVE":
            self.add(f"{flag_path}.state", "an experiment's flag is ACTIVE")
        if flag.rules:
            self.add(f"{flag_path}.rules", "an experiment's flag has no rules of its own")
        if flag.clients:
            self.add(f"{flag_path}.clients", "the Experiments-API shape has no clients")
        treated = {short_variant_name(t.variant) for t in instance.abtest.treatments}
        values: dict[str, Mapping[str, Any]] = {}
        for index, (variant, raw) in enumerate(
            zip(flag.variants, raw_flag.get("variants") or [], strict=True)
        ):
            v_path = f"{flag_path}.variants[{index}]"
            short = short_variant_name(variant.name)
            if short not in treated:
                self.add(v_path, f"variant {short!r} is no treatment; an experiment has no other")
            value = raw.get("value", {})
            if not isinstance(value, Mapping):
                self.add(f"{v_path}.value", "an Experiments-API variant value is an object")
                continue
            for key in value:
                if key not in _VALUE_KEYS:
                    self.add(
                        key_path(f"{v_path}.value", key),
                        "an Experiments-API variant value has only name, flowId and config",
                    )
            if not isinstance(value.get("name"), str):
                self.add(f"{v_path}.value.name", "an Experiments-API variant needs a string name")
            if value.get("flowId") is not None and not isinstance(value["flowId"], str):
                self.add(f"{v_path}.value.flowId", "expected a string or null")
            if value.get("config") is not None and not isinstance(value["config"], Mapping):
                self.add(f"{v_path}.value.config", "expected an object or null")
            values[short] = value
        return values

    def check_segment(self, path: str, instance: AbTestInstance, experiment_id: str) -> None:
        segment = instance.segment
        if segment is None:
            return
        if segment.name not in (None, default_segment_name(experiment_id)):
            self.add(
                f"{path}.segment.name",
                "the Experiments-API shape buckets on segments/abtest-<id>; another segment "
                "would move every unit",
            )
        allocation = segment.allocation
        if allocation is not None and (
            allocation.proportion not in (None, 1.0)
            or allocation.bucket_ranges
            or allocation.exclusivity_tags
            or allocation.exclusive_to
        ):
            self.add(f"{path}.segment.allocation", "the Experiments-API shape has no allocation")

    def check_fields(self, path: str, fields: Mapping[str, Any]) -> None:
        for key, value in fields.items():
            if key == "variants":
                if not isinstance(value, Mapping) or not all(
                    isinstance(extras, Mapping)
                    and not any(name in _VARIANT_FIELDS for name in extras)
                    for extras in value.values()
                ):
                    self.add(
                        f"{path}.variants",
                        "expected {variant id: {field: value}} with fields other than "
                        + ", ".join(_VARIANT_FIELDS),
                    )
            elif key in _MAPPED and not (key in _NULLABLE and value is None):
                self.add(key_path(path, key), "this field comes from the native test, not origin")

    def audience_id(
        self,
        path: str,
        instance: AbTestInstance,
        raw: Mapping[str, Any],
        audience_ids: set[str],
        audiences: list[dict[str, Any]],
    ) -> str | None:
        """The audience the test targets: the segment its single segment criterion names, or
        an audience made of its targeting; ``None`` for everyone."""
        targeting = instance.segment.targeting if instance.segment is not None else None
        if targeting is None or targeting.expression is None:
            return None
        referenced = _single_reference(targeting)
        if referenced is not None and referenced.startswith("segments/"):
            audience_id = referenced.split("/", 1)[1]
            if audience_id in audience_ids:
                return audience_id
        audience_id = f"aud-{instance.instance_id}"
        if audience_id in audience_ids:
            self.add(
                f"{path}.segment.targeting",
                f"its targeting would become audience {audience_id!r}, which exists already",
            )
            return None
        audience_ids.add(audience_id)
        audiences.append(
            {
                "id": audience_id,
                "name": instance.display_name or instance.instance_id,
                "targeting": dict(raw["segment"]["targeting"]),
            }
        )
        return audience_id

    def assemble(
        self,
        instance: AbTestInstance,
        raw: Mapping[str, Any],
        fields: Mapping[str, Any],
        audience_id: str | None,
        values: dict[str, Mapping[str, Any]],
        has_origin: bool,
    ) -> dict[str, Any]:
        experiment: dict[str, Any] = {
            "id": instance.instance_id,
            "name": instance.display_name
            if instance.display_name is not None
            else instance.instance_id,
        }
        if instance.description is not None:
            experiment["description"] = instance.description
        elif "description" in fields:
            experiment["description"] = None
        if "type" in fields:
            experiment["type"] = fields["type"]
        elif not has_origin:
            experiment["type"] = "ab_test"
        experiment["status"] = experiments_api_status(instance)
        if audience_id is not None or "audienceId" in fields:
            experiment["audienceId"] = audience_id
        for source, native in _DATES:
            value = raw.get(native)
            if value is None and native == "startTime":
                value = raw.get("launchTime")
            if value is not None:
                experiment[source] = value
            elif source in fields or (not has_origin and native in ("startTime", "endTime")):
                experiment[source] = None
        extras = fields.get("variants") or {}
        variants = []
        for treatment in instance.abtest.treatments:
            variant_id = short_variant_name(treatment.variant)
            value = values[variant_id]
            variant: dict[str, Any] = {
                "id": variant_id,
                "name": value["name"],
                "splitPercentage": treatment.weight // 100,
            }
            variant.update((key, value[key]) for key in ("flowId", "config") if key in value)
            variant.update(extras.get(variant_id) or {})
            variants.append(variant)
        experiment["variants"] = variants
        experiment.update(
            (key, value)
            for key, value in fields.items()
            if key not in experiment and key != "variants"
        )
        return experiment


def _single_reference(targeting: Targeting) -> str | None:
    """The segment a targeting of exactly one segment criterion, referenced alone, names."""
    expression = targeting.expression
    if expression is None or expression.ref is None or len(targeting.criteria) != 1:
        return None
    criterion = targeting.criteria.get(expression.ref)
    if criterion is None or criterion.segment is None:
        return None
    return criterion.segment.segment
