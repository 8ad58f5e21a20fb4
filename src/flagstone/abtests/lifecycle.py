"""The A/B-test lifecycle on a native snapshot document: create, read, change and move tests
through their states with the seeds' rules enforced.

``AbTests`` holds a snapshot document (the JSON-ready ``dict`` a file holds). Each operation
works on a copy, validates the whole resulting snapshot and only then makes it current, so a
refused change leaves the document exactly as it was. Operations return the test as JSON
(camelCase, as the seeds' responses show it).

States (seed 000): ``draft`` → ``live`` (launch) → ``ended`` (end); any state → ``archived``;
delete anything but a live test. Only a draft takes ``update`` (seeds 001 and 002); a live test
takes a larger allocation (``set_exposure``, ``update_segment`` of the allocation) but never a
smaller one (seed 002), nor new targeting. Timestamps come from ``datetime.now`` looked up at
call time, so freezegun controls them.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import AbTestNotFound, ConfigError, LifecycleError, Problem
from ..formats.native import parse_snapshot
from ..model.abtests import INSTANCE_PREFIX, default_segment_name
from ..model.segments import parse_proportion
from ..semantics.hashing import ACCOUNT_BUCKETS
from ..semantics.scalars import parse_timestamp_ns
from .exclusive import Range, merge, place, width
from .states import ACTIONS, ALEXA_TARGETS, alexa_state, allowed_actions

__all__ = ["INSTANCE_PREFIX", "AbTests", "new_abtest_id", "now_timestamp"]

_ID_ALPHABET = string.ascii_lowercase + string.digits
_STATES = tuple(ACTIONS)
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
_HOLDING = ("draft", "live")


def new_abtest_id() -> str:
    """A fresh id: 20 lowercase letters and digits, like ``dwimxjvyjsfno42agkl8``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def now_timestamp() -> str:
    """The clock's time as the documents write it: UTC, ``Z``, milliseconds when not zero."""
    now = datetime.now(timezone.utc)
    text = now.strftime("%Y-%m-%dT%H:%M:%S")
    millis = now.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


class AbTests:
    """The A/B tests of one snapshot document, with the lifecycle's operations.

    ``document`` is copied; read the result from :attr:`document`. ``strict`` is the
    validation mode every change is checked in (see ``flagstone.formats.parse_snapshot``);
    ``id_factory`` makes the ids of tests created without one.
    """

    def __init__(
        self,
        document: Mapping[str, Any] | None = None,
        *,
        strict: bool = True,
        id_factory: Callable[[], str] = new_abtest_id,
    ) -> None:
        self._document: dict[str, Any] = copy.deepcopy(dict(document or {}))
        self._strict = strict
        self._new_id = id_factory

    @property
    def document(self) -> dict[str, Any]:
        """The snapshot document as it stands after the last successful operation (a copy)."""
        return copy.deepcopy(self._document)

    # -- reading ----------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """The test named ``name`` (``workflows/abtest/instances/<id>`` or just ``<id>``)."""
        _, instance = self._find(self._document, name)
        return copy.deepcopy(instance)

    def list(
        self,
        *,
        state: str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """Tests in document order, ``page_size`` at a time: ``{"abtests": [...],
        "nextPageToken": ...}``; an empty token means there is no next page. ``state``
        keeps only tests in that state (``"live"`` or seed 000's ``"state:live"``)."""
        if state is not None and state.startswith("state:"):
            state = state.removeprefix("state:")
        if state is not None and state not in _STATES:
            raise ValueError(f"unknown state {state!r}; one of {', '.join(_STATES)}")
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size is between 1 and 1000")
        matching = [
            instance
            for instance in _instances(self._document)
            if state is None or instance.get("state", "draft") == state
        ]
        start = _read_token(page_token, state) if page_token else 0
        page = matching[start : start + page_size]
        end = start + len(page)
        token = _make_token(end, state) if end < len(matching) else ""
        return {"abtests": copy.deepcopy(page), "nextPageToken": token}

    def overrides(self, name: str) -> dict[str, str]:
        """The test's treatment overrides: unit → variant."""
        return dict(self.get(name).get("treatmentOverrides") or {})

    # -- creating and changing --------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, abtest_id: str | None = None) -> dict[str, Any]:
        """Create a draft from a seed-000 create body (``displayName``, ``flags``,
        ``abtest.treatments``, ``segment``, ``metrics``, ``stats``, …).

        The id is ``abtest_id``, else the one in the body's ``name``, else a new one.
        Display names are unique among the document's tests, as the seeds' names are. An
        exclusive allocation given as a ``proportion`` gets its ``bucketRanges`` here.
        """
        if not isinstance(body, Mapping):
            raise ConfigError([Problem("$", "the body of a new A/B test is a JSON object")])
        path = f"$.abtests[{len(list(_instances(self._document)))}]"
        problems = [
            Problem(f"{path}.{field}", "set by the lifecycle, not by a create body")
            for field in _SET_BY_LIFECYCLE
            if field in body and field not in ("name", "state")
        ]
        if body.get("state", "draft") != "draft":
            problems.append(Problem(f"{path}.state", "a test is created as a draft"))
        if problems:
            raise ConfigError(problems)
        name = self._new_name(body, abtest_id, path)
        now = now_timestamp()
        instance: dict[str, Any] = {"name": name}
        instance.update((k, copy.deepcopy(v)) for k, v in body.items() if k != "name")
        instance.update(state="draft", createTime=now, updateTime=now)

        def add(document: dict[str, Any]) -> dict[str, Any]:
            _check_unique_display_name(document, instance, path)
            document.setdefault("abtests", []).append(instance)
            _place_exclusive(document, instance, path, None)
            return instance

        result: dict[str, Any] = self._change(add)
        return result

    def update(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change a draft: each field given replaces the one the test has (``null`` removes
        it); fields not given stay."""
        if not isinstance(changes, Mapping):
            raise ConfigError([Problem("$", "an update is a JSON object of fields")])

        def apply(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            refused = [
                Problem(f"{path}.{field}", "set by the lifecycle, not by an update")
                for field in changes
                if field in _SET_BY_LIFECYCLE
            ]
            if refused:
                raise ConfigError(refused)
            before = copy.deepcopy((instance.get("segment") or {}).get("allocation"))
            for field, value in changes.items():
                if value is None:
                    instance.pop(field, None)
                else:
                    instance[field] = copy.deepcopy(value)
            _check_unique_display_name(document, instance, path)
            if "segment" in changes:
                _place_exclusive(document, instance, path, before)

        return self._edit(name, "update", apply)

    def update_segment(
        self, name: str, segment: Mapping[str, Any], update_mask: str | Sequence[str]
    ) -> dict[str, Any]:
        """Seed 000's ``:updateSegment``: replace the segment's fields named in
        ``update_mask`` (``"targeting"``, ``"allocation"``, or both, comma-separated or as a
        list). A live test takes only a larger allocation, with the same exclusivity tags,
        and no new targeting (units already in the test would leave it)."""
        fields = _mask(update_mask)
        if not isinstance(segment, Mapping):
            raise ConfigError([Problem("$.segment", "the segment is a JSON object")])

        def apply(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            current = instance.setdefault("segment", {})
            given_name = segment.get("name")
            default_name = default_segment_name(instance["name"].rsplit("/", 1)[-1])
            own_name = current.get("name") or default_name
            adopt = current.get("name") is None and instance.get("state") == "draft"
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
            live = instance.get("state") == "live"
            if live and "targeting" in fields:
                raise _not_allowed(
                    f"{instance['name']} is live: its targeting can no longer change (units "
                    "already in the test would leave it); end it and start a new test",
                    "live",
                    allowed_actions(instance),
                )
            before = copy.deepcopy(current.get("allocation"))
            for field in fields:
                value = segment.get(field)
                if value is None:
                    current.pop(field, None)
                else:
                    current[field] = copy.deepcopy(value)
            if "allocation" in fields:
                _place_exclusive(document, instance, path, before)

        return self._edit(name, "update-segment", apply)

    def set_exposure(
        self,
        name: str,
        *,
        proportion: float | str | None = None,
        percentage: float | None = None,
    ) -> dict[str, Any]:
        """Set the share of the targeted units that enter the test: ``proportion`` in
        [0, 1] or ``percentage`` in [0, 100] (Alexa's ``exposurePercentage``). Any value in
        a draft; only a larger one while live, and then every unit already in the test keeps
        its place and its variant."""
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

        def apply(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            segment = instance.setdefault("segment", {})
            before = copy.deepcopy(segment.get("allocation"))
            allocation = dict(before or {})
            allocation["proportion"] = value
            segment["allocation"] = allocation
            _place_exclusive(document, instance, path, before)

        return self._edit(name, "exposure", apply)

    def set_override(self, name: str, unit: str, variant: str | None) -> dict[str, Any]:
        """Serve ``variant`` (a treatment's full or short name) to ``unit`` whatever its
        bucket, in draft (preview) and live; ``None`` removes the unit's override."""
        if not isinstance(unit, str) or not unit:
            raise ConfigError([Problem("$.unit", "the unit is a non-empty string")])

        def apply(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            overrides = dict(instance.get("treatmentOverrides") or {})
            if variant is None:
                if unit not in overrides:
                    raise AbTestNotFound(f"{instance['name']} has no override for {unit!r}")
                del overrides[unit]
            else:
                overrides[unit] = variant
            if overrides:
                instance["treatmentOverrides"] = overrides
            else:
                instance.pop("treatmentOverrides", None)

        return self._edit(name, "override", apply)

    # -- transitions ------------------------------------------------------------------------

    def enable(self, name: str) -> dict[str, Any]:
        """Serve the draft's treatment overrides (Alexa's CREATED → ENABLED)."""
        return self._edit(name, "enable", lambda doc, instance, path: instance.update(preview=True))

    def launch(self, name: str) -> dict[str, Any]:
        """Draft → live. The test must name an active flag and its variants, and its flag
        must not be in another live test unless the two share an exclusivity tag."""

        def go_live(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            _check_launchable(document, instance, path)
            instance["state"] = "live"
            instance["launchTime"] = instance["updateTime"]

        return self._edit(name, "launch", go_live)

    def end(self, name: str) -> dict[str, Any]:
        """Live → ended: nobody enters or is served any more; ``endTime`` is now."""

        def finish(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            instance["state"] = "ended"
            instance["endTime"] = instance["updateTime"]
            instance.pop("intake", None)

        return self._edit(name, "end", finish)

    def archive(self, name: str) -> dict[str, Any]:
        """Any state → archived (a live test stops serving; exclusive buckets are given
        back)."""

        def shelve(document: dict[str, Any], instance: dict[str, Any], path: str) -> None:
            instance["state"] = "archived"
            instance.pop("intake", None)

        return self._edit(name, "archive", shelve)

    def pause(self, name: str) -> dict[str, Any]:
        """Stop intake of a live test: units recorded in its materialization keep their
        variant, no new unit enters (the Experiments API's ``stop``). Needs a
        ``materialization`` and, in the clients, a materialization store."""
        return self._edit(
            name, "pause", lambda doc, instance, path: instance.update(intake="paused")
        )

    def resume(self, name: str) -> dict[str, Any]:
        """Open a paused test's intake again."""
        return self._edit(name, "resume", lambda doc, instance, path: instance.pop("intake", None))

    def delete(self, name: str) -> None:
        """Remove a test that is not live (end it first)."""

        def remove(document: dict[str, Any]) -> None:
            index, instance = self._find(document, name)
            _require(instance, "delete")
            del document["abtests"][index]

        self._change(remove)

    def set_alexa_state(
        self, name: str, target_state: str, *, stopped_reason: str | None = None
    ) -> dict[str, Any]:
        """Alexa's "update A/B test state": ``ENABLED`` (serve overrides), ``RUNNING``
        (launch) or ``STOPPED`` (end), each from the states that allow it (see
        ``flagstone.abtests.states.ALEXA_TARGETS``)."""

        if stopped_reason is not None and target_state != "STOPPED":
            raise ValueError("a stopped_reason goes with the target state STOPPED")

        def move(document: dict[str, Any]) -> dict[str, Any]:
            index, instance = self._find(document, name)
            current = alexa_state(instance)
            allowed = ALEXA_TARGETS[current]
            if target_state not in allowed:
                raise _not_allowed(
                    f"{instance['name']} is {current}: it cannot become {target_state!r}",
                    current,
                    allowed,
                    none="none (delete it)",
                )
            now = now_timestamp()
            instance["updateTime"] = now
            if target_state == "ENABLED":
                instance["preview"] = True
            elif target_state == "RUNNING":
                _check_launchable(document, instance, f"$.abtests[{index}]")
                instance.update(state="live", preview=True, launchTime=now)
            else:
                instance.update(state="ended", endTime=now)
                instance.pop("intake", None)
            origin = instance.get("origin")
            if origin is None and stopped_reason is not None:
                origin = instance["origin"] = {"format": "alexa"}
            if isinstance(origin, dict) and origin.get("format") == "alexa":
                origin["state"] = target_state
                if stopped_reason is not None:
                    history = origin.setdefault("fields", {}).setdefault("history", {})
                    history["stoppedReason"] = stopped_reason
            elif stopped_reason is not None:
                raise ConfigError(
                    [
                        Problem(
                            f"$.abtests[{index}].origin",
                            "a stoppedReason is kept with an Alexa origin; this test has "
                            f"another: {origin!r}",
                        )
                    ]
                )
            return instance

        result: dict[str, Any] = self._change(move)
        return result

    # -- machinery --------------------------------------------------------------------------

    def _edit(
        self, name: str, action: str, apply: Callable[[dict[str, Any], dict[str, Any], str], Any]
    ) -> dict[str, Any]:
        """Find the test, check that its state allows ``action``, stamp ``updateTime`` and
        ``apply(document, instance, path)``; the whole change is then validated."""

        def run(document: dict[str, Any]) -> dict[str, Any]:
            index, instance = self._find(document, name)
            _require(instance, action)
            instance["updateTime"] = now_timestamp()
            apply(document, instance, f"$.abtests[{index}]")
            return instance

        result: dict[str, Any] = self._change(run)
        return result

    def _change(self, operation: Callable[[dict[str, Any]], Any]) -> Any:
        """Run ``operation`` on a copy of the document; keep the copy only if the whole
        snapshot still validates."""
        draft = copy.deepcopy(self._document)
        result = operation(draft)
        parse_snapshot(draft, strict=self._strict)
        self._document = draft
        return copy.deepcopy(result)

    def _find(self, document: Mapping[str, Any], name: str) -> tuple[int, dict[str, Any]]:
        full = name if name.startswith(INSTANCE_PREFIX) else INSTANCE_PREFIX + name
        for index, instance in enumerate(_instances(document)):
            if instance.get("name") == full:
                return index, instance
        raise AbTestNotFound(f"no A/B test {full!r}")

    def _new_name(self, body: Mapping[str, Any], abtest_id: str | None, path: str) -> str:
        taken = {instance.get("name") for instance in _instances(self._document)}
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
                raise ConfigError(
                    [Problem(f"{path}.name", f"{given!r} is not {INSTANCE_PREFIX}<id>")]
                )
            name = given
        else:
            name = INSTANCE_PREFIX + self._new_id()
            while name in taken:
                name = INSTANCE_PREFIX + self._new_id()
        if name in taken:
            raise ConfigError(
                [Problem(f"{path}.name", f"an A/B test named {name!r} exists already")]
            )
        return name


# -- helpers ----------------------------------------------------------------------------------


def _instances(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    abtests = document.get("abtests") or []
    return iter(abtests if isinstance(abtests, list) else [])


def _require(instance: Mapping[str, Any], action: str) -> None:
    allowed = allowed_actions(instance)
    if action in allowed:
        return
    state = str(instance.get("state", "draft"))
    detail = state
    if state == "live" and instance.get("intake") == "paused":
        detail = "live with paused intake"
    elif state == "draft" and not instance.get("preview", True):
        detail = "draft (overrides not served)"
    why = ""
    if action == "pause" and state == "live" and not instance.get("materialization"):
        why = " (pausing intake needs a materialization that recorded the units)"
    message = f"cannot {action} {instance.get('name')}: it is {detail}{why}"
    raise _not_allowed(message, state, allowed)


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


def _check_unique_display_name(
    document: Mapping[str, Any], instance: Mapping[str, Any], path: str
) -> None:
    display_name = instance.get("displayName")
    if not display_name:
        return
    for other in _instances(document):
        same = other is instance or other.get("name") == instance.get("name")
        if not same and other.get("displayName") == display_name:
            raise ConfigError(
                [
                    Problem(
                        f"{path}.displayName",
                        f"{display_name!r} is already the name of {other.get('name')}",
                    )
                ]
            )


def _ranges(allocation: Any) -> list[Range]:
    if not isinstance(allocation, Mapping):
        return []
    found = []
    for item in allocation.get("bucketRanges") or []:
        if isinstance(item, Mapping):
            found.append((int(item.get("lower", 0)), int(item["upper"])))
    return merge(found)


def _proportion(allocation: Any) -> float:
    """The share an allocation admits (1.0 for none)."""
    if not isinstance(allocation, Mapping):
        return 1.0
    if allocation.get("proportion") is not None:
        return parse_proportion(allocation["proportion"])
    ranges = _ranges(allocation)
    return width(ranges) / ACCOUNT_BUCKETS if ranges else 1.0


def _place_exclusive(
    document: Mapping[str, Any], instance: dict[str, Any], path: str, before: Any
) -> None:
    """Check a change of allocation against the state, and give an exclusive allocation
    written as a proportion its bucket ranges (first fit, keeping the ones it has)."""
    segment = instance.get("segment")
    allocation = segment.get("allocation") if isinstance(segment, Mapping) else None
    a_path = f"{path}.segment.allocation"
    if instance.get("state") == "live":
        _check_growth(instance, before, allocation, a_path)
    if not isinstance(allocation, dict) or not allocation.get("exclusivityTags"):
        return
    if allocation.get("proportion") is None:
        return  # explicit bucket ranges: validation checks them
    tags = set(allocation["exclusivityTags"])
    target = round(parse_proportion(allocation["proportion"]) * ACCOUNT_BUCKETS)
    same_tags = isinstance(before, Mapping) and sorted(
        before.get("exclusivityTags") or []
    ) == sorted(allocation["exclusivityTags"])
    own = _ranges(before) if same_tags else _ranges(allocation)
    placed = place(own, _taken(document, instance, tags), target, path=f"{a_path}.proportion")
    allocation["bucketRanges"] = [{"lower": lower, "upper": upper} for lower, upper in placed]


def _taken(document: Mapping[str, Any], instance: Mapping[str, Any], tags: set[str]) -> list[Range]:
    """Ranges held by the other segments and tests that share one of ``tags``."""
    holders: list[Any] = []
    segments = document.get("segments") or {}
    holders += [
        segment.get("allocation")
        for segment in (segments.values() if isinstance(segments, Mapping) else segments)
        if isinstance(segment, Mapping)
    ]
    holders += [
        (other.get("segment") or {}).get("allocation")
        for other in _instances(document)
        if other is not instance and other.get("state", "draft") in _HOLDING
    ]
    taken: list[Range] = []
    for allocation in holders:
        if isinstance(allocation, Mapping) and tags & set(allocation.get("exclusivityTags") or []):
            taken += _ranges(allocation)
    return taken


def _check_growth(instance: Mapping[str, Any], before: Any, after: Any, path: str) -> None:
    """A live test's allocation may only grow: the same exclusivity tags, a proportion at
    least as large, and every bucket range it had still in it."""
    problems = []
    tags_before = sorted(before.get("exclusivityTags") or []) if isinstance(before, Mapping) else []
    tags_after = sorted(after.get("exclusivityTags") or []) if isinstance(after, Mapping) else []
    if tags_before != tags_after:
        problems.append("its exclusivity tags cannot change")
    old, new = _proportion(before), _proportion(after)
    if new < old:
        problems.append(f"its allocation can only grow ({old:g} → {new:g})")
    if isinstance(after, Mapping) and after.get("proportion") is None:
        kept = set(_ranges(after))
        if not all(_covered(r, kept) for r in _ranges(before)):
            problems.append("its bucket ranges must keep every bucket it had")
    if problems:
        raise _not_allowed(
            f"{instance.get('name')} is live: {'; '.join(problems)} (units already in the test "
            "keep their place); end it and start a new test to shrink it",
            "live",
            allowed_actions(instance),
        )


def _covered(item: Range, ranges: set[Range]) -> bool:
    return any(lower <= item[0] and item[1] <= upper for lower, upper in ranges)


def _check_launchable(document: Mapping[str, Any], instance: Mapping[str, Any], path: str) -> None:
    treatments = (instance.get("abtest") or {}).get("treatments") or []
    if not treatments:
        raise ConfigError(
            [Problem(f"{path}.abtest.treatments", "a test needs treatments to launch")]
        )
    flag_name = "/".join(str(treatments[0].get("variant", "")).split("/")[:2])
    flags = document.get("flags") or {}
    flag = None
    for candidate in flags.values() if isinstance(flags, Mapping) else flags:
        if isinstance(candidate, Mapping) and candidate.get("name") == flag_name:
            flag = candidate
    problems = []
    if flag is None:
        problems.append(Problem(f"{path}.abtest.treatments", f"unknown flag {flag_name!r}"))
    elif flag.get("state", "ACTIVE") != "ACTIVE":
        problems.append(
            Problem(
                f"{path}.abtest.treatments",
                f"{flag_name!r} is archived: a test needs an active flag",
            )
        )
    tags = set(
        ((instance.get("segment") or {}).get("allocation") or {}).get("exclusivityTags") or []
    )
    for other in _instances(document):
        if other is instance or other.get("state") != "live":
            continue
        other_treatments = (other.get("abtest") or {}).get("treatments") or []
        other_flag = (
            "/".join(str(other_treatments[0].get("variant", "")).split("/")[:2])
            if other_treatments
            else ""
        )
        other_tags = set(
            ((other.get("segment") or {}).get("allocation") or {}).get("exclusivityTags") or []
        )
        if other_flag == flag_name and not tags & other_tags:
            problems.append(
                Problem(
                    f"{path}.abtest.treatments",
                    f"{flag_name!r} is already in live test {other.get('name')}; give both tests "
                    "one exclusivity tag to run them side by side",
                )
            )
    end = instance.get("endTime")
    end_ns = parse_timestamp_ns(end) if isinstance(end, str) else None
    if end_ns is not None and end_ns <= time.time_ns():
        problems.append(Problem(f"{path}.endTime", f"the test would end ({end}) before it starts"))
    if problems:
        raise ConfigError(problems)


def _make_token(offset: int, state: str | None) -> str:
    raw = json.dumps({"offset": offset, "state": state}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, state: str | None) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        offset = decoded["offset"]
        same_filter = decoded["state"] == state
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"page token {token!r} is not one this list gave out") from None
    if not isinstance(offset, int) or offset < 0 or not same_filter:
        raise ValueError(f"page token {token!r} belongs to another listing")
    return offset
