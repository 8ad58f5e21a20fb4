"""A snapshot document as the lifecycle's transitions take and give it, and the one place a
changed test is validated.

A :class:`Document` is the JSON of a snapshot (``raw``) together with the typed ``Snapshot``
it validated into. It is parsed and validated once, whole (:meth:`Document.parse`); after
that a transition changes one test, and :func:`put_test` / :func:`remove_test` validate only
what that change can affect: the test's own JSON through the instance ``TypeAdapter``, then
:func:`flagstone.model.validation.check_abtest_change` (its names, flag and variants,
targeting, allocation, exclusive overlaps, schedule, and whatever referenced a segment it let
go of). The rest was validated when the document was parsed and has not changed.

Every change makes a new version: an explicit top-level ``version`` is advanced by
:func:`flagstone.abtests.version.next_version` (without one, the snapshot's version is a hash
of its content, which changes by itself).

Nothing is changed in place: the new document shares with the old every test, flag and
value the change did not touch, which is also how :func:`flagstone.abtests.storage.
patch_document` knows what to leave byte for byte as it was.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import AbTestNotFound, ConfigError
from ..formats.native import translate_validation_error
from ..formats.reading import parse_snapshot
from ..model.abtests import ABTEST_INSTANCE, INSTANCE_PREFIX, AbTestInstance
from ..model.snapshot import Snapshot
from ..model.states import NATIVE, SHAPE_NAMES
from ..model.validation import abtest_segment_name, check_abtest_change
from .version import next_version

__all__ = [
    "Change",
    "Document",
    "full_name",
    "put_test",
    "remove_test",
    "test_path",
    "unknown_test",
    "validate_test",
]

logger = logging.getLogger("flagstone")


@dataclass(frozen=True)
class Document:
    """A valid snapshot: its JSON (``raw``, never changed in place) and its typed ``model``,
    validated in the ``strict`` mode (see ``flagstone.formats.parse_snapshot``).

    ``shape`` is the API whose rules the transitions follow and whose words their refusals
    use: ``"native"`` (the Confidence A/B-test API's states), or ``"alexa"`` /
    ``"experiments-api"`` for the tests of a file kept in that shape, read into this
    document (see ``flagstone.model.states``)."""

    raw: Mapping[str, Any]
    model: Snapshot
    strict: bool = True
    shape: str = NATIVE

    @classmethod
    def parse(
        cls,
        raw: Mapping[str, Any],
        *,
        strict: bool = True,
        source: str | None = None,
        shape: str = NATIVE,
    ) -> Document:
        """Validate the whole document ``raw`` (``ConfigError`` naming every problem)."""
        if shape not in SHAPE_NAMES:
            raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPE_NAMES)}")
        return cls(raw, parse_snapshot(raw, strict=strict, source=source).model, strict, shape)

    def find(self, name: str) -> tuple[int, AbTestInstance]:
        """The index and model of the test named ``name`` (``workflows/abtest/instances/<id>``
        or just ``<id>``); :class:`~flagstone.AbTestNotFound` if there is none."""
        full = full_name(name)
        for index, instance in enumerate(self.model.abtests):
            if instance.name == full:
                return index, instance
        raise unknown_test(full)

    def test(self, index: int) -> Mapping[str, Any]:
        """The JSON of the test at ``index``."""
        tests: list[Mapping[str, Any]] = self.raw["abtests"]
        return tests[index]


@dataclass(frozen=True)
class Change:
    """What a transition made: the new document, and the changed test's JSON and index
    (both ``None`` when the test was removed)."""

    document: Document
    test: Mapping[str, Any] | None
    index: int | None


def full_name(name: str) -> str:
    """``workflows/abtest/instances/<id>`` for a test's id or full name."""
    return name if name.startswith(INSTANCE_PREFIX) else INSTANCE_PREFIX + name


def unknown_test(name: str) -> AbTestNotFound:
    """The error for a test named ``name`` that the document does not have."""
    return AbTestNotFound(f"no A/B test {name!r}")


def test_path(index: int) -> str:
    """The JSON path of the test at ``index``: ``$.abtests[index]``."""
    return f"$.abtests[{index}]"


def validate_test(test: Mapping[str, Any], index: int) -> AbTestInstance:
    """The model of the test JSON ``test`` that is to stand at ``index``, or ``ConfigError``
    with its problems at their paths in the document."""
    try:
        return ABTEST_INSTANCE.validate_python(test)
    except ValidationError as error:
        raise ConfigError(translate_validation_error(error, test_path(index))) from None


def put_test(
    document: Document, index: int, test: Mapping[str, Any], instance: AbTestInstance
) -> Change:
    """``document`` with ``test`` (whose model is ``instance``, see :func:`validate_test`) in
    place of the test at ``index``, or appended when ``index`` is the number of tests; what
    the change can affect is checked (``ConfigError`` naming every problem)."""
    instances = list(document.model.abtests)
    tests = list(document.raw.get("abtests") or [])
    released = None
    if index < len(instances):
        before = abtest_segment_name(instances[index])
        if abtest_segment_name(instance) != before:
            released = before
        instances[index], tests[index] = instance, test
    else:
        instances.append(instance)
        tests.append(test)
    return _checked(document, instances, tests, index, released)


def remove_test(document: Document, index: int) -> Change:
    """``document`` without the test at ``index``; whatever referenced its segment is
    checked again (``ConfigError``)."""
    instances = list(document.model.abtests)
    tests = list(document.raw["abtests"])
    released = abtest_segment_name(instances.pop(index))
    del tests[index]
    return _checked(document, instances, tests, None, released)


def _checked(
    document: Document,
    instances: list[AbTestInstance],
    tests: list[Mapping[str, Any]],
    index: int | None,
    released: str | None,
) -> Change:
    model = dataclasses.replace(document.model, abtests=instances)
    problems, warnings = check_abtest_change(
        model, index, strict=document.strict, released_segment=released
    )
    if problems:
        raise ConfigError(problems)
    for warning in warnings:  # as parse_snapshot logs the warnings of a whole snapshot
        logger.warning("snapshot warning in the changed A/B test: %s", warning)
    raw = {**document.raw, "abtests": tests}
    version = next_version(raw.get("version"))
    if version is not None:  # a new document, a new version (exposures carry it)
        raw["version"] = version
        model = dataclasses.replace(model, version=str(version))
    new = Document(raw, model, document.strict, document.shape)
    return Change(new, None if index is None else tests[index], index)
