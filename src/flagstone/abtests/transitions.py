"""The A/B-test lifecycle as functions from a valid snapshot to a new one: create, update,
update_segment, set_exposure, set_override, enable, launch, pause, resume, end, archive,
delete and set_alexa_state.

Each takes a :class:`~flagstone.abtests.document.Document` and returns a
:class:`~flagstone.abtests.document.Change` (the new document and the changed test's JSON),
or raises and leaves nothing changed: :class:`~flagstone.LifecycleError` for an action the
test's state does not allow (it names the state and the allowed actions),
:class:`~flagstone.ConfigError` for a change that would make the snapshot invalid (every
problem with its JSON path), :class:`~flagstone.AbTestNotFound` for an unknown test. Only the
changed test is validated (see :mod:`flagstone.abtests.document`).

States (the Confidence A/B-test API's): ``draft`` → ``live`` (launch) → ``ended`` (end); any
state → ``archived``; delete anything but a live test. Only a draft takes ``update`` (as the
Experiments API and the Alexa API allow); a live test takes a larger allocation
(``set_exposure``, ``update_segment`` of the allocation) but never a smaller one (the Alexa
API's rule for exposure), nor new targeting. A document managed as an Alexa or
Experiments-API file (``Document.shape``) follows that API's stricter rules, and refusals
speak its words (:mod:`flagstone.model.states`). Tests that share an exclusivity tag get
disjoint bucket ranges, placed first fit (:mod:`flagstone.abtests.exclusive`). Timestamps
come from ``datetime.now`` looked up at call time, so freezegun controls them.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import AbTestNotFound, ConfigError, LifecycleError, Problem
from ..model.abtests import INSTANCE_PREFIX, AbTestInstance, default_segment_name
from ..model.segments import Allocation, BucketRange, parse_proportion
from ..model.states import (
    ALEXA,
    ALEXA_TARGETS,
    EXPERIMENTS_API,
    NATIVE,
    SHAPE_NAMES,
    alexa_state,
    allowed_actions,
    command_word,
    shape_allows,
    shape_commands,
    shape_has,
    shape_state,
)
from ..semantics.hashing import ACCOUNT_BUCKETS
from ..semantics.scalars import parse_timestamp_ns
from .document import Change, Document, put_test, remove_test, test_path, validate_test
from .exclusive import held, place, ranges_of, share_of

__all__ = [
    "archive",
    "create",
    "delete",
    "enable",
    "end",
    "launch",
    "new_abtest_id",
    "now_timestamp",
    "pause",
    "resume",
    "set_alexa_state",
    "set_exposure",
    "set_override",
    "update",
    "update_segment",
]

_ID_ALPHABET = string.ascii_lowercase + string.digits
_SET_BY_LIFECYCLE = (
    "name",
    "state",
    "createTime",
    "updateTime",
    "launchTime",
    "intake",
    "pendingTransition",
)
"""Fields only the lifecycle writes: a create body or an update may not set them."""

Test = dict[str, Any]
"""The JSON of one test, being made for a new document."""


def new_abtest_id() -> str:
    """A fresh id: 20 lowercase letters and digits, like ``dwimxjvyjsfno42agkl8``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def now_timestamp() -> str:
    """The clock's time as the documents write it: UTC, ``Z``, milliseconds when not zero."""
    now = datetime.now(timezone.utc)
    text = now.strftime("%Y-%m-%dT%H:%M:%S")
    millis = now.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


# -- creating and changing --------------------------------------------------------------------


def create(
    document: Document,
    body: Mapping[str, Any],
    *,
    abtest_id: str | None = None,
    new_id: Callable[[], str] = new_abtest_id,
) -> Change:
    """A new draft from a Confidence A/B-test API create body (``displayName``, ``flags``,
    ``abtest.treatments``, ``segment``, ``metrics``, ``stats``, …), appended to the tests.

    The id is ``abtest_id``, else the one in the body's ``name``, else ``new_id()``. Display
    names are unique among the document's tests, as the APIs' names are. An exclusive
    allocation given as a ``proportion`` gets its ``bucketRanges`` here.
    """
    if not isinstance(body, Mapping):
        raise ConfigError([Problem("$", "the body of a new A/B test is a JSON object")])
    index = len(document.model.abtests)
    path = test_path(index)
    problems = [
        Problem(f"{path}.{field}", "set by the lifecycle, not by a create body")
        for field in _SET_BY_LIFECYCLE
        if field in body and field not in ("name", "state")
    ]
    if body.get("state", "draft") != "draft":
        problems.append(Problem(f"{path}.state", "a test is created as a draft"))
    if problems:
        raise ConfigError(problems)
    name = _new_name(document, body, abtest_id, path, new_id)
    now = now_timestamp()
    test: Test = {"name": name}
    test.update((key, copy.deepcopy(value)) for key, value in body.items() if key != "name")
    test.update(state="draft", createTime=now, updateTime=now)
    _check_unique_display_name(document, test, index)
    instance = validate_test(test, index)
    test, instance = _placed(document, index, test, instance, None)
    return put_test(document, index, test, instance)


def update(document: Document, name: str, changes: Mapping[str, Any]) -> Change:
    """Change a draft: each field given replaces the one the test has (``null`` removes
    it); fields not given stay."""
    if not isinstance(changes, Mapping):
        raise ConfigError([Problem("$", "an update is a JSON object of fields")])
    index, before, test = _start(document, name, "update")
    path = test_path(index)
    refused = [
        Problem(f"{path}.{field}", "set by the lifecycle, not by an update")
        for field in changes
        if field in _SET_BY_LIFECYCLE
    ]
    if refused:
        raise ConfigError(refused)
    for field, value in changes.items():
        if value is None:
            test.pop(field, None)
        else:
            test[field] = copy.deepcopy(value)
    _check_unique_display_name(document, test, index)
    instance = validate_test(test, index)
    if "segment" in changes:
        test, instance = _placed(document, index, test, instance, before)
    return put_test(document, index, test, instance)


def update_segment(
    document: Document, name: str, segment: Mapping[str, Any], update_mask: str | Sequence[str]
) -> Change:
    """The Confidence A/B-test API's ``:updateSegment``: replace the segment's fields named
    in ``update_mask`` (``"targeting"``, ``"allocation"``, or both, comma-separated or as a
    list). A live test takes only a larger allocation, with the same exclusivity tags, and no
    new targeting (units already in the test would leave it)."""
    fields = _mask(update_mask)
    if not isinstance(segment, Mapping):
        raise ConfigError([Problem("$.segment", "the segment is a JSON object")])
    index, before, test = _start(document, name, "update-segment")
    path = test_path(index)
    current = dict(test.get("segment") or {})
    test["segment"] = current
    given_name = segment.get("name")
    own_name = current.get("name") or default_segment_name(before.instance_id)
    adopt = current.get("name") is None and before.state == "draft"
    if given_name is not None and given_name != own_name:
        if not adopt:
            raise ConfigError(
                [
                    Problem(
                        f"{path}.segment.name",
                        f"{given_name!r} is not this test's segment {own_name!r}",
                    )
                ]
            )
        current["name"] = given_name  # a draft without one takes the seed's name
    if before.state == "live" and "targeting" in fields:
        raise _refused(
            document,
            before,
            "its targeting can no longer change (units already in the test would leave it); "
            "end it and start a new test",
        )
    for field in fields:
        value = segment.get(field)
        if value is None:
            current.pop(field, None)
        else:
            current[field] = copy.deepcopy(value)
    instance = validate_test(test, index)
    if "allocation" in fields:
        test, instance = _placed(document, index, test, instance, before)
    return put_test(document, index, test, instance)


def set_exposure(
    document: Document,
    name: str,
    *,
    proportion: float | str | None = None,
    percentage: float | None = None,
) -> Change:
    """Set the share of the targeted units that enter the test: ``proportion`` in [0, 1] or
    ``percentage`` in [0, 100] (Alexa's ``exposurePercentage``). Any value in a draft; only a
    larger one while live, and then every unit already in the test keeps its place and its
    variant."""
    if (proportion is None) == (percentage is None):
        raise ValueError("give exactly one of proportion and percentage")
    field = "percentage" if percentage is not None else "proportion"
    try:
        if percentage is not None:
            if isinstance(percentage, bool) or not 0 <= percentage <= 100:
                raise ValueError(f"percentage {percentage!r} is outside [0, 100]")
            value = parse_proportion(str(percentage / 100))
        else:
            value = parse_proportion(proportion)
    except (ValueError, TypeError) as error:
        raise ConfigError([Problem(f"$.{field}", str(error))]) from None
    index, before, test = _start(document, name, "exposure")
    segment = dict(test.get("segment") or {})
    test["segment"] = segment
    allocation = dict(segment.get("allocation") or {})
    allocation["proportion"] = value
    segment["allocation"] = allocation
    instance = validate_test(test, index)
    test, instance = _placed(document, index, test, instance, before)
    return put_test(document, index, test, instance)


def set_override(document: Document, name: str, unit: str, variant: str | None) -> Change:
    """Serve ``variant`` (a treatment's full or short name) to ``unit`` whatever its bucket,
    in draft (preview) and live; ``None`` removes the unit's override."""
    if not isinstance(unit, str) or not unit:
        raise ConfigError([Problem("$.unit", "the unit is a non-empty string")])
    index, before, test = _start(document, name, "override")
    overrides = dict(test.get("treatmentOverrides") or {})
    if variant is None:
        if unit not in overrides:
            raise AbTestNotFound(f"{before.name} has no override for {unit!r}")
        del overrides[unit]
    else:
        overrides[unit] = variant
    if overrides:
        test["treatmentOverrides"] = overrides
    else:
        test.pop("treatmentOverrides", None)
    return _put(document, index, test)


# -- transitions ------------------------------------------------------------------------------


def enable(document: Document, name: str) -> Change:
    """Serve the draft's treatment overrides (Alexa's CREATED → ENABLED)."""
    index, _, test = _start(document, name, "enable")
    test["preview"] = True
    return _put(document, index, test)


def launch(document: Document, name: str) -> Change:
    """Draft → live. The test must name an active flag and its variants, and its flag must
    not be in another live test unless the two share an exclusivity tag."""
    index, before, test = _start(document, name, "launch")
    _check_launchable(document, index, before)
    test["state"] = "live"
    test["launchTime"] = test["updateTime"]
    return _put(document, index, test)


def end(document: Document, name: str) -> Change:
    """Live → ended: nobody enters or is served any more; ``endTime`` is now."""
    index, _, test = _start(document, name, "end")
    test["state"] = "ended"
    test["endTime"] = test["updateTime"]
    test.pop("intake", None)
    return _put(document, index, test)


def archive(document: Document, name: str) -> Change:
    """Any state → archived (a live test stops serving; exclusive buckets are given back)."""
    index, _, test = _start(document, name, "archive")
    test["state"] = "archived"
    test.pop("intake", None)
    return _put(document, index, test)


def pause(document: Document, name: str) -> Change:
    """Stop intake of a live test: units recorded in its materialization keep their variant,
    no new unit enters (the Experiments API's ``stop``). Needs a ``materialization`` and, in
    the clients, a materialization store."""
    index, _, test = _start(document, name, "pause")
    test["intake"] = "paused"
    return _put(document, index, test)


def resume(document: Document, name: str) -> Change:
    """Open a paused test's intake again."""
    index, _, test = _start(document, name, "resume")
    test.pop("intake", None)
    return _put(document, index, test)


def delete(document: Document, name: str) -> Change:
    """Remove a test that is not live (end it first)."""
    index, instance = document.find(name)
    _require(document, instance, "delete")
    return remove_test(document, index)


def set_alexa_state(
    document: Document, name: str, target_state: str, *, stopped_reason: str | None = None
) -> Change:
    """Alexa's "update A/B test state": ``ENABLED`` (serve overrides), ``RUNNING`` (launch) or
    ``STOPPED`` (end), each from the states that allow it (see
    ``flagstone.model.states.ALEXA_TARGETS``); a ``stopped_reason`` is kept with an Alexa
    origin."""
    if stopped_reason is not None and target_state != "STOPPED":
        raise ValueError("a stopped_reason goes with the target state STOPPED")
    index, before = document.find(name)
    if document.shape != NATIVE:
        _require(document, before, f"state {target_state}")
    current = alexa_state(before)
    allowed = ALEXA_TARGETS[current]
    if target_state not in allowed:
        raise _not_allowed(
            f"{before.name} is {current}: it cannot become {target_state!r}",
            current,
            allowed,
            none="none (delete it)",
        )
    now = now_timestamp()
    test = dict(document.test(index))
    test["updateTime"] = now
    if target_state == "ENABLED":
        test["preview"] = True
    elif target_state == "RUNNING":
        _check_launchable(document, index, before)
        test.update(state="live", preview=True, launchTime=now)
    else:
        test.update(state="ended", endTime=now)
        test.pop("intake", None)
    origin = test.get("origin")
    if origin is None and stopped_reason is not None:
        origin = {"format": "alexa"}
    if isinstance(origin, Mapping) and origin.get("format") == "alexa":
        origin = dict(origin)
        test["origin"] = origin
        origin["state"] = target_state
        if stopped_reason is not None:
            fields = dict(origin.get("fields") or {})
            history = dict(fields.get("history") or {})
            history["stoppedReason"] = stopped_reason
            fields["history"] = history
            origin["fields"] = fields
    elif stopped_reason is not None:
        raise ConfigError(
            [
                Problem(
                    f"{test_path(index)}.origin",
                    "a stoppedReason is kept with an Alexa origin; this test has another: "
                    f"{origin!r}",
                )
            ]
        )
    return _put(document, index, test)


# -- machinery --------------------------------------------------------------------------------


def _start(document: Document, name: str, action: str) -> tuple[int, AbTestInstance, Test]:
    """Find the test, check that its state allows ``action``; its index, model, and a copy
    of its JSON with ``updateTime`` now, for the action to change."""
    index, instance = document.find(name)
    _require(document, instance, action)
    test = dict(document.test(index))
    test["updateTime"] = now_timestamp()
    return index, instance, test


def _put(document: Document, index: int, test: Test) -> Change:
    return put_test(document, index, test, validate_test(test, index))


def _require(document: Document, instance: AbTestInstance, action: str) -> None:
    """Refuse ``action`` (``LifecycleError``) unless the test's state allows it, by the
    rules of the shape its document is managed in."""
    shape = document.shape
    if shape != NATIVE:
        if action not in shape_allows(instance, shape):
            raise _refused(document, instance, _why_not(shape, instance, action))
        return
    allowed = allowed_actions(instance)
    if action in allowed:
        return
    state = instance.state
    detail: str = state
    if state == "live" and instance.intake == "paused":
        detail = "live with paused intake"
    elif state == "draft" and not instance.preview:
        detail = "draft (overrides not served)"
    why = ""
    if action == "pause" and state == "live" and not instance.materialization:
        why = " (pausing intake needs a materialization that recorded the units)"
    raise _not_allowed(f"cannot {action} {instance.name}: it is {detail}{why}", state, allowed)


_HINTS: dict[tuple[str, str], str] = {
    (ALEXA, "launch"): "state RUNNING",
    (ALEXA, "enable"): "state ENABLED",
    (ALEXA, "end"): "state STOPPED",
    (ALEXA, "archive"): "state STOPPED",
    (ALEXA, "update-segment"): "exposure",
    (EXPERIMENTS_API, "state RUNNING"): "launch (start) or resume (start)",
    (EXPERIMENTS_API, "state STOPPED"): "pause (stop) or end",
    (EXPERIMENTS_API, "archive"): "end",
}
"""The command of a shape that does what a command it does not have would do."""

_REASONS: dict[tuple[str, str], str] = {
    (ALEXA, "update"): "the Alexa API updates a test only while it is CREATED",
    (ALEXA, "exposure"): "the Alexa API changes the exposure while a test is CREATED and "
    "raises it while RUNNING",
    (ALEXA, "delete"): "stop it first",
    (EXPERIMENTS_API, "update"): "the Experiments API updates an experiment only in draft status",
    (EXPERIMENTS_API, "delete"): "end it first",
}
"""Why a shape refuses, in some of its states, a command it has (the API's reason, or what
to do first)."""


def _why_not(shape: str, instance: AbTestInstance, action: str) -> str:
    """Why ``shape`` refuses ``action`` on ``instance``, in the shape's words."""
    if not shape_has(shape, action):
        hint = _HINTS.get((shape, action))
        use = f" (use {hint})" if hint else ""
        return f"{SHAPE_NAMES[shape]} has no {action}{use}"
    state = shape_state(instance, shape)
    if action.startswith("state "):
        return f"it cannot become {action.removeprefix('state ')}"
    reason = _REASONS.get((shape, action))
    word = command_word(shape, action, state)
    return f"it cannot {word}" + (f" ({reason})" if reason else "")


def _refused(document: Document, instance: AbTestInstance, why: str) -> LifecycleError:
    """The error for a change ``instance``'s state does not allow, ``why`` says: in the
    native words (its name, state and allowed actions) or, in a document managed as another
    shape, in that shape's (the experiment id, the shape's state and commands)."""
    shape = document.shape
    if shape == NATIVE:
        return _not_allowed(
            f"{instance.name} is {instance.state}: {why}", instance.state, allowed_actions(instance)
        )
    state = shape_state(instance, shape)
    return _not_allowed(
        f"{instance.instance_id} is {state}: {why}", state, shape_commands(instance, shape)
    )


def _not_allowed(
    message: str, state: str, allowed: Sequence[str], *, none: str = "nothing"
) -> LifecycleError:
    """The error for an action ``state`` does not allow: ``message`` and the allowed actions
    (``none`` when there are none), which the error also carries."""
    return LifecycleError(
        f"{message}; allowed: {', '.join(allowed) or none}", state=state, allowed=allowed
    )


def _mask(update_mask: str | Sequence[str]) -> tuple[str, ...]:
    parts = update_mask.split(",") if isinstance(update_mask, str) else list(update_mask)
    fields = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
    unknown = [field for field in fields if field not in ("targeting", "allocation")]
    if unknown or not fields:
        raise ConfigError(
            [
                Problem(
                    "$.updateMask",
                    f"{update_mask!r}: the mask names targeting, allocation or both",
                )
            ]
        )
    return fields


def _new_name(
    document: Document,
    body: Mapping[str, Any],
    abtest_id: str | None,
    path: str,
    new_id: Callable[[], str],
) -> str:
    taken = {instance.name for instance in document.model.abtests}
    given = body.get("name")
    if abtest_id is not None:
        if not abtest_id or "/" in abtest_id or abtest_id != abtest_id.strip():
            raise ConfigError(
                [Problem(f"{path}.name", f"{abtest_id!r} is not an id (no '/', no spaces)")]
            )
        name = INSTANCE_PREFIX + abtest_id
    elif given is not None:
        if (
            not isinstance(given, str)
            or not given.startswith(INSTANCE_PREFIX)
            or not given.removeprefix(INSTANCE_PREFIX)
            or "/" in given.removeprefix(INSTANCE_PREFIX)
        ):
            raise ConfigError([Problem(f"{path}.name", f"{given!r} is not {INSTANCE_PREFIX}<id>")])
        name = given
    else:
        name = INSTANCE_PREFIX + new_id()
        while name in taken:
            name = INSTANCE_PREFIX + new_id()
    if name in taken:
        raise ConfigError([Problem(f"{path}.name", f"an A/B test named {name!r} exists already")])
    return name


def _check_unique_display_name(document: Document, test: Mapping[str, Any], index: int) -> None:
    display_name = test.get("displayName")
    if not display_name:
        return
    for other_index, other in enumerate(document.model.abtests):
        if other_index != index and other.display_name == display_name:
            raise ConfigError(
                [
                    Problem(
                        f"{test_path(index)}.displayName",
                        f"{display_name!r} is already the name of {other.name}",
                    )
                ]
            )


def _placed(
    document: Document,
    index: int,
    test: Test,
    instance: AbTestInstance,
    before: AbTestInstance | None,
) -> tuple[Test, AbTestInstance]:
    """Check a change of allocation against the state (a live test only grows), and give an
    exclusive allocation written as a proportion its bucket ranges (first fit, keeping the
    ones it had): the test's JSON and model with them."""
    allocation = instance.segment.allocation if instance.segment is not None else None
    had = before.segment.allocation if before is not None and before.segment is not None else None
    a_path = f"{test_path(index)}.segment.allocation"
    if instance.state == "live":
        _check_growth(document, instance, had, allocation)
    if allocation is None or not allocation.exclusivity_tags or allocation.proportion is None:
        return test, instance  # not exclusive, or explicit bucket ranges: validation checks them
    same_tags = had is not None and sorted(had.exclusivity_tags) == sorted(
        allocation.exclusivity_tags
    )
    own = ranges_of(had) if same_tags else ranges_of(allocation)
    target = round(allocation.proportion * ACCOUNT_BUCKETS)
    others = held(document.model, allocation.exclusivity_tags, besides=index)
    placed = place(own, others, target, path=f"{a_path}.proportion")
    segment = dict(test["segment"])
    raw_allocation = dict(segment["allocation"])
    raw_allocation["bucketRanges"] = [{"lower": lower, "upper": upper} for lower, upper in placed]
    segment["allocation"] = raw_allocation
    test = {**test, "segment": segment}
    assert instance.segment is not None
    new_allocation: Allocation = dataclasses.replace(
        allocation,
        bucket_ranges=[BucketRange(lower=lower, upper=upper) for lower, upper in placed],
    )
    new_segment = dataclasses.replace(instance.segment, allocation=new_allocation)
    return test, dataclasses.replace(instance, segment=new_segment)


def _check_growth(
    document: Document,
    instance: AbTestInstance,
    before: Allocation | None,
    after: Allocation | None,
) -> None:
    """A live test's allocation may only grow: the same exclusivity tags, a share at least
    as large, and every bucket range it had still in it."""
    problems = []
    tags_before = sorted(before.exclusivity_tags) if before is not None else []
    tags_after = sorted(after.exclusivity_tags) if after is not None else []
    if tags_before != tags_after:
        problems.append("its exclusivity tags cannot change")
    old, new = share_of(before), share_of(after)
    if new < old:
        if document.shape == ALEXA:
            problems.append(f"its exposurePercentage can only grow ({old * 100:g} → {new * 100:g})")
        else:
            problems.append(f"its allocation can only grow ({old:g} → {new:g})")
    if after is not None and after.proportion is None:
        kept = ranges_of(after)
        if not all(_covered(item, kept) for item in ranges_of(before)):
            problems.append("its bucket ranges must keep every bucket it had")
    if problems:
        if document.shape == ALEXA:
            advice = "(customers in the test keep their place); stop it and create a new test"
        else:
            advice = (
                "(units already in the test keep their place); end it and start a new test "
                "to shrink it"
            )
        raise _refused(document, instance, f"{'; '.join(problems)} {advice}")


def _covered(item: tuple[int, int], ranges: list[tuple[int, int]]) -> bool:
    return any(lower <= item[0] and item[1] <= upper for lower, upper in ranges)


def _check_launchable(document: Document, index: int, instance: AbTestInstance) -> None:
    path = test_path(index)
    if not instance.abtest.treatments:
        raise ConfigError(
            [Problem(f"{path}.abtest.treatments", "a test needs treatments to launch")]
        )
    flag_name = instance.flag
    flags = document.model.flags
    if isinstance(flags, dict):  # keyed by name (validation checks the keys)
        flag = flags.get(flag_name) if flag_name is not None else None
    else:
        flag = next((flag for flag in flags if flag.name == flag_name), None)
    problems = []
    if flag is None:
        problems.append(Problem(f"{path}.abtest.treatments", f"unknown flag {flag_name!r}"))
    elif flag.state != "ACTIVE":
        problems.append(
            Problem(
                f"{path}.abtest.treatments",
                f"{flag_name!r} is archived: a test needs an active flag",
            )
        )
    allocation = instance.segment.allocation if instance.segment is not None else None
    tags = set(allocation.exclusivity_tags) if allocation is not None else set()
    for other_index, other in enumerate(document.model.abtests):
        if other_index == index or other.state != "live":
            continue
        other_allocation = other.segment.allocation if other.segment is not None else None
        other_tags = set(other_allocation.exclusivity_tags) if other_allocation else set()
        if other.flag == flag_name and not tags & other_tags:
            problems.append(
                Problem(
                    f"{path}.abtest.treatments",
                    f"{flag_name!r} is already in live test {other.name}; give both tests one "
                    "exclusivity tag to run them side by side",
                )
            )
    end_ns = parse_timestamp_ns(instance.end_time) if instance.end_time is not None else None
    if end_ns is not None and end_ns <= time.time_ns():
        problems.append(
            Problem(f"{path}.endTime", f"the test would end ({instance.end_time}) before it starts")
        )
    if problems:
        raise ConfigError(problems)
