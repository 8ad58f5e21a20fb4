"""The A/B-test state machine: which action each native state allows, and how the Alexa
(seed 002) and Experiments-API (seed 001) state names map onto the native states.

Native states are seed 000's ``draft``, ``live``, ``ended`` and ``archived``; two fields of an
instance refine them: ``preview`` (treatment overrides served while a draft, Alexa's ENABLED)
and ``intake`` (``paused`` while live: the Experiments API's ``stopped``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "ACTIONS",
    "ALEXA_STATES",
    "ALEXA_TARGETS",
    "EXPERIMENTS_API_STATUSES",
    "NativeState",
    "alexa_state",
    "allowed_actions",
    "experiments_api_status",
]

NativeState = tuple[str, bool, str]
"""``(state, preview, intake)`` of an instance."""

ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "draft": (
        "update",
        "update-segment",
        "enable",
        "launch",
        "override",
        "exposure",
        "archive",
        "delete",
    ),
    "live": ("update-segment", "override", "exposure", "pause", "resume", "end", "archive"),
    "ended": ("archive", "delete"),
    "archived": ("delete",),
}
"""The actions each native state allows (``pause`` and ``resume`` also depend on ``intake``,
``enable`` on ``preview``)."""

ALEXA_STATES: Final[dict[str, tuple[str, bool]]] = {
    "CREATED": ("draft", False),
    "ENABLING": ("draft", True),
    "ENABLED": ("draft", True),
    "RUNNING": ("live", True),
    "STOPPING": ("ended", True),
    "STOPPED": ("ended", True),
    "FAILED": ("ended", True),
}
"""Alexa state → native ``(state, preview)``. ENABLING and STOPPING are the seed's
transitional states; an in-process edit completes at once, so flagstone only ever writes the
states they lead to, but it reads them."""

ALEXA_TARGETS: Final[dict[str, tuple[str, ...]]] = {
    "CREATED": ("ENABLED",),
    "ENABLING": ("RUNNING", "STOPPED"),
    "ENABLED": ("RUNNING", "STOPPED"),
    "RUNNING": ("STOPPED",),
    "STOPPING": (),
    "STOPPED": (),
    "FAILED": (),
}
"""Alexa's ``targetState`` transitions: the target states each state allows."""

EXPERIMENTS_API_STATUSES: Final[dict[str, tuple[str, str]]] = {
    "draft": ("draft", "open"),
    "running": ("live", "open"),
    "stopped": ("live", "paused"),
    "completed": ("ended", "open"),
}
"""Experiments-API status → native ``(state, intake)``."""


def _native(instance: Mapping[str, Any]) -> NativeState:
    return (
        str(instance.get("state", "draft")),
        bool(instance.get("preview", True)),
        str(instance.get("intake", "open")),
    )


def _origin_state(instance: Mapping[str, Any], shape: str) -> str | None:
    origin = instance.get("origin")
    if isinstance(origin, Mapping) and origin.get("format") == shape:
        state = origin.get("state")
        return state if isinstance(state, str) else None
    return None


def alexa_state(instance: Mapping[str, Any]) -> str:
    """The Alexa state of a native instance (a JSON mapping): the state it was read with
    while that still describes it (so ENABLING or FAILED survive a round trip), else the one
    its native state implies (archived reads as STOPPED, the Alexa shape has no archive)."""
    state, preview, _ = _native(instance)
    kept = _origin_state(instance, "alexa")
    if kept in ALEXA_STATES and _alexa_matches(kept, state, preview):
        return kept
    if state == "draft":
        return "ENABLED" if preview else "CREATED"
    return "RUNNING" if state == "live" else "STOPPED"


def _alexa_matches(alexa: str, state: str, preview: bool) -> bool:
    native_state, native_preview = ALEXA_STATES[alexa]
    return native_state == state and (state != "draft" or native_preview == preview)


def experiments_api_status(instance: Mapping[str, Any]) -> str:
    """The Experiments-API status of a native instance (archived reads as completed)."""
    state, _, intake = _native(instance)
    if state == "draft":
        return "draft"
    if state == "live":
        return "stopped" if intake == "paused" else "running"
    return "completed"


def allowed_actions(instance: Mapping[str, Any]) -> tuple[str, ...]:
    """What ``instance`` (a JSON mapping) allows now, in its state, preview and intake."""
    state, preview, intake = _native(instance)
    actions = ACTIONS.get(state, ())
    skip = set()
    if state == "draft" and preview:
        skip.add("enable")
    if state == "live":
        skip.add("resume" if intake == "open" else "pause")
        if intake == "paused":
            skip.update(("exposure", "update-segment"))
        if not instance.get("materialization"):
            skip.add("pause")
    return tuple(action for action in actions if action not in skip)
