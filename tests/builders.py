"""Snapshot documents for tests, built from small parts: plain JSON-ready dicts and lists,
exactly what a snapshot file holds (the shape of ``flagstone.formats.native``).

Each builder writes the keys it is given and nothing else (a ``None`` argument leaves its key
out), so a test states what matters to it and the document holds no more than that::

    from tests import builders as b

    doc = b.snapshot(
        b.flag(
            "checkout",
            {"control": {"layout": "classic"}, "new": {"layout": "grid"}},
            [b.everyone_gets("flags/checkout/rules/se", "new", segment="sweden")],
        ),
        b.flag("banner", {"off": {"shown": False}, "on": {"shown": True}}),
        segments=[b.segment("sweden", targeting=b.attribute_is("country", b.string("SE")))],
        abtests=[b.abtest("banner-test", flag="banner", weights=[("off", 5000), ("on", 5000)])],
    )

Smaller parts: :func:`rule` with :func:`assignment` (a variant, the client default or a
fall-through, over bucket ranges), :func:`split_rule`, :func:`variant`, :func:`treatments`,
:func:`credential` (client secrets), and :func:`write` to put a document in a file.

Names: ``flag``, ``segment`` and ``abtest`` take a resource name or a bare id
(``"checkout"`` is ``"flags/checkout"``; a name with a ``/`` is written as it is); rule
names are always written in full. A document's ``flags`` and ``segments`` are maps keyed by
name (``layout="map"``, the default) or lists (``layout="list"``), both of which a snapshot
may use.

Targeting is written with :func:`targeting` over criteria (:func:`attribute` with a rule:
:func:`eq`, :func:`one_of`, :func:`between`, :func:`starts_with`, :func:`any_of`, …, or
:func:`in_segment`) and an expression (:func:`ref`, :func:`and_`, :func:`or_`, :func:`not_`);
typed values are :func:`string`, :func:`number`, :func:`boolean`, :func:`timestamp`,
:func:`version` and :data:`NULL`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "EVERYONE",
    "INSTANCE_PREFIX",
    "NULL",
    "abtest",
    "all_of",
    "and_",
    "any_of",
    "assignment",
    "attribute",
    "attribute_is",
    "between",
    "boolean",
    "contains",
    "credential",
    "ends_with",
    "eq",
    "everyone_gets",
    "flag",
    "flag_name",
    "in_segment",
    "instance_name",
    "not_",
    "number",
    "one_of",
    "or_",
    "ref",
    "rule",
    "segment",
    "segment_name",
    "snapshot",
    "split_rule",
    "starts_with",
    "string",
    "targeting",
    "timestamp",
    "treatments",
    "variant",
    "version",
    "write",
]

Doc = dict[str, Any]

EVERYONE = "segments/everyone"
"""The name tests give a segment without targeting (which admits every unit)."""

INSTANCE_PREFIX = "workflows/abtest/instances/"
"""What an A/B-test instance's name starts with."""


def _full(prefix: str, name: str) -> str:
    """A bare id gets ``prefix``; a name with a ``/`` is written as it is (so a test can
    also build a wrongly named resource)."""
    return name if "/" in name else prefix + name


def flag_name(name: str) -> str:
    """``"checkout"`` → ``"flags/checkout"`` (a name with a ``/`` is kept)."""
    return _full("flags/", name)


def segment_name(name: str) -> str:
    """``"sweden"`` → ``"segments/sweden"`` (a name with a ``/`` is kept)."""
    return _full("segments/", name)


def instance_name(name: str) -> str:
    """``"checkout-test"`` → ``"workflows/abtest/instances/checkout-test"``."""
    return _full(INSTANCE_PREFIX, name)


def _put(document: Doc, **keys: Any) -> Doc:
    """``document`` with every key whose value is not ``None``."""
    document.update({key: value for key, value in keys.items() if value is not None})
    return document


# -- typed values -----------------------------------------------------------------------------

NULL: Doc = {}
"""A typed value holding nothing (matches a missing or null attribute)."""


def string(text: str) -> Doc:
    return {"stringValue": text}


def number(value: float) -> Doc:
    return {"numberValue": value}


def boolean(value: bool) -> Doc:
    return {"boolValue": value}


def timestamp(text: str) -> Doc:
    """An RFC 3339 time, e.g. ``"2026-01-01T00:00:00Z"``."""
    return {"timestampValue": text}


def version(text: str) -> Doc:
    """A semantic version, e.g. ``"1.2.3"``."""
    return {"versionValue": {"version": text}}


# -- targeting --------------------------------------------------------------------------------


def eq(value: Doc) -> Doc:
    """An attribute rule: the attribute equals ``value`` (e.g. ``eq(string("SE"))``)."""
    return {"eqRule": {"value": value}}


def one_of(*values: Doc) -> Doc:
    """An attribute rule: the attribute is one of ``values``."""
    return {"setRule": {"values": list(values)}}


def between(**bounds: Doc) -> Doc:
    """An attribute rule: a range, ``between(startInclusive=number(1), endExclusive=…)``."""
    return {"rangeRule": bounds}


def starts_with(text: str) -> Doc:
    return {"startsWithRule": {"value": text}}


def ends_with(text: str) -> Doc:
    return {"endsWithRule": {"value": text}}


def contains(text: str) -> Doc:
    return {"containsRule": {"value": text}}


def any_of(inner: Doc) -> Doc:
    """An attribute rule: some element of the (list) attribute satisfies ``inner``."""
    return {"anyRule": {"rule": inner}}


def all_of(inner: Doc) -> Doc:
    """An attribute rule: every element of the (list) attribute satisfies ``inner``."""
    return {"allRule": {"rule": inner}}


def attribute(name: str, rule: Doc) -> Doc:
    """A criterion on the context attribute ``name`` (a dotted path) with ``rule``."""
    return {"attribute": {"attributeName": name, **rule}}


def in_segment(name: str) -> Doc:
    """A criterion: the unit is in the segment ``name``."""
    return {"segment": {"segment": segment_name(name)}}


def ref(criterion_id: str) -> Doc:
    return {"ref": criterion_id}


def and_(*operands: Doc) -> Doc:
    return {"and": {"operands": list(operands)}}


def or_(*operands: Doc) -> Doc:
    return {"or": {"operands": list(operands)}}


def not_(operand: Doc) -> Doc:
    return {"not": operand}


def targeting(criteria: Mapping[str, Doc], expression: Doc) -> Doc:
    """A segment's targeting: ``criteria`` by id, and an expression over their ids."""
    return {"criteria": dict(criteria), "expression": expression}


def attribute_is(name: str, value: Doc, *, criterion_id: str = "c") -> Doc:
    """Targeting with one criterion, the attribute ``name`` equal to ``value``."""
    return targeting({criterion_id: attribute(name, eq(value))}, ref(criterion_id))


# -- segments ---------------------------------------------------------------------------------


def segment(
    name: str = EVERYONE,
    *,
    targeting: Doc | None = None,
    allocation: Doc | None = None,
    proportion: float | None = None,
) -> Doc:
    """A segment; ``proportion`` is short for ``allocation={"proportion": proportion}``."""
    if proportion is not None:
        allocation = {**(allocation or {}), "proportion": proportion}
    return _put({"name": segment_name(name)}, targeting=targeting, allocation=allocation)


# -- rules ------------------------------------------------------------------------------------

Range = tuple[int, int] | tuple[None, int]
"""A bucket range ``(lower, upper)``; ``(None, upper)`` writes no ``lower`` (it is 0)."""


def assignment(
    assignment_id: str,
    variant: str | None = None,
    ranges: Range | Sequence[Range] = (0, 1),
    *,
    kind: Literal["variant", "clientDefault", "fallthrough"] = "variant",
) -> Doc:
    """An assignment of the bucket ``ranges`` (one range or a list) to ``variant``, or, by
    ``kind``, to the client's default value or to the next rule (fall through)."""
    if kind == "variant":
        assert variant is not None, "a variant assignment needs the variant"
        outcome: Doc = {"variant": {"variant": variant}}
    else:
        assert variant is None, f"a {kind} assignment names no variant"
        outcome = {kind: {}}
    pairs = [ranges] if isinstance(ranges[0], int | None) else ranges
    bucket_ranges = [
        {"upper": upper} if lower is None else {"lower": lower, "upper": upper}
        for lower, upper in pairs  # type: ignore[misc]
    ]
    return {"assignmentId": assignment_id, **outcome, "bucketRanges": bucket_ranges}


def rule(
    name: str,
    assignments: Iterable[Doc],
    *,
    bucket_count: int,
    segment: str = EVERYONE,
    selector: str | None = None,
    environments: Sequence[str] | None = None,
    materialization: Doc | None = None,
) -> Doc:
    """A rule (``name`` in full: ``flags/f/rules/r``) on ``segment``; ``selector`` is the
    targeting-key selector, ``materialization`` the ``materializationSpec``."""
    document: Doc = {"name": name, "segment": segment_name(segment)}
    _put(document, targetingKeySelector=selector)
    document["assignmentSpec"] = {"bucketCount": bucket_count, "assignments": list(assignments)}
    return _put(
        document,
        environments=None if environments is None else list(environments),
        materializationSpec=materialization,
    )


def everyone_gets(
    name: str,
    variant: str | None,
    *,
    bucket_count: int = 1,
    assignment_id: str | None = None,
    segment: str = EVERYONE,
    selector: str | None = None,
    lower: bool = True,
    kind: Literal["variant", "clientDefault", "fallthrough"] = "variant",
) -> Doc:
    """A rule whose one assignment (id ``assignment_id``, default the rule's last name part)
    covers every bucket, giving ``variant`` (or, by ``kind``, the client default or a fall
    through, ``variant`` ``None``); ``lower=False`` writes the range without its ``lower``."""
    whole: Range = (0 if lower else None, bucket_count)
    assigned = assignment(assignment_id or name.rsplit("/", 1)[-1], variant, whole, kind=kind)
    return rule(name, [assigned], bucket_count=bucket_count, segment=segment, selector=selector)


def split_rule(
    name: str,
    variants: Sequence[str],
    *,
    buckets_per_variant: int,
    assignment_ids: Sequence[str] | None = None,
    segment: str = EVERYONE,
    selector: str | None = None,
) -> Doc:
    """A rule giving each of ``variants`` an equal contiguous range, in order
    (assignment ids: ``assignment_ids``, default the variant names)."""
    ids = list(assignment_ids) if assignment_ids is not None else list(variants)
    width = buckets_per_variant
    assignments = [
        assignment(ids[index], name_, (index * width, (index + 1) * width))
        for index, name_ in enumerate(variants)
    ]
    return rule(
        name,
        assignments,
        bucket_count=width * len(variants),
        segment=segment,
        selector=selector,
    )


# -- flags ------------------------------------------------------------------------------------


def variant(name: str, value: Any) -> Doc:
    return {"name": name, "value": value}


def flag(
    name: str,
    variants: Mapping[str, Any] | Sequence[Doc],
    rules: Sequence[Doc] | None = None,
    *,
    state: str | None = None,
    clients: Sequence[str] | None = None,
) -> Doc:
    """A flag: ``variants`` maps each variant's name to its value (or is a list of
    :func:`variant`); ``rules`` ``None`` writes no ``rules`` key."""
    document: Doc = {"name": flag_name(name)}
    _put(
        document,
        state=state,
        clients=None if clients is None else list(clients),
    )
    document["variants"] = (
        [variant(key, value) for key, value in variants.items()]
        if isinstance(variants, Mapping)
        else list(variants)
    )
    return _put(document, rules=None if rules is None else list(rules))


# -- A/B tests --------------------------------------------------------------------------------


def treatments(flag: str, weights: Iterable[tuple[str, int | str]]) -> list[Doc]:
    """A test's treatments: ``(variant id, weight in basis points)`` of ``flag``."""
    return [
        {"variant": f"{flag_name(flag)}/variants/{name}", "weight": weight}
        for name, weight in weights
    ]


def abtest(
    name: str | None,
    *,
    flag: str,
    weights: Iterable[tuple[str, int | str]] = (("control", "5000"), ("treatment", "5000")),
    state: str | None = "live",
    display_name: str | None = None,
    selector: str | None = None,
    segment: Doc | None = None,
    overrides: Mapping[str, str] | None = None,
    start: str | None = None,
    end: str | None = None,
    metrics: Doc | None = None,
    stats: Doc | None = None,
    **fields: Any,
) -> Doc:
    """An A/B-test instance (seed 000's shape) of ``flag`` with treatments ``weights``.

    ``name`` ``None`` and ``state`` ``None`` leave both out: a create body. ``selector`` is
    ``flags.targetingKeySelector``; ``overrides`` the ``treatmentOverrides`` (unit →
    variant); ``start``/``end`` the ``startTime``/``endTime``; ``fields`` are added as they
    are."""
    document: Doc = {}
    _put(
        document,
        name=None if name is None else instance_name(name),
        displayName=display_name,
        state=state,
        flags=None if selector is None else {"targetingKeySelector": selector},
    )
    document["abtest"] = {"treatments": treatments(flag, weights)}
    return _put(
        document,
        metrics=metrics,
        stats=stats,
        segment=segment,
        treatmentOverrides=None if overrides is None else dict(overrides),
        startTime=start,
        endTime=end,
        **fields,
    )


# -- clients ----------------------------------------------------------------------------------


def credential(
    secret: str,
    client_id: str,
    environments: Sequence[str] | None = None,
    *,
    credential_id: str | None = None,
) -> Doc:
    """A client credential: the client ``client_id`` authenticates with ``secret``
    (credential id: ``credential_id``, default the secret)."""
    client_credential: Doc = {
        "name": f"clients/{client_id}/credentials/{credential_id or secret}",
        "clientSecret": {"secret": secret},
    }
    _put(client_credential, environments=None if environments is None else list(environments))
    return {"client": {"name": f"clients/{client_id}"}, "clientCredential": client_credential}


# -- a whole snapshot -------------------------------------------------------------------------


def snapshot(
    *flags: Doc,
    segments: Sequence[Doc] | None = None,
    abtests: Sequence[Doc] | None = None,
    clients: Sequence[Doc] | None = None,
    account: str | None = None,
    version: str | None = None,
    bitsets: Mapping[str, Any] | None = None,
    layout: Literal["map", "list"] = "map",
) -> Doc:
    """A snapshot document. ``flags`` and ``segments`` are written as maps keyed by name
    (``layout="map"``) or as lists; ``clients`` (:func:`credential`) as a map keyed by
    secret; ``account`` is the account id (``"acme"`` → ``accounts/acme``); ``None`` leaves
    a key out (no flags at all writes an empty ``flags``)."""

    def keyed(items: Sequence[Doc]) -> dict[str, Doc] | list[Doc]:
        return {item["name"]: item for item in items} if layout == "map" else list(items)

    document: Doc = {}
    _put(
        document,
        version=version,
        account=None if account is None else {"name": _full("accounts/", account)},
    )
    document["flags"] = keyed(flags)
    return _put(
        document,
        segments=None if segments is None else keyed(segments),
        clients=None
        if clients is None
        else {entry["clientCredential"]["clientSecret"]["secret"]: entry for entry in clients},
        abtests=None if abtests is None else list(abtests),
        bitsets=None if bitsets is None else dict(bitsets),
    )


def write(path: Path, document: Any, *, indent: int | None = 2) -> Path:
    """Write ``document`` as JSON (a ``str`` as it is) to ``path``; returns ``path``."""
    text = document if isinstance(document, str) else json.dumps(document, indent=indent)
    path.write_text(text)
    return path
