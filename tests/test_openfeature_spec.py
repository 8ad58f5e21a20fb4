"""The OpenFeature specification's own Gherkin scenarios, run against ``FlagstoneProvider``
through the OpenFeature Python SDK.

``tests/openfeature/`` holds the specification's feature files and its ``test-flags.json``
as they are (``NOTICE.md`` there says from where and under which license). Cucumber's own
parser (``gherkin-official``) compiles them into pickles: one per scenario and example row,
each one test here, named ``<feature>: <scenario> [<row>]``. The step implementations are
ours (``STEPS``); ``spec_snapshot`` re-expresses the test flags as a flagstone snapshot:

- a variant value is an object in flagstone, so a flag whose values are scalars keeps them
  under ``"value"`` and is evaluated as ``"<flag>.value"`` (``KEYS``), the way a flagstone
  user reads a field; object flags are evaluated by their own key;
- ``defaultVariant`` is a last rule that gives it to everyone, ``contextEvaluator`` (CEL) a
  rule before it on a segment whose targeting says the same (``TARGETING``, written by hand
  for each expression the file uses), ``disabled`` an ARCHIVED flag.

Scenarios that cannot apply are skipped with the reason (``NOT_APPLICABLE``), which the
README's "OpenFeature" section lists; every other scenario passes. (``STATIC`` and
``DEFAULT`` come from the rule that gives ``defaultVariant`` to everyone: see
``Resolution.catch_all``.)
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openfeature", reason="the openfeature extra is not installed")
gherkin_parser = pytest.importorskip("gherkin.parser", reason="gherkin-official is not installed")

from gherkin.pickles.compiler import Compiler  # noqa: E402
from openfeature import api  # noqa: E402
from openfeature.evaluation_context import EvaluationContext  # noqa: E402
from openfeature.event import EventDetails, ProviderEvent  # noqa: E402
from openfeature.exception import ProviderNotReadyError  # noqa: E402
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagEvaluationOptions  # noqa: E402
from openfeature.hook import Hook, HookContext, HookHints  # noqa: E402
from openfeature.transaction_context import ContextVarsTransactionContextPropagator  # noqa: E402

import flagstone  # noqa: E402
from flagstone.openfeature import FlagstoneProvider  # noqa: E402
from flagstone.sources import FunctionSource  # noqa: E402
from tests import builders as b  # noqa: E402

HERE = Path(__file__).resolve().parent / "openfeature"
FEATURES = sorted(HERE.glob("*.feature"))
SPEC_FLAGS: dict[str, dict[str, Any]] = json.loads((HERE / "test-flags.json").read_text())

EXTRA_FLAGS: dict[str, dict[str, Any]] = {
    # evaluation.feature (deprecated) names a flag that test-flags.json no longer holds; it is
    # defined as test-flags.json had it at the commit evaluation.feature was taken from
    "context-aware": {
        "variants": {"internal": "INTERNAL", "external": "EXTERNAL"},
        "defaultVariant": "external",
        "contextEvaluator": "!customer ? 'internal' : ''",
    },
    # events.feature modifies a flag of this name
    "changing-flag": {"variants": {"on": True, "off": False}, "defaultVariant": "on"},
}

BALLMER = "ballmer@macrosoft.com"
TARGETING: dict[str, tuple[str, dict[str, Any]]] = {
    # CEL expression → (the variant it names, flagstone targeting that admits the same units)
    "email == 'ballmer@macrosoft.com' ? 'zero' : ''": (
        "zero",
        b.attribute_is("email", b.string(BALLMER)),
    ),
    "email == 'jobs@orange.com' ? 'special' : ''": (
        "special",
        b.attribute_is("email", b.string("jobs@orange.com")),
    ),
    # CEL's `!customer` on a missing attribute is an error, hence '' (no match): so is
    # flagstone's `customer == false` on a missing attribute
    "!customer ? 'internal' : ''": ("internal", b.attribute_is("customer", b.boolean(False))),
    "!customer && email == 'ballmer@macrosoft.com' && age > 10 ? 'internal' : ''": (
        "internal",
        b.targeting(
            {
                "customer": b.attribute("customer", b.eq(b.boolean(False))),
                "email": b.attribute("email", b.eq(b.string(BALLMER))),
                "age": b.attribute("age", b.between(startExclusive=b.number(10))),
            },
            b.and_(b.ref("customer"), b.ref("email"), b.ref("age")),
        ),
    ),
}


def _is_scalar_flag(spec: dict[str, Any]) -> bool:
    return any(not isinstance(value, dict) for value in spec["variants"].values())


def spec_snapshot(
    flags: dict[str, dict[str, Any]], *, version: str | None = None
) -> dict[str, Any]:
    """The specification's test flags as a flagstone snapshot (see the module docstring)."""
    built = []
    segments = [b.segment()]
    for key, spec in flags.items():
        scalar = _is_scalar_flag(spec)
        variants = {
            name: {"value": value} if scalar else value for name, value in spec["variants"].items()
        }
        rules = []
        if "contextEvaluator" in spec:
            variant, targeting = TARGETING[spec["contextEvaluator"]]
            segments.append(b.segment(f"{key}-targeting", targeting=targeting))
            rules.append(
                b.everyone_gets(f"flags/{key}/rules/targeting", variant, segment=f"{key}-targeting")
            )
        if spec.get("defaultVariant") is not None:
            rules.append(b.everyone_gets(f"flags/{key}/rules/default", spec["defaultVariant"]))
        state = "ARCHIVED" if spec.get("disabled") else None
        built.append(b.flag(key, variants, rules, state=state))
    return b.snapshot(*built, segments=segments, version=version)


ALL_FLAGS = {**SPEC_FLAGS, **EXTRA_FLAGS}
SNAPSHOT = spec_snapshot(ALL_FLAGS)
KEYS = {key: f"{key}.value" if _is_scalar_flag(spec) else key for key, spec in ALL_FLAGS.items()}
"""The specification's flag key → the key a flagstone user evaluates (unknown keys: the same)."""


# -- what cannot apply, and where flagstone answers otherwise ----------------------------------

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("evaluation_v2", "Provider in fatal state error"): (
        "flagstone has no unrecoverable state: a source that fails is retried with backoff "
        "(ERROR before the first snapshot, STALE after it), so the provider never reports FATAL"
    ),
    ("evaluation_v2", "Provider status accessibility [fatal | FATAL]"): (
        "flagstone has no unrecoverable state, so the provider never reports FATAL"
    ),
    ("evaluation_v2", "CACHED reason"): (
        "every evaluation resolves from the snapshot in memory: nothing is cached, so no "
        "resolution is CACHED"
    ),
    ("evaluation_v2", "Flag metadata in evaluation details"): (
        "a flagstone snapshot holds no metadata of the user's for a flag; the metadata describe "
        "the resolution (reason, rule, segment, assignment, A/B test, snapshot version)"
    ),
    ("metadata", "Returns metadata"): (
        "a flagstone snapshot holds no metadata of the user's for a flag; the metadata describe "
        "the resolution"
    ),
    ("metadata", "Returns no metadata"): (
        "the metadata always carry the resolution's reason and snapshot version"
    ),
    ("tracking", "Invalid event names"): (
        "the Python SDK passes any name to the provider, and flagstone's Client.track never "
        "raises: it refuses an empty name by counting it (stats()['events_rejected_invalid_"
        "event']) and recording nothing, so the operation does not error"
    ),
}
"""(feature, scenario name, with `` [row]`` for one example) → why it is skipped."""

# -- the world a scenario runs in ------------------------------------------------------------


class RecordingClient(flagstone.Client):
    """A client that remembers the contexts it resolved for and the events it tracked (the
    "provider with retrievable context" and the "tracking provider" of the scenarios)."""

    contexts: list[dict[str, Any]]
    tracked: list[tuple[str, dict[str, Any], Any, Any]]

    def evaluate(
        self, flag: str, context: Any = None, *, apply: bool = True
    ) -> flagstone.Resolution:
        self.__dict__.setdefault("contexts", []).append(copy.deepcopy(context))
        return super().evaluate(flag, context, apply=apply)

    def track(self, event: str, context: Any, *, value: Any = None, properties: Any = None) -> None:
        self.__dict__.setdefault("tracked", []).append((event, context, value, properties))


class RecordingHook(Hook):
    """Remembers every stage it ran, in order, with its arguments."""

    def __init__(self, name: str = "hook", log: list[str] | None = None, returns: Any = None):
        self.name = name
        self.log = log if log is not None else []
        self.calls: dict[str, list[Any]] = {}
        self.returns = returns

    def _record(self, stage: str, argument: Any) -> None:
        self.calls.setdefault(stage, []).append(argument)
        self.log.append(f"{self.name}.{stage}")

    def before(self, hook_context: HookContext, hints: HookHints) -> EvaluationContext | None:
        self._record("before", hook_context)
        return self.returns  # type: ignore[no-any-return]

    def after(
        self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints
    ) -> None:
        self._record("after", details)

    def error(self, hook_context: HookContext, exception: Exception, hints: HookHints) -> None:
        self._record("error", exception)

    def finally_after(
        self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints
    ) -> None:
        self._record("finally", details)


@dataclass
class World:
    """What the steps of one scenario share."""

    feature: str
    scenario: str
    clients: list[flagstone.Client] = field(default_factory=list)
    client: Any = None  # the OpenFeature client
    flagstone_client: RecordingClient | None = None
    provider: FlagstoneProvider | None = None
    flag_type: str = ""
    key: str = ""
    default: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    details: FlagEvaluationDetails[Any] | None = None
    evaluated_without_context: FlagEvaluationDetails[Any] | None = None
    hook: RecordingHook | None = None
    options: FlagEvaluationOptions | None = None
    option_hooks: list[RecordingHook] = field(default_factory=list)
    original_context: EvaluationContext | None = None
    context_copy: EvaluationContext | None = None
    levels: list[str] = field(default_factory=list)
    level_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[ProviderEvent, list[EventDetails]] = field(default_factory=dict)
    handlers: list[tuple[ProviderEvent, Callable[[EventDetails], None]]] = field(
        default_factory=list
    )
    payload: bytes | None = None  # what an event scenario's source function returns
    source_fails: bool = False
    init_error: Exception | None = None

    # -- providers --------------------------------------------------------------------------

    def set_provider(
        self,
        client: RecordingClient,
        *,
        wait: bool = True,
        initialization_timeout: float | None = 10.0,
    ) -> None:
        self.clients.append(client)
        self.flagstone_client = client
        self.provider = FlagstoneProvider(
            client, initialization_timeout=initialization_timeout, status_interval=0.02
        )
        if wait:
            try:
                api.set_provider_and_wait(self.provider)
            except ProviderNotReadyError as error:
                self.init_error = error
        else:
            api.set_provider(self.provider)
        self.client = api.get_client()

    def stable_provider(self) -> None:
        self.set_provider(RecordingClient.from_dict(SNAPSHOT, sinks=[flagstone.sinks.MemorySink()]))

    def source_client(self, *, refresh_interval: float = 3600.0) -> RecordingClient:
        """A client fed by a function: ``payload`` when set, an error when ``source_fails``,
        nothing new otherwise."""

        def fetch() -> bytes | None:
            if self.source_fails:
                raise OSError("the snapshot store is unreachable")
            return self.payload

        return RecordingClient.from_source(  # type: ignore[return-value]
            FunctionSource(fetch, name="spec-source"), refresh_interval=refresh_interval
        )

    # -- evaluation ---------------------------------------------------------------------------

    def context(self) -> EvaluationContext | None:
        return EvaluationContext(attributes=dict(self.attributes)) if self.attributes else None

    def evaluate(
        self,
        context: EvaluationContext | None = None,
        *,
        options: FlagEvaluationOptions | None = None,
        asynchronously: bool = False,
    ) -> FlagEvaluationDetails[Any]:
        method = f"get_{self.flag_type}_details" + ("_async" if asynchronously else "")
        call = getattr(self.client, method)
        arguments = (KEYS.get(self.key, self.key), self.default, context, options)
        if asynchronously:
            return asyncio.run(call(*arguments))  # type: ignore[no-any-return]
        return call(*arguments)  # type: ignore[no-any-return]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
            time.sleep(0.01)


# -- parsing step arguments --------------------------------------------------------------------

TYPES = {
    "boolean": "boolean",
    "string": "string",
    "integer": "integer",
    "float": "float",
    "double": "float",
    "object": "object",
}


def unquote(text: str) -> str:
    """A quoted step argument's text (``\\"`` is a quote)."""
    return re.sub(r"\\(.)", r"\1", text)


def typed(text: str, kind: str) -> Any:
    """``text`` as a value of the OpenFeature ``kind`` (``null`` is ``None``)."""
    kind = TYPES[kind.lower()]
    if text == "null":
        return None
    if kind == "boolean":
        assert text in ("true", "false"), f"not a boolean: {text!r}"
        return text == "true"
    if kind == "integer":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "object":
        return json.loads(text)
    return text


def literal(text: str) -> Any:
    """A value written in a step: a quoted string (``"true"``/``"false"`` are booleans, as the
    SDK's own steps read them) or a number."""
    if text.startswith('"'):
        inner = unquote(text[1:-1])
        return {"true": True, "false": False}.get(inner, inner)
    return float(text) if "." in text else int(text)


def attribute_value(text: str, kind: str) -> Any:
    return typed(
        text, {"string": "string", "integer": "integer", "boolean": "boolean"}[kind.lower()]
    )


# -- steps ------------------------------------------------------------------------------------

Q = r'"((?:[^"\\]|\\.)*)"'  # a quoted argument
STEPS: list[tuple[re.Pattern[str], Callable[..., None]]] = []


def step(pattern: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(function: Callable[..., None]) -> Callable[..., None]:
        STEPS.append((re.compile(f"^{pattern}$"), function))
        return function

    return register


@step(r"a provider is registered|a stable provider with retrievable context is registered")
def _stable_provider(world: World, table: Any) -> None:
    world.stable_provider()


def _not_ready_provider(world: World, table: Any) -> None:
    # a source with nothing to give yet: initialize() is still waiting for a snapshot
    world.set_provider(world.source_client(), wait=False, initialization_timeout=None)


@step(r"an? (stable|not ready|error|fatal|stale) provider")
def _provider_in(world: World, table: Any, status: str) -> None:
    if status == "stable":
        world.stable_provider()
    elif status == "not ready":
        _not_ready_provider(world, table)
    elif status == "error":  # the source fails before the first snapshot
        world.source_fails = True
        world.set_provider(world.source_client(), initialization_timeout=0.2)
        assert isinstance(world.init_error, ProviderNotReadyError)
    elif status == "stale":  # a snapshot is served, then refreshing it fails
        world.payload = json.dumps(SNAPSHOT).encode()
        client = world.source_client(refresh_interval=0.05)
        world.set_provider(client)
        world.source_fails = True
        world.wait_for(lambda: client.status().consecutive_failures > 0, "a failed refresh")
        world.wait_for(lambda: world.provider.status.value == "STALE", "the STALE event")  # type: ignore[union-attr]
    else:
        raise AssertionError(f"no {status} provider here (see NOT_APPLICABLE)")


@step(rf"an? (\w+)-flag with key {Q} and a (?:default|fallback) value {Q}")
def _a_flag(world: World, table: Any, kind: str, key: str, default: str) -> None:
    world.flag_type = TYPES[kind.lower()]
    world.key = unquote(key)
    world.default = typed(unquote(default), kind)


@step(rf"a context containing a key {Q}, with type {Q} and with value {Q}")
def _context_entry(world: World, table: Any, key: str, kind: str, value: str) -> None:
    world.attributes[unquote(key)] = attribute_value(unquote(value), unquote(kind))


@step(rf"a context containing a key {Q} with null value")
def _null_entry(world: World, table: Any, key: str) -> None:
    world.attributes[unquote(key)] = None


@step(r"the flag was evaluated with details")
def _evaluated(world: World, table: Any) -> None:
    world.details = world.evaluate(world.context())


@step(r"the flag was evaluated with details asynchronously")
def _evaluated_async(world: World, table: Any) -> None:
    world.details = world.evaluate(world.context(), asynchronously=True)


@step(r"the evaluation should complete without blocking")
def _completed(world: World, table: Any) -> None:
    assert world.details is not None and world.details.error_code is None


@step(rf"the resolved details value should be {Q}")
def _details_value(world: World, table: Any, value: str) -> None:
    assert world.details is not None
    expected = typed(unquote(value), world.flag_type)
    assert world.details.value == expected
    assert type(world.details.value) is type(expected) or world.flag_type == "object"


@step(rf"the reason should be {Q}")
def _reason(world: World, table: Any, reason: str) -> None:
    assert world.details is not None
    check_reason(world.details, reason)


def check_reason(details: FlagEvaluationDetails[Any], expected: str) -> None:
    actual = str(details.reason)
    assert actual == expected, f"reason {actual}, expected {expected}"


@step(rf"the error-code should be {Q}")
def _error_code(world: World, table: Any, code: str) -> None:
    assert world.details is not None
    assert str(world.details.error_code) == code


@step(rf"the flag key should be {Q}")
def _flag_key(world: World, table: Any, key: str) -> None:
    assert world.details is not None
    assert world.details.flag_key == KEYS.get(unquote(key), unquote(key))


@step(rf"the variant should be {Q}")
def _variant(world: World, table: Any, variant: str) -> None:
    assert world.details is not None
    assert world.details.variant == unquote(variant)


@step(rf"the error message should contain {Q}")
def _error_message(world: World, table: Any, text: str) -> None:
    assert world.details is not None and world.details.error_message is not None
    assert unquote(text) in world.details.error_message


@step(rf"the provider status should be {Q}")
def _provider_status(world: World, table: Any, status: str) -> None:
    assert world.client.get_provider_status().value == status


@step(r"evaluation options containing specific hooks")
def _option_hooks(world: World, table: Any) -> None:
    log: list[str] = []
    world.option_hooks = [RecordingHook("first", log), RecordingHook("second", log)]
    world.options = FlagEvaluationOptions(hooks=list(world.option_hooks))


@step(r"the flag was evaluated with details using the evaluation options")
def _evaluated_with_options(world: World, table: Any) -> None:
    world.details = world.evaluate(world.context(), options=world.options)


@step(r"the specified hooks should execute during evaluation")
def _hooks_ran(world: World, table: Any) -> None:
    for hook in world.option_hooks:
        assert set(hook.calls) == {"before", "after", "finally"}, hook.calls
        assert hook.calls["after"][0].value is True


@step(r"the hook order should be maintained")
def _hook_order(world: World, table: Any) -> None:
    # specification 4.4.2: before hooks in the order given, after and finally in reverse
    assert world.option_hooks[0].log == [
        "first.before",
        "second.before",
        "second.after",
        "first.after",
        "second.finally",
        "first.finally",
    ]


@step(r"an evaluation context with modifiable data")
def _modifiable_context(world: World, table: Any) -> None:
    world.original_context = EvaluationContext(
        "user-1", {"email": BALLMER, "tags": ["a", "b"], "profile": {"age": 42}}
    )
    world.context_copy = copy.deepcopy(world.original_context)
    world.attributes = {}  # the context below is used as it is


@step(r"the original evaluation context should remain unmodified")
def _context_unmodified(world: World, table: Any) -> None:
    assert world.original_context == world.context_copy


@step(r"the evaluation details should be immutable")
def _details_immutable(world: World, table: Any) -> None:
    # FlagEvaluationDetails is the SDK's (a plain dataclass in the Python SDK); what the
    # provider hands out inside it, the flag metadata (1.4.14.1), refuses changes
    assert world.details is not None and world.details.flag_metadata
    with pytest.raises(TypeError):
        world.details.flag_metadata["rule"] = "changed"  # type: ignore[index]


# deprecated evaluation.feature


@step(
    rf"an? (boolean|string|integer|float|object) flag with key {Q} is evaluated with "
    r"(details and )?(?:a )?(?:default value (.+)|a null default value)"
)
def _evaluated_old(
    world: World, table: Any, kind: str, key: str, details: str | None, default: str | None
) -> None:
    world.flag_type = kind
    world.key = unquote(key)
    world.default = None if default is None else literal(default)
    world.details = world.evaluate(None)


@step(
    r"the resolved (boolean|string|integer|float) (?:details )?value should be ([^,]+)"
    rf"(?:, the variant should be {Q}, and the reason should be {Q})?"
)
def _resolved_old(
    world: World, table: Any, kind: str, value: str, variant: str | None, reason: str | None
) -> None:
    assert world.details is not None
    assert world.details.value == literal(value)
    assert type(world.details.value) is type(literal(value))
    if variant is not None:
        assert world.details.variant == unquote(variant)
    if reason is not None:
        check_reason(world.details, unquote(reason))


@step(
    rf"the resolved object (?:details )?value should be contain fields {Q}, {Q}, and {Q}, "
    rf"with values {Q}, {Q} and (\d+), respectively"
)
def _resolved_object(world: World, table: Any, *fields_and_values: str) -> None:
    assert world.details is not None
    names = [unquote(name) for name in fields_and_values[:3]]
    values = [True, unquote(fields_and_values[4]), int(fields_and_values[5])]
    assert fields_and_values[3] == "true"
    assert {name: world.details.value[name] for name in names} == dict(
        zip(names, values, strict=True)
    )


@step(rf"the variant should be {Q}, and the reason should be {Q}")
def _variant_and_reason(world: World, table: Any, variant: str, reason: str) -> None:
    assert world.details is not None
    assert world.details.variant == unquote(variant)
    check_reason(world.details, unquote(reason))


@step(r"context contains keys (.+) with values (.+)")
def _context_keys(world: World, table: Any, keys: str, values: str) -> None:
    names = [unquote(name) for name in re.findall(Q, keys)]
    found = [literal(value) for value in re.findall(r'"(?:[^"\\]|\\.)*"|[\d.]+', values)]
    world.attributes = dict(zip(names, found, strict=True))


@step(rf"a flag with key {Q} is evaluated with default value {Q}")
def _context_aware(world: World, table: Any, key: str, default: str) -> None:
    world.flag_type, world.key, world.default = "string", unquote(key), unquote(default)
    world.details = world.evaluate(world.context())
    world.evaluated_without_context = world.evaluate(EvaluationContext())


@step(rf"the resolved string response should be {Q}")
def _string_response(world: World, table: Any, value: str) -> None:
    assert world.details is not None and world.details.value == unquote(value)


@step(rf"the resolved flag value is {Q} when the context is empty")
def _value_without_context(world: World, table: Any, value: str) -> None:
    assert world.evaluated_without_context is not None
    assert world.evaluated_without_context.value == unquote(value)


@step(rf"a non-existent string flag with key {Q} is evaluated with details and a default value {Q}")
def _missing_flag(world: World, table: Any, key: str, default: str) -> None:
    world.flag_type, world.key, world.default = "string", unquote(key), unquote(default)
    world.details = world.evaluate(None)


@step(
    rf"a string flag with key {Q} is evaluated as an integer, with details and a default "
    r"value (\d+)"
)
def _wrong_type(world: World, table: Any, key: str, default: str) -> None:
    world.flag_type, world.key, world.default = "integer", unquote(key), int(default)
    world.details = world.evaluate(None)


@step(r"the default (string|integer) value should be returned")
def _default_returned(world: World, table: Any, kind: str) -> None:
    assert world.details is not None and world.details.value == world.default


@step(
    rf"the reason should indicate an error and the error code should indicate an? [a-z ]+ with {Q}"
)
def _error_reason(world: World, table: Any, code: str) -> None:
    assert world.details is not None
    assert str(world.details.reason) == "ERROR"
    assert str(world.details.error_code) == unquote(code)


# hooks.feature


@step(r"a client with added hook")
def _client_hook(world: World, table: Any) -> None:
    world.hook = RecordingHook()
    world.client.add_hooks([world.hook])


@step(rf"the {Q} hook should have been executed")
def _hook_ran(world: World, table: Any, stage: str) -> None:
    assert world.hook is not None and world.hook.calls.get(unquote(stage))


@step(rf"the {Q} hooks should be called with evaluation details")
def _hooks_got(world: World, table: Any, stages: str) -> None:
    assert world.hook is not None
    for stage in unquote(stages).split(", "):
        (details,) = world.hook.calls[stage]
        for kind, key, value in table[1:]:
            actual = getattr(details, key)
            expected = None if value == "null" else typed(value, kind)
            if key == "flag_key":
                expected = KEYS.get(value, value)
            if key == "reason":
                check_reason(details, value)
            elif key == "error_code":
                assert (None if actual is None else str(actual)) == expected
            else:
                assert actual == expected, (stage, key)


# metadata.feature: its scenarios are not applicable (see NOT_APPLICABLE); no steps needed


# events.feature


@step(r"a provider which supports events and requires initialization")
def _events_provider(world: World, table: Any) -> None:
    pass  # built by the steps below, which say how its initialization goes


@step(r"a (PROVIDER_READY|PROVIDER_ERROR|PROVIDER_CONFIGURATION_CHANGED) handler is attached")
def _handler(world: World, table: Any, event_name: str) -> None:
    event = ProviderEvent[event_name]
    received = world.events.setdefault(event, [])

    def handler(details: EventDetails) -> None:
        received.append(details)

    api.add_handler(event, handler)
    world.handlers.append((event, handler))


def flagstone_events(world: World, event: ProviderEvent) -> list[EventDetails]:
    # a handler attached while the SDK's default no-op provider is READY runs at once for it
    return [
        details for details in world.events.get(event, []) if details.provider_name == "flagstone"
    ]


@step(r"the provider is set and successully initialized")
def _initialized(world: World, table: Any) -> None:
    client = world.source_client(refresh_interval=0.02)
    world.set_provider(client, wait=False)
    assert not client.wait_until_ready(0)
    world.payload = json.dumps(SNAPSHOT).encode()  # the first snapshot arrives


@step(r"the provider is set and fails to initialize")
def _failed_to_initialize(world: World, table: Any) -> None:
    world.source_fails = True
    world.set_provider(world.source_client(refresh_interval=0.02), initialization_timeout=0.2)
    assert isinstance(world.init_error, ProviderNotReadyError)


@step(r"the (PROVIDER_READY|PROVIDER_ERROR|PROVIDER_CONFIGURATION_CHANGED) handler must run")
def _handler_ran(world: World, table: Any, event_name: str) -> None:
    event = ProviderEvent[event_name]
    world.wait_for(lambda: bool(flagstone_events(world, event)), f"{event_name} from flagstone")


@step(rf"a flag with key {Q} is modified")
def _modified(world: World, table: Any, key: str) -> None:
    world.payload = json.dumps(SNAPSHOT).encode()
    client = world.source_client(refresh_interval=0.02)
    world.set_provider(client)
    flags = copy.deepcopy(ALL_FLAGS)
    flags[unquote(key)]["defaultVariant"] = "off"
    world.payload = json.dumps(spec_snapshot(flags, version="modified")).encode()
    world.wait_for(lambda: client.snapshot_version == "modified", "the modified snapshot")


@step(rf"the event details must indicate {Q} was altered")
def _altered(world: World, table: Any, key: str) -> None:
    (details, *_) = flagstone_events(world, ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert details.flags_changed is not None and unquote(key) in details.flags_changed


# tracking.feature


@step(rf"an event was tracked with tracking event name {Q}")
def _tracked(world: World, table: Any, name: str) -> None:
    world.client.track(unquote(name))


@step(rf"the tracking provider should have been called with event name {Q}")
def _tracking_called(world: World, table: Any, name: str) -> None:
    assert world.flagstone_client is not None
    assert [event for event, *_ in world.flagstone_client.tracked] == [unquote(name)]


# evaluation_context.feature and contextMerging.feature

LEVELS = ("API", "Transaction", "Client", "Invocation", "Before Hooks")


@step(rf"A context entry with key {Q} and value {Q}(?: of type {Q})? is added to the {Q} level")
def _level_entry(
    world: World, table: Any, key: str, value: str, kind: str | None, level: str
) -> None:
    add_to_level(
        world, unquote(level), unquote(key), attribute_value(unquote(value), kind or "string")
    )


def add_to_level(world: World, level: str, key: str, value: Any) -> None:
    assert level in LEVELS, level
    attributes = world.level_attributes.setdefault(level, {})
    attributes[key] = value
    if level == "API":
        api.set_evaluation_context(EvaluationContext(attributes=dict(attributes)))
    elif level == "Transaction":
        api.set_transaction_context_propagator(ContextVarsTransactionContextPropagator())
        api.set_transaction_context(EvaluationContext(attributes=dict(attributes)))
    elif level == "Client":
        world.client.context = EvaluationContext(attributes=dict(attributes))


@step(r"A table with levels of increasing precedence")
def _levels(world: World, table: Any) -> None:
    world.levels = [row[0] for row in table]


@step(
    rf"Context entries for each level from API level down to the {Q} level, with key {Q} "
    rf"and value {Q}(?: of type {Q})?"
)
def _entries_down_to(
    world: World, table: Any, last: str, key: str, value: str, kind: str | None
) -> None:
    assert unquote(value) == unquote(last)
    for level in world.levels[: world.levels.index(unquote(last)) + 1]:
        add_to_level(world, level, unquote(key), level)  # each level its own name: the last wins


@step(r"Some flag was evaluated")
def _some_flag(world: World, table: Any) -> None:
    world.flag_type, world.key, world.default = "boolean", "boolean-flag", False
    invocation = world.level_attributes.get("Invocation")
    before = world.level_attributes.get("Before Hooks")
    options = None
    if before is not None:
        options = FlagEvaluationOptions(
            hooks=[RecordingHook("before", returns=EvaluationContext(attributes=dict(before)))]
        )
    context = EvaluationContext(attributes=dict(invocation)) if invocation else None
    world.details = world.evaluate(context, options=options)
    assert world.details.error_code is None, world.details.error_message


@step(rf"The merged context contains an entry with key {Q} and value {Q}(?: of type {Q})?")
def _merged_contains(world: World, table: Any, key: str, value: str, kind: str | None) -> None:
    assert world.flagstone_client is not None
    context = world.flagstone_client.contexts[-1]
    expected = attribute_value(unquote(value), kind or "string")
    assert context[unquote(key)] == expected
    assert type(context[unquote(key)]) is type(expected)


@step(rf"the evaluation context should allow missing {Q} field")
def _missing_field(world: World, table: Any, key: str) -> None:
    assert world.flagstone_client is not None
    assert unquote(key) not in world.flagstone_client.contexts[-1]
    assert world.details is not None and world.details.value is True


# -- the scenarios as tests -------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    feature: str
    name: str
    row: str
    tags: tuple[str, ...]
    steps: tuple[tuple[str, Any], ...]

    @property
    def id(self) -> str:
        return f"{self.feature}: {self.name}" + (f" [{self.row}]" if self.row else "")


def _rows(document: dict[str, Any]) -> dict[str, str]:
    """Example row id → its cells, joined (for test ids)."""
    rows: dict[str, str] = {}
    for child in document["feature"]["children"]:
        for examples in child.get("scenario", {}).get("examples", []):
            for row in examples["tableBody"]:
                rows[row["id"]] = " | ".join(cell["value"] for cell in row["cells"])
    return rows


def scenarios() -> Iterator[Scenario]:
    for path in FEATURES:
        document = gherkin_parser.Parser().parse(path.read_text(encoding="utf-8"))
        document["uri"] = path.name
        rows = _rows(document)
        for pickle in Compiler().compile(document):
            row = rows.get(pickle["astNodeIds"][-1], "") if len(pickle["astNodeIds"]) > 1 else ""
            steps = []
            for item in pickle["steps"]:
                table = item.get("argument", {}).get("dataTable")
                cells = (
                    [[cell["value"] for cell in row_["cells"]] for row_ in table["rows"]]
                    if table
                    else None
                )
                steps.append((item["text"], cells))
            tags = tuple(tag["name"] for tag in pickle["tags"])
            yield Scenario(path.stem, pickle["name"], row, tags, tuple(steps))


SCENARIOS = list(scenarios())


def _ids() -> list[str]:
    """Test ids; scenarios that share a name and a row (contextMerging.feature runs some
    for @Hooks, @Transaction and both) are told apart by their tags."""
    ids = [scenario.id for scenario in SCENARIOS]
    return [
        f"{id_} {' '.join(scenario.tags)}" if ids.count(id_) > 1 else id_
        for id_, scenario in zip(ids, SCENARIOS, strict=True)
    ]


def _marks(scenario: Scenario) -> list[pytest.MarkDecorator]:
    key = (scenario.feature, scenario.name)
    row_key = (scenario.feature, f"{scenario.name} [{scenario.row}]")
    for candidate in (row_key, key):
        if candidate in NOT_APPLICABLE:
            return [pytest.mark.skip(reason=f"not applicable: {NOT_APPLICABLE[candidate]}")]
    return []


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    scenario: Scenario = request.node.callspec.params["scenario"]
    world = World(scenario.feature, scenario.name)
    yield world
    for event, handler in world.handlers:
        api.remove_handler(event, handler)
    api.clear_providers()
    api.clear_hooks()
    api.set_evaluation_context(EvaluationContext())
    api.set_transaction_context(EvaluationContext())
    api.clear_transaction_context_propagator()
    for client in world.clients:
        client.close()


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(scenario, id=id_, marks=_marks(scenario))
        for scenario, id_ in zip(SCENARIOS, _ids(), strict=True)
    ],
)
def test_scenario(scenario: Scenario, world: World) -> None:
    for text, table in scenario.steps:
        matches = [
            (function, match) for pattern, function in STEPS if (match := pattern.match(text))
        ]
        assert matches, f"no step implementation for {text!r}"
        function, match = matches[0]
        function(world, table, *match.groups())


def test_every_scenario_is_collected() -> None:
    """The feature files hold what the README counts: a parse that lost scenarios would
    silently test less."""
    counts = {}
    for scenario in SCENARIOS:
        counts[scenario.feature] = counts.get(scenario.feature, 0) + 1
    assert counts == {
        "contextMerging": 29,
        "evaluation": 13,
        "evaluation_context": 36,
        "evaluation_v2": 86,
        "events": 3,
        "hooks": 3,
        "metadata": 5,
        "tracking": 3,
    }


def test_every_exception_names_a_scenario() -> None:
    names = {(scenario.feature, scenario.name) for scenario in SCENARIOS} | {
        (scenario.feature, f"{scenario.name} [{scenario.row}]") for scenario in SCENARIOS
    }
    assert set(NOT_APPLICABLE) <= names


def test_every_step_is_implemented() -> None:
    """Every step of every scenario that runs has exactly one implementation."""
    missing, ambiguous = set(), set()
    for scenario in SCENARIOS:
        if any(mark.name == "skip" for mark in _marks(scenario)):
            continue
        for text, _ in scenario.steps:
            found = sum(1 for pattern, _ in STEPS if pattern.match(text))
            (missing if found == 0 else ambiguous if found > 1 else set()).add(text)
    assert not ambiguous
    assert not missing


def test_the_snapshot_serves_the_spec_flags() -> None:
    """The re-expression is checked against the flags' own definitions, without the
    provider: every flag's default variant for an empty context, each targeting expression
    for a context it admits."""
    client = flagstone.Client.from_dict(SNAPSHOT)
    for key, spec in ALL_FLAGS.items():
        resolution = client.evaluate(key, {}, apply=False)
        if spec.get("disabled"):
            assert resolution.reason is flagstone.Reason.FLAG_ARCHIVED
        elif spec.get("defaultVariant") is None:
            assert resolution.variant is None
        else:
            assert resolution.variant == spec["defaultVariant"], key
    admitted = {
        "email == 'ballmer@macrosoft.com' ? 'zero' : ''": {"email": BALLMER},
        "email == 'jobs@orange.com' ? 'special' : ''": {"email": "jobs@orange.com"},
        "!customer ? 'internal' : ''": {"customer": False},
        "!customer && email == 'ballmer@macrosoft.com' && age > 10 ? 'internal' : ''": {
            "customer": False,
            "email": BALLMER,
            "age": 11,
        },
    }
    refused = {
        "!customer && email == 'ballmer@macrosoft.com' && age > 10 ? 'internal' : ''": {
            "customer": False,
            "email": BALLMER,
            "age": 10,
        }
    }
    for key, spec in ALL_FLAGS.items():
        expression = spec.get("contextEvaluator")
        if expression is None:
            continue
        variant, _ = TARGETING[expression]
        assert client.evaluate(key, admitted[expression], apply=False).variant == variant
        if expression in refused:
            assert client.evaluate(key, refused[expression], apply=False).variant != variant
    client.close()


def test_the_readme_counts_what_runs() -> None:
    """The README's "OpenFeature" section states how many scenarios pass, do not apply and
    are expected failures."""
    readme = (HERE.parent.parent / "README.md").read_text(encoding="utf-8")
    skipped = sum(1 for s in SCENARIOS if any(m.name == "skip" for m in _marks(s)))
    passing = len(SCENARIOS) - skipped
    assert f"{len(SCENARIOS)} scenarios and\nexamples" in readme
    assert f"{passing} pass. {skipped} do not apply" in readme
