"""The A/B-test state machine: which action each native state allows, and how the Alexa
(seed 002) and Experiments-API (seed 001) state names map onto the native states.

Native states are seed 000's ``draft``, ``live``, ``ended`` and ``archived``; two fields of an
instance refine them: ``preview`` (treatment overrides served while a draft, Alexa's ENABLED)
and ``intake`` (``paused`` while live: the Experiments API's ``stopped``). The lifecycle
(``flagstone.abtests``) enforces these tables; the Alexa and Experiments-API formats read and
write the states through them.
"""

from __future__ import annotations

from typing import Final

from .abtests import AbTestInstance

__all__ = [
    "ACTIONS",
    "ALEXA_STATES",
    "ALEXA_TARGETS",
    "EXPERIMENTS_API_STATUSES",
    "NativeState",
    "alexa_state",
    "allowed_actions",
    "experiments_api_status",
    "native_state",
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


def native_state(instance: AbTestInstance) -> NativeState:
    """``(state, preview, intake)`` of ``instance``."""
    return instance.state, instance.preview, instance.intake


def alexa_state(instance: AbTestInstance) -> str:
    """The Alexa state of a native instance: the state it was read with while that still
    describes it (so ENABLING or FAILED survive a round trip), else the one its native state
    implies (archived reads as STOPPED, the Alexa shape has no archive)."""
    state, preview, _ = native_state(instance)
    origin = instance.origin
    kept = origin.state if origin is not None and origin.format == "alexa" else None
    if kept in ALEXA_STATES and _alexa_matches(kept, state, preview):
        return kept
    if state == "draft":
        return "ENABLED" if preview else "CREATED"
    return "RUNNING" if state == "live" else "STOPPED"


def _alexa_matches(alexa: str, state: str, preview: bool) -> bool:
    native, native_preview = ALEXA_STATES[alexa]
    return native == state and (state != "draft" or native_preview == preview)


def experiments_api_status(instance: AbTestInstance) -> str:
    """The Experiments-API status of a native instance (archived reads as completed)."""
    state, _, intake = native_state(instance)
    if state == "draft":
        return "draft"
    if state == "live":
        return "stopped" if intake == "paused" else "running"
    return "completed"


def allowed_actions(instance: AbTestInstance) -> tuple[str, ...]:
    """What ``instance`` allows now, in its state, preview and intake."""
    state, preview, intake = native_state(instance)
    actions = ACTIONS.get(state, ())
    skip = set()
    if state == "draft" and preview:
        skip.add("enable")
    if state == "live":
        skip.add("resume" if intake == "open" else "pause")
        if intake == "paused":
            skip.update(("exposure", "update-segment"))
        if not instance.materialization:
            skip.add("pause")
    return tuple(action for action in actions if action not in skip)
