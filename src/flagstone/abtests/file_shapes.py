"""The shapes other than native that ``python -m flagstone abtest --format`` edits: seed
001's Experiments-API file and seed 002's Alexa file.

This module owns what the command needs of each shape besides its reader and writer (the
key naming an experiment's id, its create and update bodies, unique names) and the mapping
of a writer's problems, which name native paths, onto the shape's experiments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import AbTestNotFound, ConfigError, Problem
from ..formats import alexa, experiments_api
from ..model.paths import key_path
from .lifecycle import INSTANCE_PREFIX

__all__ = [
    "SHAPES",
    "Shape",
    "entry_of",
    "name_clashes",
    "reshaped",
    "test_id_of",
    "written_in",
]


@dataclass(frozen=True)
class Shape:
    """A shape other than native that a file may be kept in: its reader and writer, and
    what the command needs besides (the key naming an experiment's id, its create and
    update bodies). Both shapes' files list their experiments under ``"experiments"``, in
    the order of the native document's ``abtests``."""

    format: str
    id_key: str
    read: Callable[[Mapping[str, Any]], dict[str, Any]]
    write: Callable[[Mapping[str, Any]], dict[str, Any]]
    name_field: str
    """Where an entry holds its experiment's name (unique in a file): ``name`` or
    ``experiment.name``."""
    new_entry: Callable[[Mapping[str, Any], str, str, str], dict[str, Any]]
    """``(create body, id, now, path of the new entry)`` → the entry; ``ConfigError`` for a
    body that sets what the lifecycle sets."""
    update_entry: Callable[[dict[str, Any], Mapping[str, Any], str], None]
    """Apply an update body to an entry in place (``ConfigError`` for fields it may not
    change)."""


_EXPERIMENTS_API_SET_BY_LIFECYCLE = (
    "id",
    "status",
    "createdAt",
    "updatedAt",
    "startDate",
    "endDate",
)
"""Experiment fields a create or update body may not set: the id (``--id``), the status
(the lifecycle's commands) and the timestamps (the clock)."""
_ALEXA_UPDATABLE = ("description", "plannedDuration", "exposurePercentage", "metricConfigurations")
"""The fields of seed 002's Update A/B test (``POST …/properties``)."""
_ALEXA_SET_BY_LIFECYCLE = ("state", "history")
"""Experiment fields an Alexa create body may not set (the state commands and the clock set
them)."""


def _refuse(path: str, body: Mapping[str, Any], fields: Sequence[str], what: str) -> None:
    problems = [
        Problem(key_path(path, field), f"set by the lifecycle, not by {what}")
        for field in fields
        if field in body
    ]
    if problems:
        raise ConfigError(problems)


def _experiments_api_entry(
    body: Mapping[str, Any], experiment_id: str, now: str, path: str
) -> dict[str, Any]:
    """A draft experiment from seed 001's Create body; variants without ids get v1, v2, …"""
    _refuse(path, body, _EXPERIMENTS_API_SET_BY_LIFECYCLE, "a create body")
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


def _experiments_api_update(experiment: dict[str, Any], body: Mapping[str, Any], path: str) -> None:
    """Seed 001's PATCH: each field given replaces the experiment's (``variants`` whole)."""
    _refuse(path, body, _EXPERIMENTS_API_SET_BY_LIFECYCLE, "an update")
    experiment.update(body)


def _alexa_experiment(body: Mapping[str, Any], path: str, what: str) -> Mapping[str, Any]:
    """The ``experiment`` object of an Alexa request body ``{"experiment": {…}}``."""
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


def _alexa_entry(
    body: Mapping[str, Any], experiment_id: str, now: str, path: str
) -> dict[str, Any]:
    """A CREATED entry from seed 002's Create body ``{"experiment": {…}}``."""
    experiment = _alexa_experiment(body, path, "a create body")
    _refuse(f"{path}.experiment", experiment, _ALEXA_SET_BY_LIFECYCLE, "a create body")
    return {
        "experimentId": experiment_id,
        "experiment": {**experiment, "state": "CREATED", "history": {"creationTime": now}},
    }


def _alexa_update(entry: dict[str, Any], body: Mapping[str, Any], path: str) -> None:
    """Seed 002's Update A/B test: ``{"experiment": {…}}`` with any of its four fields."""
    changes = _alexa_experiment(body, path, "an update body")
    problems = [
        Problem(
            key_path(f"{path}.experiment", str(key)),
            "an update changes " + ", ".join(_ALEXA_UPDATABLE) + " only",
        )
        for key in changes
        if key not in _ALEXA_UPDATABLE
    ]
    if problems:
        raise ConfigError(problems)
    entry["experiment"].update(changes)


SHAPES: dict[str, Shape] = {
    experiments_api.FORMAT: Shape(
        format=experiments_api.FORMAT,
        id_key="id",
        read=experiments_api.read,
        write=experiments_api.write,
        name_field="name",
        new_entry=_experiments_api_entry,
        update_entry=_experiments_api_update,
    ),
    alexa.FORMAT: Shape(
        format=alexa.FORMAT,
        id_key="experimentId",
        read=alexa.read,
        write=alexa.write,
        name_field="experiment.name",
        new_entry=_alexa_entry,
        update_entry=_alexa_update,
    ),
}

_NATIVE_TEST = re.compile(r"\$\.abtests\[(\d+)\]")


def written_in(shape: Shape, native: Mapping[str, Any]) -> dict[str, Any]:
    """``shape.write(native)``; its problems, which name paths in the native document, are
    put at the experiment they concern (``$.experiments[i]``, the native path kept in the
    message), as the readers report native problems."""
    try:
        return shape.write(native)
    except ConfigError as error:
        problems = []
        for problem in error.problems:
            match = _NATIVE_TEST.match(problem.path)
            where = f"$.experiments[{match.group(1)}]" if match else "$"
            problems.append(Problem(where, f"{problem.message} (native {problem.path})"))
        raise ConfigError(problems) from None


def entry_of(shape: Shape, document: Mapping[str, Any], test_id: str) -> dict[str, Any]:
    """The experiment (Experiments API) or entry (Alexa) of ``test_id`` in a written
    document."""
    for entry in document["experiments"]:
        if entry.get(shape.id_key) == test_id:
            found: dict[str, Any] = entry
            return found
    raise AbTestNotFound(f"no experiment {test_id!r}")  # pragma: no cover - written just now


def _name(shape: Shape, entry: Mapping[str, Any]) -> Any:
    """The experiment name an entry holds (``None`` when it holds none)."""
    holder: Any = entry
    for key in shape.name_field.split("."):
        holder = holder.get(key) if isinstance(holder, Mapping) else None
    return holder


def test_id_of(instance: Mapping[str, Any]) -> str:
    return str(instance["name"]).removeprefix(INSTANCE_PREFIX)


def name_clashes(shape: Shape, entries: Sequence[Mapping[str, Any]], index: int) -> list[Problem]:
    """A problem if the experiment at ``index`` has the name of another (names are unique,
    as the seeds' names are; the lifecycle checks display names so)."""
    name = _name(shape, entries[index])
    return [
        Problem(
            f"$.experiments[{index}].{shape.name_field}",
            f"{name!r} is already the name of the experiment at $.experiments[{other}]",
        )
        for other, entry in enumerate(entries)
        if other != index and name is not None and _name(shape, entry) == name
    ]


def reshaped(shape: Shape, written: dict[str, Any]) -> dict[str, Any]:
    """A document of the shape, after an edit of its entries, as the writer gives it back
    (read problems name paths in ``written``, i.e. in the file to be)."""
    return written_in(shape, shape.read(written))
