"""The A/B-test state machine: which action each native state allows, how the state names of
the Alexa skill A/B-testing API and of the Experiments API map onto the native states, and
which commands each of those APIs allows in each of its own states.

Native states are the Confidence A/B-test API's ``draft``, ``live``, ``ended`` and
``archived``; two fields of an instance refine them: ``preview`` (treatment overrides served
while a draft, Alexa's ENABLED) and ``intake`` (``paused`` while live: the Experiments API's
``stopped``). The lifecycle (``flagstone.abtests``) enforces these tables; the Alexa and
Experiments-API formats read and write the states through them.

A document managed as an Alexa or Experiments-API file (``shape``) follows that API's own
rules, which are stricter than the native ones, and its refusals speak that API's words:
:func:`shape_state` and :func:`shape_commands` give the state and the allowed commands as the
shape names them, :func:`shape_allows` whether an action may run.
"""

from __future__ import annotations

from typing import Final

from .abtests import AbTestInstance

__all__ = [
    "ACTIONS",
    "ALEXA",
    "ALEXA_ACTIONS",
    "ALEXA_STATES",
    "ALEXA_TARGETS",
    "EXPERIMENTS_API",
    "EXPERIMENTS_API_ACTIONS",
    "EXPERIMENTS_API_STATUSES",
    "NATIVE",
    "SHAPE_NAMES",
    "NativeState",
    "alexa_state",
    "allowed_actions",
    "command_word",
    "experiments_api_status",
    "native_state",
    "shape_allows",
    "shape_commands",
    "shape_has",
    "shape_state",
    "shape_states",
]

NATIVE: Final = "native"
ALEXA: Final = "alexa"
EXPERIMENTS_API: Final = "experiments-api"
SHAPE_NAMES: Final[dict[str, str]] = {
    NATIVE: "the native lifecycle",
    ALEXA: "the Alexa skill A/B-testing API",
    EXPERIMENTS_API: "the Experiments API",
}
"""The shapes a document's tests may be managed in, and the API each one follows."""

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
"""Alexa state → native ``(state, preview)``. ENABLING and STOPPING are the Alexa API's
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

_ALEXA_EDITS: Final[dict[str, tuple[str, ...]]] = {
    "CREATED": ("update", "exposure", "override", "delete"),
    "ENABLING": ("override", "delete"),
    "ENABLED": ("override", "delete"),
    "RUNNING": ("exposure", "override"),
    "STOPPING": ("delete",),
    "STOPPED": ("delete",),
    "FAILED": ("delete",),
}

ALEXA_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    state: (*(f"state {target}" for target in targets), *_ALEXA_EDITS[state])
    for state, targets in ALEXA_TARGETS.items()
}
"""The commands each Alexa state allows (``state TARGET`` is the ``targetState`` change), as
the Alexa skill A/B-testing API states them: "Update A/B test: the test must be in the
CREATED state"; "Update exposure: CREATED - increase or decrease …, RUNNING - increase";
treatment overrides are for testing the skill until the test stops; a running test is not
deleted (stop it first)."""

EXPERIMENTS_API_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "draft": ("update", "launch", "delete"),
    "running": ("pause", "end"),
    "stopped": ("resume", "end"),
    "completed": ("delete",),
}
"""The commands each Experiments-API status allows: "Update Experiment: only allowed while
the experiment is in draft status"; Start launches a draft (and resumes a stopped one);
Stop stops variant assignment; ``end`` completes it. The Experiments API has no treatment
overrides, allocation or preview."""

_WORDS: Final[dict[tuple[str, str | None, str], str]] = {
    (ALEXA, "RUNNING", "exposure"): "exposure (up only)",
    (EXPERIMENTS_API, None, "launch"): "launch (start)",
    (EXPERIMENTS_API, None, "pause"): "pause (stop)",
    (EXPERIMENTS_API, None, "resume"): "resume (start)",
}
"""How a shape words a command (in a state, or in any: ``None``), where not by its name."""


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


def shape_state(instance: AbTestInstance, shape: str) -> str:
    """The state of ``instance`` as ``shape`` names it: the native state, the Alexa state or
    the Experiments-API status."""
    if shape == ALEXA:
        return alexa_state(instance)
    if shape == EXPERIMENTS_API:
        return experiments_api_status(instance)
    return instance.state


def shape_states(shape: str) -> tuple[str, ...]:
    """Every state name of ``shape``, in lifecycle order."""
    if shape == ALEXA:
        return tuple(ALEXA_STATES)
    if shape == EXPERIMENTS_API:
        return tuple(EXPERIMENTS_API_STATUSES)
    return tuple(ACTIONS)


def shape_has(shape: str, action: str) -> bool:
    """Whether ``shape`` has the command ``action`` in any state."""
    if shape == ALEXA:
        return any(action in actions for actions in ALEXA_ACTIONS.values())
    if shape == EXPERIMENTS_API:
        return any(action in actions for actions in EXPERIMENTS_API_ACTIONS.values())
    return any(action in actions for actions in ACTIONS.values())


def shape_allows(instance: AbTestInstance, shape: str) -> tuple[str, ...]:
    """The actions ``instance`` allows now when its document is managed as ``shape``: the
    shape's own rule for its state, never more than the native lifecycle allows (the
    ``state TARGET`` changes follow :data:`ALEXA_TARGETS`)."""
    native = allowed_actions(instance)
    if shape == ALEXA:
        actions = ALEXA_ACTIONS[alexa_state(instance)]
    elif shape == EXPERIMENTS_API:
        actions = EXPERIMENTS_API_ACTIONS[experiments_api_status(instance)]
    else:
        return native
    return tuple(action for action in actions if action.startswith("state ") or action in native)


def command_word(shape: str, action: str, state: str | None = None) -> str:
    """How ``shape`` words the command ``action`` in ``state`` (``exposure (up only)`` in
    Alexa's RUNNING, ``pause (stop)`` in the Experiments API)."""
    return _WORDS.get((shape, state, action)) or _WORDS.get((shape, None, action)) or action


def shape_commands(instance: AbTestInstance, shape: str) -> tuple[str, ...]:
    """The commands ``instance`` allows now, worded as ``shape`` words them."""
    state = shape_state(instance, shape)
    return tuple(command_word(shape, action, state) for action in shape_allows(instance, shape))
