"""The shapes other than native that ``python -m flagstone abtest --format`` edits: the
Experiments API's file and the Alexa skill A/B-testing API's file.

Each shape's reader, writer, create and update bodies and name rule live with the shape
(:mod:`flagstone.formats.experiments_api`, :mod:`flagstone.formats.alexa`); this module
gathers them for the command (:data:`SHAPES`) and maps a writer's problems, which name native
paths, onto the shape's experiments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import AbTestNotFound, ConfigError, Problem
from ..formats import alexa, experiments_api
from ..model.abtests import INSTANCE_PREFIX

__all__ = ["SHAPES", "Shape", "entry_of", "reshaped", "test_id_of", "written_in"]


@dataclass(frozen=True)
class Shape:
    """A shape other than native that a file may be kept in: its reader and writer, and
    what the command needs besides. Both shapes' files list their experiments under
    ``"experiments"``, in the order of the native document's ``abtests``."""

    format: str
    id_key: str
    """The key naming an experiment's id in its entry."""
    read: Callable[[Mapping[str, Any]], dict[str, Any]]
    write: Callable[[Mapping[str, Any]], dict[str, Any]]
    new_entry: Callable[[Mapping[str, Any], str, str, str], dict[str, Any]]
    """``(create body, id, now, path of the new entry)`` → the entry; ``ConfigError`` for a
    body that sets what the lifecycle sets."""
    update_entry: Callable[[Mapping[str, Any], Mapping[str, Any], str], dict[str, Any]]
    """``(entry, update body, path of the entry)`` → the updated entry (``ConfigError`` for
    fields it may not change)."""
    name_clashes: Callable[[Sequence[Mapping[str, Any]], int], list[Problem]]
    """``(entries, index)`` → a problem if the entry at ``index`` repeats another's name."""


SHAPES: dict[str, Shape] = {
    experiments_api.FORMAT: Shape(
        format=experiments_api.FORMAT,
        id_key="id",
        read=experiments_api.read,
        write=experiments_api.write,
        new_entry=experiments_api.create_experiment,
        update_entry=experiments_api.update_experiment,
        name_clashes=experiments_api.name_clashes,
    ),
    alexa.FORMAT: Shape(
        format=alexa.FORMAT,
        id_key="experimentId",
        read=alexa.read,
        write=alexa.write,
        new_entry=alexa.create_entry,
        update_entry=alexa.update_entry,
        name_clashes=alexa.name_clashes,
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


def test_id_of(instance: Mapping[str, Any]) -> str:
    """The experiment id of a native test (its JSON): the id in its name."""
    return str(instance["name"]).removeprefix(INSTANCE_PREFIX)


def reshaped(shape: Shape, written: dict[str, Any]) -> dict[str, Any]:
    """A document of the shape, after an edit of its entries, as the writer gives it back
    (read problems name paths in ``written``, i.e. in the file to be)."""
    return written_in(shape, shape.read(written))
