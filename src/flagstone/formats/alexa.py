"""The shape of the Alexa skill A/B-testing API: read a file of Alexa experiments into a native
snapshot document, and write a native snapshot document back into that shape.

The file shape::

    {"experiments": [
        {"experimentId": "...",
         "experiment": {<the API's Get A/B test "experiment" object: name, description, type,
                         plannedDuration, exposurePercentage, metricConfigurations, state,
                         history {creationTime, startTime, stoppedReason},
                         trigger {scheduledEndTime}>},
         "treatmentOverrides": {"<unit>": "C" | "T1"}},
        ...]}

``read`` also takes one Alexa payload, ``{"experiment": {...}}``: a Get A/B test response, or
a Create A/B test request body, which has no ``state`` yet and reads as ``CREATED`` (the state
Create makes). Its ``experimentId`` is the experiment's name unless given beside it. ``write``
always gives the file shape.

``treatmentOverrides`` is flagstone's extension. Alexa's API sets one override, for the calling
customer (``PUT .../treatmentOverrides/~current``), and reports only how many exist
(``treatmentOverrideCount``); a file has no calling customer, so it lists the override of each
unit (the targeting key, e.g. a customer or device id). ``treatmentOverrideCount`` is derived
from that list, so it is never written; when a document carries one (in the entry or in the
experiment) it must agree with the list, and is then dropped.

The mapping (one Alexa experiment is one flag plus one A/B-test instance):

* flag ``flags/{name}`` with variants ``C`` and ``T1`` (named as a native snapshot names its
  variants, so ``Resolution.variant`` is ``C`` or ``T1`` whichever shape the test was written
  in), valued ``{"treatment": "C"}`` and ``{"treatment": "T1"}``;
* instance ``workflows/abtest/instances/{experimentId}`` (so it buckets on the salt
  ``abtest-{experimentId}``) with treatments ``flags/{name}/variants/C`` and ``…/T1`` at 5000
  basis points each, targeting key
  ``targeting_key``, ``displayName`` = name, ``description``,
  ``segment.allocation.proportion`` = exposurePercentage / 100, ``createTime`` =
  ``history.creationTime``, ``launchTime`` = ``history.startTime``, ``endTime`` =
  ``trigger.scheduledEndTime`` (the test stops serving then), ``treatmentOverrides``;
* state and ``preview`` from ``flagstone.model.states.ALEXA_STATES``: CREATED is a draft
  that serves nobody, not even its overrides; ENABLING and ENABLED are drafts that serve their
  overrides; RUNNING is live; STOPPING, STOPPED and FAILED are ended;
* ``origin``: ``{"format": "alexa", "state": <the Alexa state>, "fields": {...}}`` keeps what has
  no native meaning: ``type``, ``plannedDuration``, ``metricConfigurations``, the rest of
  ``history`` (``stoppedReason``), ``trigger`` whole (so the scheduled end survives a test
  ended natively, which stamps ``endTime`` with the moment it ended), and any other field of
  the experiment object.

``create_entry`` and ``update_entry`` apply the API's Create and Update A/B test bodies to an
entry of the file shape (the ``abtest --format alexa`` command's ``create`` and ``update``);
``name_clashes`` finds a repeated name.

Alexa's "C for everyone else" is the application's default: units outside the exposure get
``RESOLVE_REASON_NO_SEGMENT_MATCH`` and no variant.

Bad input raises ``ConfigError`` naming every problem with its JSON path in the document given:
the Alexa document for ``read``, the native document for ``write`` (which refuses native tests
the Alexa shape cannot express, such as other treatments or weights, targeting, or a
proportion that is not a whole percentage). For any valid document ``doc`` in the file shape,
``write(read(doc)) == doc``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigError, Problem
from ..model import AbTestInstance, Flag
from ..model.abtests import INSTANCE_PREFIX
from ..model.paths import key_path
from ..model.states import ALEXA_STATES, alexa_state
from ..model.validation import short_variant_name
from ..semantics.scalars import parse_timestamp_ns
from .native import parse_snapshot

__all__ = [
    "ABTEST_TYPES",
    "EXPECTED_CHANGES",
    "FORMAT",
    "METRIC_TYPES",
    "TREATMENT_IDS",
    "UPDATABLE",
    "create_entry",
    "name_clashes",
    "read",
    "treatment_override_count",
    "update_entry",
    "write",
]

FORMAT: Final = "alexa"
"""``origin.format`` of a native test read from this shape."""
TREATMENT_IDS: Final = ("C", "T1")
"""Alexa's treatments, control then treatment, in the order their bucket ranges take."""
ABTEST_TYPES: Final = ("ENDPOINT_BASED",)
"""The experiment ``type`` values the Alexa API allows (the first is written for a test that
was not read from this shape)."""
METRIC_TYPES: Final = ("KEY", "GUARDRAIL")
"""``metricConfigurations[].metricTypes`` values."""
EXPECTED_CHANGES: Final = ("INCREASE", "DECREASE")
"""``metricConfigurations[].expectedChange`` values."""

UPDATABLE: Final = ("description", "plannedDuration", "exposurePercentage", "metricConfigurations")
"""The fields of the Alexa API's Update A/B test (``POST …/properties``)."""
_SET_BY_LIFECYCLE: Final = ("state", "history")
"""Experiment fields a Create body may not set (the state commands and the clock set them)."""

_WEIGHT: Final = 5000
_SELECTOR: Final = "targeting_key"
_PLANNED_DURATION: Final = re.compile(r"P[1-4]W")
_NAME_LENGTH: Final = 255
_METRIC_NAME_LENGTH: Final = 125
_PERCENT_TOLERANCE: Final = 1e-9

_ENTRY_KEYS: Final = ("experimentId", "experiment", "treatmentOverrides", "treatmentOverrideCount")
_REQUIRED: Final = (
    "name",
    "description",
    "type",
    "plannedDuration",
    "exposurePercentage",
    "metricConfigurations",
    "state",
)
_EXPERIMENT_ORDER: Final = (*_REQUIRED, "history", "trigger")
"""The experiment object's keys in the API's order; other keys follow in their own order."""
_NATIVE_FIELDS: Final = ("name", "description", "exposurePercentage", "state")
"""Experiment fields the native test itself carries (never kept in ``origin.fields``)."""
_NATIVE_HISTORY: Final = ("creationTime", "startTime")
_COUNT: Final = "treatmentOverrideCount"

_INSTANCE_KEYS: Final = frozenset(
    {
        "name",
        "displayName",
        "description",
        "state",
        "preview",
        "flags",
        "abtest",
        "segment",
        "treatmentOverrides",
        "createTime",
        "updateTime",
        "launchTime",
        "endTime",
        "origin",
        "intake",
    }
)
"""Native instance fields the Alexa shape can express (``updateTime`` is bookkeeping that
every lifecycle action stamps; the shape has no place for it and the writer drops it)."""
_FLAG_KEYS: Final = frozenset({"name", "state", "variants", "rules", "clients"})
_DOCUMENT_KEYS: Final = frozenset({"flags", "abtests"})


def treatment_override_count(test: Mapping[str, Any]) -> int:
    """Alexa's ``treatmentOverrideCount`` of a test: the number of units in its
    ``treatmentOverrides`` (an entry of the file shape or a native instance, both spell it
    so)."""
    overrides = test.get("treatmentOverrides")
    return len(overrides) if isinstance(overrides, Mapping) else 0


# -- reading ------------------------------------------------------------------------------------


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(path, message))

    def raise_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def read(document: Mapping[str, Any]) -> dict[str, Any]:
    """The native snapshot document (JSON-ready) of an Alexa document: the file shape
    ``{"experiments": [...]}`` or one ``{"experiment": {...}}`` payload (see the module
    docstring). Raises ``ConfigError`` naming every problem with its path in ``document``."""
    problems = _Problems()
    flags: dict[str, Any] = {}
    abtests: list[dict[str, Any]] = []
    names: set[str] = set()
    ids: set[str] = set()
    for path, entry, file_form in _entries(document, problems):
        converted = _read_entry(path, entry, file_form, problems, names, ids)
        if converted is not None:
            flag, instance = converted
            flags[flag["name"]] = flag
            abtests.append(instance)
    problems.raise_any()
    return {"flags": flags, "abtests": abtests}


def _entries(document: Any, problems: _Problems) -> Iterator[tuple[str, Any, bool]]:
    """``(path, entry, in the file form)`` of each experiment of the document."""
    if not isinstance(document, Mapping):
        problems.add("$", 'an Alexa document is a JSON object: {"experiments": [...]}')
        return
    if "experiments" in document:
        for key in document:
            if key != "experiments":
                problems.add(key_path("$", str(key)), "unknown field")
        experiments = document["experiments"]
        if not isinstance(experiments, list):
            problems.add("$.experiments", "expected a list of experiments")
            return
        for index, entry in enumerate(experiments):
            yield f"$.experiments[{index}]", entry, True
    elif "experiment" in document:
        yield "$", document, False
    else:
        problems.add(
            "$",
            'expected {"experiments": [...]} or one Get A/B test response {"experiment": {...}}',
        )


def _read_entry(
    path: str,
    entry: Any,
    file_form: bool,
    problems: _Problems,
    names: set[str],
    ids: set[str],
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    if not isinstance(entry, Mapping):
        problems.add(path, "expected an object")
        return None
    for key in entry:
        if key not in _ENTRY_KEYS:
            problems.add(key_path(path, str(key)), "unknown field")
    experiment = _read_experiment(
        f"{path}.experiment", entry.get("experiment"), file_form, problems
    )
    if experiment is not None and experiment.name in names:
        problems.add(
            f"{path}.experiment.name",
            f"another experiment is named {experiment.name!r}; names are unique",
        )
        experiment = None
    if experiment is not None:
        names.add(experiment.name)

    experiment_id: str | None = None
    if "experimentId" in entry:
        experiment_id = _experiment_id(f"{path}.experimentId", entry["experimentId"], problems)
    elif file_form:
        problems.add(f"{path}.experimentId", "required field is missing")
    elif experiment is not None:
        experiment_id = _experiment_id(f"{path}.experiment.name", experiment.name, problems)
    if experiment_id is not None and experiment_id in ids:
        problems.add(f"{path}.experimentId", f"experiment id {experiment_id!r} is used twice")
        experiment_id = None
    if experiment_id is not None:
        ids.add(experiment_id)

    overrides = _read_overrides(path, entry, problems)
    if experiment is None or experiment_id is None or overrides is None:
        return None
    return _native_test(experiment_id, experiment, entry, overrides)


def _experiment_id(path: str, value: Any, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(path, "expected a string")
        return None
    if not value or "/" in value:
        problems.add(
            path,
            f"{value!r} cannot be an experiment id: it names the native test "
            f"{INSTANCE_PREFIX}<id>, so it is not empty and has no '/'",
        )
        return None
    return value


def _read_overrides(
    path: str, entry: Mapping[str, Any], problems: _Problems
) -> dict[str, str] | None:
    overrides: dict[str, str] = {}
    ok = True
    raw = entry.get("treatmentOverrides", {})
    o_path = f"{path}.treatmentOverrides"
    if not isinstance(raw, Mapping):
        problems.add(o_path, "expected an object: unit → C or T1")
        raw, ok = {}, False
    for unit, treatment in raw.items():
        if treatment not in TREATMENT_IDS:
            problems.add(key_path(o_path, str(unit)), f"{treatment!r} is not a treatment (C or T1)")
            ok = False
        else:
            overrides[unit] = treatment
    counts = [(path, entry)]
    experiment = entry.get("experiment")
    if isinstance(experiment, Mapping):
        counts.append((f"{path}.experiment", experiment))
    for holder_path, holder in counts:
        if _COUNT in holder:
            count = holder[_COUNT]
            c_path = f"{holder_path}.{_COUNT}"
            if not _is_int(count) or count < 0:
                problems.add(c_path, "expected a whole number >= 0")
                ok = False
            elif ok and count != len(raw):
                problems.add(
                    c_path,
                    f"{count} overrides counted, but treatmentOverrides lists {len(raw)} "
                    "(the count is derived from the list; leave it out)",
                )
                ok = False
    return overrides if ok else None


@dataclass
class _Experiment:
    name: str
    description: str
    exposure: int
    state: str
    creation_time: str | None
    start_time: str | None
    scheduled_end_time: str | None
    fields: dict[str, Any]


def _read_experiment(
    path: str, experiment: Any, file_form: bool, problems: _Problems
) -> _Experiment | None:
    if experiment is None:
        problems.add(path, "required field is missing")
        return None
    if not isinstance(experiment, Mapping):
        problems.add(path, "expected an object")
        return None
    before = len(problems.items)
    for key in _REQUIRED:
        if key not in experiment and (file_form or key != "state"):
            problems.add(f"{path}.{key}", "required field is missing")
    name: Any = experiment.get("name")
    if "name" in experiment:
        _check_name(f"{path}.name", name, problems)
    description: Any = experiment.get("description")
    if "description" in experiment and not isinstance(description, str):
        problems.add(f"{path}.description", "expected a string")
    exposure: Any = experiment.get("exposurePercentage")
    if "exposurePercentage" in experiment:
        _check_exposure(f"{path}.exposurePercentage", exposure, problems)
    state = experiment.get("state", "CREATED")
    if not isinstance(state, str) or state not in ALEXA_STATES:
        problems.add(
            f"{path}.state", f"{state!r} is not an A/B test state ({', '.join(ALEXA_STATES)})"
        )
    _check_kept_fields(path, experiment, problems)
    history = experiment.get("history")
    creation_time = start_time = None
    if isinstance(history, Mapping):
        creation_time = _timestamp(
            f"{path}.history.creationTime", history, "creationTime", problems
        )
        start_time = _timestamp(f"{path}.history.startTime", history, "startTime", problems)
    trigger = experiment.get("trigger")
    scheduled_end_time = None
    if isinstance(trigger, Mapping):
        scheduled_end_time = trigger.get("scheduledEndTime")
    if len(problems.items) > before:
        return None
    return _Experiment(
        name=name,
        description=description,
        exposure=exposure,
        state=state,
        creation_time=creation_time,
        start_time=start_time,
        scheduled_end_time=scheduled_end_time,
        fields=_origin_fields(experiment),
    )


def _origin_fields(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment's fields with no native meaning, in the API's order then their own."""
    fields: dict[str, Any] = {}
    for key in ("type", "plannedDuration", "metricConfigurations"):
        fields[key] = copy.deepcopy(experiment[key])
    history = experiment.get("history")
    if history is not None:
        rest = {k: copy.deepcopy(v) for k, v in history.items() if k not in _NATIVE_HISTORY}
        if rest or not history:
            fields["history"] = rest
    if "trigger" in experiment:
        fields["trigger"] = copy.deepcopy(experiment["trigger"])
    for key, value in experiment.items():
        if key not in _EXPERIMENT_ORDER and key != _COUNT:
            fields[key] = copy.deepcopy(value)
    return fields


def _native_test(
    experiment_id: str,
    experiment: _Experiment,
    entry: Mapping[str, Any],
    overrides: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    flag_name = f"flags/{experiment.name}"
    flag = {
        "name": flag_name,
        "variants": [  # named as a native snapshot names them: Resolution.variant is C or T1
            {"name": treatment, "value": {"treatment": treatment}} for treatment in TREATMENT_IDS
        ],
    }
    state, preview = ALEXA_STATES[experiment.state]
    instance: dict[str, Any] = {
        "name": f"{INSTANCE_PREFIX}{experiment_id}",
        "displayName": experiment.name,
        "description": experiment.description,
        "state": state,
        "preview": preview,
        "flags": {"targetingKeySelector": _SELECTOR},
        "abtest": {
            "treatments": [
                {"variant": f"{flag_name}/variants/{treatment}", "weight": _WEIGHT}
                for treatment in TREATMENT_IDS
            ]
        },
        "segment": {"allocation": {"proportion": experiment.exposure / 100}},
    }
    if "treatmentOverrides" in entry:
        instance["treatmentOverrides"] = overrides
    for key, value in (
        ("createTime", experiment.creation_time),
        ("launchTime", experiment.start_time),
        ("endTime", experiment.scheduled_end_time),
    ):
        if value is not None:
            instance[key] = value
    instance["origin"] = {"format": FORMAT, "state": experiment.state, "fields": experiment.fields}
    return flag, instance


# -- field checks (shared by the reader and the writer) -----------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_name(path: str, value: Any, problems: _Problems) -> None:
    if not isinstance(value, str):
        problems.add(path, "expected a string")
    elif not 1 <= len(value) <= _NAME_LENGTH:
        problems.add(path, f"a name has 1 to {_NAME_LENGTH} characters, not {len(value)}")
    elif "/" in value:
        problems.add(
            path, f"{value!r} cannot be a flag id: the test's flag is flags/<name>, with no '/'"
        )


def _check_exposure(path: str, value: Any, problems: _Problems) -> None:
    if not _is_int(value):
        problems.add(path, f"{value!r} is not a whole percentage (an integer from 0 to 100)")
    elif not 0 <= value <= 100:
        problems.add(path, f"{value} is outside 0 to 100")


def _check_kept_fields(path: str, fields: Mapping[str, Any], problems: _Problems) -> None:
    """``type``, ``plannedDuration``, ``metricConfigurations``, ``history`` and ``trigger`` as
    far as they are present (the same checks for an experiment and for ``origin.fields``)."""
    if "type" in fields:
        kind = fields["type"]
        if kind not in ABTEST_TYPES:
            problems.add(
                f"{path}.type", f"{kind!r} is not an A/B test type ({', '.join(ABTEST_TYPES)})"
            )
    if "plannedDuration" in fields:
        duration = fields["plannedDuration"]
        if not isinstance(duration, str) or not _PLANNED_DURATION.fullmatch(duration):
            problems.add(
                f"{path}.plannedDuration",
                f"{duration!r} is not a planned duration of 1 to 4 weeks (P1W to P4W)",
            )
    if "metricConfigurations" in fields:
        _check_metrics(f"{path}.metricConfigurations", fields["metricConfigurations"], problems)
    if "history" in fields:
        history = fields["history"]
        if not isinstance(history, Mapping):
            problems.add(f"{path}.history", "expected an object")
        elif "stoppedReason" in history and not isinstance(history["stoppedReason"], str):
            problems.add(f"{path}.history.stoppedReason", "expected a string")
    if "trigger" in fields:
        trigger = fields["trigger"]
        if not isinstance(trigger, Mapping):
            problems.add(f"{path}.trigger", "expected an object")
        else:
            _timestamp(f"{path}.trigger.scheduledEndTime", trigger, "scheduledEndTime", problems)


def _check_metrics(path: str, metrics: Any, problems: _Problems) -> None:
    if not isinstance(metrics, list):
        problems.add(path, "expected a list of metric configurations")
        return
    names: set[str] = set()
    for index, metric in enumerate(metrics):
        m_path = f"{path}[{index}]"
        if not isinstance(metric, Mapping):
            problems.add(m_path, "expected an object")
            continue
        for key in ("name", "metricTypes", "expectedChange"):
            if key not in metric:
                problems.add(f"{m_path}.{key}", "required field is missing")
        name = metric.get("name")
        if "name" in metric:
            if not isinstance(name, str):
                problems.add(f"{m_path}.name", "expected a string")
            elif not 1 <= len(name) <= _METRIC_NAME_LENGTH:
                problems.add(
                    f"{m_path}.name",
                    f"a metric name has 1 to {_METRIC_NAME_LENGTH} characters, not {len(name)}",
                )
            elif name in names:
                problems.add(f"{m_path}.name", f"metric {name!r} is configured twice")
            else:
                names.add(name)
        kinds = metric.get("metricTypes")
        if "metricTypes" in metric:
            if not isinstance(kinds, list) or not kinds:
                problems.add(f"{m_path}.metricTypes", "expected a non-empty list of KEY, GUARDRAIL")
            else:
                for k_index, kind in enumerate(kinds):
                    if kind not in METRIC_TYPES:
                        problems.add(
                            f"{m_path}.metricTypes[{k_index}]",
                            f"{kind!r} is not a metric type ({', '.join(METRIC_TYPES)})",
                        )
        if "expectedChange" in metric and metric["expectedChange"] not in EXPECTED_CHANGES:
            problems.add(
                f"{m_path}.expectedChange",
                f"{metric['expectedChange']!r} is not an expected change "
                f"({', '.join(EXPECTED_CHANGES)})",
            )


def _timestamp(path: str, holder: Mapping[str, Any], key: str, problems: _Problems) -> str | None:
    if key not in holder:
        return None
    value = holder[key]
    if not isinstance(value, str) or parse_timestamp_ns(value) is None:
        problems.add(path, f"{value!r} is not an ISO 8601 timestamp (YYYY-MM-DDThh:mm:ssZ)")
        return None
    return value


# -- the seed's create and update bodies ---------------------------------------------------------


def create_entry(
    body: Mapping[str, Any], experiment_id: str, now: str, path: str = "$"
) -> dict[str, Any]:
    """A CREATED entry ``experiment_id`` of the file shape from the Alexa API's Create A/B test
    body ``{"experiment": {…}}``, created ``now``. ``ConfigError`` (at ``path``, where the
    entry is to stand) for another body or one that sets ``state`` or ``history``."""
    experiment = _request_experiment(body, path, "a create body")
    problems = [
        Problem(key_path(f"{path}.experiment", field), "set by the lifecycle, not by a create body")
        for field in _SET_BY_LIFECYCLE
        if field in experiment
    ]
    if problems:
        raise ConfigError(problems)
    return {
        "experimentId": experiment_id,
        "experiment": {**experiment, "state": "CREATED", "history": {"creationTime": now}},
    }


def update_entry(
    entry: Mapping[str, Any], body: Mapping[str, Any], path: str = "$"
) -> dict[str, Any]:
    """``entry`` (of the file shape) after the Alexa API's Update A/B test body ``{"experiment":
    {…}}``, which changes only the :data:`UPDATABLE` fields (``ConfigError`` at ``path``
    for others)."""
    changes = _request_experiment(body, path, "an update body")
    problems = [
        Problem(
            key_path(f"{path}.experiment", str(key)),
            "an update changes " + ", ".join(UPDATABLE) + " only",
        )
        for key in changes
        if key not in UPDATABLE
    ]
    if problems:
        raise ConfigError(problems)
    return {**entry, "experiment": {**entry["experiment"], **changes}}


def name_clashes(entries: Sequence[Mapping[str, Any]], index: int) -> list[Problem]:
    """A problem if the experiment of the entry at ``index`` of a file's ``experiments`` has
    the name of another's (names are unique, as the API's names are)."""

    def name_of(entry: Mapping[str, Any]) -> Any:
        experiment = entry.get("experiment")
        return experiment.get("name") if isinstance(experiment, Mapping) else None

    name = name_of(entries[index])
    return [
        Problem(
            f"$.experiments[{index}].experiment.name",
            f"{name!r} is already the name of the experiment at $.experiments[{other}]",
        )
        for other, entry in enumerate(entries)
        if other != index and name is not None and name_of(entry) == name
    ]


def _request_experiment(body: Mapping[str, Any], path: str, what: str) -> Mapping[str, Any]:
    """The ``experiment`` object of a request body ``{"experiment": {…}}``."""
    problems = [
        Problem(key_path(path, str(key)), f'unknown field ({what} is {{"experiment": {{...}}}})')
        for key in body
        if key != "experiment"
    ]
    experiment = body.get("experiment")
    if "experiment" not in body:
        problems.append(Problem(f"{path}.experiment", "required field is missing"))
    elif not isinstance(experiment, Mapping):
        problems.append(Problem(f"{path}.experiment", "expected an object"))
    if problems:
        raise ConfigError(problems)
    assert isinstance(experiment, Mapping)
    return experiment


# -- writing ------------------------------------------------------------------------------------


def write(native: Mapping[str, Any]) -> dict[str, Any]:
    """The file shape ``{"experiments": [...]}`` of a native snapshot document whose tests and
    flags the Alexa shape can express (one flag ``flags/{name}`` with variants C and T1 per
    test, treated 50/50, exposure a whole percentage). The document is validated first;
    ``ConfigError`` names every problem with its path in ``native``."""
    parsed = parse_snapshot(native)
    snapshot = parsed.model
    problems = _Problems()
    for key, value in native.items():
        if key not in _DOCUMENT_KEYS and value not in (None, {}, []):
            problems.add(key_path("$", str(key)), f"the Alexa shape has no place for {key}")
    raw_flags = native.get("flags") or {}
    raw_flag_items = raw_flags.values() if isinstance(raw_flags, Mapping) else raw_flags
    flags = {
        flag.name: (path, flag, raw)
        for (path, _, flag), raw in zip(snapshot.flag_entries(), raw_flag_items, strict=True)
    }
    used: dict[str, str] = {}
    claimed: set[str] = set()
    experiments = []
    raw_tests = native.get("abtests") or []
    for (path, instance), raw in zip(snapshot.abtest_entries(), raw_tests, strict=True):
        if instance.flag is not None:  # always, in a valid document
            claimed.add(instance.flag)
        entry = _write_test(path, instance, raw, problems)
        if entry is None:
            continue
        flag_name = f"flags/{entry['experiment']['name']}"
        if flag_name in used:
            problems.add(
                f"{path}.abtest.treatments",
                f"{flag_name!r} is already the flag of the test at {used[flag_name]}: an Alexa "
                "experiment has a flag of its own, named after it",
            )
            continue
        used[flag_name] = path
        flag_path, flag, raw_flag = flags[flag_name]
        _check_flag(flag_path, flag, raw_flag, problems)
        experiments.append(entry)
    for name, (flag_path, _, _) in flags.items():
        if name not in claimed:
            problems.add(
                flag_path,
                "the Alexa shape has flags only as the flags of its experiments, and no test "
                "uses this one",
            )
    problems.raise_any()
    return {"experiments": experiments}


def _write_test(
    path: str, instance: AbTestInstance, raw: Mapping[str, Any], problems: _Problems
) -> dict[str, Any] | None:
    before = len(problems.items)
    for key, value in raw.items():
        if key not in _INSTANCE_KEYS and value is not None:
            problems.add(key_path(path, key), f"the Alexa shape has no place for {key}")
    if instance.intake != "open":
        problems.add(f"{path}.intake", "the Alexa shape has no paused intake")
    experiment_id = instance.name.removeprefix(INSTANCE_PREFIX)
    if not instance.name.startswith(INSTANCE_PREFIX) or "/" in experiment_id:
        problems.add(f"{path}.name", f"the Alexa shape needs a name {INSTANCE_PREFIX}<id>")
    if instance.flags.targeting_key_selector != _SELECTOR:
        problems.add(
            f"{path}.flags.targetingKeySelector",
            f"the Alexa shape buckets on {_SELECTOR}, not "
            f"{instance.flags.targeting_key_selector!r}",
        )
    name = _flag_id(path, instance, problems)
    if name is not None and instance.display_name not in (None, name):
        problems.add(
            f"{path}.displayName",
            f"an Alexa experiment has one name, its flag's id {name!r}; the display name "
            f"{instance.display_name!r} differs",
        )
    exposure = _exposure(path, instance, problems)
    fields = _kept_fields(path, raw, problems)
    if len(problems.items) > before or name is None or exposure is None:
        return None

    experiment: dict[str, Any] = {
        "name": name,
        "description": instance.description or "",
        "type": fields.get("type", ABTEST_TYPES[0]),
        "plannedDuration": fields["plannedDuration"],
        "exposurePercentage": exposure,
        "metricConfigurations": fields["metricConfigurations"],
        "state": alexa_state(instance),
    }
    history: dict[str, Any] = {}
    if instance.create_time is not None:
        history["creationTime"] = instance.create_time
    if instance.launch_time is not None:
        history["startTime"] = instance.launch_time
    history.update(fields.get("history", {}))
    if history or "history" in fields:
        experiment["history"] = history
    trigger = _trigger(instance, fields)
    if trigger is not None:
        experiment["trigger"] = trigger
    for key, value in fields.items():
        if key not in _EXPERIMENT_ORDER:
            experiment[key] = value

    entry: dict[str, Any] = {"experimentId": experiment_id, "experiment": experiment}
    if "treatmentOverrides" in raw:
        entry["treatmentOverrides"] = {
            unit: short_variant_name(variant)
            for unit, variant in instance.treatment_overrides.items()
        }
    return entry


def _flag_id(path: str, instance: AbTestInstance, problems: _Problems) -> str | None:
    """The id of the test's flag when its treatments are C then T1 at 5000 each."""
    treatments = instance.abtest.treatments
    shape = [(short_variant_name(t.variant), t.weight) for t in treatments]
    if shape != [(treatment, _WEIGHT) for treatment in TREATMENT_IDS]:
        problems.add(
            f"{path}.abtest.treatments",
            "the Alexa shape has two treatments, C then T1, at 5000 basis points each",
        )
        return None
    flag_id = (instance.flag or "").removeprefix("flags/")
    before = len(problems.items)
    _check_name(f"{path}.abtest.treatments[0].variant", flag_id, problems)
    return flag_id if len(problems.items) == before else None


def _exposure(path: str, instance: AbTestInstance, problems: _Problems) -> int | None:
    segment = instance.segment
    if segment is None:
        return 100
    s_path = f"{path}.segment"
    if segment.name is not None:
        problems.add(
            f"{s_path}.name", "the Alexa shape buckets on abtest-<experiment id>, not a segment"
        )
    if segment.targeting is not None:
        problems.add(f"{s_path}.targeting", "the Alexa shape has no targeting")
    allocation = segment.allocation
    if allocation is None:
        return 100
    a_path = f"{s_path}.allocation"
    for key, value in (
        ("exclusivityTags", allocation.exclusivity_tags),
        ("exclusiveTo", allocation.exclusive_to),
        ("bucketRanges", allocation.bucket_ranges),
    ):
        if value:
            problems.add(f"{a_path}.{key}", f"the Alexa shape has no {key}")
    if allocation.proportion is None:
        return 100
    percent = allocation.proportion * 100
    whole = round(percent)
    if abs(percent - whole) > _PERCENT_TOLERANCE:
        problems.add(
            f"{a_path}.proportion",
            f"{allocation.proportion!r} is not a whole percentage (exposurePercentage is an "
            "integer from 0 to 100)",
        )
        return None
    return whole


def _kept_fields(path: str, raw: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    """The Alexa fields kept in ``origin.fields`` (none for a test of another origin),
    checked as the reader checks them."""
    origin = raw.get("origin")
    if not isinstance(origin, Mapping) or origin.get("format") != FORMAT:
        fields: dict[str, Any] = {}
    else:
        fields = copy.deepcopy(dict(origin.get("fields") or {}))
    f_path = f"{path}.origin.fields"
    for key in (*_NATIVE_FIELDS, _COUNT):
        if key in fields:
            problems.add(
                key_path(f_path, key),
                f"{key} is written from the native test, not kept in origin.fields",
            )
    for key in ("plannedDuration", "metricConfigurations"):
        if key not in fields:
            problems.add(
                key_path(f_path, key),
                f"the Alexa shape needs {key}, which has no native meaning: keep it here",
            )
    _check_kept_fields(f_path, fields, problems)
    history = fields.get("history")
    if isinstance(history, Mapping):
        for key, native_key in zip(_NATIVE_HISTORY, ("createTime", "launchTime"), strict=True):
            if key in history:
                problems.add(
                    f"{f_path}.history.{key}",
                    f"history.{key} is written from the native {native_key}, not kept in "
                    "origin.fields",
                )
    return fields


def _trigger(instance: AbTestInstance, fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The kept ``trigger`` with the native ``endTime`` as its ``scheduledEndTime`` while the
    test is a draft or live (where the end time is still a schedule). Once it has ended, the
    kept trigger stays as it was, and a test without one gets none: a native end stamps
    ``endTime`` with the moment the test ended, which Alexa does not record."""
    kept = fields.get("trigger")
    if instance.state in ("ended", "archived"):
        return None if kept is None else dict(kept)
    trigger = dict(kept or {})
    trigger.pop("scheduledEndTime", None)
    if instance.end_time is not None:
        trigger = {"scheduledEndTime": instance.end_time, **trigger}
    if trigger or kept is not None:
        return trigger
    return None


def _check_flag(path: str, flag: Flag, raw: Mapping[str, Any], problems: _Problems) -> None:
    for key, value in raw.items():
        if key not in _FLAG_KEYS and value is not None:
            problems.add(key_path(path, key), f"the Alexa shape has no place for a flag's {key}")
    if flag.state != "ACTIVE":
        problems.add(f"{path}.state", "the Alexa shape has no archived flags")
    if flag.rules:
        problems.add(f"{path}.rules", "the Alexa shape has no rules of a flag's own")
    if flag.clients:
        problems.add(f"{path}.clients", "the Alexa shape has no clients")
    short_names = sorted(short_variant_name(variant.name) for variant in flag.variants)
    if short_names != sorted(TREATMENT_IDS):
        problems.add(f"{path}.variants", "the Alexa shape has exactly the variants C and T1")
    raw_variants = raw.get("variants") or []
    for index, (variant, raw_variant) in enumerate(zip(flag.variants, raw_variants, strict=True)):
        v_path = f"{path}.variants[{index}]"
        for key, value in raw_variant.items():
            if key not in ("name", "value") and value is not None:
                problems.add(
                    key_path(v_path, key), f"the Alexa shape has no place for a variant's {key}"
                )
        treatment = short_variant_name(variant.name)
        if treatment in TREATMENT_IDS and variant.value != {"treatment": treatment}:
            problems.add(
                f"{v_path}.value",
                f'the Alexa shape fixes the value of {treatment} to {{"treatment": "{treatment}"}}',
            )
