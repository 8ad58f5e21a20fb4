"""One adapter per SDK: configure it offline from local JSON, and time it the way its
documentation says an application evaluates a flag.

An adapter builds, for one scenario's configuration, a ``Target`` with:

``contexts(users)``
    each user ``(user id, attributes dict)`` turned into the SDK's own evaluation context
    (done before timing: an application builds it once per request);
``loop(flag, contexts)``
    one timed pass: for each context, one evaluation that yields the variant (the SDK's
    method bound to a local first, exactly as ``floor.loop`` does: the harness measures the
    SDK, not an adapter);
``loop_raw(flag, users)``
    the same, building the SDK's context from ``(user id, attributes)`` inside the call;
``variant(flag, context)``
    the variant name, or ``None`` when the unit gets no variant (for ``check``).

Offline: no adapter opens a connection anywhere but 127.0.0.1 (where nothing listens); each
is handed its configuration from a local file or bytes (Eppo ``initial_configuration``,
GrowthBook ``features``/``saved_groups``, LaunchDarkly ``Files.new_data_source``, Unleash
``FileCache.bootstrap_from_file`` + ``initialize_client(fetch_toggles=False)``, flagd's
in-process ``FILE`` resolver).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

import configs

__all__ = ["ADAPTERS", "Target", "check", "version_of"]

User = tuple[str, dict[str, Any]]
NOWHERE = "http://127.0.0.1:9"  # discard port: nothing listens; nothing leaves the machine

for _noisy in ("ldclient", "UnleashClient", "openfeature", "eppo_client", "growthbook"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)


class Target:
    """What the harness times for one SDK in one scenario."""

    def __init__(
        self,
        *,
        contexts: Callable[[list[User]], list[Any]],
        loop: Callable[[str, list[Any]], None],
        loop_raw: Callable[[str, list[User]], None],
        variant: Callable[[str, Any], str | None],
        close: Callable[[], None] = lambda: None,
        exposures: Callable[[], int] | None = None,
    ) -> None:
        self.contexts = contexts
        self.loop = loop
        self.loop_raw = loop_raw
        self.variant = variant
        self.close = close
        self.exposures = exposures
        """Exposures recorded so far (where the adapter collects them itself)."""


def version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _write(document: dict[str, Any], suffix: str = ".json") -> str:
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="peers-")
    with os.fdopen(handle, "w") as file:
        json.dump(document, file)
    return path


# -- flagstone --------------------------------------------------------------------------------


def flagstone(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """``Client.from_dict`` → ``client.evaluate(flag, context).variant``. ``exposures``:
    ``"callback"`` (a ``CallbackSink`` appending to a list, on the request thread) or
    ``"batching"`` (``BatchingSink(JsonlSink(file))``: the worker writes the file)."""
    import flagstone as fs

    collected: list[Any] = []
    sinks: list[Any] = []
    path = None
    if exposures == "callback":
        sinks = [fs.sinks.CallbackSink(collected.append)]
    elif exposures == "batching":
        handle, path = tempfile.mkstemp(suffix=".jsonl", prefix="peers-")
        os.close(handle)
        sinks = [fs.sinks.BatchingSink(fs.sinks.JsonlSink(path))]
    client = fs.Client.from_dict(configs.flagstone_document(checkout_targeted, others), sinks=sinks)

    def contexts(users: list[User]) -> list[Any]:
        return [{"targeting_key": uid, **attributes} for uid, attributes in users]

    def loop(flag: str, contexts: list[Any]) -> None:
        evaluate = client.evaluate
        for context in contexts:
            evaluate(flag, context).variant  # noqa: B018

    def loop_raw(flag: str, users: list[User]) -> None:
        evaluate = client.evaluate
        for uid, attributes in users:
            evaluate(flag, {"targeting_key": uid, **attributes}).variant  # noqa: B018

    def close() -> None:
        client.close()
        if path is not None:
            os.unlink(path)

    return Target(
        contexts=contexts,
        loop=loop,
        loop_raw=loop_raw,
        variant=lambda flag, context: client.evaluate(flag, context, apply=False).variant,
        close=close,
        exposures=(lambda: len(collected)) if exposures == "callback" else None,
    )


# -- Eppo -------------------------------------------------------------------------------------


def eppo(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """``eppo_client.init(ClientConfig(initial_configuration=…, poll_interval_seconds=None))``
    → ``get_string_assignment(flag, subject key, attributes, default)``. Exposures: the
    allocation's ``doLog`` and an ``AssignmentLogger`` appending to a list (Eppo calls it on
    the request thread)."""
    import eppo_client
    from eppo_client import AssignmentLogger, ClientConfig, Configuration

    class Logger(AssignmentLogger):  # type: ignore[misc]
        def __init__(self) -> None:
            self.events: list[Any] = []

        def log_assignment(self, event: Any) -> None:
            self.events.append(event)

    logger = Logger()
    document = configs.eppo_document(checkout_targeted, others, log=exposures is not None)
    client = eppo_client.init(
        ClientConfig(
            api_key="offline",
            base_url=NOWHERE,
            assignment_logger=logger,
            poll_interval_seconds=None,
            initial_configuration=Configuration(flags_configuration=json.dumps(document).encode()),
        )
    )

    def loop(flag: str, contexts: list[Any]) -> None:
        get = client.get_string_assignment
        for uid, attributes in contexts:
            get(flag, uid, attributes, "off")

    def variant(flag: str, context: Any) -> str | None:
        value = client.get_string_assignment(flag, context[0], context[1], "off")
        return None if value == "off" else value  # type: ignore[no-any-return]

    return Target(
        contexts=list,
        loop=loop,
        loop_raw=loop,  # Eppo takes (subject key, attributes) as they are
        variant=variant,
        exposures=lambda: len(logger.events),
    )


# -- GrowthBook -------------------------------------------------------------------------------


def growthbook(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """One ``GrowthBook(features=…, saved_groups=…)`` for the process; per user
    ``set_attributes`` then ``eval_feature(flag).value`` (the cheapest documented way to
    serve many users from one instance: a new instance per request would copy every feature).
    Exposures: ``on_experiment_viewed`` appending to a list (on the request thread)."""
    from growthbook import GrowthBook

    events: list[Any] = []
    document = configs.growthbook_document(checkout_targeted, others)

    def viewed(experiment: Any, result: Any, user_context: Any = None) -> None:
        events.append((experiment.key, result.variationId))

    gb = GrowthBook(
        features=document["features"],
        saved_groups=document["savedGroups"],
        on_experiment_viewed=viewed if exposures is not None else None,
    )

    def contexts(users: list[User]) -> list[Any]:
        return [{"id": uid, **attributes} for uid, attributes in users]

    def loop(flag: str, contexts: list[Any]) -> None:
        set_attributes = gb.set_attributes
        evaluate = gb.eval_feature
        for context in contexts:
            set_attributes(context)
            evaluate(flag).value  # noqa: B018

    def loop_raw(flag: str, users: list[User]) -> None:
        set_attributes = gb.set_attributes
        evaluate = gb.eval_feature
        for uid, attributes in users:
            set_attributes({"id": uid, **attributes})
            evaluate(flag).value  # noqa: B018

    def variant(flag: str, context: Any) -> str | None:
        gb.set_attributes(context)
        value = gb.eval_feature(flag).value
        return None if value == "off" else value  # type: ignore[no-any-return]

    return Target(
        contexts=contexts,
        loop=loop,
        loop_raw=loop_raw,
        variant=variant,
        close=gb.destroy,
        exposures=lambda: len(events),
    )


# -- LaunchDarkly -----------------------------------------------------------------------------


def launchdarkly(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """``LDClient(Config(update_processor_class=Files.new_data_source([file]), …))`` →
    ``client.variation(flag, Context, default)``. Without exposures ``send_events=False``;
    with them, events on, ``trackEvents`` on every rule (a full feature event per evaluation)
    and the events URI on 127.0.0.1 (the event processor's thread queues and summarises them;
    its flushes fail there)."""
    import ldclient
    from ldclient import Context
    from ldclient.config import Config
    from ldclient.integrations import Files

    path = _write(
        configs.launchdarkly_document(checkout_targeted, others, track=exposures is not None)
    )
    client = ldclient.LDClient(
        Config(
            "offline-sdk-key",
            update_processor_class=Files.new_data_source(paths=[path]),
            send_events=exposures is not None,
            base_uri=NOWHERE,
            events_uri=NOWHERE,
            stream_uri=NOWHERE,
            diagnostic_opt_out=True,
        )
    )
    assert client.is_initialized()

    def context_of(uid: str, attributes: dict[str, Any]) -> Any:
        builder = Context.builder(uid)
        for name, value in attributes.items():
            builder.set(name, value)
        return builder.build()

    def contexts(users: list[User]) -> list[Any]:
        return [context_of(uid, attributes) for uid, attributes in users]

    def loop(flag: str, contexts: list[Any]) -> None:
        variation = client.variation
        for context in contexts:
            variation(flag, context, "off")

    def loop_raw(flag: str, users: list[User]) -> None:
        variation = client.variation
        builder = Context.builder
        for uid, attributes in users:
            b = builder(uid)
            for name, value in attributes.items():
                b.set(name, value)
            variation(flag, b.build(), "off")

    def variant(flag: str, context: Any) -> str | None:
        value = client.variation(flag, context, "off")
        return None if value == "off" else value  # type: ignore[no-any-return]

    def close() -> None:
        client.close()
        os.unlink(path)

    return Target(contexts=contexts, loop=loop, loop_raw=loop_raw, variant=variant, close=close)


# -- Unleash ----------------------------------------------------------------------------------

_unleash_count = 0


def unleash(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """``UnleashClient(cache=FileCache bootstrapped from the file, disable_metrics,
    disable_registration)``, ``initialize_client(fetch_toggles=False)`` →
    ``get_variant(flag, {"userId", "properties"})["name"]``. Exposures: ``impressionData``
    on the feature and an ``event_callback`` appending to a list (the SDK hands events to a
    dispatcher thread)."""
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache
    from UnleashClient.utils import InstanceAllowType

    global _unleash_count
    _unleash_count += 1
    name = f"peers-bench-{_unleash_count}"
    events: list[Any] = []
    path = _write(
        configs.unleash_document(checkout_targeted, others, impressions=exposures is not None)
    )
    directory = tempfile.mkdtemp(prefix="peers-unleash-")
    cache = FileCache(name, directory=directory)
    cache.bootstrap_from_file(path)
    client = UnleashClient(
        url=NOWHERE,
        app_name=name,
        instance_id=name,
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=3600,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        event_callback=events.append if exposures is not None else None,
    )
    client.initialize_client(fetch_toggles=False)

    def contexts(users: list[User]) -> list[Any]:
        return [{"userId": uid, "properties": attributes} for uid, attributes in users]

    def loop(flag: str, contexts: list[Any]) -> None:
        get_variant = client.get_variant
        for context in contexts:
            get_variant(flag, context)["name"]

    def loop_raw(flag: str, users: list[User]) -> None:
        get_variant = client.get_variant
        for uid, attributes in users:
            get_variant(flag, {"userId": uid, "properties": attributes})["name"]

    def variant(flag: str, context: Any) -> str | None:
        found = client.get_variant(flag, context)
        return found["name"] if found.get("enabled") else None  # type: ignore[no-any-return]

    def close() -> None:
        client.destroy()
        os.unlink(path)

    return Target(
        contexts=contexts,
        loop=loop,
        loop_raw=loop_raw,
        variant=variant,
        close=close,
        exposures=lambda: len(events),
    )


# -- flagd (OpenFeature, in-process) -----------------------------------------------------------

_flagd_count = 0


def flagd(checkout_targeted: bool, others: int, exposures: str | None = None) -> Target:
    """OpenFeature with ``FlagdProvider(resolver_type=FILE, offline_flag_source_path=…)`` (the
    in-process evaluator, fed from a file, no flagd daemon) in its own domain →
    ``client.get_string_value(flag, default, EvaluationContext(key, attributes))``. No
    exposure events: the provider has none."""
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType
    from openfeature.evaluation_context import EvaluationContext

    global _flagd_count
    _flagd_count += 1
    domain = f"peers-{_flagd_count}"
    path = _write(configs.flagd_document(checkout_targeted, others))
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path)
    api.set_provider_and_wait(provider, domain)
    client = api.get_client(domain)

    def contexts(users: list[User]) -> list[Any]:
        return [EvaluationContext(uid, attributes) for uid, attributes in users]

    def loop(flag: str, contexts: list[Any]) -> None:
        get = client.get_string_value
        for context in contexts:
            get(flag, "off", context)

    def loop_raw(flag: str, users: list[User]) -> None:
        get = client.get_string_value
        for uid, attributes in users:
            get(flag, "off", EvaluationContext(uid, attributes))

    def variant(flag: str, context: Any) -> str | None:
        value = client.get_string_value(flag, "off", context)
        return None if value == "off" else value

    def close() -> None:
        provider.shutdown()
        os.unlink(path)

    return Target(contexts=contexts, loop=loop, loop_raw=loop_raw, variant=variant, close=close)


ADAPTERS: dict[str, tuple[str, Callable[..., Target], tuple[str, ...]]] = {
    # name shown: (distribution for the version, adapter, exposure modes)
    "flagstone": ("flagstone", flagstone, ("callback", "batching")),
    "Eppo": ("eppo-server-sdk", eppo, ("logger",)),
    "GrowthBook": ("growthbook", growthbook, ("callback",)),
    "LaunchDarkly": ("launchdarkly-server-sdk", launchdarkly, ("events",)),
    "Unleash": ("UnleashClient", unleash, ("impressions",)),
    "flagd": ("openfeature-provider-flagd", flagd, ()),
}


def check(
    name: str, target: Target, contexts: list[Any], users: list[User], targeted: bool
) -> None:
    """Refuse to time an SDK that does not implement the scenario: units outside the country
    get no variant when the flag is targeted, and the others split 50/50 (within ±6 points
    over the users given: a binomial with n ≥ 1 000 stays within that with probability
    > 0.9999)."""
    seen: dict[str | None, int] = {}
    for context, (uid, attributes) in zip(contexts, users, strict=True):
        got = target.variant(configs.CHECKOUT, context)
        if targeted and attributes.get("country") != configs.COUNTRY:
            if got is not None:
                raise AssertionError(f"{name}: {uid} outside the country got {got!r}")
            continue
        seen[got] = seen.get(got, 0) + 1
    total = sum(seen.values())
    if set(seen) != set(configs.VARIANTS):
        raise AssertionError(f"{name}: variants {seen}, expected only {configs.VARIANTS}")
    for variant in configs.VARIANTS:
        share = seen[variant] / total
        if not 0.44 <= share <= 0.56:
            raise AssertionError(f"{name}: {variant} for {share:.1%} of {total} units")
